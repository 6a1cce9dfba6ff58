# pulumi-swarm: the first manager (manager-0) leaves; the swarm ends
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

state=$(dkr info --format '{{.Swarm.LocalNodeState}}')

if [ "$state" = inactive ]; then
  exit 0
fi
dkr swarm leave --force >/dev/null
left=$(dkr network ls --filter driver=overlay --format '{{.Name}}' | tr '\n' ' ')
if [ -n "$left" ]; then
  echo "pulumi-swarm: warning: manager-0 ($(hostname)) left the swarm, but Docker kept these overlay networks: $left(moby #42136). Restart Docker on the host ('systemctl restart docker') to clear them before it joins another swarm." >&2
fi
