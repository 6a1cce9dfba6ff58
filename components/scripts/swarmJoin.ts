import { shellQuote } from "../shell";
import { POLL_SECONDS, attemptsFor, boundedWait, checkSeconds, checkWord, prelude, readSwarmState, untilSettled, waitForDocker, warnLeftNetworks } from "./common";

export type SwarmRole = "manager" | "worker";

export interface SwarmJoinScriptArgs {
    readonly hostKey: string;
    readonly role: SwarmRole;
    /** This node's private address, advertised to the swarm. */
    readonly advertiseAddress: string;
    /**
     * Every manager's private address, in the host list's order (this node's own included when
     * it is a manager). A node whose managers include one of them is already in this swarm; a
     * node in no swarm joins through the first of them, other than itself, that lets it in.
     */
    readonly managerAddresses: readonly string[];
    /**
     * Addresses of managers already in the swarm that are not in `managerAddresses`: those of a
     * running cluster whose machines this run replaces (their replacements are not in the swarm
     * yet). Tried first, before `managerAddresses`. @default []
     */
    readonly joinThrough?: readonly string[];
    readonly dockerReadyTimeoutSeconds: number;
}

/** How long a manager gets to take a TCP connection on 2377 before a join goes to the next one. */
export const ANSWER_SECONDS = 5;

/** How many times a join is tried (through every manager in turn) before the command fails. */
export const JOIN_ATTEMPTS = 3;
/** How long a join that timed out (and goes on in the background) is waited for. */
export const JOIN_SETTLE_SECONDS = 60;

/**
 * Joins this node to the swarm, or finds it already there. The join token comes on standard
 * input (so it never sits in the command text, which diffs and logs show); the script prints
 * one JSON line with the node's ID.
 *
 * Decided from what the host reports: a node already in this swarm (its managers include one
 * of this swarm's manager addresses) does nothing, which is also what a re-run after a new
 * SSH address does; a node in any other swarm fails with a message and is left exactly as it
 * was. A node in no swarm joins through the managers in turn, so a replaced first manager
 * joins through a surviving one. A join that times out under load goes on in the background
 * (state "pending"): the script waits for it and never force-leaves a node that may already be
 * a manager of this swarm; only a node in state "error" is reset before a retry.
 */
export function renderSwarmJoin(args: SwarmJoinScriptArgs): string {
    checkSeconds("dockerReadyTimeoutSeconds", args.dockerReadyTimeoutSeconds);
    checkWord("hostKey", args.hostKey);
    checkWord("advertiseAddress", args.advertiseAddress);
    if (!Array.isArray(args.managerAddresses) || args.managerAddresses.length === 0) {
        throw new Error("managerAddresses must list at least one manager address");
    }
    args.managerAddresses.forEach((a, i) => checkWord(`managerAddresses[${i}]`, a));
    (args.joinThrough ?? []).forEach((a, i) => checkWord(`joinThrough[${i}]`, a));
    if (args.role !== "manager" && args.role !== "worker") {
        throw new Error(`role must be "manager" or "worker"; got ${JSON.stringify(args.role)}`);
    }
    // The running swarm's managers that the host list does not name come first: in a run that
    // replaces every manager, the listed addresses are the new machines, not in the swarm yet.
    const through = [...new Set(args.joinThrough ?? [])].filter((a) => !args.managerAddresses.includes(a) && a !== args.advertiseAddress);
    const targets = [...through, ...args.managerAddresses.filter((a) => a !== args.advertiseAddress)];
    const ours = [...args.managerAddresses, ...through].map((a) => `*" ${a}:2377 "*`).join("|");
    const joinLoop =
        targets.length === 0
            ? [
                  '    if [ "$state" = inactive ]; then',
                  `      echo "pulumi-swarm: $(hostname) (${args.advertiseAddress}) is in no swarm, and this swarm has no other manager to join through: its only manager is gone with the swarm's state. Restore it from a backup of /var/lib/docker/swarm, or destroy and re-create the cluster." >&2`,
                  "      exit 1",
                  "    fi",
              ]
            : [
                  '    if [ "$state" = inactive ]; then',
                  "      # A join that times out goes on in the background (state pending): it is waited for below.",
                  `      for manager in ${targets.map((t) => shellQuote(t)).join(" ")}; do`,
                  '        if ! answers "$manager"; then',
                  '          echo "pulumi-swarm: $manager:2377 does not answer; trying the next manager" >&2',
                  "          continue",
                  "        fi",
                  `        if dkr swarm join --token "$token" --advertise-addr ${shellQuote(args.advertiseAddress)} "$manager:2377" >/dev/null; then`,
                  "          break",
                  "        fi",
                  "        state=$(dkr info --format '{{.Swarm.LocalNodeState}}')",
                  '        [ "$state" = inactive ] || break',
                  "      done",
                  "    fi",
              ];
    return [
        prelude(`${args.hostKey} joins the swarm as a ${args.role}`),
        "token=",
        "IFS= read -r token || true",
        'if [ -z "$token" ]; then',
        '  echo "pulumi-swarm: no join token on standard input" >&2',
        "  exit 1",
        "fi",
        "swarm_info() {",
        "  dkr info --format '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}'",
        "}",
        ...(targets.length === 0
            ? []
            : [
                  `# Whether a manager takes connections on 2377 within ${ANSWER_SECONDS} s. A machine that died is listed by EC2`,
                  "# until it is terminated, and a join through it waits in the background for ever (state pending).",
                  "answers() {",
                  "  command -v bash >/dev/null 2>&1 || return 0",
                  "  # shellcheck disable=SC2016 # $1 is the inner bash's",
                  `  timeout ${ANSWER_SECONDS} bash -c 'exec 3<>"/dev/tcp/$1/2377"' answers "$1" 2>/dev/null`,
                  "}",
              ]),
        "# In this swarm when its managers include one of this swarm's manager addresses.",
        "in_this_swarm() {",
        `  case " $info " in ${ours}) return 0 ;; esac`,
        "  return 1",
        "}",
        waitForDocker(args.dockerReadyTimeoutSeconds, "info=$(swarm_info 2>/dev/null)"),
        "state=${info%% *}",
        'if [ "$state" = active ]; then',
        "  if ! in_this_swarm; then",
        `    echo "pulumi-swarm: $(hostname) (${args.advertiseAddress}) is already in another swarm, whose managers are at: $(dkr info --format '{{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}'). Nothing was changed. Run 'docker swarm leave' on it if it should join this swarm." >&2`,
        "    exit 1",
        "  fi",
        "else",
        "  n=0",
        "  while :; do",
        "    n=$((n + 1))",
        '    if [ "$state" = error ]; then',
        "      dkr swarm leave --force >/dev/null 2>&1 || true",
        "      state=inactive",
        "    fi",
        ...joinLoop,
        "    w=0",
        "    info=$(swarm_info)",
        "    state=${info%% *}",
        `    while [ "$state" = pending ] && [ "$w" -lt ${attemptsFor(JOIN_SETTLE_SECONDS)} ]; do`,
        "      w=$((w + 1))",
        `      sleep ${POLL_SECONDS}`,
        "      info=$(swarm_info)",
        "      state=${info%% *}",
        "    done",
        '    if [ "$state" = active ] && in_this_swarm; then',
        "      break",
        "    fi",
        `    if [ "$n" -ge ${JOIN_ATTEMPTS} ]; then`,
        `      echo "pulumi-swarm: $(hostname) (${args.advertiseAddress}) could not join the swarm through ${targets.map((t) => `${t}:2377`).join(", ") || "any manager"} as a ${args.role} after ${JOIN_ATTEMPTS} attempts (state: $state); check that 2377/tcp, 7946/tcp+udp and 4789/udp are open between the nodes." >&2`,
        "      exit 1",
        "    fi",
        "    sleep $((n * 2))",
        "  done",
        "fi",
        "node_id=${info#* }",
        "node_id=${node_id%% *}",
        "printf '{\"nodeId\":\"%s\"}\\n' \"$node_id\"",
        "",
    ].join("\n");
}

