# pulumi-swarm: manager-1 (node m1node) is labelled, active, and a manager
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

nodeUpdate --availability active --label-add pulumi-swarm.host=manager-1 --role manager m1node
# Down nodes this host key left behind (an instance replaced without a clean leave).
dkr node ls --filter node.label=pulumi-swarm.host=manager-1 --format '{{.ID}} {{.Status}}' | while read -r other st; do
  if [ "$other" != m1node ] && [ "$st" = Down ]; then
    dkr node rm "$other" >/dev/null
  fi
done
