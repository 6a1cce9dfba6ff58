import { shellQuote } from "../shell";

/**
 * Pieces shared by the scripts that run on a node over SSH. Every script is POSIX sh
 * (it runs under whatever login shell the SSH user has), starts with `set -eu`, and
 * talks to Docker through `dkr`, which adds `sudo -n` when the SSH user is not root
 * (on a fresh EC2 node the user's docker group membership is not active yet).
 */

/** The node label that ties a swarm node to the host entry that created it. */
export const HOST_LABEL = "pulumi-swarm.host";
/** The node label that marks the first manager of a swarm created by pulumi-swarm. */
export const CLUSTER_LABEL = "pulumi-swarm.cluster";
/** The lock that serialises membership changes (drain, demote, remove) on a manager. */
export const MEMBERSHIP_LOCK = "/tmp/pulumi-swarm-membership.lock";
/** Seconds between two polls in every wait loop. */
export const POLL_SECONDS = 2;

export function prelude(purpose: string): string {
    return [
        `# pulumi-swarm: ${purpose}`,
        "set -eu",
        'dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }',
        "",
    ].join("\n");
}

/** How many polls fit in a time-out (at least one). */
export function attemptsFor(timeoutSeconds: number): number {
    return Math.max(1, Math.ceil(timeoutSeconds / POLL_SECONDS));
}

/**
 * Waits until Docker answers on this host: bounded, with an error that says where to look.
 * SSH itself is retried by the connection (dialErrorLimit); this covers cloud-init still
 * installing Docker after sshd is up.
 */
export function waitForDocker(timeoutSeconds: number, probe: string): string {
    return [
        ...boundedWait("until", probe, timeoutSeconds, [
            `echo "pulumi-swarm: Docker did not answer on $(hostname) within ${timeoutSeconds} s; is cloud-init still installing it? See /var/log/cloud-init-output.log on the node." >&2`,
            "exit 1",
        ]),
        "",
    ].join("\n");
}

/**
 * Every wait loop of the scripts: polls `condition` (`until` it holds, or `while` it holds)
 * every POLL_SECONDS, and after `timeoutSeconds` runs `onTimeout` (which exits, or breaks
 * out to go on). Uses the shell variable `i`.
 */
export function boundedWait(loop: "until" | "while", condition: string, timeoutSeconds: number, onTimeout: readonly string[]): string[] {
    return [
        "i=0",
        `${loop} ${condition}; do`,
        "  i=$((i + 1))",
        `  if [ "$i" -ge ${attemptsFor(timeoutSeconds)} ]; then`,
        ...onTimeout.map((l) => `    ${l}`),
        "  fi",
        `  sleep ${POLL_SECONDS}`,
        "done",
    ];
}

/**
 * Every retry loop of the scripts: runs `command` (its output dropped) until it succeeds, every
 * POLL_SECONDS, at most `attempts` times, then runs `onGiveUp` (which exits). Uses the shell
 * variable `n`.
 */
export function retried(command: string, attempts: number, onGiveUp: readonly string[]): string[] {
    return [
        "n=0",
        `until ${command} >/dev/null; do`,
        "  n=$((n + 1))",
        `  if [ "$n" -ge ${attempts} ]; then`,
        ...onGiveUp.map((l) => `    ${l}`),
        "  fi",
        `  sleep ${POLL_SECONDS}`,
        "done",
    ];
}

/**
 * `convergedServices` lists the services whose tasks all run (replicas n/n), one ID per line;
 * `movedAway <node>` holds when none of the node's tasks is meant to run there any more and
 * every service listed in `$before` runs as many tasks as it wants again, elsewhere, unless one
 * of its tasks waits for a node that can take it ("no suitable node": then waiting would only
 * run out the time-out, e.g. a host-mode port on a cluster with no spare node). Measured
 * in the lab (Docker 20.10): for about 4 s after a drain, `service ls` still shows 2/2 and the
 * replacement task is not yet meant to run (the restart delay), so neither alone can tell.
 */
