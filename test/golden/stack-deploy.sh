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
cd "$dir"
dk stack deploy --compose-file "$dir/compose.yaml" --with-registry-auth --prune --resolve-image always web >&2

# Prints one line per service that has not converged yet: '<service> <why>'.
unconverged() {
  for svc in $(dkr stack services web --format '{{.Name}}'); do
    info=$(dkr service inspect --format '{{if .Spec.Mode.Replicated}}replicated {{.Spec.Mode.Replicated.Replicas}}{{else if .Spec.Mode.Global}}global 0{{else}}job 0{{end}} {{.Spec.TaskTemplate.RestartPolicy.Condition}} {{if .UpdateStatus}}{{.UpdateStatus.State}}{{else}}none{{end}}' "$svc")
    # shellcheck disable=SC2086 # split on purpose: four words
    set -- $info
    mode=$1 want=$2 restart=$3 update=$4
    case "$update" in
      paused|rollback_paused|rollback_completed)
        echo "pulumi-swarm: the update of service $svc was stopped by swarm ($update): $(dkr service inspect --format '{{.UpdateStatus.Message}}' "$svc")" >&2
        dkr service ps --no-trunc --format '  {{.Name}} on {{.Node}}: {{.CurrentState}} {{.Error}}' "$svc" | head -n 5 >&2
        exit 1
        ;;
    esac
    if [ "$mode" = job ]; then
      dkr service ls --filter "name=$svc" --format '{{.Name}} {{.Replicas}}' | while read -r name replicas; do
        [ "$name" = "$svc" ] || continue
        done=$(echo "$replicas" | sed -n 's/.*(\([0-9]*\)\/\([0-9]*\) completed).*/\1 \2/p')
        # shellcheck disable=SC2086 # split on purpose: two numbers
        set -- $done
        if [ "$#" -ne 2 ] || [ "$1" -lt "$2" ]; then echo "$svc job $replicas"; fi
      done
      continue
    fi
    template=$(dkr service inspect --format '{{with .Spec.TaskTemplate}}{{json .ContainerSpec.Image}} {{json .ContainerSpec.Command}} {{json .ContainerSpec.Args}} {{json .ContainerSpec.Env}} {{json .ContainerSpec.Labels}} {{json .ContainerSpec.Mounts}} {{json .ContainerSpec.Configs}} {{json .ContainerSpec.Secrets}} {{json .Networks}} {{json .Resources}} {{json .Placement}} {{.ForceUpdate}}{{end}}' "$svc")
    ids=$(dkr service ps -q --no-trunc "$svc")
    ok=0 other=0
    if [ -n "$ids" ]; then
      # Newest tasks first; '|' ends the two leading fields, the spec may hold anything.
      # shellcheck disable=SC2086 # split on purpose: one argument per task ID
      states=$(dkr inspect --format '{{.Status.State}}|{{.DesiredState}}|{{with .Spec}}{{json .ContainerSpec.Image}} {{json .ContainerSpec.Command}} {{json .ContainerSpec.Args}} {{json .ContainerSpec.Env}} {{json .ContainerSpec.Labels}} {{json .ContainerSpec.Mounts}} {{json .ContainerSpec.Configs}} {{json .ContainerSpec.Secrets}} {{json .Networks}} {{json .Resources}} {{json .Placement}} {{.ForceUpdate}}{{end}}' $ids)
      while IFS="|" read -r state desired spec; do
        current=no
        [ "$spec" = "$template" ] && current=yes
        if [ "$current" = yes ] && [ "$state" = running ] && [ "$desired" = running ]; then
          ok=$((ok + 1))
        elif [ "$current" = yes ] && [ "$state" = complete ] && [ "$restart" != any ]; then
          ok=$((ok + 1))
        elif [ "$desired" = running ]; then
          other=$((other + 1))
        fi
      done <<EOF
$states
EOF
    fi
    if [ "$mode" = replicated ]; then
      [ "$ok" -ge "$want" ] && [ "$other" -eq 0 ] || echo "$svc $ok/$want tasks running with the current spec"
    else
      [ "$ok" -ge 1 ] && [ "$other" -eq 0 ] || echo "$svc $ok tasks running with the current spec, $other others"
    fi
  done
}

start=$(date +%s)
while :; do
  pending=$(unconverged)
  [ -z "$pending" ] && break
  if [ $(($(date +%s) - start)) -ge 300 ]; then
    echo "pulumi-swarm: stack web did not converge within 300 s:" >&2
    echo "$pending" | while read -r svc why; do
      echo "  service $svc: $why" >&2
      dkr service ps --no-trunc --format '    {{.Name}} on {{.Node}}: {{.CurrentState}} {{.Error}}' "$svc" | head -n 5 >&2
    done
    exit 1
  fi
  sleep 1
done

# Secrets and configs are content-named: drop the stack's ones that no service uses now.
for kind in secret config; do
  for name in $(dkr "$kind" ls --filter label=com.docker.stack.namespace=web --format '{{.Name}}'); do
    if ! grep -q "name: $name\$" "$dir/compose.yaml"; then dkr "$kind" rm "$name" >/dev/null 2>&1 || true; fi
  done
done

# The services, as one JSON line: name, image (by digest when resolved), published ports.
printf '{"stack":%s,"services":[' '"web"'
dkr stack services web --format '{{.Name}}' | sort | while read -r svc; do
  dkr service inspect --format '{"name":{{json .Spec.Name}},"image":{{json .Spec.TaskTemplate.ContainerSpec.Image}},"ports":{{json .Endpoint.Ports}}}' "$svc"
done | paste -sd, -
printf ']}\n'