/**
 * On delete: the node leaves the swarm. By then a manager has drained it and, if it was a
 * manager, demoted it; the script waits (bounded) until the node itself no longer acts as
 * a manager, so that a leave never costs the swarm a Raft member uncleanly.
 *
 * The last manager of the swarm (`pulumi destroy`, after every other node left) cannot be
 * demoted: it leaves with `--force` and the swarm ends with it. It does not wait as a leaving
 * node does: a manager lists every swarm network, including any made outside Pulumi, and the
 * stacks' removal already waited for theirs to go.
 *
 * Any other node waits (`untilSettled`) for its tasks to stop and their overlay networks to go
 * (measured in the lab: about 5 s after `docker stack rm` returned on the manager); a node
 * that leaves earlier keeps such a network, beyond `docker network rm` ("not a swarm
 * manager"), until Docker restarts, where it can clash with the next swarm's address pool.
 * A network still there after the leave is named in a warning (`warnLeftNetworks`).
 */
export function renderSwarmLeave(hostKey: string, timeoutSeconds: number): string {
    checkWord("hostKey", hostKey);
    checkSeconds("leaveTimeoutSeconds", timeoutSeconds);
    return [
        prelude(`${hostKey} leaves the swarm`),
        readSwarmState(),
        'if [ "$state" = inactive ]; then',
        "  exit 0",
        "fi",
        "if [ \"$(dkr info --format '{{.Swarm.ControlAvailable}} {{.Swarm.Managers}}')\" = 'true 1' ]; then",
        "  # The last manager: the swarm ends with it.",
        "  dkr swarm leave --force >/dev/null",
        `  ${warnLeftNetworks(hostKey).split("\n").join("\n  ")}`,
        "  exit 0",
        "fi",
        ...boundedWait("while", "[ \"$(dkr info --format '{{.Swarm.ControlAvailable}}')\" = true ]", timeoutSeconds, [
            `echo "pulumi-swarm: ${hostKey} ($(hostname)) is still a manager after ${timeoutSeconds} s; it was not demoted, so it does not leave (that could break quorum). Demote it with 'docker node demote' on another manager and run again." >&2`,
            "exit 1",
        ]),
        untilSettled(),
        "dkr swarm leave >/dev/null",
        warnLeftNetworks(hostKey),
        "",
    ].join("\n");
}

/** Reads the join script's output. */
export function parseSwarmJoinOutput(stdout: string): { nodeId: string } {
    const line = stdout.trim().split("\n").pop() ?? "";
    try {
        const parsed = JSON.parse(line) as { nodeId?: unknown };
        if (typeof parsed.nodeId === "string" && /^[a-z0-9]+$/.test(parsed.nodeId)) {
            return { nodeId: parsed.nodeId };
        }
    } catch {
        // fall through to the error below
    }
    throw new Error(`pulumi-swarm: the swarm join command printed ${JSON.stringify(stdout)}, not {"nodeId": "..."}`);
}
