# pulumi-swarm: worker-3 joins the swarm as a worker
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

token=
IFS= read -r token || true
if [ -z "$token" ]; then
  echo "pulumi-swarm: no join token on standard input" >&2
  exit 1
fi
i=0
until dkr info >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 300 ]; then
    echo "pulumi-swarm: Docker did not answer on $(hostname) within 600 s; is cloud-init still installing it? See /var/log/cloud-init-output.log on the node." >&2
    exit 1
  fi
  sleep 2
done

state=$(dkr info --format '{{.Swarm.LocalNodeState}}')

if [ "$state" = active ]; then
  if dkr info --format '{{range .Swarm.RemoteManagers}}{{.NodeID}} {{end}}' | tr ' ' '\n' | grep -qx k2x9q1leader; then
    :
  else
    echo "pulumi-swarm: $(hostname) (10.0.32.7) is already in another swarm, whose managers are at: $(dkr info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}'). Nothing was changed. Run 'docker swarm leave' on it if it should join this swarm." >&2
    exit 1
  fi
else
  n=0
  while :; do
    n=$((n + 1))
    if [ "$state" != inactive ]; then
      dkr swarm leave --force >/dev/null 2>&1 || true
    fi
    if dkr swarm join --token "$token" --advertise-addr 10.0.32.7 10.0.0.10:2377 >/dev/null; then
      break
    fi
    if [ "$n" -ge 3 ]; then
      echo "pulumi-swarm: $(hostname) (10.0.32.7) could not join the swarm at 10.0.0.10:2377 as a worker after 3 attempts; check that 2377/tcp, 7946/tcp+udp and 4789/udp are open between the nodes." >&2
      exit 1
    fi
    sleep $((n * 2))
    state=$(dkr info --format '{{.Swarm.LocalNodeState}}')
  done
fi
printf '{"nodeId":"%s"}\n' "$(dkr info --format '{{.Swarm.NodeID}}')"
