import { createHash } from "crypto";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { SwarmLoadBalancer, loadBalancerAwsName } from "./loadBalancer";
import { CLUSTER_TAG, NodePlacement, SecurityRule, clusterIdentity, planNodeSecurityRules, planPlacement, planRestartOrder } from "./planning";
import { planNodeLoadBalancerPolicy } from "./routePlanning";
import { renderCloudInit } from "./scripts/cloudInit";
import { renderSingleManagerGuard } from "./scripts/guard";
import { renderAfterRestart, renderBack, renderBeforeRestart, renderHandOff, renderQuorumCheck } from "./scripts/roll";
import { SwarmBootstrap, SwarmHost, sshConnection } from "./swarmBootstrap";
import { ManagerConnection, RegistryTarget, StackTarget } from "./target";
import { CLUSTER_DEFAULTS, validateClusterArgs } from "./validation";

export interface SwarmClusterArgs {
    /**
     * Networks allowed to reach SSH (22/tcp) on the nodes, e.g. `["203.0.113.7/32"]`.
     * Required: there is no open default. `0.0.0.0/0` is refused unless `allowSshFromAnywhere`.
     * SSH is also how the admin reaches the swarm (`DOCKER_HOST=ssh://...`): no Docker port is opened.
     */
    readonly adminCidrBlocks: string[];
    /** Lets `adminCidrBlocks` contain `0.0.0.0/0` or `::/0`. @default false */
    readonly allowSshFromAnywhere?: boolean;
    /** Managers: 1, 3, 5 or 7 (Raft tolerates 0, 1, 2, 3 lost). Spread round-robin over the zones. @default 3 */
    readonly managerCount?: number;
    /** Workers, 0 or more. With 0, services run on the managers. @default 2 */
    readonly workerCount?: number;
    /**
     * How many workers a rolling change restarts at once. A change of instance type restarts
     * the nodes one link of a chain at a time: each manager alone (the next one only when the
     * swarm has a leader, every manager is Reachable and the node is Ready again), then the
     * workers in batches of this size, each drained first. @default 1
     */
    readonly maxUnavailableWorkers?: number;
    /**
     * With one manager, a change that would replace it (an explicit `amiId`, `dockerVersion`,
     * its subnet, the SSH key) fails before anything is changed: no other manager holds the
     * swarm's state, so the new manager would start a new, empty swarm. Set this to accept that loss. With 3 or
     * more managers a replaced manager joins through the others and this does not apply.
     * @default false
     */
    readonly allowSingleManagerReplacement?: boolean;
    /** A change restarts the managers one at a time (see maxUnavailableWorkers). @default "t3.small" */
    readonly managerInstanceType?: pulumi.Input<string>;
    /** A change restarts the workers in batches of maxUnavailableWorkers. @default "t3.medium" */
    readonly workerInstanceType?: pulumi.Input<string>;
    /**
     * The nodes' operating system: the AMI lookup and the cloud-init script follow it.
     * Only "ubuntu-24.04" (Canonical's Ubuntu 24.04 LTS, gp3 HVM image) for now.
     * @default "ubuntu-24.04"
     */
    readonly os?: string;
    /**
     * An AMI to use instead of the looked-up one; it must be the `os` above. A change of it
     * replaces the nodes, one after another: each new machine joins the swarm through the
     * running managers, then the old node is drained, demoted and removed, and the old
     * machines leave and are terminated at the end of the run. Without it, each node keeps the
     * AMI it was created with: a newer image published by Canonical reaches new nodes, and
     * nodes that a change replaces (`pulumi up --replace` keeps the node's AMI); `nodeAmis` and
     * `newNodeAmis` show the drift; set `amiId` to roll the nodes to one. So a change of
     * instance type to another CPU architecture (t3 to t4g) needs an `amiId` of that
     * architecture: the nodes keep the image they were created with.
     * @default the newest Canonical Ubuntu 24.04 AMI when the node is created
     */
    readonly amiId?: pulumi.Input<string>;
    /** Size of each node's encrypted gp3 root volume. @default 30 */
    readonly rootVolumeSizeGiB?: pulumi.Input<number>;
    /**
     * Docker Engine version installed from Docker's apt repository and held there, by the
     * nodes' user data: a change replaces the nodes, one after another, as an `amiId` change
     * does. @default "28.5.2"
     */
    readonly dockerVersion?: pulumi.Input<string>;
    /**
     * Opens IP protocol 50 (ESP) between the nodes, which encrypted overlay networks
     * (`driver_opts: encrypted`) need. @default false
     */
    readonly encryptedOverlay?: boolean;
    /** An existing VPC; give `subnetIds` with it. @default a new VPC */
    readonly vpcId?: pulumi.Input<string>;
    /**
     * Existing subnets of `vpcId`, one per availability zone; they must give instances public
     * addresses (the bootstrap connects over SSH to them). @default new public subnets
     */
    readonly subnetIds?: pulumi.Input<string>[];
    /** Zones to spread over: a new VPC gets one public subnet in each. @default 3 (or the number of subnetIds) */
    readonly availabilityZoneCount?: number;
    /** CIDR block of the new VPC. @default "10.0.0.0/16" */
    readonly vpcCidrBlock?: string;
    /** SSH user of the AMI. @default "ubuntu" */
    readonly sshUser?: pulumi.Input<string>;
    /**
     * An OpenSSH public key for the nodes, with `sshPrivateKey`.
     * @default a generated ed25519 key pair (its private key is a secret output)
     */
    readonly sshPublicKey?: pulumi.Input<string>;
    /** The private key of `sshPublicKey`; handled as a secret. */
    readonly sshPrivateKey?: pulumi.Input<string>;
    /** How long bootstrap commands wait for Docker on a new node. @default 600 */
    readonly dockerReadyTimeoutSeconds?: number;
    /** How long a removed node's tasks get to move before it leaves. @default 300 */
    readonly drainTimeoutSeconds?: number;
    /** Extra tags for every resource that takes tags. @default {} */
    readonly tags?: Record<string, string>;
    /**
     * The Application Load Balancer that stacks' routes attach to (`<name>-alb`), over the
     * cluster's subnets, sending to every node.
     * @default { enabled: true }: internet-facing, HTTP on 80 from anywhere, answering 404 to anything no route matches
     */
    readonly loadBalancer?: SwarmClusterLoadBalancerArgs;
    /**
     * Where stacks push the images they build and the nodes pull them from.
     * @default { kind: "ecr", keepImages: 10 }: a repository per built image in this account
     */
    readonly registry?: SwarmClusterRegistryArgs;
}

