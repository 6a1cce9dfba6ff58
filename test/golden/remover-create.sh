# pulumi-swarm: remove Down nodes left behind by worker-3
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

labelled | while read -r id st; do
  if [ "$st" = down ]; then
    dkr node rm "$id" >/dev/null
  fi
done
