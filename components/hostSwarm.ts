import * as pulumi from "@pulumi/pulumi";
import { validateHostSwarmArgs } from "./hostSwarmValidation";
import { SwarmBootstrap, SwarmHost } from "./swarmBootstrap";
import { ExternalRegistryTarget, ManagerConnection, StackTarget } from "./target";

export interface HostSwarmArgs {
    /**
     * The machines, each reachable over SSH with Docker Engine installed and running: a stable
     * `key`, `role` ("manager" or "worker"), `sshHost` (the address you SSH to, often public),
     * `sshPort` (default 22), `sshUser` (root or password-less sudo), `privateAddress` (the fixed
     * address the node advertises to the swarm) and optionally its own `privateKey`.
     * 1, 3, 5 or 7 managers; the first manager in the list initialises the swarm.
     */
    readonly hosts: readonly SwarmHost[];
    /**
     * The SSH private key (OpenSSH or PEM) every host accepts, unless a host has its own
     * `privateKey`. Always handled as a secret.
     * @default none: then every host must carry its own `privateKey`
     */
    readonly privateKey?: pulumi.Input<string>;
    /**
     * A registry you run, where stacks push the images they build and the nodes pull from:
     * `{ kind: "external", address, username?, password? }` (the password is handled as a
     * secret). ECR is not offered: it needs an AWS account and nodes with an instance role.
     * @default none: stacks on this swarm cannot `build:`
     */
    readonly registry?: ExternalRegistryTarget;
    /**
     * The nodes' Docker platform, e.g. "linux/amd64": stacks build their images for it.
     * @default none: the building engine's own platform
     */
    readonly platform?: string;
    /** How long each command waits for Docker to answer on its host (it is expected to run already). @default 60 */
    readonly dockerReadyTimeoutSeconds?: number;
    /** How long a removed node's tasks get to move elsewhere before it leaves anyway. @default 300 */
    readonly drainTimeoutSeconds?: number;
    /** How many failed SSH dials each command accepts before it fails. @default 30 */
    readonly sshDialErrorLimit?: number;
}

export const HOST_SWARM_DEFAULTS = {
    dockerReadyTimeoutSeconds: 60,
    drainTimeoutSeconds: 300,
    sshDialErrorLimit: 30,
} as const;

/**
 * A Docker swarm on hosts you already have (your servers, VMs anywhere, lab machines): no
 * cloud resource at all. The hosts are checked first ({@link validateHostSwarmArgs}); then the
 * same {@link SwarmBootstrap} as on AWS (`<name>-swarm`) forms the swarm over SSH, and
 * `stackTarget` deploys SwarmStacks to the first manager. There is no load balancer: routes
 * that compose files declare are left unused (`ignoreRoutes`), and published ports are reached
 * on the hosts directly.
 */
export class HostSwarm extends pulumi.ComponentResource {
    /** The bootstrap, for components that run commands on the swarm after it is formed. */
    public readonly bootstrap: SwarmBootstrap;
    /** The swarm's cluster ID. */
    public readonly clusterId: pulumi.Output<string>;
    /** The first manager's private address: where nodes join (port 2377). */
    public readonly managerAddress: pulumi.Output<string>;
    /** Swarm node ID of every host, by host key. */
    public readonly nodeIds: pulumi.Output<Record<string, string>>;
    /** The swarm's worker join token (secret). */
    public readonly workerJoinToken: pulumi.Output<string>;
    /** The swarm's manager join token (secret). */
    public readonly managerJoinToken: pulumi.Output<string>;
    /** `ssh://<user>@<first manager>[:<port>]`: the docker CLI reaches the swarm through SSH with it. */
    public readonly dockerHost: pulumi.Output<string>;
    /** A ready-to-paste command that makes a docker CLI context for this swarm. */
    public readonly dockerContextCommand: pulumi.Output<string>;
    /** What a SwarmStack deploys through: the first manager over SSH and the registry; no load balancer. */
    public readonly stackTarget: StackTarget;

    constructor(name: string, args: HostSwarmArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate first: bad input registers nothing, not even this component.
        validateHostSwarmArgs(args);
        super("swarm:index:HostSwarm", name, {}, opts);
        const d = HOST_SWARM_DEFAULTS;

        this.bootstrap = new SwarmBootstrap(
            `${name}-swarm`,
            {
                hosts: args.hosts,
                privateKey: args.privateKey,
                clusterName: name,
                dockerReadyTimeoutSeconds: args.dockerReadyTimeoutSeconds ?? d.dockerReadyTimeoutSeconds,
                drainTimeoutSeconds: args.drainTimeoutSeconds ?? d.drainTimeoutSeconds,
                sshDialErrorLimit: args.sshDialErrorLimit ?? d.sshDialErrorLimit,
            },
            { parent: this },
        );

        const first = args.hosts.find((h) => h.role === "manager")!;
        const port = pulumi.output(first.sshPort ?? 22);
        const manager: pulumi.Output<ManagerConnection> = pulumi
            .all([first.sshHost, port, first.sshUser, (first.privateKey ?? args.privateKey)!])
            .apply(([host, p, user, key]) => ({ host, port: p, user, privateKey: key }));
        const reg = args.registry;
        this.stackTarget = {
            clusterName: name,
            manager: pulumi.secret(manager),
            ready: [this.bootstrap],
            registry:
                reg === undefined
                    ? undefined
                    : { kind: "external", address: reg.address, username: reg.username, password: reg.password === undefined ? undefined : pulumi.secret(reg.password) },
            ignoreRoutes: true,
            platform: args.platform,
        };

        this.clusterId = this.bootstrap.clusterId;
        this.managerAddress = this.bootstrap.managerAddress;
        this.nodeIds = this.bootstrap.nodeIds;
        this.workerJoinToken = this.bootstrap.workerJoinToken;
        this.managerJoinToken = this.bootstrap.managerJoinToken;
        this.dockerHost = pulumi
            .all([first.sshUser, first.sshHost, port])
            .apply(([user, host, p]) => (p === 22 ? `ssh://${user}@${host}` : `ssh://${user}@${host}:${p}`));
        this.dockerContextCommand = pulumi.interpolate`docker context create ${name} --docker host=${this.dockerHost} && docker context use ${name}`;

        this.registerOutputs({
            clusterId: this.clusterId,
            managerAddress: this.managerAddress,
            nodeIds: this.nodeIds,
            workerJoinToken: this.workerJoinToken,
            managerJoinToken: this.managerJoinToken,
            dockerHost: this.dockerHost,
            dockerContextCommand: this.dockerContextCommand,
        });
    }
}
