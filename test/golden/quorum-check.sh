# pulumi-swarm: before the nodes change (manager t3.small, worker t3.medium, ami looked-up, user data 0123456789ab): the swarm must have a leader
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

i=0
until dkr node ls >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 15 ]; then
    if dkr node ls 2>&1 >/dev/null | grep -q 'does not have a leader'; then
      echo "pulumi-swarm: before any node changes, the swarm has lost its quorum: too few managers are online to elect a leader, and no change can be made to it. No node is touched. Start the managers that are down; if they are lost for good, run 'docker swarm init --force-new-cluster' on a surviving manager (it keeps the swarm's services, secrets and configs, as a swarm of one manager; see https://docs.docker.com/engine/swarm/admin_guide/#recover-from-losing-the-quorum), then run pulumi up again." >&2
      exit 1
    fi
    echo "pulumi-swarm: before any node changes, Docker on $(hostname) does not answer as a manager of the swarm within 30 s (see 'docker node ls' below). No node is touched." >&2
    dkr node ls >&2 || true
    exit 1
  fi
  sleep 2
done
