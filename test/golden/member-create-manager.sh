# pulumi-swarm: manager-1 (node m1node) is labelled, active, and a manager
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

dkr node update --availability active --label-add pulumi-swarm.host=manager-1 m1node >/dev/null
if [ "$(dkr node inspect m1node --format '{{.Spec.Role}}')" != manager ]; then
  dkr node promote m1node >/dev/null
fi
# Down nodes this host key left behind (an instance replaced without a clean leave).
labelled() {
  ids=$(dkr node ls -q)
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    dkr node inspect $ids --format '{{.ID}} {{index .Spec.Labels "pulumi-swarm.host"}} {{.Status.State}}' | awk -v k=manager-1 '$2 == k { print $1, $3 }'
  fi
}

labelled | while read -r other st; do
  if [ "$other" != m1node ] && [ "$st" = down ]; then
    dkr node rm "$other" >/dev/null
  fi
done
