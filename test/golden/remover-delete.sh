# pulumi-swarm: remove worker-3's drained node from the swarm after it has left
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

exec 9>/tmp/pulumi-swarm-membership.lock
flock 9

if [ "$(dkr info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
  exit 0
fi

labelled() {
  dkr node ls --filter node.label=pulumi-swarm.host=worker-3 --format '{{.ID}} {{.Availability}}'
}

# This engine is no manager any more: on pulumi destroy the first manager may end the swarm
# meanwhile; and a retired machine (a roll's old manager, demoted and removed by its
# replacement's member before it heard of it) still says it is one, but has no control
# socket. Either way it can remove nothing, and the node it would remove is gone already.
gone() {
  [ "$(dkr info --format '{{.Swarm.ControlAvailable}}')" != true ] && return 0
  case "$(dkr node ls -q 2>&1 >/dev/null)" in *control.sock*) return 0 ;; esac
  return 1
}
if ! nodes=$(labelled); then
  gone && exit 0
  exit 1
fi
printf '%s\n' "$nodes" | while read -r id availability; do
  if [ "$availability" = Drain ]; then
    # Retried: while other managers leave, Raft may time the removal out (DeadlineExceeded, seen in CI).
    n=0
    until dkr node rm --force "$id" >/dev/null || gone; do
      n=$((n + 1))
      [ "$n" -lt 5 ] || exit 1
      sleep 2
    done
  fi
done
