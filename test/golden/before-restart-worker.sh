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
nodeUpdate --availability drain "$node"
i=0
while [ -n "$(dkr node ps "$node" --filter desired-state=running -q)" ]; do
  i=$((i + 1))
  if [ "$i" -ge 150 ]; then
    echo "pulumi-swarm: warning: tasks still run on worker-3 after 300 s of draining; it restarts anyway and they are rescheduled." >&2
    break
  fi
  sleep 2
done
