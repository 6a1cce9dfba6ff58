import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { SwarmArgumentError, throwIfAny } from "./errors";
import { VALID_MANAGER_COUNTS } from "./validation";
import { MembershipScriptArgs, renderMemberCreate, renderMemberDelete, renderRemoverDelete } from "./scripts/membership";
import { parseSwarmInitOutput, renderSwarmInit } from "./scripts/swarmInit";
import { SwarmRole, parseSwarmJoinOutput, renderSwarmJoin, renderSwarmLeave } from "./scripts/swarmJoin";

/** One machine of the swarm, wherever it comes from (EC2, your own servers, containers). */
export interface SwarmHost {
    /**
     * Stable key of the host: part of its commands' names and the value of its node label
     * `pulumi-swarm.host`. Letters, digits and '-'. Renaming it makes the node leave and join again.
     */
    readonly key: string;
    /** "manager" or "worker". The first manager in the list initialises the swarm. */
    readonly role: SwarmRole;
    /** Address that SSH reaches the host at (the admin's side: often a public address). */
    readonly sshHost: pulumi.Input<string>;
    /** @default 22 */
    readonly sshPort?: pulumi.Input<number>;
    /** The SSH user; it must be root or have password-less sudo. */
    readonly sshUser: pulumi.Input<string>;
    /** The fixed private address the node advertises to the swarm (managers must keep it). */
    readonly privateAddress: pulumi.Input<string>;
    /**
     * What makes this host another machine, such as its EC2 instance ID: when it changes, the
     * node is replaced: the new machine joins under the same key, then the old one is drained,
     * demoted and removed from the swarm, and at the end of the run it leaves. A change of
     * `sshHost` or `sshPort` alone only reconnects.
     * @default none: the key, role and private address alone say which node this is
     */
    readonly machineId?: pulumi.Input<string>;
    /**
     * This host's own SSH private key, when it does not accept the bootstrap's `privateKey`.
     * Always handled as a secret. @default the bootstrap's `privateKey`
     */
    readonly privateKey?: pulumi.Input<string>;
}

export interface SwarmBootstrapArgs {
    /** The machines, managers and workers: 1, 3, 5 or 7 managers. */
    readonly hosts: readonly SwarmHost[];
    /**
     * The SSH private key (OpenSSH or PEM) that every host accepts, unless the host has its own.
     * Always handled as a secret. @default none: then every host must carry its `privateKey`
     */
    readonly privateKey?: pulumi.Input<string>;
    /**
     * The swarm's name, carried by the first manager as the node label `pulumi-swarm.cluster`;
     * a first manager that manages a swarm with another name is refused, never adopted.
     * @default the component's name
     */
    readonly clusterName?: string;
    /** How long each command waits for Docker to answer on its host (cloud-init installs it). @default 600 */
    readonly dockerReadyTimeoutSeconds?: number;
    /** How long a removed node's tasks get to move elsewhere before it leaves anyway. @default 300 */
    readonly drainTimeoutSeconds?: number;
    /** How many failed SSH dials each command accepts before it fails (hosts still booting). @default 30 */
    readonly sshDialErrorLimit?: number;
    /**
     * Resources every command waits for before it connects: typically the firewall rule
     * that lets SSH in, which nothing else ties the commands to. The init waits for them,
     * and every other command waits for the init.
     * @default []
     */
    readonly connectAfter?: pulumi.Input<pulumi.Resource>[];
    /**
     * Private addresses of managers already in the swarm that `hosts` no longer names: a running
     * cluster's managers whose machines this run replaces. A node in no swarm tries them first,
     * so that a run that replaces every manager (a new AMI) joins the new machines through the
     * old ones, which leave only at the end of the run. Addresses that `hosts` names are left
     * out. A join already made ignores its script's changes, so these addresses reach only the
     * joins that run (new or replaced nodes), and the run after a roll runs no join. Ignored with one
     * manager: its predecessor could not leave a swarm of two managers without a demotion.
     * @default []
     */
    readonly joinThrough?: pulumi.Input<string[]>;
    /**
     * The AWS name of the Application Load Balancer whose target groups hold these hosts (every
     * host's `machineId` then being its EC2 instance ID, and the host's instance role allowed
     * the calls of `planNodeLoadBalancerPolicy`): a node leaving the swarm, or retired by the
     * machine that replaces it, is deregistered from the target groups, and the ALB has let
     * it go, before it is drained (components/scripts/loadBalancerTargets.ts).
     * @default none: no node is deregistered before it drains
     */
    readonly loadBalancerName?: string;
    /**
     * Whether each host's machine goes whenever its node does: its `machineId` changes or it
     * leaves `hosts` exactly when the machine is replaced or destroyed, as SwarmCluster's EC2
     * instances are. The joins then have no delete: the node is drained, demoted and removed
     * by the managers (its member and remover, or the member of the machine that replaces
     * it), and the machine never has to answer. A machine that died can then be replaced (an
     * unreachable host's leave would fail that run and every later one, its delete dialling a
     * host that is gone). Leave it false for machines that outlive their node (your own
     * servers): each then leaves the swarm itself, cleanly, before it is removed.
     * @default false
     */
    readonly machinesGoWithNodes?: boolean;
}

