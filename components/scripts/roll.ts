import { shellQuote } from "../shell";
import { HOST_LABEL, boundedWait, retried, checkSeconds, checkWord, prelude, spreadOutFunctions } from "./common";
import { loadBalancerTargetFunctions, readInstanceLabel } from "./loadBalancerTargets";
import { DEMOTE_ATTEMPTS, nodeUpdateFunction } from "./membership";
import { SwarmRole } from "./swarmJoin";

/**
 * Scripts of a rolling node change (an instance-type change restarts each EC2 instance): they
 * run on a manager, as the `update` of commands placed in a chain around each instance, so that
 * one node restarts at a time and the next one starts only when the swarm is whole again.
 *
 * - before a node's instance changes: wait until the swarm is whole, then drain the node (its
 *   tasks move elsewhere first);
 * - after it: wait until the swarm is whole again (the node back and Ready, every manager
 *   Reachable under a leader), then make it active.
 *
 * "Whole": `docker node ls` answers here (this manager is in the quorum), a Leader exists, every
 * manager is Leader or Reachable, and the node of the host key is Ready.
 */

export interface NodeRestartScriptArgs {
    readonly hostKey: string;
    /** A manager's leadership is handed to another manager before it restarts. */
    readonly role: SwarmRole;
    /** What changes, for the script's first line (and so its text changes with it), e.g. "instance type t3.medium". */
    readonly change: string;
    /** How long the swarm gets to be whole (a restarted node boots and starts Docker). */
    readonly readyTimeoutSeconds: number;
    /** How long the node's tasks get to move before it restarts anyway. */
    readonly drainTimeoutSeconds: number;
}

/** Fails unless `change` (a script's first line names it) is a plain phrase. */
function checkChange(change: string): void {
    if (typeof change !== "string" || !/^[A-Za-z0-9 ._:/-]+$/.test(change)) {
        throw new Error(`change must be letters, digits, spaces, '.', '_', ':', '/' or '-'; got ${JSON.stringify(change)}`);
    }
}

function check(args: NodeRestartScriptArgs): void {
    checkWord("hostKey", args.hostKey);
    if (args.role !== "manager" && args.role !== "worker") {
        throw new Error(`role must be "manager" or "worker"; got ${JSON.stringify(args.role)}`);
    }
    checkSeconds("readyTimeoutSeconds", args.readyTimeoutSeconds);
    checkSeconds("drainTimeoutSeconds", args.drainTimeoutSeconds);
    checkChange(args.change);
}

/** `whole`: true when the swarm answers here with a leader, every manager reachable, and the key's node Ready; `node` holds its ID. */
function wholeFunction(hostKey: string): string {
    return [
        "whole() {",
        "  managers=$(dkr node ls --filter role=manager --format '{{.ManagerStatus}}' 2>/dev/null) || return 1",
        "  printf '%s\\n' \"$managers\" | grep -qx Leader || return 1",
        "  if printf '%s\\n' \"$managers\" | grep -qvx -e Leader -e Reachable; then",
        "    return 1",
        "  fi",
        `  node=$(dkr node ls --filter ${shellQuote(`node.label=${HOST_LABEL}=${hostKey}`)} --format '{{.ID}} {{.Status}}' | awk '$2 == "Ready" { print $1; exit }')`,
        '  [ -n "$node" ]',
        "}",
        "",
    ].join("\n");
}

/** Docker's answer on a manager when too few managers are online to elect a leader. */
export const NO_LEADER_ERROR = "does not have a leader";

/** Docker's page on recovering a swarm that lost its quorum. */
export const QUORUM_RECOVERY_DOCS = "https://docs.docker.com/engine/swarm/admin_guide/#recover-from-losing-the-quorum";

/** What to do about a lost quorum (the messages of every check end with it). */
const QUORUM_RECOVERY = `Start the managers that are down; if they are lost for good, run 'docker swarm init --force-new-cluster' on a surviving manager (it keeps the swarm's services, secrets and configs, as a swarm of one manager; see ${QUORUM_RECOVERY_DOCS}), then run pulumi up again.`;

