import { shellQuote } from "../shell";
import {
    HOST_LABEL,
    POLL_SECONDS,
    boundedWait,
    retried,
    checkSeconds,
    checkWord,
    drainAndWait,
    movedAwayFunctions,
    prelude,
    spreadOutFunctions,
    takeMembershipLock,
} from "./common";
import { INSTANCE_LABEL, loadBalancerTargetFunctions, readInstanceLabel } from "./loadBalancerTargets";
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
    /**
     * The cluster's Application Load Balancer (its AWS name) and this node's EC2 instance ID:
     * the node carries the ID as its label INSTANCE_LABEL, and a node is deregistered from the
     * load balancer's target groups before it is drained (loadBalancerTargetFunctions).
     * @default none: nothing is deregistered, and the scripts are what they were without it
     */
    readonly loadBalancer?: { readonly name: string; readonly instanceId: string };
}

function check(args: MembershipScriptArgs): void {
    checkWord("hostKey", args.hostKey);
    checkWord("nodeId", args.nodeId);
    if (args.loadBalancer !== undefined) {
        checkWord("loadBalancer.name", args.loadBalancer.name);
        checkWord("loadBalancer.instanceId", args.loadBalancer.instanceId);
    }
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
 * The condition that holds once the managers record a demoted node as a worker (its Raft
 * membership removed): only then does Docker let `node rm` remove it. `node` is a quoted word.
 */
function recordedAsWorker(node: string): string {
    return `dkr node ls -q --filter role=worker | grep -qx ${node}`;
}

/** How long a replaced manager's demotion gets to take effect (its Raft membership removed) before the member create fails. */
export const DEMOTED_TIMEOUT_SECONDS = 120;

/**
 * After a join: labels the node with its host key (the remover finds it by that label, and
 * compose files may place services by it), makes it available and gives it its role (so a host
 * whose role changes is promoted or demoted in place).
 *
 * Then it retires every other node of the same host key: the machine this one replaces
 * (still up: Pulumi deletes the old machine's resources only at the end of the run) or one
 * that died. Each is taken out of the load balancer (with `loadBalancer`: it is deregistered
 * from its target groups, by its instance label, and the ALB has let it go), drained (bounded:
 * its tasks run on other nodes first, drainAndWait), demoted if it
 * is a manager, and once the managers record it as a worker (its Raft membership gone),
 * removed with `--force`. The new node is in the swarm before the old one goes, one node at a
 * time (the membership lock), and the old machine's own commands find nothing left to do
 * at the end of the run: its leave works from a removed node (measured in the lab: a node
 * removed while up still reports itself active, and `docker swarm leave` succeeds). Doing it
 * here, not in the old machine's deletes, matters when every manager is replaced (a new
 * AMI): the old deletes run on old managers, and the last of them would find no manager left
 * to remove it.
 */
export function renderMemberCreate(args: MembershipScriptArgs, drainTimeoutSeconds: number): string {
    check(args);
    checkSeconds("drainTimeoutSeconds", drainTimeoutSeconds);
    const id = shellQuote(args.nodeId);
    const fail = (what: string) => [`echo "pulumi-swarm: ${what}; see 'docker node ls' below." >&2`, "dkr node ls >&2 || true", "exit 1"];
    const lb = args.loadBalancer;
    return [
        prelude(`${args.hostKey} (node ${args.nodeId}) is labelled, active, and a ${args.role}; other nodes of ${args.hostKey} are retired`),
        nodeUpdateFunction(),
        `nodeUpdate --availability active --label-add ${shellQuote(`${HOST_LABEL}=${args.hostKey}`)}${
            lb ? ` --label-add ${shellQuote(`${INSTANCE_LABEL}=${lb.instanceId}`)}` : ""
        } --role ${args.role} ${id}`,
        "# Other nodes of this host key: the machine this one replaces, or one that died.",
        `others=$(dkr node ls -q --filter ${shellQuote(`node.label=${HOST_LABEL}=${args.hostKey}`)} | grep -vx ${id} || true)`,
        '[ -n "$others" ] || exit 0',
        takeMembershipLock(),
        movedAwayFunctions(),
        spreadOutFunctions(),
        ...(lb ? [loadBalancerTargetFunctions(lb.name)] : []),
        'for other in $others; do',
        ...(lb
            ? [
                  "  # Out of the load balancer first: its tasks stop when it drains.",
                  `  ${readInstanceLabel('"$other"')}`,
                  `  [ -z "$inst" ] || lbOut "$inst" "the node that ${args.hostKey} replaces ($other)"`,
              ]
            : []),
        ...drainAndWait('"$other"', `the node that ${args.hostKey} replaces ($other)`, drainTimeoutSeconds, "it is removed").map((l) => `  ${l}`),
        `  if [ "$(dkr node inspect "$other" --format '{{.Spec.Role}}')" = manager ]; then`,
        ...retried('dkr node demote "$other"', DEMOTE_ATTEMPTS, fail(`could not demote the node that ${args.hostKey} replaces ($other); it stays a manager`)).map((l) => `    ${l}`),
        "  fi",
        ...boundedWait("until", recordedAsWorker('"$other"'), DEMOTED_TIMEOUT_SECONDS, fail(`the node that ${args.hostKey} replaces ($other) is still a manager ${DEMOTED_TIMEOUT_SECONDS} s after its demotion`)).map(
            (l) => `  ${l}`,
        ),
        '  dkr node rm --force "$other" >/dev/null',
        "done",
        "",
    ].join("\n");
}

/** Attempts at a demotion, which Raft may refuse while another membership change settles. */
export const DEMOTE_ATTEMPTS = 10;

/**
 * Before a node leaves: take it out of the load balancer (with `loadBalancer`), drain it and
 * wait (bounded) until its tasks run elsewhere (drainAndWait), so its services are rescheduled
 * first; then demote it if it is a manager, and wait (bounded) until the managers record it as
 * a worker, so that the remover can remove it even when the machine never leaves (it goes with
 * its node, or it died).
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
        movedAwayFunctions(),
        spreadOutFunctions(),
        ...(args.loadBalancer
            ? [loadBalancerTargetFunctions(args.loadBalancer.name), `lbOut ${shellQuote(args.loadBalancer.instanceId)} ${shellQuote(args.hostKey)}`]
            : []),
        ...drainAndWait(id, args.hostKey, drainTimeoutSeconds, "it leaves"),
        `if [ "$(dkr node inspect ${id} --format '{{.Spec.Role}}')" = manager ]; then`,
        ...retried(`dkr node demote ${id}`, DEMOTE_ATTEMPTS, [
            `echo "pulumi-swarm: could not demote ${args.hostKey} (node ${args.nodeId}); it stays a manager and in the swarm. Check quorum with 'docker node ls'." >&2`,
            "exit 1",
        ]).map((l) => `  ${l}`),
        "  # The remover's node rm needs a worker: Docker refuses to remove a manager, even with --force.",
        ...boundedWait("until", recordedAsWorker(id), DEMOTED_TIMEOUT_SECONDS, [
            `echo "pulumi-swarm: ${args.hostKey} (node ${args.nodeId}) is still a manager ${DEMOTED_TIMEOUT_SECONDS} s after its demotion; see 'docker node ls' below." >&2`,
            "dkr node ls >&2 || true",
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
 * After the node has left, or without a leave when its machine goes with it: `docker node rm
 * --force` it, so no "Down" phantom node stays behind. Pulumi runs this after the node's join
 * and member deletes (the join depends on this remover, and the member on the join). The
 * member's delete drained the node and waited until its demotion was recorded (Docker refuses
 * to remove a manager, even with `--force`); `--force` removes the node whether it is up, down
 * or has left.
 *
 * It removes the nodes of this host key that were drained, never an active one: when a host
 * is replaced, its new machine joins under the same key before the old one leaves, and it stays.
 */
export function renderRemoverDelete(hostKey: string): string {
    checkWord("hostKey", hostKey);
    return [
        prelude(`remove ${hostKey}'s drained node from the swarm after it has left`),
        takeMembershipLock(),
        onlyOnAManager(),
        labelledNodes(hostKey),
        "# This engine is no manager any more: on pulumi destroy the first manager may end the swarm",
        "# meanwhile; and a retired machine (a roll's old manager, demoted and removed by its",
        "# replacement's member before it heard of it) still says it is one, but has no control",
        "# socket. Either way it can remove nothing, and the node it would remove is gone already.",
        "gone() {",
        "  [ \"$(dkr info --format '{{.Swarm.ControlAvailable}}')\" != true ] && return 0",
        "  case \"$(dkr node ls -q 2>&1 >/dev/null)\" in *control.sock*) return 0 ;; esac",
        "  return 1",
        "}",
        "if ! nodes=$(labelled); then",
        "  gone && exit 0",
        "  exit 1",
        "fi",
        "printf '%s\\n' \"$nodes\" | while read -r id availability; do",
        '  if [ "$availability" = Drain ]; then',
        "    # Retried: while other managers leave, Raft may time the removal out (DeadlineExceeded, seen in CI).",
        "    n=0",
        '    until dkr node rm --force "$id" >/dev/null || gone; do',
        "      n=$((n + 1))",
        `      [ "$n" -lt ${UPDATE_ATTEMPTS} ] || exit 1`,
        `      sleep ${POLL_SECONDS}`,
        "    done",
        "  fi",
        "done",
        "",
    ].join("\n");
}
