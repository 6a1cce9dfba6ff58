# pulumi-swarm: worker-3 (node w3node) is labelled, active, and a worker
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

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

nodeUpdate --availability active --label-add pulumi-swarm.host=worker-3 --role worker w3node
# Down nodes this host key left behind (an instance replaced without a clean leave).
dkr node ls --filter node.label=pulumi-swarm.host=worker-3 --format '{{.ID}} {{.Status}}' | while read -r other st; do
  if [ "$other" != w3node ] && [ "$st" = Down ]; then
    dkr node rm "$other" >/dev/null
  fi
done
