# pulumi-swarm: deploy stack web and wait for it to converge
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

# content sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
if [ "$(dkr info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
  echo "pulumi-swarm: $(hostname) is not a swarm manager, so it cannot deploy stack web; point the stack at a manager." >&2
  exit 1
fi
umask 077
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# The files arrive on stdin, one per line: '<path> <base64 of the content>'.
while read -r path data; do
  [ -n "$path" ] || continue
  case "$path" in
    *..*) echo "pulumi-swarm: refusing bundle path $path" >&2; exit 1 ;;
    compose.yaml|secrets/*|configs/*|registry-password) ;;
    *) echo "pulumi-swarm: unexpected bundle path $path" >&2; exit 1 ;;
  esac
  mkdir -p "$(dirname "$dir/$path")"
  printf '%s' "$data" | base64 -d >"$dir/$path"
done
[ -f "$dir/compose.yaml" ] || { echo "pulumi-swarm: no compose file arrived on stdin" >&2; exit 1; }
# A private client config when logging in, so no credential outlives this script on disk.
cfg=
dk() { if [ -n "$cfg" ]; then dkr --config "$cfg" "$@"; else dkr "$@"; fi; }
# A first deploy that fails takes its stack away again, so a failed create leaves nothing;
# a failed update leaves the stack to swarm's update_config (failure_action).
left() {
  dkr service ls --filter label=com.docker.stack.namespace=web -q
  dkr network ls --filter label=com.docker.stack.namespace=web -q
  dkr secret ls --filter label=com.docker.stack.namespace=web -q
  dkr config ls --filter label=com.docker.stack.namespace=web -q
}
remove_stack() {
  if [ -n "$(left)" ]; then
    # It fails while a task still holds a network; the wait below removes what it left.
    dkr stack rm web >&2 || true
  fi
  start=$(date +%s)
  while [ -n "$(left)" ]; do
    if [ $(($(date +%s) - start)) -ge 180 ]; then
      echo "pulumi-swarm: stack web was not gone within 180 s; still there:" >&2
      dkr service ls --filter label=com.docker.stack.namespace=web --format '  service {{.Name}}' >&2
      dkr network ls --filter label=com.docker.stack.namespace=web --format '  network {{.Name}}' >&2
      return 1
    fi
    # Networks go once their tasks' containers have stopped; retry what the first rm left.
    dkr network ls --filter label=com.docker.stack.namespace=web -q | while read -r n; do dkr network rm "$n" >/dev/null 2>&1 || true; done
    dkr config ls --filter label=com.docker.stack.namespace=web -q | while read -r c; do dkr config rm "$c" >/dev/null 2>&1 || true; done
    dkr secret ls --filter label=com.docker.stack.namespace=web -q | while read -r s; do dkr secret rm "$s" >/dev/null 2>&1 || true; done
    sleep 1
  done
}
existed=no
if [ -n "$(dkr service ls --filter label=com.docker.stack.namespace=web -q)" ]; then existed=yes; fi
fail() {
  if [ "$existed" = no ]; then
    echo "pulumi-swarm: removing stack web, which this failed first deploy created" >&2
    remove_stack || true
  fi
  exit 1
}
cd "$dir"
dk stack deploy --compose-file "$dir/compose.yaml" --with-registry-auth --prune --resolve-image always web >&2 || fail

# Prints one line per service that has not converged yet: '<service> <why>'.
unconverged() {
  ids=$(dkr stack services web -q)
  [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086 # split on purpose: one argument per ID
  dkr service inspect --format 'S|{{.ID}}|{{.Spec.Name}}|{{if .Spec.Mode.Replicated}}replicated|{{.Spec.Mode.Replicated.Replicas}}{{else if .Spec.Mode.Global}}global|0{{else}}job|0{{end}}|{{.Spec.TaskTemplate.RestartPolicy.Condition}}|{{if .UpdateStatus}}{{.UpdateStatus.State}}{{else}}none{{end}}|{{with .Spec.TaskTemplate}}{{json .ContainerSpec.Image}} {{json .ContainerSpec.Command}} {{json .ContainerSpec.Args}} {{json .ContainerSpec.Env}} {{json .ContainerSpec.Labels}} {{json .ContainerSpec.Mounts}} {{json .ContainerSpec.Configs}} {{json .ContainerSpec.Secrets}} {{json .Networks}} {{json .Resources}} {{json .Placement}} {{.ForceUpdate}}{{end}}' $ids >"$dir/services"
  tasks=$(dkr stack ps web -q --no-trunc)
  : >"$dir/tasks"
  if [ -n "$tasks" ]; then
    # shellcheck disable=SC2086 # split on purpose: one argument per task ID
    dkr inspect --format 'T|{{.ServiceID}}|{{.Status.State}}|{{.DesiredState}}|{{with .Spec}}{{json .ContainerSpec.Image}} {{json .ContainerSpec.Command}} {{json .ContainerSpec.Args}} {{json .ContainerSpec.Env}} {{json .ContainerSpec.Labels}} {{json .ContainerSpec.Mounts}} {{json .ContainerSpec.Configs}} {{json .ContainerSpec.Secrets}} {{json .Networks}} {{json .Resources}} {{json .Placement}} {{.ForceUpdate}}{{end}}' $tasks >"$dir/tasks"
  fi
  awk -F'|' '$7 ~ /^(paused|rollback_paused|rollback_completed)$/ {print $3, $7}' "$dir/services" | while read -r svc update; do
    echo "pulumi-swarm: the update of service $svc was stopped by swarm ($update): $(dkr service inspect --format '{{.UpdateStatus.Message}}' "$svc")" >&2
    dkr service ps --no-trunc --format '  {{.Name}} on {{.Node}}: {{.CurrentState}} {{.Error}}' "$svc" | head -n 5 >&2
    echo stopped
  done | grep -q stopped && return 1
  awk -F'|' '$4 == "job" {print $3}' "$dir/services" | while read -r svc; do
    # A job: done when all its completions are (Replicas reads '0/1 (1/1 completed)').
    replicas=$(dkr service ls --filter "name=$svc" --format '{{.Name}} {{.Replicas}}' | awk -v s="$svc" '$1 == s { $1 = ""; print }')
    done=$(echo "$replicas" | sed -n 's/.*(\([0-9]*\)\/\([0-9]*\) completed).*/\1 \2/p')
    # shellcheck disable=SC2086 # split on purpose: two numbers
    set -- $done
    if [ "$#" -ne 2 ] || [ "$1" -lt "$2" ]; then echo "$svc job$replicas"; fi
  done
  awk -F'|' 'function rest(s, n,   i) { for (i = 0; i < n; i++) s = substr(s, index(s, "|") + 1); return s }