/** When `docker node ls` here answers that the swarm has no leader: fails with the quorum-lost message and the recovery. */
function failIfQuorumLost(when: string, touched: string): string[] {
    return [
        `if dkr node ls 2>&1 >/dev/null | grep -q ${shellQuote(NO_LEADER_ERROR)}; then`,
        `  echo "pulumi-swarm: ${when}, the swarm has lost its quorum: too few managers are online to elect a leader, and no change can be made to it. ${touched} ${QUORUM_RECOVERY}" >&2`,
        "  exit 1",
        "fi",
    ];
}

function untilWhole(args: NodeRestartScriptArgs, when: string): string[] {
    return boundedWait("until", "whole", args.readyTimeoutSeconds, [
        ...failIfQuorumLost(when, "No other node is touched."),
        `echo "pulumi-swarm: ${when}, the swarm is not whole after ${args.readyTimeoutSeconds} s: it needs a leader, every manager Reachable and ${args.hostKey} Ready. No other node is touched until it is; see 'docker node ls' below, fix the node, and run pulumi up again." >&2`,
        "dkr node ls >&2 || true",
        "exit 1",
    ]);
}

/** How long a demoted leader gets to settle as a worker before its promotion back (measured below). */
export const HANDOVER_SETTLE_SECONDS = 10;

/**
 * `handOver <node ID> <key>`: when that manager is the leader, demotes it (Docker hands the
 * leadership to another manager first, swarmkit role_manager.go "demoted; transferring
 * leadership"), waits until it is a worker, promotes it back and waits until it is a Reachable
 * manager again: the leader changes without an election's time-out.
 *
 * Measured in the lab (Docker 20.10): promoted back at once, the node took about 37 s to be a
 * Reachable manager again in 5 of 6 runs; promoted once its role was worker and
 * HANDOVER_SETTLE_SECONDS later, 0.6 to 2.7 s. Its role is read with `node ls --filter
 * role=worker` and no other filter, which answers from the role the managers have recorded
 * (with an `id` filter too, Docker answers from the desired role, at once).
 */
function handOverFunction(timeoutSeconds: number): string {
    const fail = (what: string) => [`echo "pulumi-swarm: $2 did not ${what} within ${timeoutSeconds} s; see 'docker node ls' below." >&2`, "dkr node ls >&2 || true", "exit 1"];
    const refused = (cmd: string, what: string) =>
        retried(cmd, DEMOTE_ATTEMPTS, [`echo "pulumi-swarm: Docker refused to ${what} $2 ${DEMOTE_ATTEMPTS} times; see 'docker node ls' below." >&2`, "dkr node ls >&2 || true", "exit 1"]).map(
            (l) => `  ${l}`,
        );
    const roleIs = (role: string) => `dkr node ls -q --filter role=${role} 2>/dev/null | grep -qx "$1"`;
    return [
        "handOver() {",
        "  [ \"$(dkr node inspect \"$1\" --format '{{if .ManagerStatus}}{{.ManagerStatus.Leader}}{{end}}')\" = true ] || return 0",
        ...refused('dkr node demote "$1"', "demote"),
        ...boundedWait("until", roleIs("worker"), timeoutSeconds, fail("become a worker")).map((l) => `  ${l}`),
        `  sleep ${HANDOVER_SETTLE_SECONDS}`,
        ...refused('dkr node promote "$1"', "promote"),
        ...boundedWait("until", roleIs("manager"), timeoutSeconds, fail("become a manager again")).map((l) => `  ${l}`),
        ...boundedWait("until", "[ \"$(dkr node inspect \"$1\" --format '{{if .ManagerStatus}}{{.ManagerStatus.Reachability}}{{end}}' 2>/dev/null)\" = reachable ]", timeoutSeconds, fail("come back as a Reachable manager")).map((l) => `  ${l}`),
        "}",
        "",
    ].join("\n");
}

/**
 * Before the node's instance changes: waits until the swarm is whole (so no two nodes are ever
 * out at once), drains the node and waits (bounded) until none of its tasks still runs there.
 *
 * Its text is frozen: a `-drain` command runs its script on *any* change of its inputs, so a
 * new text would drain every node of every running cluster on its next `pulumi up`, with no
 * restart after and no `-ready` to make it active again. (Hence it does not wait for the moved
 * tasks as `drainAndWait` does.) Keying these commands' runs to the instance type alone, so
 * that their text can change, is left to a later change; the golden files hold the text.
 */
