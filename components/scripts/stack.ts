import { shellQuote } from "../shell";
import { checkSeconds, checkWord, prelude } from "./common";

/**
 * The scripts of a stack, run over SSH on a manager (stacks are client-side: the compose file
 * is read by the docker CLI there):
 * - deploy: decode the files from stdin into a private folder, `docker stack deploy
 *   --with-registry-auth --prune`, wait until every service has converged, remove the
 *   stack's secrets and configs that no service uses any more, print the services as JSON;
 * - remove: `docker stack rm`, then wait until the stack's services, networks, secrets and
 *   configs are gone.
 */

export type ResolveImage = "always" | "changed" | "never";

export interface StackDeployScriptArgs {
    readonly stackName: string;
    /** sha256 of the files deployed; written into the script, so a change re-runs it. */
    readonly contentHash: string;
    /** `--resolve-image`: "always" pins tags to digests through the registry. */
    readonly resolveImage: ResolveImage;
    /** How long the services get to converge before the deploy fails. */
    readonly convergeTimeoutSeconds: number;
    /** How long a failed first deploy waits for its stack to be gone again. */
    readonly removeTimeoutSeconds: number;
    /** Log in to this registry first, with the user given here and the password from the bundle. */
    readonly registryLogin?: { readonly address: string; readonly username: string };
    /** Seconds between two convergence polls. @default 1 */
    readonly pollSeconds?: number;
}

/** The bundle entry that carries the registry password (never written anywhere else). */
export const REGISTRY_PASSWORD_FILE = "registry-password";

/** A stack name as swarm takes it (and as the scripts print it). */
export function checkStackName(field: string, value: string): void {
    if (!/^[a-z0-9][a-z0-9_-]{0,39}$/.test(value)) {
        throw new Error(`${field} must be 1-40 lower-case letters, digits, '_' or '-', starting with a letter or digit; got ${JSON.stringify(value)}`);
    }
}

/**
 * Convergence, per service of the stack, decided from what swarm reports:
 * - a replicated service: as many tasks Running with the service's current task spec as it
 *   has replicas (tasks of the previous spec do not count, so an update is waited out);
 * - a global service: every task that should run is Running with the current spec;
 * - a job (replicated-job, global-job): all its completions done;
 * - a one-shot task (restart condition none or on-failure) that is Complete counts as done.
 * An update that swarm paused or rolled back fails at once, with swarm's message.
 */
/**
 * The parts of a task spec that decide whether a task runs the service's current spec. The
 * whole spec cannot be compared: the engine's task view leaves out fields its service view has
 * (StopGracePeriod, Runtime) and fills RestartPolicy defaults differently, so these are rendered
 * the same way from both.
 */
export const SPEC_FIELDS =
    "{{json .ContainerSpec.Image}} {{json .ContainerSpec.Command}} {{json .ContainerSpec.Args}} {{json .ContainerSpec.Env}} " +
    "{{json .ContainerSpec.Labels}} {{json .ContainerSpec.Mounts}} {{json .ContainerSpec.Configs}} {{json .ContainerSpec.Secrets}} " +
    "{{json .Networks}} {{json .Resources}} {{json .Placement}} {{.ForceUpdate}}";