export function movedAwayFunctions(): string {
    return [
        "convergedServices() {",
        "  dkr service ls --format '{{.ID}} {{.Replicas}}' | awk '{ split($2, r, \"/\"); if (r[1] == r[2]) print $1 }'",
        "}",
        "movedAway() {",
        '  [ -z "$(dkr node ps "$1" --filter desired-state=running -q)" ] || return 1',
        "  for s in $before; do",
        "    # Not the replicas column: it counts the drained node's task while it stops, and the task",
        "    # that replaces it is not meant to run until its restart delay is over. The tasks meant to",
        "    # run that do, against the count the service wants.",
        "    want=$(dkr service ls --filter \"id=$s\" --format '{{.Replicas}}' | sed 's|^[0-9]*/\\([0-9]*\\).*|\\1|')",
        "    tasks=$(dkr service ps \"$s\" --filter desired-state=running --format '{{.CurrentState}} {{.Error}}')",
        "    have=$(printf '%s\\n' \"$tasks\" | grep -c '^Running' || true)",
        '    if [ "${have:-0}" -lt "${want:-0}" ]; then',
        "      # A task that no node can take (a host-mode port in use, a constraint) is not waited for.",
        "      printf '%s\\n' \"$tasks\" | grep -q '^Pending.*no suitable node' || return 1",
        "    fi",
        "  done",
        "}",
        "",
    ].join("\n");
}

/**
 * `spreadOut <node> <seconds> <what>`: Swarm stops every task of a node at once when it drains,
 * and never moves running tasks to even out the nodes on its own: after an earlier drain, all
 * the tasks of a service can run on one node (measured in the lab: an instance-type roll
 * drained one of two workers, both API tasks ran on the other from then on, and the next
 * drain of that worker stopped them together). So every replicated service that wants 2 or
 * more tasks and runs all of them on the node is redeployed first (`service update --force`:
 * its own update order, `update_config`, and the scheduler spreads the new tasks over the
 * active nodes), and the script waits, bounded, until one of its tasks runs on another node.
 * `docker stack deploy` keeps the service's ForceUpdate counter, so a later deploy of the same
 * file restarts nothing (docker/cli stack deploy_composefile.go `deployServices`).
 */
export function spreadOutFunctions(): string {
    return [
        "elsewhere() {",
        "  dkr service ps \"$1\" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' | awk -v h=\"$2\" '$1 != h && $2 == \"Running\" { found = 1 } END { exit !found }'",
        "}",
        "spreadOut() {",
        "  host=$(dkr node inspect \"$1\" --format '{{.Description.Hostname}}')",
        "  for s in $(dkr node ps \"$1\" --filter desired-state=running --format '{{.Name}}' | sed 's/\\.[0-9]*$//' | sort -u); do",
        "    want=$(dkr service ls --filter \"name=$s\" --format '{{.Name}} {{.Mode}} {{.Replicas}}' | awk -v s=\"$s\" '$1 == s && $2 == \"replicated\" { split($3, r, \"/\"); print r[2] }')",
        '    [ "${want:-0}" -ge 2 ] || continue',
        '    ! elsewhere "$s" "$host" || continue',
        '    dkr service update --force --detach "$s" >/dev/null',
        "    i=0",
        '    until elsewhere "$s" "$host"; do',
        "      i=$((i + 1))",
        `      if [ "$i" -ge $(( ($2 + ${POLL_SECONDS} - 1) / ${POLL_SECONDS} )) ]; then`,
        '        echo "pulumi-swarm: warning: $s still runs all its tasks on $3 after $2 s of redeploying it; they stop together when it drains." >&2',
        "        break",
        "      fi",
        `      sleep ${POLL_SECONDS}`,
        "    done",
        "  done",
        "}",
        "",
    ].join("\n");
}

