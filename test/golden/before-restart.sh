# pulumi-swarm: before manager-2 restarts (instance type t3.large): wait until the swarm is whole, hand its leadership over if it leads, then drain manager-2
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

whole() {
  managers=$(dkr node ls --filter role=manager --format '{{.ManagerStatus}}' 2>/dev/null) || return 1
  printf '%s\n' "$managers" | grep -qx Leader || return 1
  if printf '%s\n' "$managers" | grep -qvx -e Leader -e Reachable; then
    return 1
  fi
  node=$(dkr node ls --filter node.label=pulumi-swarm.host=manager-2 --format '{{.ID}} {{.Status}}' | awk '$2 == "Ready" { print $1; exit }')
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

handOver() {
  [ "$(dkr node inspect "$1" --format '{{if .ManagerStatus}}{{.ManagerStatus.Leader}}{{end}}')" = true ] || return 0
  n=0
  until dkr node demote "$1" >/dev/null; do
    n=$((n + 1))
    if [ "$n" -ge 10 ]; then
      echo "pulumi-swarm: Docker refused to demote $2 10 times; see 'docker node ls' below." >&2
      dkr node ls >&2 || true
      exit 1
    fi
    sleep 2
  done
  i=0
  until dkr node ls -q --filter role=worker 2>/dev/null | grep -qx "$1"; do
    i=$((i + 1))
    if [ "$i" -ge 300 ]; then
      echo "pulumi-swarm: $2 did not become a worker within 600 s; see 'docker node ls' below." >&2
      dkr node ls >&2 || true
      exit 1
    fi
    sleep 2
  done
  sleep 10
  n=0
  until dkr node promote "$1" >/dev/null; do
    n=$((n + 1))
    if [ "$n" -ge 10 ]; then
      echo "pulumi-swarm: Docker refused to promote $2 10 times; see 'docker node ls' below." >&2
      dkr node ls >&2 || true
      exit 1
    fi
    sleep 2
  done
  i=0
  until dkr node ls -q --filter role=manager 2>/dev/null | grep -qx "$1"; do
    i=$((i + 1))
    if [ "$i" -ge 300 ]; then
      echo "pulumi-swarm: $2 did not become a manager again within 600 s; see 'docker node ls' below." >&2
      dkr node ls >&2 || true
      exit 1
    fi
    sleep 2
  done
  i=0
  until [ "$(dkr node inspect "$1" --format '{{if .ManagerStatus}}{{.ManagerStatus.Reachability}}{{end}}' 2>/dev/null)" = reachable ]; do
    i=$((i + 1))
    if [ "$i" -ge 300 ]; then
      echo "pulumi-swarm: $2 did not come back as a Reachable manager within 600 s; see 'docker node ls' below." >&2
      dkr node ls >&2 || true
      exit 1
    fi
    sleep 2
  done
}

i=0
until whole; do
  i=$((i + 1))
  if [ "$i" -ge 300 ]; then
    if dkr node ls 2>&1 >/dev/null | grep -q 'does not have a leader'; then
      echo "pulumi-swarm: before manager-2 restarts, the swarm has lost its quorum: too few managers are online to elect a leader, and no change can be made to it. No other node is touched. Start the managers that are down; if they are lost for good, run 'docker swarm init --force-new-cluster' on a surviving manager (it keeps the swarm's services, secrets and configs, as a swarm of one manager; see https://docs.docker.com/engine/swarm/admin_guide/#recover-from-losing-the-quorum), then run pulumi up again." >&2
      exit 1
    fi
    echo "pulumi-swarm: before manager-2 restarts, the swarm is not whole after 600 s: it needs a leader, every manager Reachable and manager-2 Ready. No other node is touched until it is; see 'docker node ls' below, fix the node, and run pulumi up again." >&2
    dkr node ls >&2 || true
    exit 1
  fi
  sleep 2
done
handOver "$node" manager-2
i=0
until whole; do
  i=$((i + 1))
  if [ "$i" -ge 300 ]; then
    if dkr node ls 2>&1 >/dev/null | grep -q 'does not have a leader'; then
      echo "pulumi-swarm: after manager-2 handed its leadership over, the swarm has lost its quorum: too few managers are online to elect a leader, and no change can be made to it. No other node is touched. Start the managers that are down; if they are lost for good, run 'docker swarm init --force-new-cluster' on a surviving manager (it keeps the swarm's services, secrets and configs, as a swarm of one manager; see https://docs.docker.com/engine/swarm/admin_guide/#recover-from-losing-the-quorum), then run pulumi up again." >&2
      exit 1
    fi
    echo "pulumi-swarm: after manager-2 handed its leadership over, the swarm is not whole after 600 s: it needs a leader, every manager Reachable and manager-2 Ready. No other node is touched until it is; see 'docker node ls' below, fix the node, and run pulumi up again." >&2
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
    echo "pulumi-swarm: warning: tasks still run on manager-2 after 300 s of draining; it restarts anyway and they are rescheduled." >&2
    break
  fi
  sleep 2
done
