# pulumi-swarm: worker-3 leaves the swarm
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

state=$(dkr info --format '{{.Swarm.LocalNodeState}}')

if [ "$state" = inactive ]; then
  exit 0
fi
if [ "$(dkr info --format '{{.Swarm.ControlAvailable}} {{.Swarm.Managers}}')" = 'true 1' ]; then
  # The last manager: the swarm ends with it.
  dkr swarm leave --force >/dev/null
  left=$(dkr network ls --filter driver=overlay --format '{{.Name}}' | tr '\n' ' ')
  if [ -n "$left" ]; then
    echo "pulumi-swarm: warning: worker-3 ($(hostname)) left the swarm, but Docker kept these overlay networks: $left(moby #42136). Restart Docker on the host ('systemctl restart docker') to clear them before it joins another swarm." >&2
  fi
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
settled() {
  [ -z "$(dkr ps -q --filter label=com.docker.swarm.task.id)" ] || return 1
  for n in $(dkr network ls -q --filter driver=overlay); do
    [ "$(dkr network inspect --format '{{.Ingress}}' "$n" 2>/dev/null || echo true)" = true ] || return 1
  done
}
i=0
until settled; do
  i=$((i + 1))
  if [ "$i" -ge 15 ]; then
    break
  fi
  sleep 2
done
dkr swarm leave >/dev/null
left=$(dkr network ls --filter driver=overlay --format '{{.Name}}' | tr '\n' ' ')
if [ -n "$left" ]; then
  echo "pulumi-swarm: warning: worker-3 ($(hostname)) left the swarm, but Docker kept these overlay networks: $left(moby #42136). Restart Docker on the host ('systemctl restart docker') to clear them before it joins another swarm." >&2
fi
