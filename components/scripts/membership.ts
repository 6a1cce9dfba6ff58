import { shellQuote } from "../shell";
import {
    HOST_LABEL,
    POLL_SECONDS,
    boundedWait,
    retried,
    checkSeconds,
    checkWord,
    prelude,
    takeMembershipLock,
} from "./common";
import { SwarmRole } from "./swarmJoin";

/**
 * Scripts that run on the first manager to manage one node's membership. The delete
 * scripts take the membership lock first, so that removals (drain, demote, rm) go one node
 * at a time and a scale-in of managers never demotes two at once. The create scripts do
 * not: they touch only their own node, and a lock there would queue every join of a new
 * cluster behind the others.
 */

export interface MembershipScriptArgs {
    readonly hostKey: string;
    readonly nodeId: string;
    readonly role: SwarmRole;
}

function check(args: MembershipScriptArgs): void {
    checkWord("hostKey", args.hostKey);
    checkWord("nodeId", args.nodeId);
    if (args.role !== "manager" && args.role !== "worker") {
        throw new Error(`role must be "manager" or "worker"; got ${JSON.stringify(args.role)}`);
    }
}

/** Attempts at a node update that Docker refuses as "update out of sequence". */
export const UPDATE_ATTEMPTS = 5;

/**
 * `nodeUpdate <args>`: `docker node update`, tried again when Docker refuses it because the node
 * changed between the CLI's read and its write ("update out of sequence": seen in the lab while
 * other nodes left the swarm during a destroy).
 */
export function nodeUpdateFunction(): string {
    return [
        "nodeUpdate() {",
        "  attempt=1",
        '  until dkr node update "$@" >/dev/null; do',
        `    if [ "$attempt" -ge ${UPDATE_ATTEMPTS} ]; then`,
        "      return 1",
        "    fi",
        "    attempt=$((attempt + 1))",
        `    sleep ${POLL_SECONDS}`,
        "  done",
        "}",
        "",
    ].join("\n");
}

/**
 * After a join: labels the node with its host key (the remover finds it by that label, and
 * compose files may place services by it), makes it available, gives it its role (so a host
 * whose role changes is promoted or demoted in place), and removes Down nodes that the same
 * host key left behind, so no phantom node stays in `docker node ls`.
 */
export function renderMemberCreate(args: MembershipScriptArgs): string {
    check(args);
    const id = shellQuote(args.nodeId);
    return [
        prelude(`${args.hostKey} (node ${args.nodeId}) is labelled, active, and a ${args.role}`),
        nodeUpdateFunction(),
        `nodeUpdate --availability active --label-add ${shellQuote(`${HOST_LABEL}=${args.hostKey}`)} --role ${args.role} ${id}`,
        "# Down nodes this host key left behind (an instance replaced without a clean leave).",
        `dkr node ls --filter ${shellQuote(`node.label=${HOST_LABEL}=${args.hostKey}`)} --format '{{.ID}} {{.Status}}' | while read -r other st; do`,
        `  if [ "$other" != ${id} ] && [ "$st" = Down ]; then`,
        '    dkr node rm "$other" >/dev/null',
        "  fi",
        "done",
        "",
    ].join("\n");
}

/** Attempts at a demotion, which Raft may refuse while another membership change settles. */
export const DEMOTE_ATTEMPTS = 10;

/**
 * Before a node leaves: drain it and wait (bounded) until none of its tasks is still meant
 * to run there, so its services are rescheduled first; then demote it if it is a manager.
 */
export function renderMemberDelete(args: MembershipScriptArgs, drainTimeoutSeconds: number): string {
    check(args);
    checkSeconds("drainTimeoutSeconds", drainTimeoutSeconds);
    const id = shellQuote(args.nodeId);
    return [
        prelude(`drain ${args.hostKey} (node ${args.nodeId}) and demote it if it is a manager`),
        takeMembershipLock(),
        `if ! dkr node inspect ${id} >/dev/null 2>&1; then`,
        "  exit 0",
        "fi",
        nodeUpdateFunction(),
        `nodeUpdate --availability drain ${id}`,
        ...boundedWait("while", `[ -n "$(dkr node ps ${id} --filter desired-state=running -q)" ]`, drainTimeoutSeconds, [
            `echo "pulumi-swarm: warning: tasks still run on ${args.hostKey} after ${drainTimeoutSeconds} s of draining; it leaves anyway and they are rescheduled." >&2`,
            "break",
        ]),
        `if [ "$(dkr node inspect ${id} --format '{{.Spec.Role}}')" = manager ]; then`,
        ...retried(`dkr node demote ${id}`, DEMOTE_ATTEMPTS, [
            `echo "pulumi-swarm: could not demote ${args.hostKey} (node ${args.nodeId}); it stays a manager and does not leave. Check quorum with 'docker node ls'." >&2`,
            "exit 1",
        ]).map((l) => `  ${l}`),
        "fi",
        "",
    ].join("\n");
}

/** Lists "ID AVAILABILITY" of every node labelled with this host key (none when the swarm is gone). */
function labelledNodes(hostKey: string): string {
    return [
        "labelled() {",
        `  dkr node ls --filter ${shellQuote(`node.label=${HOST_LABEL}=${hostKey}`)} --format '{{.ID}} {{.Availability}}'`,
        "}",
        "",
    ].join("\n");
}

function onlyOnAManager(): string {
    return [
        "if [ \"$(dkr info --format '{{.Swarm.ControlAvailable}}')\" != true ]; then",
        "  exit 0",
        "fi",
        "",
    ].join("\n");
}

/**
 * After the node has left: `docker node rm` it, so no "Down" phantom node stays behind.
 * Pulumi runs this only once the node's leave has succeeded (the join depends on this
 * remover, so it is deleted first), so there is nothing to wait for: the managers may still
 * show the node Ready for a few heartbeats, and `--force` removes it anyway. Docker refuses
 * to remove a node that is still a manager, even with `--force`.
 *
 * It removes the nodes of this host key that were drained (the member's delete drained the
 * leaving node), never an active one: when a host is replaced, its new machine joins under
 * the same key before the old one leaves, and it stays.
 */
export function renderRemoverDelete(hostKey: string): string {
    checkWord("hostKey", hostKey);
    return [
        prelude(`remove ${hostKey}'s drained node from the swarm after it has left`),
        takeMembershipLock(),
        onlyOnAManager(),
        labelledNodes(hostKey),
        "# On pulumi destroy the first manager may end the swarm meanwhile: then there is nothing to remove.",
        "gone() { [ \"$(dkr info --format '{{.Swarm.ControlAvailable}}')\" != true ]; }",
        "if ! nodes=$(labelled); then",
        "  gone && exit 0",
        "  exit 1",
        "fi",
        "printf '%s\\n' \"$nodes\" | while read -r id availability; do",
        '  if [ "$availability" = Drain ]; then',
        '    dkr node rm --force "$id" >/dev/null || gone',
        "  fi",
        "done",
        "",
    ].join("\n");
}
