# pulumi-swarm: remove worker-3's drained node from the swarm after it has left
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

exec 9>/tmp/pulumi-swarm-membership.lock
flock 9

if [ "$(dkr info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
  exit 0
fi

labelled() {
  dkr node ls --filter node.label=pulumi-swarm.host=worker-3 --format '{{.ID}} {{.Availability}}'
}

labelled | while read -r id availability; do
  if [ "$availability" = Drain ]; then
    dkr node rm --force "$id" >/dev/null
  fi
done
