# pulumi-swarm: worker-3 (node w3node) is labelled, active, and a worker
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

dkr node update --availability active --label-add pulumi-swarm.host=worker-3 w3node >/dev/null
if [ "$(dkr node inspect w3node --format '{{.Spec.Role}}')" != worker ]; then
  dkr node demote w3node >/dev/null
fi
# Down nodes this host key left behind (an instance replaced without a clean leave).
labelled() {
  ids=$(dkr node ls -q)
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    dkr node inspect $ids --format '{{.ID}} {{index .Spec.Labels "pulumi-swarm.host"}} {{.Status.State}}' | awk -v k=worker-3 '$2 == k { print $1, $3 }'
  fi
}

labelled | while read -r other st; do
  if [ "$other" != w3node ] && [ "$st" = down ]; then
    dkr node rm "$other" >/dev/null
  fi
done