export const BOOTSTRAP_DEFAULTS = {
    dockerReadyTimeoutSeconds: 600,
    drainTimeoutSeconds: 300,
    leaveTimeoutSeconds: 120,
    sshDialErrorLimit: 30,
    sshPerDialTimeoutSeconds: 15,
} as const;

/**
 * The SSH connection of a command that runs on a host: its private key always a secret, and
 * dial errors retried (a host may still be booting).
 */
export function sshConnection(
    h: Pick<SwarmHost, "sshHost" | "sshPort" | "sshUser">,
    privateKey: pulumi.Input<string>,
    dialErrorLimit: number = BOOTSTRAP_DEFAULTS.sshDialErrorLimit,
): pulumi.Output<command.types.input.remote.ConnectionArgs> {
    return pulumi.output({
        host: h.sshHost,
        port: h.sshPort ?? 22,
        user: h.sshUser,
        privateKey: pulumi.secret(privateKey),
        dialErrorLimit,
        perDialTimeout: BOOTSTRAP_DEFAULTS.sshPerDialTimeoutSeconds,
    });
}

/** Checks the host list before anything is created. */
export function validateSwarmHosts(hosts: readonly SwarmHost[]): void {
    const problems: SwarmArgumentError[] = [];
    if (!Array.isArray(hosts) || hosts.length === 0) {
        throw new SwarmArgumentError("hosts", hosts, "must list at least one host with role \"manager\"");
    }
    const keys = new Set<string>();
    const addresses = new Map<string, string>();
    hosts.forEach((h, i) => {
        if (typeof h.key !== "string" || !/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/.test(h.key)) {
            problems.push(
                new SwarmArgumentError(`hosts[${i}].key`, h.key, 'must be 1-40 lower-case letters, digits or "-", such as "worker-0"'),
            );
        } else if (keys.has(h.key)) {
            problems.push(new SwarmArgumentError(`hosts[${i}].key`, h.key, "must be unique; another host has this key"));
        }
        keys.add(h.key);
        if (h.role !== "manager" && h.role !== "worker") {
            problems.push(new SwarmArgumentError(`hosts[${i}].role`, h.role, 'must be "manager" or "worker"'));
        }
        if (typeof h.privateAddress === "string") {
            const other = addresses.get(h.privateAddress);
            if (other !== undefined) {
                problems.push(
                    new SwarmArgumentError(`hosts[${i}].privateAddress`, h.privateAddress, `must be unique; host "${other}" has it too`),
                );
            }
            addresses.set(h.privateAddress, h.key);
        }
    });
    const managers = hosts.filter((h) => h.role === "manager").length;
    if (!(VALID_MANAGER_COUNTS as readonly number[]).includes(managers)) {
        problems.push(
            new SwarmArgumentError(
                "hosts (managers)",
                managers,
                "must hold 1, 3, 5 or 7 managers: Raft needs a majority of managers for any change, so an even count " +
                    "tolerates no more lost managers than one fewer; make one manager a worker or add one",
            ),
        );
    }
    throwIfAny(problems);
}

