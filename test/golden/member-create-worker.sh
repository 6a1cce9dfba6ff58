# pulumi-swarm: worker-3 (node w3node) is labelled, active, and a worker
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

exec 9>/tmp/pulumi-swarm-membership.lock
flock 9

dkr node update --availability active --label-add pulumi-swarm.host=worker-3 w3node >/dev/null
if [ "$(dkr node inspect w3node --format '{{.Spec.Role}}')" != worker ]; then
  dkr node demote w3node >/dev/null
fi
