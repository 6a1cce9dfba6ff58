# pulumi-swarm: remove stack web
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

if [ "$(dkr info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" != active ]; then
  echo "pulumi-swarm: $(hostname) is in no swarm; stack web went with it." >&2
  exit 0
fi
left() {
  dkr service ls --filter label=com.docker.stack.namespace=web -q
  dkr network ls --filter label=com.docker.stack.namespace=web -q
  dkr secret ls --filter label=com.docker.stack.namespace=web -q
  dkr config ls --filter label=com.docker.stack.namespace=web -q
}
remove_stack() {
  if [ -n "$(left)" ]; then
    # It fails while a task still holds a network; the wait below removes what it left.
    dkr stack rm web >&2 || true
  fi
  start=$(date +%s)
  while [ -n "$(left)" ]; do
    if [ $(($(date +%s) - start)) -ge 180 ]; then
      echo "pulumi-swarm: stack web was not gone within 180 s; still there:" >&2
      dkr service ls --filter label=com.docker.stack.namespace=web --format '  service {{.Name}}' >&2
      dkr network ls --filter label=com.docker.stack.namespace=web --format '  network {{.Name}}' >&2
      return 1
    fi
    # Networks go once their tasks' containers have stopped; retry what the first rm left.
    dkr network ls --filter label=com.docker.stack.namespace=web -q | while read -r n; do dkr network rm "$n" >/dev/null 2>&1 || true; done
    dkr config ls --filter label=com.docker.stack.namespace=web -q | while read -r c; do dkr config rm "$c" >/dev/null 2>&1 || true; done
    dkr secret ls --filter label=com.docker.stack.namespace=web -q | while read -r s; do dkr secret rm "$s" >/dev/null 2>&1 || true; done
    sleep 1
  done
}
remove_stack