/** The cluster's load balancer (see SwarmLoadBalancerArgs). */
export interface SwarmClusterLoadBalancerArgs {
    /** Whether the cluster has a load balancer; without one, stacks cannot declare routes. @default true */
    readonly enabled?: boolean;
    /**
     * An ACM certificate for HTTPS: routes are then served on 443 (TLS 1.3/1.2) and HTTP 80
     * redirects (301) to HTTPS. Whether it is given decides the listeners; the value may be an Output.
     * @default none: routes are served over plain HTTP on 80
     */
    readonly certificateArn?: pulumi.Input<string>;
    /** The HTTPS listener's security policy (only with `certificateArn`). @default "ELBSecurityPolicy-TLS13-1-2-2021-06" */
    readonly sslPolicy?: pulumi.Input<string>;
    /** Networks allowed to reach the load balancer on 80 (and 443). @default ["0.0.0.0/0"] */
    readonly ingressCidrBlocks?: string[];
    /** Seconds a connection may stay idle. @default 60 */
    readonly idleTimeoutSeconds?: pulumi.Input<number>;
    /** AWS deletion protection on the load balancer. @default false, so that `pulumi destroy` removes it cleanly */
    readonly deletionProtection?: pulumi.Input<boolean>;
}

/**
 * The cluster's registry: `{ kind: "ecr" }` (the default) or `{ kind: "external", address }`.
 * A union rather than flat optional fields, so that the compiler refuses an external registry
 * without its address, or ECR settings on an external one.
 */
export type SwarmClusterRegistryArgs = SwarmClusterEcrRegistryArgs | SwarmClusterExternalRegistryArgs;

/**
 * Amazon ECR in the cluster's account and region: stacks create a repository per built image
 * (`<cluster>/<stack>/<service>`, with a lifecycle policy), and `docker` on the nodes reaches
 * ECR with their instance role (read-only) through the ECR credential helper that cloud-init
 * installs; no registry password is kept on a node.
 */
export interface SwarmClusterEcrRegistryArgs {
    readonly kind: "ecr";
    /** How many images each repository keeps (older ones expire), 1 to 1000. @default 10 */
    readonly keepImages?: number;
}

/** A registry you already run, by address and (optional) credentials. */
export interface SwarmClusterExternalRegistryArgs {
    readonly kind: "external";
    /** host[:port], e.g. "registry.example.com" or "10.0.0.5:5000". */
    readonly address: string;
    /** @default none: pulls and pushes are anonymous */
    readonly username?: pulumi.Input<string>;
    /** Handled as a secret. @default none */
    readonly password?: pulumi.Input<string>;
}

/** The tag on every node's instance, its role ("manager" or "worker"). */
const ROLE_TAG = "pulumi-swarm:role";

/** What every node's instance is made of (declareInstance). */
interface InstanceSettings {
    readonly ami: pulumi.Input<string>;
    readonly instanceType: pulumi.Input<string>;
    readonly subnetId: pulumi.Input<string>;
    readonly securityGroupId: pulumi.Input<string>;
    readonly keyName: pulumi.Input<string>;
    readonly profileName: pulumi.Input<string>;
    readonly userData: pulumi.Input<string>;
    readonly rootVolumeSizeGiB: pulumi.Input<number>;
    /** An explicit `amiId` applies; a looked-up one is kept (ignoreChanges). */
    readonly explicitAmi: boolean;
    readonly tags: Record<string, string>;
    readonly dependsOn: pulumi.Input<pulumi.Resource[]>;
}

/** The managers EC2 holds for the cluster as the run starts (runningManagers). */
interface RunningManagers {
    readonly running: boolean;
    /** Their private addresses, in order. */
    readonly addresses: string[];
    /** The public address of the first of them that has one. */
    readonly publicAddress?: string;
}

/** What the commands around a node's restart need. */
interface RestartSettings {
    readonly privateKey: pulumi.Output<string>;
    readonly sshUser: pulumi.Input<string>;
    readonly readyTimeoutSeconds: number;
    readonly drainTimeoutSeconds: number;
}

/** The first 12 hex digits of the SHA-256 of a node's user data: its field in the lone manager's guard. */
export function userDataDigest(userData: string): string {
    return createHash("sha256").update(userData).digest("hex").slice(0, 12);
}

/** Canonical's AWS account, the owner of the official Ubuntu AMIs. */
export const CANONICAL_OWNER_ID = "099720109477";

