# pulumi-swarm: before the nodes change (manager t3.small, worker t3.medium, ami looked-up, user data 0123456789ab): the swarm must have a quorum
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

# A majority of the managers Leader or Reachable.
quorate() {
  statuses=$(dkr node ls --filter role=manager --format '{{.ManagerStatus}}' 2>/dev/null) || return 1
  total=$(printf '%s
' "$statuses" | grep -c . || true)
  up=$(printf '%s
' "$statuses" | grep -c -x -e Leader -e Reachable || true)
  [ $((up * 2)) -gt "$total" ]
}

i=0
until quorate; do
  i=$((i + 1))
  if [ "$i" -ge 15 ]; then
    if dkr node ls 2>&1 >/dev/null | grep -q 'does not have a leader'; then
      echo "pulumi-swarm: before any node changes, the swarm has lost its quorum: too few managers are online to elect a leader, and no change can be made to it. No node is touched. Start the managers that are down; if they are lost for good, run 'docker swarm init --force-new-cluster' on a surviving manager (it keeps the swarm's services, secrets and configs, as a swarm of one manager; see https://docs.docker.com/engine/swarm/admin_guide/#recover-from-losing-the-quorum), then run pulumi up again." >&2
      exit 1
    fi
    if dkr node ls >/dev/null 2>&1; then
      echo "pulumi-swarm: before any node changes, the swarm has lost its quorum: fewer than half of its managers are reachable (see 'docker node ls' below), and no change can be made to it. No node is touched. Start the managers that are down; if they are lost for good, run 'docker swarm init --force-new-cluster' on a surviving manager (it keeps the swarm's services, secrets and configs, as a swarm of one manager; see https://docs.docker.com/engine/swarm/admin_guide/#recover-from-losing-the-quorum), then run pulumi up again." >&2
      dkr node ls >&2
      exit 1
    fi
    echo "pulumi-swarm: before any node changes, Docker on $(hostname) does not answer as a manager of the swarm within 30 s. No node is touched." >&2
    exit 1
  fi
  sleep 2
done
