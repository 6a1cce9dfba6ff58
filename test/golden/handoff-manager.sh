# pulumi-swarm: before manager-2 restarts (instance type t3.medium): spread out the services that run only there
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

elsewhere() {
  dkr service ps "$1" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' | awk -v h="$2" '$1 != h && $2 == "Running" { found = 1 } END { exit !found }'
}
spreadOut() {
  host=$(dkr node inspect "$1" --format '{{.Description.Hostname}}')
  for s in $(dkr node ps "$1" --filter desired-state=running --format '{{.Name}}' | sed 's/\.[0-9]*$//' | sort -u); do
    want=$(dkr service ls --filter "name=$s" --format '{{.Name}} {{.Mode}} {{.Replicas}}' | awk -v s="$s" '$1 == s && $2 == "replicated" { split($3, r, "/"); print r[2] }')
    [ "${want:-0}" -ge 2 ] || continue
    ! elsewhere "$s" "$host" || continue
    dkr service update --force --detach "$s" >/dev/null
    i=0
    until elsewhere "$s" "$host"; do
      i=$((i + 1))
      if [ "$i" -ge $(( ($2 + 2 - 1) / 2 )) ]; then
        echo "pulumi-swarm: warning: $s still runs all its tasks on $3 after $2 s of redeploying it; they stop together when it drains." >&2
        break
      fi
      sleep 2
    done
  done
}

node=$(dkr node ls -q --filter node.label=pulumi-swarm.host=manager-2 | head -n 1)
[ -n "$node" ] || exit 0
spreadOut "$node" 300 manager-2