/** The CPU architecture of an instance type: Graviton families ("t4g", "m7gd", "c7gn") are arm64. */
export function architectureOf(instanceType: string): "x86_64" | "arm64" {
    const family = instanceType.split(".")[0];
    return /^[a-z]+[0-9]+[a-z-]*g[a-z-]*$/.test(family) ? "arm64" : "x86_64";
}

/**
 * The Docker platform of every node, when the instance types are known now and share one
 * architecture; otherwise undefined (then stacks build for the building engine's platform,
 * or their own `buildPlatform`).
 */
export function nodePlatform(managerType: pulumi.Input<string>, workerType: pulumi.Input<string>): string | undefined {
    if (typeof managerType !== "string" || typeof workerType !== "string") return undefined;
    const arch = architectureOf(managerType);
    if (architectureOf(workerType) !== arch) return undefined;
    return arch === "arm64" ? "linux/arm64" : "linux/amd64";
}

/** The AMI name filter for an OS and architecture. */
export function amiNameFilter(arch: "x86_64" | "arm64"): string {
    return `ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${arch === "arm64" ? "arm64" : "amd64"}-server-*`;
}

/**
 * A Docker Swarm on EC2: network (or yours), a node security group whose swarm ports are
 * open only inside the group, managers spread over zones, workers, an SSH key, Docker
 * installed by cloud-init, and the swarm formed over SSH by {@link SwarmBootstrap}; by default
 * also an Application Load Balancer ({@link SwarmLoadBalancer}) that stacks add routes to, and
 * Amazon ECR as the stacks' registry. `stackTarget` is what a SwarmStack deploys through.
 */
export class SwarmCluster extends pulumi.ComponentResource {
    public readonly vpcId: pulumi.Output<string>;
    public readonly subnetIds: pulumi.Output<string[]>;
    public readonly nodeSecurityGroupId: pulumi.Output<string>;
    public readonly managerPublicIps: pulumi.Output<string[]>;
    public readonly managerPrivateIps: pulumi.Output<string[]>;
    public readonly workerPublicIps: pulumi.Output<string[]>;
    public readonly workerPrivateIps: pulumi.Output<string[]>;
    /** The SSH private key of every node (secret). */
    public readonly privateKey: pulumi.Output<string>;
    /** The swarm's worker join token (secret). */
    public readonly workerJoinToken: pulumi.Output<string>;
    /** The swarm's manager join token (secret). */
    public readonly managerJoinToken: pulumi.Output<string>;
    /** `ssh://<user>@<first manager>`: the docker CLI reaches the swarm through SSH with it. */
    public readonly dockerHost: pulumi.Output<string>;
    /** A ready-to-paste command that makes a docker CLI context for this swarm. */
    public readonly dockerContextCommand: pulumi.Output<string>;
    /** The AMI each node runs, by node key ("manager-0", "worker-1", ...). */
    public readonly nodeAmis: pulumi.Output<Record<string, string>>;
    /**
     * The AMI a node created now would get, per role: `amiId` when given, else the newest
     * matching Canonical image. Different from `nodeAmis`: the nodes have drifted behind.
     */
    public readonly newNodeAmis: pulumi.Output<{ manager: string; worker: string }>;
    /** The bootstrap, for components that run commands on the swarm after it is formed. */
    public readonly bootstrap: SwarmBootstrap;
    /** The load balancer (`<name>-alb`), unless `loadBalancer.enabled` is false. */
    public readonly loadBalancer?: SwarmLoadBalancer;
    /** The load balancer's DNS name (undefined without one): point your domains' records here. */
    public readonly loadBalancerDnsName: pulumi.Output<string | undefined>;
    /** What a SwarmStack deploys through: the first manager over SSH, the registry, the load balancer. */
    public readonly stackTarget: StackTarget;