export function renderBeforeRestart(args: NodeRestartScriptArgs): string {
    check(args);
    const manager = args.role === "manager";
    return [
        prelude(
            `before ${args.hostKey} restarts (${args.change}): wait until the swarm is whole, ${manager ? "hand its leadership over if it leads, " : ""}then drain ${args.hostKey}`,
        ),
        wholeFunction(args.hostKey),
        nodeUpdateFunction(),
        ...(manager ? [handOverFunction(args.readyTimeoutSeconds)] : []),
        ...untilWhole(args, `before ${args.hostKey} restarts`),
        ...(manager ? [`handOver "$node" ${args.hostKey}`, ...untilWhole(args, `after ${args.hostKey} handed its leadership over`)] : []),
        'nodeUpdate --availability drain "$node"',
        ...boundedWait("while", '[ -n "$(dkr node ps "$node" --filter desired-state=running -q)" ]', args.drainTimeoutSeconds, [
            `echo "pulumi-swarm: warning: tasks still run on ${args.hostKey} after ${args.drainTimeoutSeconds} s of draining; it restarts anyway and they are rescheduled." >&2`,
            "break",
        ]),
        "",
    ].join("\n");
}

/** What a node's `-handoff` and `-back` need: the node, the change, and the cluster's load balancer if it has one. */
export interface NodeHandOffArgs {
    readonly hostKey: string;
    /** What changes, for the script's first line (and so its text changes with it), e.g. "instance type t3.medium". */
    readonly change: string;
    /** How long a service gets to run a task elsewhere before the node's drain. */
    readonly drainTimeoutSeconds: number;
    /** The AWS name of the cluster's Application Load Balancer. @default none: nothing to take out or put back */
    readonly loadBalancerName?: string;
}

function checkHandOff(args: NodeHandOffArgs): void {
    checkWord("hostKey", args.hostKey);
    checkSeconds("drainTimeoutSeconds", args.drainTimeoutSeconds);
    checkChange(args.change);
}

/** Sets `node` to the swarm node of a host key (empty when there is none). */
function nodeOfKey(hostKey: string): string {
    return `node=$(dkr node ls -q --filter ${shellQuote(`node.label=${HOST_LABEL}=${hostKey}`)} | head -n 1)`;
}

/**
 * Before a node's `-drain` in a rolling restart (a new script beside the drain, whose own text
 * is frozen): spreads out every replicated service that runs all its tasks on the node
 * (spreadOut: otherwise the drain stops them together), then takes the node out of the load
 * balancer (lbOut, by its instance label), so that the ALB stops sending it requests before
 * its tasks stop.
 */
export function renderHandOff(args: NodeHandOffArgs): string {
    checkHandOff(args);
    const lb = args.loadBalancerName;
    return [
        prelude(`before ${args.hostKey} restarts (${args.change}): spread out the services that run only there${lb ? ", then take it out of the load balancer" : ""}`),
        spreadOutFunctions(),
        ...(lb ? [loadBalancerTargetFunctions(lb)] : []),
        nodeOfKey(args.hostKey),
        '[ -n "$node" ] || exit 0',
        `spreadOut "$node" ${args.drainTimeoutSeconds} ${args.hostKey}`,
        ...(lb ? [readInstanceLabel('"$node"'), `[ -z "$inst" ] || lbOut "$inst" ${args.hostKey}`] : []),
        "",
    ].join("\n");
}

/** After a node's `-ready` in a rolling restart: registers it again in the load balancer's target groups (lbIn, by its instance label). */
export function renderBack(args: NodeHandOffArgs & { readonly loadBalancerName: string }): string {
    checkHandOff(args);
    return [
        prelude(`after ${args.hostKey} restarted (${args.change}): back in the load balancer`),
        loadBalancerTargetFunctions(args.loadBalancerName),
        nodeOfKey(args.hostKey),
        '[ -n "$node" ] || exit 0',
        readInstanceLabel('"$node"'),
        `[ -z "$inst" ] || lbIn "$inst" ${args.hostKey}`,
        "",
    ].join("\n");
}