$1 == "S" { name[$2] = $3; mode[$2] = $4; want[$2] = $5; restart[$2] = $6; spec[$2] = rest($0, 7); order[++n] = $2; next }
$1 == "T" {
  cur = (rest($0, 4) == spec[$2])
  if (cur && $3 == "running" && $4 == "running") ok[$2]++
  else if (cur && $3 == "complete" && restart[$2] != "any") ok[$2]++
  # Should run but is not there yet, or should stop but still runs: not converged.
  else if ($4 == "running" || $3 == "running" || $3 == "starting") other[$2]++
}
END {
  for (i = 1; i <= n; i++) {
    id = order[i]
    if (mode[id] == "job") continue
    if (mode[id] == "replicated") { if (!(ok[id] >= want[id] && other[id] == 0)) printf "%s %d/%d tasks running with the current spec\n", name[id], ok[id], want[id] }
    else if (!(ok[id] >= 1 && other[id] == 0)) printf "%s %d tasks running with the current spec, %d others\n", name[id], ok[id], other[id]
  }
}' "$dir/services" "$dir/tasks"
}

start=$(date +%s)
while :; do
  pending=$(unconverged) || fail
  [ -z "$pending" ] && break
  if [ $(($(date +%s) - start)) -ge 300 ]; then
    echo "pulumi-swarm: stack web did not converge within 300 s:" >&2
    echo "$pending" | while read -r svc why; do
      echo "  service $svc: $why" >&2
      dkr service ps --no-trunc --format '    {{.Name}} on {{.Node}}: {{.CurrentState}} {{.Error}}' "$svc" | head -n 5 >&2
    done
    fail
  fi
  sleep 1
done

# Secrets and configs are content-named: drop the stack's ones that no service uses now.
for kind in secret config; do
  for name in $(dkr "$kind" ls --filter label=com.docker.stack.namespace=web --format '{{.Name}}'); do
    if ! grep -q "name: $name\$" "$dir/compose.yaml"; then dkr "$kind" rm "$name" >/dev/null 2>&1 || true; fi
  done
done

# The services, as one JSON line: name, image (by digest when resolved), published ports;
# one inspect for all of them, sorted by name (each line starts with it).
ids=$(dkr stack services web -q)
services=
if [ -n "$ids" ]; then
  # shellcheck disable=SC2086 # split on purpose: one argument per ID
  services=$(dkr service inspect --format '{"name":{{json .Spec.Name}},"image":{{json .Spec.TaskTemplate.ContainerSpec.Image}},"ports":{{json .Endpoint.Ports}}}' $ids | LC_ALL=C sort | paste -sd, -)
fi
printf '{"stack":"%s","services":[%s]}\n' web "$services"