/**
 * Forms a Docker swarm over SSH on a list of hosts, with @pulumi/command remote commands:
 *
 * - `<name>-init`: `docker swarm init` on the first manager when the swarm is created (only when
 *   that host is in no swarm); prints the join tokens, so its output is secret and never
 *   logged. It runs once: it is the swarm's birth, not the first manager's, so a later change
 *   of the first manager never runs it again, and it has no delete.
 * - per host: `<name>-remove-<key>` (on another manager; on delete, `docker node rm` of the
 *   key's drained node), `<name>-join-<key>` (on the host; joins with the token on stdin
 *   through any manager, or finds itself already in the swarm; on delete, `docker swarm
 *   leave`, or the swarm's end when it is the last manager; no delete with
 *   `machinesGoWithNodes`), `<name>-member-<key>` (on another manager; labels the node, sets
 *   its role and retires any other node of the key, the machine it replaces: drained,
 *   demoted, removed; on delete, drains it and demotes it, and waits until the managers
 *   record the demotion). "Another manager" is the first manager, or for the first manager
 *   itself the second one; a swarm with one manager has no remover and member for it.
 *
 * A host's commands are replaced when its key, role, private address or `machineId` change, the
 * new before the old (Pulumi's default order): the new machine joins, its member retires the
 * old node (drained, demoted, removed), and the old machine leaves at the end of the run (or,
 * with `machinesGoWithNodes`, is simply gone: a machine that died is replaced the same way). A
 * new SSH address or port only updates the connection. A join already made ignores changes of
 * its script (other managers' addresses): it runs only when its node joins.
 *
 * Worker joins depend on the init, the first manager's join and their own remover, so they
 * run in parallel; manager joins wait for the previous manager's join instead, because Raft
 * adds managers one at a time. Pulumi deletes in reverse, so a removed node is drained,
 * demoted, leaves (unless its machine goes with it) and is removed, in that order; the first
 * manager's member is deleted after every other manager's, so `pulumi destroy` demotes the
 * others before it, and the first manager, the last one standing, ends the swarm (with
 * `machinesGoWithNodes`, the swarm simply goes with the machines).
 */
export class SwarmBootstrap extends pulumi.ComponentResource {
    /** The swarm's cluster ID. */
    public readonly clusterId: pulumi.Output<string>;
    /** The first manager's node ID (a replaced first manager gets a new one). */
    public readonly leaderNodeId: pulumi.Output<string>;
    /** The first manager's private address. */
    public readonly managerAddress: pulumi.Output<string>;
    /** Join token for workers (secret). */
    public readonly workerJoinToken: pulumi.Output<string>;
    /** Join token for managers (secret). */
    public readonly managerJoinToken: pulumi.Output<string>;
    /** Swarm node ID of every host, by host key. */
    public readonly nodeIds: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: SwarmBootstrapArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate first: bad input registers nothing, not even this component.
        validateSwarmHosts(args.hosts);
        const keyless = args.privateKey === undefined ? args.hosts.findIndex((h) => h.privateKey === undefined) : -1;
        if (keyless >= 0) {
            throw new SwarmArgumentError(
                `hosts[${keyless}].privateKey`,
                undefined,
                "must be given when the bootstrap has no privateKey: every command connects over SSH with a key; give privateKey or one per host",
            );
        }
        const machineless = args.loadBalancerName === undefined ? -1 : args.hosts.findIndex((h) => h.machineId === undefined);
        if (machineless >= 0) {
            throw new SwarmArgumentError(
                `hosts[${machineless}].machineId`,
                undefined,
                "must be the host's EC2 instance ID when loadBalancerName is given: a leaving node is deregistered from the load balancer by it; give machineId or leave loadBalancerName out",
            );
        }
        super("swarm:index:SwarmBootstrap", name, {}, opts);

        const d = BOOTSTRAP_DEFAULTS;
        const readySeconds = args.dockerReadyTimeoutSeconds ?? d.dockerReadyTimeoutSeconds;
        const drainSeconds = args.drainTimeoutSeconds ?? d.drainTimeoutSeconds;
        const clusterName = args.clusterName ?? name;
        const sharedKey = args.privateKey === undefined ? undefined : pulumi.secret(args.privateKey);
        const after = args.connectAfter ?? [];
        const minutes = (seconds: number) => `${Math.ceil(seconds / 60) + 5}m`;

