# pulumi-swarm: drain manager-1 (node m1node) and demote it if it is a manager
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

exec 9>/tmp/pulumi-swarm-membership.lock
flock 9

if ! dkr node inspect m1node >/dev/null 2>&1; then
  exit 0
fi
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

nodeUpdate --availability drain m1node
i=0
while [ -n "$(dkr node ps m1node --filter desired-state=running -q)" ]; do
  i=$((i + 1))
  if [ "$i" -ge 150 ]; then
    echo "pulumi-swarm: warning: tasks still run on manager-1 after 300 s of draining; it leaves anyway and they are rescheduled." >&2
    break
  fi
  sleep 2
done
if [ "$(dkr node inspect m1node --format '{{.Spec.Role}}')" = manager ]; then
  n=0
  until dkr node demote m1node >/dev/null; do
    n=$((n + 1))
    if [ "$n" -ge 10 ]; then
      echo "pulumi-swarm: could not demote manager-1 (node m1node); it stays a manager and does not leave. Check quorum with 'docker node ls'." >&2
      exit 1
    fi
    sleep 2
  done
fi