function convergenceFunctions(stack: string): string {
    // Four docker calls a poll, whatever the number of services: the services, the tasks'
    // IDs, the tasks, and (only when there are jobs) the service list.
    const awk = [
        "function rest(s, n,   i) { for (i = 0; i < n; i++) s = substr(s, index(s, \"|\") + 1); return s }",
        '$1 == "S" { name[$2] = $3; mode[$2] = $4; want[$2] = $5; restart[$2] = $6; spec[$2] = rest($0, 7); order[++n] = $2; next }',
        '$1 == "T" {',
        "  cur = (rest($0, 4) == spec[$2])",
        '  if (cur && $3 == "running" && $4 == "running") ok[$2]++',
        '  else if (cur && $3 == "complete" && restart[$2] != "any") ok[$2]++',
        "  # Should run but is not there yet, or should stop but still runs: not converged.",
        '  else if ($4 == "running" || $3 == "running" || $3 == "starting") other[$2]++',
        "}",
        "END {",
        "  for (i = 1; i <= n; i++) {",
        "    id = order[i]",
        '    if (mode[id] == "job") continue',
        '    if (mode[id] == "replicated") { if (!(ok[id] >= want[id] && other[id] == 0)) printf "%s %d/%d tasks running with the current spec\\n", name[id], ok[id], want[id] }',
        '    else if (!(ok[id] >= 1 && other[id] == 0)) printf "%s %d tasks running with the current spec, %d others\\n", name[id], ok[id], other[id]',
        "  }",
        "}",
    ].join("\n");
    return [
        "# Prints one line per service that has not converged yet: '<service> <why>'.",
        "unconverged() {",
        `  ids=$(dkr stack services ${stack} -q)`,
        '  [ -n "$ids" ] || return 0',
        "  # shellcheck disable=SC2086 # split on purpose: one argument per ID",
        `  dkr service inspect --format 'S|{{.ID}}|{{.Spec.Name}}|{{if .Spec.Mode.Replicated}}replicated|{{.Spec.Mode.Replicated.Replicas}}{{else if .Spec.Mode.Global}}global|0{{else}}job|0{{end}}|{{.Spec.TaskTemplate.RestartPolicy.Condition}}|{{if .UpdateStatus}}{{.UpdateStatus.State}}{{else}}none{{end}}|{{with .Spec.TaskTemplate}}${SPEC_FIELDS}{{end}}' $ids >"$dir/services"`,
        `  tasks=$(dkr stack ps ${stack} -q --no-trunc)`,
        '  : >"$dir/tasks"',
        '  if [ -n "$tasks" ]; then',
        "    # shellcheck disable=SC2086 # split on purpose: one argument per task ID",
        `    dkr inspect --format 'T|{{.ServiceID}}|{{.Status.State}}|{{.DesiredState}}|{{with .Spec}}${SPEC_FIELDS}{{end}}' $tasks >"$dir/tasks"`,
        "  fi",
        "  awk -F'|' '$7 ~ /^(paused|rollback_paused|rollback_completed)$/ {print $3, $7}' \"$dir/services\" | while read -r svc update; do",
        `    echo "pulumi-swarm: the update of service $svc was stopped by swarm ($update): $(dkr service inspect --format '{{.UpdateStatus.Message}}' "$svc")" >&2`,
        "    dkr service ps --no-trunc --format '  {{.Name}} on {{.Node}}: {{.CurrentState}} {{.Error}}' \"$svc\" | head -n 5 >&2",
        "    echo stopped",
        '  done | grep -q stopped && return 1',
        "  awk -F'|' '$4 == \"job\" {print $3}' \"$dir/services\" | while read -r svc; do",
        "    # A job: done when all its completions are (Replicas reads '0/1 (1/1 completed)').",
        "    replicas=$(dkr service ls --filter \"name=$svc\" --format '{{.Name}} {{.Replicas}}' | awk -v s=\"$svc\" '$1 == s { $1 = \"\"; print }')",
        '    done=$(echo "$replicas" | sed -n \'s/.*(\\([0-9]*\\)\\/\\([0-9]*\\) completed).*/\\1 \\2/p\')',
        "    # shellcheck disable=SC2086 # split on purpose: two numbers",
        "    set -- $done",
        '    if [ "$#" -ne 2 ] || [ "$1" -lt "$2" ]; then echo "$svc job$replicas"; fi',
        "  done",
        `  awk -F'|' '${awk.replace(/'/g, "'\\''")}' "$dir/services" "$dir/tasks"`,
        "}",
        "",
    ].join("\n");
}

