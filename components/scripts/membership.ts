import { shellQuote } from "../shell";
import {
    HOST_LABEL,
    POLL_SECONDS,
    boundedWait,
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
        `dkr node update --availability active --label-add ${shellQuote(`${HOST_LABEL}=${args.hostKey}`)} --role ${args.role} ${id} >/dev/null`,
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
        `dkr node update --availability drain ${id} >/dev/null`,
        ...boundedWait("while", `[ -n "$(dkr node ps ${id} --filter desired-state=running -q)" ]`, drainTimeoutSeconds, [
            `echo "pulumi-swarm: warning: tasks still run on ${args.hostKey} after ${drainTimeoutSeconds} s of draining; it leaves anyway and they are rescheduled." >&2`,
            "break",
        ]),
        `if [ "$(dkr node inspect ${id} --format '{{.Spec.Role}}')" = manager ]; then`,
        "  n=0",
        `  until dkr node demote ${id} >/dev/null; do`,
        "    n=$((n + 1))",
        `    if [ "$n" -ge ${DEMOTE_ATTEMPTS} ]; then`,
        `      echo "pulumi-swarm: could not demote ${args.hostKey} (node ${args.nodeId}); it stays a manager and does not leave. Check quorum with 'docker node ls'." >&2`,
        "      exit 1",
        "    fi",
        `    sleep ${POLL_SECONDS}`,
        "  done",
        "fi",
        "",
    ].join("\n");
}

/** Lists "ID STATUS" of every node labelled with this host key (none when the swarm is gone). */
function labelledNodes(hostKey: string): string {
    return [
        "labelled() {",
        `  dkr node ls --filter ${shellQuote(`node.label=${HOST_LABEL}=${hostKey}`)} --format '{{.ID}} {{.Status}}'`,
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
 */
export function renderRemoverDelete(hostKey: string): string {
    checkWord("hostKey", hostKey);
    return [
        prelude(`remove ${hostKey}'s node from the swarm after it has left`),
        takeMembershipLock(),
        onlyOnAManager(),
        labelledNodes(hostKey),
        "labelled | while read -r id _; do",
        '  dkr node rm --force "$id" >/dev/null',
        "done",
        "",
    ].join("\n");
}