        const connections = new Map<SwarmHost, pulumi.Output<command.types.input.remote.ConnectionArgs>>();
        const connect = (h: SwarmHost): pulumi.Output<command.types.input.remote.ConnectionArgs> => {
            let c = connections.get(h);
            if (c === undefined) {
                c = sshConnection(h, h.privateKey ?? sharedKey!, args.sshDialErrorLimit);
                connections.set(h, c);
            }
            return c;
        };
        // Which node a host's commands stand for: when this changes, they are replaced. The SSH
        // address and port are not part of it: a stopped and started instance keeps its node.
        const identity = (h: SwarmHost) => pulumi.output([h.key, h.role, h.privateAddress, h.machineId ?? ""]);

        const managers = args.hosts.filter((h) => h.role === "manager");
        const first = managers[0];
        // The manager that runs a host's membership commands: never the host itself.
        const sideOf = (h: SwarmHost): SwarmHost | undefined => (h === first ? managers[1] : first);

        const init = new command.remote.Command(
            `${name}-init`,
            {
                connection: connect(first),
                create: pulumi.output(first.privateAddress).apply((addr) =>
                    renderSwarmInit({ clusterName, hostKey: first.key, advertiseAddress: addr, dockerReadyTimeoutSeconds: readySeconds }),
                ),
                triggers: [clusterName],
                logging: "none",
                addPreviousOutputInEnv: false,
            },
            {
                parent: this,
                dependsOn: after,
                additionalSecretOutputs: ["stdout", "stderr"],
                // The swarm's birth: what the first manager is later (another address, another
                // machine) never runs it again. Its outputs, the cluster ID and the join tokens,
                // stay those of the swarm.
                ignoreChanges: ["connection", "create"],
                customTimeouts: { create: minutes(readySeconds) },
            },
        );
        const initResult = init.stdout.apply((out) => {
            try {
                return parseSwarmInitOutput(out);
            } catch (e) {
                throw new pulumi.ResourceError((e as Error).message, this);
            }
        });
        this.clusterId = pulumi.unsecret(initResult.clusterId);
        this.workerJoinToken = pulumi.secret(initResult.workerToken);
        this.managerJoinToken = pulumi.secret(initResult.managerToken);
        this.managerAddress = pulumi.output(first.privateAddress);

        // One stdin per role, shared by every join of that role.
        const joinStdin = {
            manager: pulumi.secret(pulumi.interpolate`${this.managerJoinToken}\n`),
            worker: pulumi.secret(pulumi.interpolate`${this.workerJoinToken}\n`),
        };
        const managerAddresses = pulumi.all(managers.map((m) => m.privateAddress));
        const joinThrough = managers.length > 1 ? pulumi.output(args.joinThrough ?? []) : pulumi.output<string[]>([]);