/**
 * Drains a node (`nodeUpdate`, movedAwayFunctions, spreadOutFunctions) and waits, bounded, until
 * its tasks have moved: none meant to run there, and every service that had all its tasks
 * running before the drain has them running again on other nodes, so the next node out never
 * takes the last running copy of a service with it. Before the drain, a service with all its
 * tasks on the node is spread out first (spreadOut). After `timeoutSeconds` it warns (`what`
 * happens anyway) and goes on.
 */
export function drainAndWait(node: string, hostKey: string, timeoutSeconds: number, what: string): string[] {
    return [
        `spreadOut ${node} ${timeoutSeconds} "${hostKey}"`,
        "before=$(convergedServices)",
        `nodeUpdate --availability drain ${node}`,
        ...boundedWait("until", `movedAway ${node}`, timeoutSeconds, [
            `echo "pulumi-swarm: warning: the tasks of ${hostKey} have not all moved and started elsewhere after ${timeoutSeconds} s of draining; ${what} anyway and they are rescheduled." >&2`,
            "break",
        ]),
    ];
}

/** The probe that waits for Docker and reads the swarm state in one call. */
export const STATE_PROBE = "state=$(dkr info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)";

/** Sets `state` to the node's swarm state: inactive, pending, active, error or locked. */
export function readSwarmState(): string {
    return "state=$(dkr info --format '{{.Swarm.LocalNodeState}}')\n";
}

/** Takes the membership lock on file descriptor 9 until the script ends. */
export function takeMembershipLock(): string {
    return [`exec 9>${shellQuote(MEMBERSHIP_LOCK)}`, "flock 9", ""].join("\n");
}

/** Fails unless a number of seconds is a positive whole number (the scripts count polls). */
export function checkSeconds(field: string, value: number): void {
    if (!Number.isInteger(value) || value <= 0) {
        throw new Error(`${field} must be a positive whole number of seconds; got ${value}`);
    }
}

/**
 * Fails unless a value is a plain word (letters, digits, `.`, `_`, `:`, `-`): names and
 * addresses that scripts also print in their messages must hold nothing a shell would read.
 */
export function checkWord(field: string, value: string): void {
    if (!/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(value)) {
        throw new Error(
            `${field} must be letters, digits, '.', '_', ':' or '-' (a host name, key or address); got ${JSON.stringify(value)}`,
        );
    }
}

/**
 * How long a leaving node waits for its task containers to stop and their overlay networks
 * to go; after that it leaves anyway (a network stuck by a Docker bug must not block a destroy).
 */
export const LEAVE_SETTLE_SECONDS = 30;

/**
 * Waits (bounded, LEAVE_SETTLE_SECONDS, then goes on) until no swarm task container runs on
 * this node and it holds no overlay network but the ingress: what a node should be just
 * before `docker swarm leave`. Its tasks stop and their networks go a few seconds after a
 * manager removed them; a node that leaves before that keeps the network (moby #39225).
 */
export function untilSettled(): string {
    return [
        "settled() {",
        '  [ -z "$(dkr ps -q --filter label=com.docker.swarm.task.id)" ] || return 1',
        "  for n in $(dkr network ls -q --filter driver=overlay); do",
        `    [ "$(dkr network inspect --format '{{.Ingress}}' "$n" 2>/dev/null || echo true)" = true ] || return 1`,
        "  done",
        "}",
        ...boundedWait("until", "settled", LEAVE_SETTLE_SECONDS, ["break"]),
    ].join("\n");
}

/** After `docker swarm leave`: names any overlay network Docker kept, with the fix (moby #42136). */
export function warnLeftNetworks(hostKey: string): string {
    return [
        "left=$(dkr network ls --filter driver=overlay --format '{{.Name}}' | tr '\\n' ' ')",
        'if [ -n "$left" ]; then',
        `  echo "pulumi-swarm: warning: ${hostKey} ($(hostname)) left the swarm, but Docker kept these overlay networks: $left(moby #42136). Restart Docker on the host ('systemctl restart docker') to clear them before it joins another swarm." >&2`,
        "fi",
    ].join("\n");
}
