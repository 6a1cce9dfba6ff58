# pulumi-swarm: worker-3 leaves the swarm
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

state=$(dkr info --format '{{.Swarm.LocalNodeState}}')

if [ "$state" = inactive ]; then
  exit 0
fi
i=0
while [ "$(dkr info --format '{{.Swarm.ControlAvailable}}')" = true ]; do
  i=$((i + 1))
  if [ "$i" -ge 60 ]; then
    echo "pulumi-swarm: worker-3 ($(hostname)) is still a manager after 120 s; it was not demoted, so it does not leave (that could break quorum). Demote it with 'docker node demote' on another manager and run again." >&2
    exit 1
  fi
  sleep 2
done
dkr swarm leave >/dev/null
