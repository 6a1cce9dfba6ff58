# pulumi-swarm: before worker-3 restarts (instance type t3.large): wait until the swarm is whole, then drain worker-3
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

whole() {
  managers=$(dkr node ls --filter role=manager --format '{{.ManagerStatus}}' 2>/dev/null) || return 1
  printf '%s\n' "$managers" | grep -qx Leader || return 1
  if printf '%s\n' "$managers" | grep -qvx -e Leader -e Reachable; then
    return 1
  fi
  node=$(dkr node ls --filter node.label=pulumi-swarm.host=worker-3 --format '{{.ID}} {{.Status}}' | awk '$2 == "Ready" { print $1; exit }')
  [ -n "$node" ]
}

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

i=0
until whole; do
  i=$((i + 1))
  if [ "$i" -ge 300 ]; then
    if dkr node ls 2>&1 >/dev/null | grep -q 'does not have a leader'; then
      echo "pulumi-swarm: before worker-3 restarts, the swarm has lost its quorum: too few managers are online to elect a leader, and no change can be made to it. No other node is touched. Start the managers that are down; if they are lost for good, run 'docker swarm init --force-new-cluster' on a surviving manager (it keeps the swarm's services, secrets and configs, as a swarm of one manager; see https://docs.docker.com/engine/swarm/admin_guide/#recover-from-losing-the-quorum), then run pulumi up again." >&2
      exit 1
    fi
    echo "pulumi-swarm: before worker-3 restarts, the swarm is not whole after 600 s: it needs a leader, every manager Reachable and worker-3 Ready. No other node is touched until it is; see 'docker node ls' below, fix the node, and run pulumi up again." >&2
    dkr node ls >&2 || true
    exit 1
  fi
  sleep 2
done
before=$(convergedServices)
nodeUpdate --availability drain "$node"
i=0
until movedAway "$node"; do
  i=$((i + 1))
  if [ "$i" -ge 150 ]; then
    echo "pulumi-swarm: warning: the tasks of worker-3 have not all moved and started elsewhere after 300 s of draining; it restarts anyway and they are rescheduled." >&2
    break
  fi
  sleep 2
done
