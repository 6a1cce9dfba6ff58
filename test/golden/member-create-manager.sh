# pulumi-swarm: manager-1 (node m1node) is labelled, active, and a manager; other nodes of manager-1 are retired
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

nodeUpdate() {
  attempt=1
  until dkr node update "$@" >/dev/null; do
    if [ "$attempt" -ge 5 ]; then
      return 1
    fi
    attempt=$((attempt + 1))
    sleep 2
  done
}

nodeUpdate --availability active --label-add pulumi-swarm.host=manager-1 --role manager m1node
# Other nodes of this host key: the machine this one replaces, or one that died.
others=$(dkr node ls -q --filter node.label=pulumi-swarm.host=manager-1 | grep -vx m1node || true)
[ -n "$others" ] || exit 0
exec 9>/tmp/pulumi-swarm-membership.lock
flock 9

convergedServices() {
  dkr service ls --format '{{.ID}} {{.Replicas}}' | awk '{ split($2, r, "/"); if (r[1] == r[2]) print $1 }'
}
movedAway() {
  [ -z "$(dkr node ps "$1" --filter desired-state=running -q)" ] || return 1
  for s in $before; do
    # Not the replicas column: it counts the drained node's task while it stops, and the task
    # that replaces it is not meant to run until its restart delay is over. The tasks meant to
    # run that do, against the count the service wants.
    want=$(dkr service ls --filter "id=$s" --format '{{.Replicas}}' | sed 's|^[0-9]*/\([0-9]*\).*|\1|')
    tasks=$(dkr service ps "$s" --filter desired-state=running --format '{{.CurrentState}} {{.Error}}')
    have=$(printf '%s\n' "$tasks" | grep -c '^Running' || true)
    if [ "${have:-0}" -lt "${want:-0}" ]; then
      # A task that no node can take (a host-mode port in use, a constraint) is not waited for.
      printf '%s\n' "$tasks" | grep -q '^Pending.*no suitable node' || return 1
    fi
  done
}

elsewhere() {
  dkr service ps "$1" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' | awk -v h="$2" '$1 != h && $2 == "Running" { found = 1 } END { exit !found }'
}
spreadOut() {
  host=$(dkr node inspect "$1" --format '{{.Description.Hostname}}')
  for s in $(dkr node ps "$1" --filter desired-state=running --format '{{.Name}}' | sed 's/\.[0-9]*$//' | sort -u); do
    want=$(dkr service ls --filter "name=$s" --format '{{.Name}} {{.Mode}} {{.Replicas}}' | awk -v s="$s" '$1 == s && $2 == "replicated" { split($3, r, "/"); print r[2] }')
    [ "${want:-0}" -ge 2 ] || continue
    ! elsewhere "$s" "$host" || continue
    dkr service update --force --detach "$s" >/dev/null
    i=0
    until elsewhere "$s" "$host"; do
      i=$((i + 1))
      if [ "$i" -ge $(( ($2 + 2 - 1) / 2 )) ]; then
        echo "pulumi-swarm: warning: $s still runs all its tasks on $3 after $2 s of redeploying it; they stop together when it drains." >&2
        break
      fi
      sleep 2
    done
  done
}

for other in $others; do
  spreadOut "$other" 300 "the node that manager-1 replaces ($other)"
  before=$(convergedServices)
  nodeUpdate --availability drain "$other"
  i=0
  until movedAway "$other"; do
    i=$((i + 1))
    if [ "$i" -ge 150 ]; then
      echo "pulumi-swarm: warning: the tasks of the node that manager-1 replaces ($other) have not all moved and started elsewhere after 300 s of draining; it is removed anyway and they are rescheduled." >&2
      break
    fi
    sleep 2
  done
  if [ "$(dkr node inspect "$other" --format '{{.Spec.Role}}')" = manager ]; then
    n=0
    until dkr node demote "$other" >/dev/null; do
      n=$((n + 1))
      if [ "$n" -ge 10 ]; then
        echo "pulumi-swarm: could not demote the node that manager-1 replaces ($other); it stays a manager; see 'docker node ls' below." >&2
        dkr node ls >&2 || true
        exit 1
      fi
      sleep 2
    done
  fi
  i=0
  until dkr node ls -q --filter role=worker | grep -qx "$other"; do
    i=$((i + 1))
    if [ "$i" -ge 60 ]; then
      echo "pulumi-swarm: the node that manager-1 replaces ($other) is still a manager 120 s after its demotion; see 'docker node ls' below." >&2
      dkr node ls >&2 || true
      exit 1
    fi
    sleep 2
  done
  dkr node rm --force "$other" >/dev/null
done
