# pulumi-swarm: remove worker-3's node from the swarm after it has left
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

exec 9>/tmp/pulumi-swarm-membership.lock
flock 9

if [ "$(dkr info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
  exit 0
fi

labelled() {
  ids=$(dkr node ls -q)
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    dkr node inspect $ids --format '{{.ID}} {{index .Spec.Labels "pulumi-swarm.host"}} {{.Status.State}}' | awk -v k=worker-3 '$2 == k { print $1, $3 }'
  fi
}

labelled | while read -r id _; do
  dkr node rm --force "$id" >/dev/null
done
