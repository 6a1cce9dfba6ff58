# pulumi-swarm: swarm init on the first manager (manager-0)
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

i=0
until state=$(dkr info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null); do
  i=$((i + 1))
  if [ "$i" -ge 300 ]; then
    echo "pulumi-swarm: Docker did not answer on $(hostname) within 600 s; is cloud-init still installing it? See /var/log/cloud-init-output.log on the node." >&2
    exit 1
  fi
  sleep 2
done

created=no
case "$state" in
  inactive)
    dkr swarm init --advertise-addr 10.0.0.10 --listen-addr 10.0.0.10:2377 >/dev/null
    created=yes
    ;;
  active)
    if [ "$(dkr info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
      echo "pulumi-swarm: $(hostname) (10.0.0.10) is a worker in another swarm, so it cannot be the first manager of prod. Nothing was changed. Run 'docker swarm leave' on it, or put another host first." >&2
      exit 1
    fi
    owner=$(dkr node inspect self --format '{{index .Spec.Labels "pulumi-swarm.cluster"}}')
    if [ "$owner" != prod ]; then
      echo "pulumi-swarm: $(hostname) (10.0.0.10) already manages another swarm (cluster label: '$owner'), not prod. Nothing was changed. Run 'docker swarm leave --force' on it if that swarm should go." >&2
      exit 1
    fi
    ;;
  locked)
    echo "pulumi-swarm: the swarm on $(hostname) is locked (autolock); run 'docker swarm unlock' on it first." >&2
    exit 1
    ;;
  *)
    echo "pulumi-swarm: $(hostname) reports swarm state '$state'; expected inactive or active. Check 'docker info' on it." >&2
    exit 1
    ;;
esac
ids=$(dkr info --format '{{.Swarm.Cluster.ID}} {{.Swarm.NodeID}}')
cluster_id=${ids% *}
node_id=${ids#* }
if [ "$created" = yes ]; then
  dkr node update --label-add pulumi-swarm.cluster=prod --label-add pulumi-swarm.host=manager-0 "$node_id" >/dev/null
fi
printf '{"clusterId":"%s","nodeId":"%s","workerToken":"%s","managerToken":"%s"}\n' \
  "$cluster_id" "$node_id" "$(dkr swarm join-token -q worker)" "$(dkr swarm join-token -q manager)"
