# pulumi-swarm: manager-1 (node m1node) is labelled, active, and a manager
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

exec 9>/tmp/pulumi-swarm-membership.lock
flock 9

dkr node update --availability active --label-add pulumi-swarm.host=manager-1 m1node >/dev/null
if [ "$(dkr node inspect m1node --format '{{.Spec.Role}}')" != manager ]; then
  dkr node promote m1node >/dev/null
fi