export function renderStackDeploy(args: StackDeployScriptArgs): string {
    checkStackName("stackName", args.stackName);
    if (!/^[0-9a-f]{64}$/.test(args.contentHash)) {
        throw new Error(`contentHash must be a sha256 in hex; got ${JSON.stringify(args.contentHash)}`);
    }
    checkSeconds("convergeTimeoutSeconds", args.convergeTimeoutSeconds);
    checkSeconds("removeTimeoutSeconds", args.removeTimeoutSeconds);
    const poll = args.pollSeconds ?? 1;
    checkSeconds("pollSeconds", poll);
    if (!["always", "changed", "never"].includes(args.resolveImage)) {
        throw new Error(`resolveImage must be always, changed or never; got ${JSON.stringify(args.resolveImage)}`);
    }
    const stack = shellQuote(args.stackName);
    const lines = [
        prelude(`deploy stack ${args.stackName} and wait for it to converge`),
        `# content sha256: ${args.contentHash}`,
        `if [ "$(dkr info --format '{{.Swarm.ControlAvailable}}')" != true ]; then`,
        `  echo "pulumi-swarm: $(hostname) is not a swarm manager, so it cannot deploy stack ${args.stackName}; point the stack at a manager." >&2`,
        "  exit 1",
        "fi",
        "umask 077",
        "dir=$(mktemp -d)",
        "trap 'rm -rf \"$dir\"' EXIT",
        "# The files arrive on stdin, one per line: '<path> <base64 of the content>'.",
        "while read -r path data; do",
        '  [ -n "$path" ] || continue',
        '  case "$path" in',
        "    *..*) echo \"pulumi-swarm: refusing bundle path $path\" >&2; exit 1 ;;",
        `    compose.yaml|secrets/*|configs/*|${REGISTRY_PASSWORD_FILE}) ;;`,
        "    *) echo \"pulumi-swarm: unexpected bundle path $path\" >&2; exit 1 ;;",
        "  esac",
        '  mkdir -p "$(dirname "$dir/$path")"',
        '  printf \'%s\' "$data" | base64 -d >"$dir/$path"',
        "done",
        '[ -f "$dir/compose.yaml" ] || { echo "pulumi-swarm: no compose file arrived on stdin" >&2; exit 1; }',
        "# A private client config when logging in, so no credential outlives this script on disk.",
        "cfg=",
        'dk() { if [ -n "$cfg" ]; then dkr --config "$cfg" "$@"; else dkr "$@"; fi; }',
    ];
    if (args.registryLogin) {
        checkWord("registryLogin.address", args.registryLogin.address);
        lines.push(
            'cfg="$dir/docker-config"',
            'mkdir -p "$cfg"',
            `dk login --username ${shellQuote(args.registryLogin.username)} --password-stdin ${shellQuote(args.registryLogin.address)} <"$dir/${REGISTRY_PASSWORD_FILE}" >/dev/null`,
        );
    }
    lines.push(
        "# A first deploy that fails takes its stack away again, so a failed create leaves nothing;",
        "# a failed update leaves the stack to swarm's update_config (failure_action).",
        ...removeStackFunction(args.stackName, args.removeTimeoutSeconds),
        `existed=no`,
        `if [ -n "$(dkr service ls --filter label=com.docker.stack.namespace=${args.stackName} -q)" ]; then existed=yes; fi`,
        "fail() {",
        '  if [ "$existed" = no ]; then',
        `    echo "pulumi-swarm: removing stack ${args.stackName}, which this failed first deploy created" >&2`,
        "    remove_stack || true",
        "  fi",
        "  exit 1",
        "}",
        'cd "$dir"',
        `dk stack deploy --compose-file "$dir/compose.yaml" --with-registry-auth --prune --resolve-image ${args.resolveImage} ${stack} >&2 || fail`,
        "",
        convergenceFunctions(stack),
        "start=$(date +%s)",
        "while :; do",
        "  pending=$(unconverged) || fail",
        '  [ -z "$pending" ] && break',
        `  if [ $(($(date +%s) - start)) -ge ${args.convergeTimeoutSeconds} ]; then`,
        `    echo "pulumi-swarm: stack ${args.stackName} did not converge within ${args.convergeTimeoutSeconds} s:" >&2`,
        '    echo "$pending" | while read -r svc why; do',
        '      echo "  service $svc: $why" >&2',
        "      dkr service ps --no-trunc --format '    {{.Name}} on {{.Node}}: {{.CurrentState}} {{.Error}}' \"$svc\" | head -n 5 >&2",
        "    done",
        "    fail",
        "  fi",
        `  sleep ${poll}`,
        "done",
        "",
        "# Secrets and configs are content-named: drop the stack's ones that no service uses now.",
        "for kind in secret config; do",
        `  for name in $(dkr "$kind" ls --filter label=com.docker.stack.namespace=${stack} --format '{{.Name}}'); do`,
        `    if ! grep -q "name: $name\\$" "$dir/compose.yaml"; then dkr "$kind" rm "$name" >/dev/null 2>&1 || true; fi`,
        "  done",
        "done",
        "",
        "# The services, as one JSON line: name, image (by digest when resolved), published ports;",
        "# one inspect for all of them, sorted by name (each line starts with it).",
        `ids=$(dkr stack services ${stack} -q)`,
        "services=",
        'if [ -n "$ids" ]; then',
        "  # shellcheck disable=SC2086 # split on purpose: one argument per ID",
        `  services=$(dkr service inspect --format '{"name":{{json .Spec.Name}},"image":{{json .Spec.TaskTemplate.ContainerSpec.Image}},"ports":{{json .Endpoint.Ports}}}' $ids | LC_ALL=C sort | paste -sd, -)`,
        "fi",
        `printf '{"stack":"%s","services":[%s]}\\n' ${stack} "$services"`,
        "",
    );
    return lines.join("\n");
}

