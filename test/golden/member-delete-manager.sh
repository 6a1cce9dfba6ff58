# pulumi-swarm: drain manager-1 (node m1node) and demote it if it is a manager
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

exec 9>/tmp/pulumi-swarm-membership.lock
flock 9

if ! dkr node inspect m1node >/dev/null 2>&1; then
  exit 0
fi
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

spreadOut m1node 300 "manager-1"
before=$(convergedServices)
nodeUpdate --availability drain m1node
i=0
until movedAway m1node; do
  i=$((i + 1))
  if [ "$i" -ge 150 ]; then
    echo "pulumi-swarm: warning: the tasks of manager-1 have not all moved and started elsewhere after 300 s of draining; it leaves anyway and they are rescheduled." >&2
    break
  fi
  sleep 2
done
if [ "$(dkr node inspect m1node --format '{{.Spec.Role}}')" = manager ]; then
  n=0
  until dkr node demote m1node >/dev/null; do
    n=$((n + 1))
    if [ "$n" -ge 10 ]; then
      echo "pulumi-swarm: could not demote manager-1 (node m1node); it stays a manager and in the swarm. Check quorum with 'docker node ls'." >&2
      exit 1
    fi
    sleep 2
  done
  # The remover's node rm needs a worker: Docker refuses to remove a manager, even with --force.
  i=0
  until dkr node ls -q --filter role=worker | grep -qx m1node; do
    i=$((i + 1))
    if [ "$i" -ge 60 ]; then
      echo "pulumi-swarm: manager-1 (node m1node) is still a manager 120 s after its demotion; see 'docker node ls' below." >&2
      dkr node ls >&2 || true
      exit 1
    fi
    sleep 2
  done
fi