        // Managers join one at a time: Raft adds one member per configuration change, and two
        // managers joining at once can hang (seen in the lab with Docker 20.10 for over ten
        // minutes). Workers join in parallel, each after the init alone.
        const joins = new Map<SwarmHost, command.remote.Command>();
        const nodeIds = new Map<SwarmHost, pulumi.Output<string>>();
        let previousManagerJoin: command.remote.Command | undefined;
        for (const h of [first, ...args.hosts.filter((x) => x !== first)]) {
            const side = sideOf(h);
            const remover =
                side === undefined
                    ? undefined
                    : new command.remote.Command(
                          `${name}-remove-${h.key}`,
                          {
                              connection: connect(side),
                              delete: renderRemoverDelete(h.key),
                              triggers: identity(h),
                              addPreviousOutputInEnv: false,
                          },
                          { parent: this, dependsOn: [init], customTimeouts: { delete: "5m" } },
                      );
            const join = new command.remote.Command(
                `${name}-join-${h.key}`,
                {
                    connection: connect(h),
                    create: pulumi.all([h.privateAddress, managerAddresses, joinThrough]).apply(([addr, addrs, through]) =>
                        renderSwarmJoin({
                            hostKey: h.key,
                            role: h.role,
                            advertiseAddress: addr,
                            managerAddresses: addrs,
                            joinThrough: through,
                            dockerReadyTimeoutSeconds: readySeconds,
                        }),
                    ),
                    stdin: joinStdin[h.role],
                    // A machine that goes with its node never leaves: the managers remove it.
                    ...(args.machinesGoWithNodes ? {} : { delete: renderSwarmLeave(h.key, d.leaveTimeoutSeconds) }),
                    triggers: identity(h),
                    addPreviousOutputInEnv: false,
                },
                {
                    parent: this,
                    // A worker also after the first manager's join, so that the first manager leaves
                    // after every worker (pulumi destroy ends the swarm with it).
                    dependsOn: [
                        init,
                        ...(remover ? [remover] : []),
                        ...(h.role === "manager" ? (previousManagerJoin ? [previousManagerJoin] : []) : [joins.get(first)!]),
                    ],
                    customTimeouts: { create: minutes(readySeconds), update: minutes(readySeconds), delete: minutes(d.leaveTimeoutSeconds) },
                    // A join's script matters only when its node joins, which is when the join is
                    // created or replaced (its identity changed): the engine then runs the
                    // program's script, not the ignored one (step_generator.go re-runs Check on
                    // the goal's inputs for a replacement). A node already in the swarm never runs
                    // it again because the managers' addresses changed (a roll, managers added).
                    ignoreChanges: ["create"],
                },
            );
            if (h.role === "manager") {
                previousManagerJoin = join;
            }
            joins.set(h, join);
            nodeIds.set(
                h,
                join.stdout.apply((out) => {
                    try {
                        return parseSwarmJoinOutput(out).nodeId;
                    } catch (e) {
                        throw new pulumi.ResourceError((e as Error).message, this);
                    }
                }),
            );
        }

        const memberArgs = (h: SwarmHost, nodeId: string, machineId: string | undefined): MembershipScriptArgs => ({
            hostKey: h.key,
            nodeId,
            role: h.role,
            ...(args.loadBalancerName !== undefined ? { loadBalancer: { name: args.loadBalancerName, instanceId: machineId! } } : {}),
        });
        let firstMember: command.remote.Command | undefined;
        for (const h of [first, ...args.hosts.filter((x) => x !== first)]) {
            const side = sideOf(h);
            if (side === undefined) {
                continue;
            }
            const nodeId = nodeIds.get(h)!;
            const member = new command.remote.Command(
                `${name}-member-${h.key}`,
                {
                    connection: connect(side),
                    create: pulumi.all([nodeId, h.machineId]).apply(([id, machine]) => renderMemberCreate(memberArgs(h, id, machine), drainSeconds)),
                    delete: pulumi.all([nodeId, h.machineId]).apply(([id, machine]) => renderMemberDelete(memberArgs(h, id, machine), drainSeconds)),
                    triggers: identity(h),
                    addPreviousOutputInEnv: false,
                },
                {
                    parent: this,
                    // After the manager it runs on has joined; another manager's member also after
                    // the first manager's, so that the first manager's is deleted last.
                    dependsOn: [joins.get(h)!, joins.get(side)!, ...(h.role === "manager" && firstMember ? [firstMember] : [])],
                    // The create retires the machine this host replaces: a drain, a demotion.
                    customTimeouts: { create: minutes(drainSeconds + 180), update: minutes(drainSeconds + 180), delete: minutes(drainSeconds + 60) },
                },
            );
            if (h === first) {
                firstMember = member;
            }
        }

        this.leaderNodeId = nodeIds.get(first)!;
        this.nodeIds = pulumi.all(Object.fromEntries(args.hosts.map((h) => [h.key, nodeIds.get(h)!])));

        this.registerOutputs({
            clusterId: this.clusterId,
            leaderNodeId: this.leaderNodeId,
            managerAddress: this.managerAddress,
            workerJoinToken: this.workerJoinToken,
            managerJoinToken: this.managerJoinToken,
            nodeIds: this.nodeIds,
        });
    }
}