export interface StackRemoveScriptArgs {
    readonly stackName: string;
    readonly removeTimeoutSeconds: number;
}

/**
 * The shell function `remove_stack`: `docker stack rm`, then, until nothing labelled with the
 * stack is left, removes again what the first rm left (a network stays while a task's
 * container still holds it); fails after `timeoutSeconds`, naming what is still there.
 * Shared by the stack's delete and a failed first deploy, so neither leaves a network behind.
 */
function removeStackFunction(stackName: string, timeoutSeconds: number): string[] {
    const stack = shellQuote(stackName);
    const label = shellQuote(`label=com.docker.stack.namespace=${stackName}`);
    return [
        "left() {",
        `  dkr service ls --filter ${label} -q`,
        `  dkr network ls --filter ${label} -q`,
        `  dkr secret ls --filter ${label} -q`,
        `  dkr config ls --filter ${label} -q`,
        "}",
        "remove_stack() {",
        '  if [ -n "$(left)" ]; then',
        "    # It fails while a task still holds a network; the wait below removes what it left.",
        `    dkr stack rm ${stack} >&2 || true`,
        "  fi",
        "  start=$(date +%s)",
        '  while [ -n "$(left)" ]; do',
        `    if [ $(($(date +%s) - start)) -ge ${timeoutSeconds} ]; then`,
        `      echo "pulumi-swarm: stack ${stackName} was not gone within ${timeoutSeconds} s; still there:" >&2`,
        `      dkr service ls --filter ${label} --format '  service {{.Name}}' >&2`,
        `      dkr network ls --filter ${label} --format '  network {{.Name}}' >&2`,
        "      return 1",
        "    fi",
        "    # Networks go once their tasks' containers have stopped; retry what the first rm left.",
        `    dkr network ls --filter ${label} -q | while read -r n; do dkr network rm "$n" >/dev/null 2>&1 || true; done`,
        `    dkr config ls --filter ${label} -q | while read -r c; do dkr config rm "$c" >/dev/null 2>&1 || true; done`,
        `    dkr secret ls --filter ${label} -q | while read -r s; do dkr secret rm "$s" >/dev/null 2>&1 || true; done`,
        "    sleep 1",
        "  done",
        "}",
    ];
}

/** `docker stack rm`, then waits until nothing labelled with the stack is left. Idempotent. */
export function renderStackRemove(args: StackRemoveScriptArgs): string {
    checkStackName("stackName", args.stackName);
    checkSeconds("removeTimeoutSeconds", args.removeTimeoutSeconds);
    return [
        prelude(`remove stack ${args.stackName}`),
        `if [ "$(dkr info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" != active ]; then`,
        `  echo "pulumi-swarm: $(hostname) is in no swarm; stack ${args.stackName} went with it." >&2`,
        "  exit 0",
        "fi",
        ...removeStackFunction(args.stackName, args.removeTimeoutSeconds),
        "remove_stack",
        "",
    ].join("\n");
}

export interface DeployedService {
    readonly name: string;
    readonly image: string;
    readonly ports: { readonly published: number; readonly target: number; readonly protocol: string; readonly mode: string }[];
}

/** Parses the deploy's JSON line. */
export function parseStackDeployOutput(stdout: string): DeployedService[] {
    const line = stdout.trim().split("\n").pop() ?? "";
    let parsed: { services: { name: string; image: string; ports: { PublishedPort: number; TargetPort: number; Protocol: string; PublishMode: string }[] | null }[] };
    try {
        parsed = JSON.parse(line);
    } catch {
        throw new Error(`the stack deploy printed no JSON result line; it printed: ${JSON.stringify(stdout.slice(-300))}`);
    }
    return parsed.services.map((s) => ({
        name: s.name,
        image: s.image,
        ports: (s.ports ?? []).map((p) => ({ published: p.PublishedPort, target: p.TargetPort, protocol: p.Protocol, mode: p.PublishMode })),
    }));
}
