# pulumi-swarm: manager-1 joins the swarm as a manager
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

token=
IFS= read -r token || true
if [ -z "$token" ]; then
  echo "pulumi-swarm: no join token on standard input" >&2
  exit 1
fi
swarm_info() {
  dkr info --format '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}'
}
# Whether a manager takes connections on 2377 within 5 s. A machine that died is listed by EC2
# until it is terminated, and a join through it waits in the background for ever (state pending).
answers() {
  command -v bash >/dev/null 2>&1 || return 0
  # shellcheck disable=SC2016 # $1 is the inner bash's
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/2377"' answers "$1" 2>/dev/null
}
# In this swarm when its managers include one of this swarm's manager addresses.
in_this_swarm() {
  case " $info " in *" 10.0.0.10:2377 "*|*" 10.0.16.5:2377 "*|*" 10.0.32.4:2377 "*) return 0 ;; esac
  return 1
}
i=0
until info=$(swarm_info 2>/dev/null); do
  i=$((i + 1))
  if [ "$i" -ge 30 ]; then
    echo "pulumi-swarm: Docker did not answer on $(hostname) within 60 s; is cloud-init still installing it? See /var/log/cloud-init-output.log on the node." >&2
    exit 1
  fi
  sleep 2
done

state=${info%% *}
if [ "$state" = active ]; then
  if ! in_this_swarm; then
    echo "pulumi-swarm: $(hostname) (10.0.16.5) is already in another swarm, whose managers are at: $(dkr info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}'). Nothing was changed. Run 'docker swarm leave' on it if it should join this swarm." >&2
    exit 1
  fi
else
  n=0
  while :; do
    n=$((n + 1))
    if [ "$state" = error ]; then
      dkr swarm leave --force >/dev/null 2>&1 || true
      state=inactive
    fi
    if [ "$state" = inactive ]; then
      # A join that times out goes on in the background (state pending): it is waited for below.
      for manager in 10.0.0.10 10.0.32.4; do
        if ! answers "$manager"; then
          echo "pulumi-swarm: $manager:2377 does not answer; trying the next manager" >&2
          continue
        fi
        if dkr swarm join --token "$token" --advertise-addr 10.0.16.5 "$manager:2377" >/dev/null; then
          break
        fi
        state=$(dkr info --format '{{.Swarm.LocalNodeState}}')
        [ "$state" = inactive ] || break
      done
    fi
    w=0
    info=$(swarm_info)
    state=${info%% *}
    while [ "$state" = pending ] && [ "$w" -lt 30 ]; do
      w=$((w + 1))
      sleep 2
      info=$(swarm_info)
      state=${info%% *}
    done
    if [ "$state" = active ] && in_this_swarm; then
      break
    fi
    if [ "$n" -ge 3 ]; then
      echo "pulumi-swarm: $(hostname) (10.0.16.5) could not join the swarm through 10.0.0.10:2377, 10.0.32.4:2377 as a manager after 3 attempts (state: $state); check that 2377/tcp, 7946/tcp+udp and 4789/udp are open between the nodes." >&2
      exit 1
    fi
    sleep $((n * 2))
  done
fi
node_id=${info#* }
node_id=${node_id%% *}
printf '{"nodeId":"%s"}\n' "$node_id"