    constructor(name: string, args: SwarmClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate first: bad input registers nothing, not even this component.
        const settings = validateClusterArgs(args);
        super("swarm:index:SwarmCluster", name, {}, opts);
        const d = CLUSTER_DEFAULTS;
        // What tells this cluster's AWS resources from another stack's cluster of the same name.
        const identity = clusterIdentity(pulumi.getProject(), pulumi.getStack(), name);
        const tagsFor = (resourceName: string) => ({ ...(args.tags ?? {}), Name: resourceName, [CLUSTER_TAG]: identity });

        // Network: the given VPC and subnets, or a new VPC with one public subnet per zone.
        let vpcId: pulumi.Output<string>;
        let subnetIds: pulumi.Output<string>[];
        if (settings.newNetwork) {
            const zones = aws
                .getAvailabilityZonesOutput({ state: "available" }, { parent: this })
                .names.apply((names) => {
                    if (names.length < settings.zoneCount) {
                        throw new pulumi.ResourceError(
                            `availabilityZoneCount asks for ${settings.zoneCount} zones, but this region has ${names.length} ` +
                                `available (${names.join(", ")}); lower availabilityZoneCount`,
                            this,
                        );
                    }
                    return names;
                });
            const vpc = new aws.ec2.Vpc(
                `${name}-vpc`,
                {
                    cidrBlock: settings.newNetwork.vpcCidrBlock,
                    enableDnsHostnames: true,
                    enableDnsSupport: true,
                    tags: tagsFor(`${name}-vpc`),
                },
                { parent: this },
            );
            const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: tagsFor(`${name}-igw`) }, { parent: this });
            const routeTable = new aws.ec2.RouteTable(
                `${name}-public`,
                { vpcId: vpc.id, tags: tagsFor(`${name}-public`) },
                { parent: this },
            );
            new aws.ec2.Route(
                `${name}-public-default`,
                { routeTableId: routeTable.id, destinationCidrBlock: "0.0.0.0/0", gatewayId: igw.id },
                { parent: this },
            );
            subnetIds = settings.newNetwork.subnetCidrs.map((cidr, i) => {
                const subnet = new aws.ec2.Subnet(
                    `${name}-public-${i}`,
                    {
                        vpcId: vpc.id,
                        cidrBlock: cidr,
                        availabilityZone: zones.apply((z) => z[i]),
                        mapPublicIpOnLaunch: true,
                        tags: tagsFor(`${name}-public-${i}`),
                    },
                    { parent: this },
                );
                new aws.ec2.RouteTableAssociation(
                    `${name}-public-${i}`,
                    { subnetId: subnet.id, routeTableId: routeTable.id },
                    { parent: this },
                );
                return subnet.id;
            });
            vpcId = vpc.id;
        } else {
            vpcId = pulumi.output(args.vpcId!);
            subnetIds = args.subnetIds!.slice(0, settings.zoneCount).map((s) => pulumi.output(s));
        }

        // The node security group: swarm ports from itself only, SSH from the admins, all egress.
        const sg = new aws.ec2.SecurityGroup(
            `${name}-nodes`,
            {
                vpcId,
                description: `pulumi-swarm ${name}: swarm nodes (swarm ports only between nodes)`,
                tags: tagsFor(`${name}-nodes`),
            },
            { parent: this },
        );
        const ruleResources = planNodeSecurityRules(settings.adminCidrBlocks, args.encryptedOverlay ?? false).map((rule) =>
            this.declareRule(name, sg, rule, tagsFor),
        );

        // Instance role: ECR pulls and SSM Session Manager.
        const role = new aws.iam.Role(
            `${name}-node`,
            {
                assumeRolePolicy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
                }),
                tags: tagsFor(`${name}-node`),
            },
            { parent: this },
        );
        for (const [key, arn] of [
            ["ecr-read", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"],
            ["ssm", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"],
        ]) {
            new aws.iam.RolePolicyAttachment(`${name}-node-${key}`, { role: role.name, policyArn: arn }, { parent: this });
        }
        if (settings.loadBalancer) {
            // Nodes take themselves out of the load balancer before they drain.
            new aws.iam.RolePolicy(
                `${name}-node-elb`,
                { role: role.id, policy: JSON.stringify(planNodeLoadBalancerPolicy(CLUSTER_TAG, identity)) },
                { parent: this },
            );
        }
        const profile = new aws.iam.InstanceProfile(`${name}-node`, { role: role.name, tags: tagsFor(`${name}-node`) }, { parent: this });

        // SSH key: the user's, or a generated ed25519 pair.
        let publicKey: pulumi.Input<string>;
        let privateKey: pulumi.Output<string>;
        if (args.sshPublicKey !== undefined && args.sshPrivateKey !== undefined) {
            publicKey = args.sshPublicKey;
            privateKey = pulumi.secret(args.sshPrivateKey);
        } else {
            const key = new tls.PrivateKey(`${name}-ssh`, { algorithm: "ED25519" }, { parent: this });
            publicKey = key.publicKeyOpenssh;
            privateKey = pulumi.secret(key.privateKeyOpenssh);
        }
        const keyPair = new aws.ec2.KeyPair(`${name}-ssh`, { publicKey, tags: tagsFor(`${name}-ssh`) }, { parent: this });

        // AMI per CPU architecture.
        const amiFor = (instanceType: pulumi.Input<string>): pulumi.Input<string> => {
            if (args.amiId !== undefined) {
                return args.amiId;
            }
            return pulumi.output(instanceType).apply((t) =>
                aws.ec2
                    .getAmi(
                        {
                            mostRecent: true,
                            owners: [CANONICAL_OWNER_ID],
                            filters: [
                                { name: "name", values: [amiNameFilter(architectureOf(t))] },
                                { name: "architecture", values: [architectureOf(t)] },
                                { name: "virtualization-type", values: ["hvm"] },
                            ],
                        },
                        { parent: this },
                    )
                    .then((ami) => ami.id),
            );
        };

        const sshUser = args.sshUser ?? d.sshUser;
        const userData = pulumi
            .all([args.dockerVersion ?? d.dockerVersion, sshUser])
            .apply(([dockerVersion, user]) =>
                renderCloudInit({ os: settings.os, dockerVersion, sshUser: user, ecrCredentialHelper: settings.registry === "ecr" }),
            );

        const placement = planPlacement(settings.managerCount, settings.workerCount, settings.zoneCount);
        const instanceTypes = {
            manager: args.managerInstanceType ?? d.managerInstanceType,
            worker: args.workerInstanceType ?? d.workerInstanceType,
        };
        const amis = { manager: amiFor(instanceTypes.manager), worker: amiFor(instanceTypes.worker) };
        const restart = {
            privateKey,
            sshUser,
            readyTimeoutSeconds: args.dockerReadyTimeoutSeconds ?? d.dockerReadyTimeoutSeconds,
            drainTimeoutSeconds: args.drainTimeoutSeconds ?? d.drainTimeoutSeconds,
        };
        // The nodes, one link of a chain each (planRestartOrder): a change that restarts the
        // instances (their type) restarts one node at a time, each drained before and back in a
        // whole swarm after, before the next one starts. Only a running cluster is chained.
        const running = this.runningManagers(identity, name);
        const quorum = running.apply((r) =>
            r.running && r.publicAddress !== undefined
                ? [this.declareQuorumCheck(name, r.publicAddress, { managerType: instanceTypes.manager, workerType: instanceTypes.worker, amiId: args.amiId, userData }, restart)]
                : [],
        );
        const loadBalancerName = settings.loadBalancer ? loadBalancerAwsName(`${name}-alb`) : undefined;
        const nodes = new Map<string, { instance: aws.ec2.Instance; publicIp: pulumi.Output<string>; afterRestart: pulumi.Resource }>();
        for (const turn of planRestartOrder(placement, settings.maxUnavailableWorkers)) {
            const p = placement.find((x) => x.key === turn.key)!;
            const previous = turn.after === undefined ? [] : [nodes.get(turn.after)!.afterRestart];
            const handOff = turn.drainedOn ? [this.declareHandOff(name, p, instanceTypes[p.role], nodes.get(turn.drainedOn)!, previous, loadBalancerName, restart)] : [];
            const beforeRestart = turn.drainedOn ? [this.declareBeforeRestart(name, p, instanceTypes[p.role], nodes.get(turn.drainedOn)!, [...previous, ...handOff], restart)] : [];
            const guard =
                settings.managerCount === 1 && p.role === "manager"
                    ? [this.declareSingleManagerGuard(name, p.key, args.amiId, subnetIds[p.zoneIndex], keyPair.keyName, userData, args.allowSingleManagerReplacement ?? d.allowSingleManagerReplacement)]
                    : [];
            const chain = [...previous, ...beforeRestart];
            const instance = this.declareInstance(name, p, {
                ami: amis[p.role],
                instanceType: instanceTypes[p.role],
                subnetId: subnetIds[p.zoneIndex],
                securityGroupId: sg.id,
                keyName: keyPair.keyName,
                profileName: profile.name,
                userData,
                rootVolumeSizeGiB: args.rootVolumeSizeGiB ?? d.rootVolumeSizeGiB,
                explicitAmi: args.amiId !== undefined,
                tags: tagsFor(`${name}-${p.key}`),
                // The chain's first also waits for the quorum check.
                dependsOn: pulumi.all([running, quorum]).apply(([r, q]) => [...guard, ...(r.running ? [...chain, ...(turn.after === undefined ? q : [])] : [])]),
            });
            const publicIp = p.role === "manager" ? this.declareManagerIp(name, p.key, instance, tagsFor) : instance.publicIp;
            // A manager's ready runs on the manager itself; a worker's where its drain ran.
            const runsOn = p.role === "manager" ? { instance, publicIp } : nodes.get(turn.drainedOn!)!;
            const ready = this.declareAfterRestart(name, p, instanceTypes[p.role], instance, runsOn, turn.leadershipOffOf, restart);
            // Back in the load balancer (where its hand-off took it out) before the next node's turn.
            const back = loadBalancerName !== undefined && handOff.length > 0 ? this.declareBack(name, p, instanceTypes[p.role], instance, runsOn, ready, loadBalancerName, restart) : undefined;
            nodes.set(p.key, { instance, publicIp, afterRestart: back ?? ready });
        }
        const instances = placement.map((p) => ({ placement: p, instance: nodes.get(p.key)!.instance }));
        const publicIps = placement.map((p) => nodes.get(p.key)!.publicIp);
        const hosts: SwarmHost[] = instances.map(({ placement: p, instance }, i) => ({
            key: p.key,
            role: p.role,
            sshHost: publicIps[i],
            sshUser,
            privateAddress: instance.privateIp,
            machineId: instance.id,
        }));
        this.bootstrap = new SwarmBootstrap(
            `${name}-swarm`,
            {
                hosts,
                privateKey,
                clusterName: name,
                dockerReadyTimeoutSeconds: args.dockerReadyTimeoutSeconds ?? d.dockerReadyTimeoutSeconds,
                drainTimeoutSeconds: args.drainTimeoutSeconds ?? d.drainTimeoutSeconds,
                connectAfter: ruleResources,
                joinThrough: running.addresses,
                loadBalancerName,
                // An instance goes exactly when its node does (replaced, or removed): a machine
                // that died is then replaced like any other, never dialled to leave.
                machinesGoWithNodes: true,
            },
            { parent: this },
        );

        const managers = instances.filter((i) => i.placement.role === "manager").map((i) => i.instance);
        const workers = instances.filter((i) => i.placement.role === "worker").map((i) => i.instance);
        const managerPublicIps = publicIps.filter((_, i) => instances[i].placement.role === "manager");

        // The load balancer over the cluster's subnets, registering every node.
        if (settings.loadBalancer) {
            const lb = args.loadBalancer ?? {};
            this.loadBalancer = new SwarmLoadBalancer(
                `${name}-alb`,
                {
                    vpcId,
                    subnetIds,
                    nodeSecurityGroupId: sg.id,
                    instanceIds: Object.fromEntries(instances.map((i) => [i.placement.key, i.instance.id])),
                    certificateArn: lb.certificateArn,
                    sslPolicy: lb.sslPolicy,
                    ingressCidrBlocks: lb.ingressCidrBlocks,
                    idleTimeoutSeconds: lb.idleTimeoutSeconds,
                    deletionProtection: lb.deletionProtection,
                    tags: { ...(args.tags ?? {}), [CLUSTER_TAG]: identity },
                },
                { parent: this },
            );
        }

        let registry: RegistryTarget;
        const reg: SwarmClusterRegistryArgs = args.registry ?? { kind: "ecr" };
        if (reg.kind === "external") {
            registry = {
                kind: "external",
                address: reg.address,
                username: reg.username,
                password: reg.password === undefined ? undefined : pulumi.secret(reg.password),
            };
        } else {
            registry = { kind: "ecr", keepImages: reg.keepImages ?? d.keepImages, tags: { ...(args.tags ?? {}), [CLUSTER_TAG]: identity }, repositoryPrefix: identity };
        }
        const manager: pulumi.Output<ManagerConnection> = pulumi
            .all([managerPublicIps[0], sshUser, privateKey])
            .apply(([host, user, key]) => ({ host, port: 22, user, privateKey: key }));
        this.stackTarget = {
            clusterName: name,
            manager: pulumi.secret(manager),
            ready: [this.bootstrap],
            registry,
            loadBalancer: this.loadBalancer?.target,
            platform: nodePlatform(instanceTypes.manager, settings.workerCount > 0 ? instanceTypes.worker : instanceTypes.manager),
        };
        this.vpcId = vpcId;
        this.subnetIds = pulumi.all(subnetIds);
        this.nodeSecurityGroupId = sg.id;
        this.managerPublicIps = pulumi.all(managerPublicIps);
        this.managerPrivateIps = pulumi.all(managers.map((m) => m.privateIp));
        this.workerPublicIps = pulumi.all(workers.map((w) => w.publicIp));
        this.workerPrivateIps = pulumi.all(workers.map((w) => w.privateIp));
        this.privateKey = privateKey;
        this.nodeAmis = pulumi.all(Object.fromEntries(instances.map((i) => [i.placement.key, i.instance.ami])));
        this.newNodeAmis = pulumi.all([amis.manager, amis.worker]).apply(([manager, worker]) => ({ manager, worker }));
        this.workerJoinToken = this.bootstrap.workerJoinToken;
        this.managerJoinToken = this.bootstrap.managerJoinToken;
        this.dockerHost = pulumi.interpolate`ssh://${sshUser}@${managerPublicIps[0]}`;
        this.dockerContextCommand = pulumi.interpolate`docker context create ${name} --docker host=${this.dockerHost} && docker context use ${name}`;
        this.loadBalancerDnsName = this.loadBalancer ? this.loadBalancer.dnsName : pulumi.output<string | undefined>(undefined);

        this.registerOutputs({
            vpcId: this.vpcId,
            subnetIds: this.subnetIds,
            nodeSecurityGroupId: this.nodeSecurityGroupId,
            managerPublicIps: this.managerPublicIps,
            managerPrivateIps: this.managerPrivateIps,
            workerPublicIps: this.workerPublicIps,
            workerPrivateIps: this.workerPrivateIps,
            nodeAmis: this.nodeAmis,
            newNodeAmis: this.newNodeAmis,
            privateKey: this.privateKey,
            workerJoinToken: this.workerJoinToken,
            managerJoinToken: this.managerJoinToken,
            dockerHost: this.dockerHost,
            dockerContextCommand: this.dockerContextCommand,
            loadBalancerDnsName: this.loadBalancerDnsName,
        });
    }

    private declareInstance(name: string, p: NodePlacement, a: InstanceSettings): aws.ec2.Instance {
        const instanceName = `${name}-${p.key}`;
        return new aws.ec2.Instance(
            instanceName,
            {
                ami: a.ami,
                instanceType: a.instanceType,
                subnetId: a.subnetId,
                vpcSecurityGroupIds: [a.securityGroupId],
                associatePublicIpAddress: true,
                keyName: a.keyName,
                iamInstanceProfile: a.profileName,
                userData: a.userData,
                // User data runs only at a machine's first boot: a change of it (dockerVersion,
                // sshUser, the registry kind, or a pulumi-swarm release that changes the setup)
                // replaces the node, as an explicit amiId does, rather than stop and start it
                // with the old setup still on it.
                userDataReplaceOnChange: true,
                metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
                rootBlockDevice: {
                    volumeType: "gp3",
                    volumeSize: a.rootVolumeSizeGiB,
                    encrypted: true,
                    deleteOnTermination: true,
                },
                tags: { ...a.tags, [ROLE_TAG]: p.role },
                volumeTags: a.tags,
            },
            // A looked-up AMI is what the lookup answered when the node was created: `ami`
            // forces a new instance, so following the lookup would replace every node whenever
            // Canonical publishes an image (pulumi-eks #114 does the same); an explicit `amiId`
            // applies. Replacements roll: the chain launches them one after another, each new
            // machine joins through the running managers, and its member retires the old node.
            { parent: this, ignoreChanges: a.explicitAmi ? [] : ["ami"], dependsOn: a.dependsOn },
        );
    }

    /**
     * A manager keeps one public address for life, an Elastic IP: dockerHost and the admin's
     * docker context stay valid across a stop and start (an instance-type change), and commands
     * that run on a manager reach it at the address their state holds, even in a run that
     * restarts it. A replaced manager gets a new Elastic IP (replaceOnChanges), never its
     * predecessor's: the old node's own deletes must still reach the old machine. Workers keep
     * the address EC2 gives them; only their own commands use it.
     */
    private declareManagerIp(
        name: string,
        key: string,
        instance: aws.ec2.Instance,
        tagsFor: (n: string) => Record<string, string>,
    ): pulumi.Output<string> {
        const eipName = `${name}-${key}-ip`;
        return new aws.ec2.Eip(eipName, { domain: "vpc", instance: instance.id, tags: tagsFor(eipName) }, { parent: this, replaceOnChanges: ["instance"] })
            .publicIp;
    }

    /**
     * The managers EC2 already holds for this cluster (a lookup by its tags, made in preview
     * too), as the run starts. When there are any, the cluster is running: its instances are
     * chained, so that a change rolls one link at a time (a new cluster has nothing to roll
     * and launches every instance at once; dependencies are not diffed, so their appearing on
     * the second run changes nothing), and their private addresses are where the joins of
     * replaced machines go through (SwarmBootstrap `joinThrough`).
     *
     * The cluster tag is matched on the cluster's identity, or on its name alone: the tag's
     * value before identities (an instance keeps it until this run updates its tags), so the
     * run that brings the identity to a running cluster still finds it (EC2 filters: the values
     * of one filter are ORed, the filters ANDed).
     */
    private runningManagers(identity: string, name: string): pulumi.Output<RunningManagers> {
        return aws.ec2
            .getInstancesOutput(
                {
                    filters: [
                        { name: `tag:${CLUSTER_TAG}`, values: [identity, name] },
                        { name: `tag:${ROLE_TAG}`, values: ["manager"] },
                    ],
                    instanceStateNames: ["pending", "running", "stopping", "stopped"],
                },
                { parent: this },
            )
            .apply((r) => {
                const pairs = r.privateIps.map((a, i) => ({ a, p: r.publicIps[i] ?? "" })).sort((x, y) => (x.a < y.a ? -1 : x.a > y.a ? 1 : 0));
                return { running: r.ids.length > 0, addresses: [...new Set(pairs.map((x) => x.a))], publicAddress: pairs.find((x) => x.p !== "")?.p };
            });
    }

    /**
     * `<name>-quorum`, on a running manager (the lookup's first with a public address), before
     * the chain's first instance: when what the nodes are made of changes (instance types, AMI,
     * user data: its script names them), it checks that the swarm has a leader, and otherwise
     * fails the run before any node is touched, with the recovery (scripts/roll.ts). It runs
     * nothing when created: a new cluster has none, and the second run creates it, so it
     * guards changes from the third run of a stack on.
     */
    private declareQuorumCheck(
        name: string,
        host: string,
        settings: { managerType: pulumi.Input<string>; workerType: pulumi.Input<string>; amiId?: pulumi.Input<string>; userData: pulumi.Input<string> },
        r: RestartSettings,
    ): command.remote.Command {
        const script = pulumi
            .all([settings.managerType, settings.workerType, settings.amiId ?? "looked-up", settings.userData])
            .apply(([m, w, ami, data]) => renderQuorumCheck(`manager ${m}, worker ${w}, ami ${ami}, user data ${userDataDigest(data)}`, r.readyTimeoutSeconds));
        return new command.remote.Command(
            `${name}-quorum`,
            // Another manager to ask replaces it (running nothing), so that a run that only finds
            // its managers in another order runs no command.
            { connection: sshConnection({ sshHost: host, sshUser: r.sshUser }, r.privateKey), update: script, triggers: [host], addPreviousOutputInEnv: false },
            { parent: this },
        );
    }

    /**
     * `<name>-<key>-guard`, a local command that the only manager's instance waits for: a run
     * that changes what would replace that instance (its explicit AMI, subnet, key pair or user data)
     * fails there, before the instance is touched, unless allowSingleManagerReplacement
     * accepts the loss of the swarm (scripts/guard.ts). A looked-up AMI is not part of it:
     * the instance ignores its changes.
     */
    private declareSingleManagerGuard(
        name: string,
        key: string,
        amiId: pulumi.Input<string> | undefined,
        subnetId: pulumi.Input<string>,
        keyName: pulumi.Input<string>,
        userData: pulumi.Input<string>,
        allowed: boolean,
    ): command.local.Command {
        const script = pulumi.all([amiId ?? "looked-up", subnetId, keyName, userData]).apply(([ami, subnet, k, data]) =>
            renderSingleManagerGuard({ hostKey: key, fingerprint: `ami=${ami} subnet=${subnet} key=${k} userdata=${userDataDigest(data)}`, allowed }),
        );
        return new command.local.Command(`${name}-${key}-guard`, { create: script }, { parent: this });
    }

    /**
     * `<name>-<key>-drain`, on a manager earlier in the chain (planRestartOrder), before the
     * node's instance: when its instance type changes (its script holds the type), it waits
     * until the swarm is whole, hands a manager's leadership over if it leads, and drains the
     * node. It runs nothing when created, and is replaced (running nothing) with the manager it
     * runs on, so it never runs on a new manager that has not joined yet.
     */
    private declareBeforeRestart(
        name: string,
        p: NodePlacement,
        instanceType: pulumi.Input<string>,
        first: { instance: aws.ec2.Instance; publicIp: pulumi.Output<string> },
        previous: pulumi.Resource[],
        r: RestartSettings,
    ): command.remote.Command {
        return new command.remote.Command(
            `${name}-${p.key}-drain`,
            {
                connection: sshConnection({ sshHost: first.publicIp, sshUser: r.sshUser }, r.privateKey),
                update: pulumi.output(instanceType).apply((t) =>
                    renderBeforeRestart({
                        hostKey: p.key,
                        role: p.role,
                        change: `instance type ${t}`,
                        readyTimeoutSeconds: r.readyTimeoutSeconds,
                        drainTimeoutSeconds: r.drainTimeoutSeconds,
                    }),
                ),
                triggers: [first.instance.id],
                addPreviousOutputInEnv: false,
            },
            { parent: this, dependsOn: previous },
        );
    }

    /**
     * `<name>-<key>-handoff`, before the node's `-drain`, on the same manager: when its instance
     * type changes (its script holds the type), it spreads out the services that run only on
     * the node and takes the node out of the load balancer (renderHandOff). It runs nothing when
     * created, and is replaced (running nothing) with the manager it runs on.
     */
    private declareHandOff(
        name: string,
        p: NodePlacement,
        instanceType: pulumi.Input<string>,
        on: { instance: aws.ec2.Instance; publicIp: pulumi.Output<string> },
        previous: pulumi.Resource[],
        loadBalancerName: string | undefined,
        r: RestartSettings,
    ): command.remote.Command {
        return new command.remote.Command(
            `${name}-${p.key}-handoff`,
            {
                connection: sshConnection({ sshHost: on.publicIp, sshUser: r.sshUser }, r.privateKey),
                update: pulumi
                    .output(instanceType)
                    .apply((t) => renderHandOff({ hostKey: p.key, change: `instance type ${t}`, drainTimeoutSeconds: r.drainTimeoutSeconds, loadBalancerName })),
                triggers: [on.instance.id],
                addPreviousOutputInEnv: false,
            },
            { parent: this, dependsOn: previous },
        );
    }

    /**
     * `<name>-<key>-back`, after the node's `-ready`, where the ready ran: when its instance type
     * changed, it registers the node in the load balancer's target groups again (renderBack);
     * the next node's turn waits for it. It runs nothing when created, and is replaced (running
     * nothing) with the machines it stands for.
     */
    private declareBack(
        name: string,
        p: NodePlacement,
        instanceType: pulumi.Input<string>,
        instance: aws.ec2.Instance,
        runsOn: { instance: aws.ec2.Instance; publicIp: pulumi.Output<string> },
        ready: pulumi.Resource,
        loadBalancerName: string,
        r: RestartSettings,
    ): command.remote.Command {
        return new command.remote.Command(
            `${name}-${p.key}-back`,
            {
                connection: sshConnection({ sshHost: runsOn.publicIp, sshUser: r.sshUser }, r.privateKey),
                update: pulumi
                    .output(instanceType)
                    .apply((t) => renderBack({ hostKey: p.key, change: `instance type ${t}`, drainTimeoutSeconds: r.drainTimeoutSeconds, loadBalancerName })),
                triggers: runsOn.instance === instance ? [instance.id] : [instance.id, runsOn.instance.id],
                addPreviousOutputInEnv: false,
            },
            { parent: this, dependsOn: [ready] },
        );
    }

    /**
     * `<name>-<key>-ready`, after the node's instance: when its instance type changed, it waits
     * until the node is back and the swarm whole, then makes the node active; the next node's
     * turn waits for it. The last manager's also hands the leadership of the chain's first
     * manager over, so that the next roll starts on a follower. A manager's runs on the manager
     * itself, a worker's on the first manager. It runs nothing when created, and is replaced
     * (running nothing) with the machines it stands for.
     */
    private declareAfterRestart(
        name: string,
        p: NodePlacement,
        instanceType: pulumi.Input<string>,
        instance: aws.ec2.Instance,
        runsOn: { instance: aws.ec2.Instance; publicIp: pulumi.Output<string> },
        leadershipOffOf: string | undefined,
        r: RestartSettings,
    ): command.remote.Command {
        return new command.remote.Command(
            `${name}-${p.key}-ready`,
            {
                connection: sshConnection({ sshHost: runsOn.publicIp, sshUser: r.sshUser }, r.privateKey),
                update: pulumi.output(instanceType).apply((t) =>
                    renderAfterRestart({
                        hostKey: p.key,
                        role: p.role,
                        change: `instance type ${t}`,
                        readyTimeoutSeconds: r.readyTimeoutSeconds,
                        drainTimeoutSeconds: r.drainTimeoutSeconds,
                        leadershipOffOf,
                    }),
                ),
                triggers: runsOn.instance === instance ? [instance.id] : [instance.id, runsOn.instance.id],
                addPreviousOutputInEnv: false,
            },
            { parent: this, dependsOn: [instance] },
        );
    }

    private declareRule(
        name: string,
        sg: aws.ec2.SecurityGroup,
        rule: SecurityRule,
        tagsFor: (n: string) => Record<string, string>,
    ): pulumi.Resource {
        const ruleName = `${name}-nodes-${rule.key}`;
        const common = {
            securityGroupId: sg.id,
            description: rule.description,
            ipProtocol: rule.protocol,
            fromPort: rule.fromPort,
            toPort: rule.toPort,
            tags: tagsFor(ruleName),
        };
        const source =
            rule.source === "self"
                ? { referencedSecurityGroupId: sg.id }
                : rule.source.cidr.includes(":")
                  ? { cidrIpv6: rule.source.cidr }
                  : { cidrIpv4: rule.source.cidr };
        return rule.direction === "ingress"
            ? new aws.vpc.SecurityGroupIngressRule(ruleName, { ...common, ...source }, { parent: this })
            : new aws.vpc.SecurityGroupEgressRule(ruleName, { ...common, ...source }, { parent: this });
    }
}