/**
 * After the node's instance changed: waits until the swarm is whole again with the node back
 * (bounded: on time-out the run fails here, before the next node is touched), then makes the
 * node active, undoing the drain.
 */
export function renderAfterRestart(args: NodeRestartScriptArgs & { readonly leadershipOffOf?: string }): string {
    check(args);
    const off = args.leadershipOffOf;
    if (off !== undefined) checkWord("leadershipOffOf", off);
    return [
        prelude(
            `after ${args.hostKey} restarted (${args.change}, drain time-out ${args.drainTimeoutSeconds} s): wait until it is back and the swarm whole, then make it active` +
                (off ? `; then hand ${off}'s leadership over, if it leads, so the next roll starts on a follower` : ""),
        ),
        wholeFunction(args.hostKey),
        nodeUpdateFunction(),
        ...(off ? [handOverFunction(args.readyTimeoutSeconds)] : []),
        ...untilWhole(args, `after ${args.hostKey} restarted`),
        'nodeUpdate --availability active "$node"',
        ...(off
            ? [
                  `for other in $(dkr node ls -q --filter ${shellQuote(`node.label=${HOST_LABEL}=${off}`)}); do`,
                  `  handOver "$other" ${off}`,
                  "done",
                  ...untilWhole(args, `after ${off} handed its leadership over`),
              ]
            : []),
        "",
    ].join("\n");
}

/** How long the check before a rolling change waits for a quorum (an election takes seconds). */
export const QUORUM_CHECK_SECONDS = 30;

/**
 * Before a rolling change (a change of what the nodes are made of: their instance types, AMI
 * or user data), on a manager of the running cluster: fails, before any node is touched, when
 * the swarm has no quorum within QUORUM_CHECK_SECONDS, or the swarm's readiness time-out if
 * shorter (no leader, or a leader that reaches no
 * majority of the managers: measured in the lab, a leader whose followers stopped still
 * answers `docker node ls` as Leader for seconds), with the recovery; or when Docker there
 * does not answer. `change` names the settings, so the script (and so the check's run)
 * changes with them.
 */
export function renderQuorumCheck(change: string, readyTimeoutSeconds: number): string {
    if (typeof change !== "string" || !/^[A-Za-z0-9 ,._:/-]+$/.test(change)) {
        throw new Error(`change must be letters, digits, spaces, ',', '.', '_', ':', '/' or '-'; got ${JSON.stringify(change)}`);
    }
    checkSeconds("readyTimeoutSeconds", readyTimeoutSeconds);
    const seconds = Math.min(QUORUM_CHECK_SECONDS, readyTimeoutSeconds);
    const when = "before any node changes";
    return [
        prelude(`before the nodes change (${change}): the swarm must have a quorum`),
        "# A majority of the managers Leader or Reachable.",
        "quorate() {",
        "  statuses=$(dkr node ls --filter role=manager --format '{{.ManagerStatus}}' 2>/dev/null) || return 1",
        "  total=$(printf '%s\n' \"$statuses\" | grep -c . || true)",
        "  up=$(printf '%s\n' \"$statuses\" | grep -c -x -e Leader -e Reachable || true)",
        '  [ $((up * 2)) -gt "$total" ]',
        "}",
        "",
        ...boundedWait("until", "quorate", seconds, [
            ...failIfQuorumLost(when, "No node is touched."),
            "if dkr node ls >/dev/null 2>&1; then",
            `  echo "pulumi-swarm: ${when}, the swarm has lost its quorum: fewer than half of its managers are reachable (see 'docker node ls' below), and no change can be made to it. No node is touched. ${QUORUM_RECOVERY}" >&2`,
            "  dkr node ls >&2",
            "  exit 1",
            "fi",
            `echo "pulumi-swarm: ${when}, Docker on $(hostname) does not answer as a manager of the swarm within ${seconds} s. No node is touched." >&2`,
            "exit 1",
        ]),
        "",
    ].join("\n");
}
