import * as pulumi from "@pulumi/pulumi";
import { isBareAddress, parseCidr, splitIpv4Cidr } from "./cidr";
import { SwarmArgumentError, throwIfAny } from "./errors";
import { SUPPORTED_OS, NodeOs } from "./scripts/cloudInit";

/** The values of SwarmClusterArgs that validation reads (see SwarmClusterArgs for docs). */
export interface ClusterArgsToValidate {
    readonly adminCidrBlocks?: readonly string[];
    readonly allowSshFromAnywhere?: boolean;
    readonly managerCount?: number;
    readonly workerCount?: number;
    readonly maxUnavailableWorkers?: number;
    readonly allowSingleManagerReplacement?: boolean;
    readonly availabilityZoneCount?: number;
    readonly vpcId?: pulumi.Input<string>;
    readonly subnetIds?: readonly pulumi.Input<string>[];
    readonly vpcCidrBlock?: string;
    readonly os?: string;
    readonly amiId?: pulumi.Input<string>;
    readonly managerInstanceType?: pulumi.Input<string>;
    readonly workerInstanceType?: pulumi.Input<string>;
    readonly rootVolumeSizeGiB?: pulumi.Input<number>;
    readonly dockerVersion?: pulumi.Input<string>;
    readonly sshUser?: pulumi.Input<string>;
    readonly sshPublicKey?: pulumi.Input<string>;
    readonly sshPrivateKey?: pulumi.Input<string>;
    readonly loadBalancer?: ClusterLoadBalancerArgsToValidate;
    readonly registry?: ClusterRegistryArgsToValidate;
}

/** The load balancer settings of SwarmClusterArgs that validation reads. */
export interface ClusterLoadBalancerArgsToValidate {
    readonly enabled?: boolean;
    readonly certificateArn?: pulumi.Input<string>;
    readonly sslPolicy?: pulumi.Input<string>;
    readonly ingressCidrBlocks?: readonly string[];
    readonly idleTimeoutSeconds?: pulumi.Input<number>;
    readonly deletionProtection?: pulumi.Input<boolean>;
}

/** The registry settings of SwarmClusterArgs that validation reads. */
export interface ClusterRegistryArgsToValidate {
    readonly kind?: string;
    readonly keepImages?: number;
    readonly address?: string;
    readonly username?: pulumi.Input<string>;
    readonly password?: pulumi.Input<string>;
}

/** The values of SwarmLoadBalancerArgs that validation reads (see SwarmLoadBalancerArgs for docs). */
export interface LoadBalancerArgsToValidate {
    readonly vpcId?: pulumi.Input<string>;
    readonly subnetIds?: readonly pulumi.Input<string>[];
    readonly nodeSecurityGroupId?: pulumi.Input<string>;
    readonly instanceIds?: readonly pulumi.Input<string>[] | Readonly<Record<string, pulumi.Input<string>>>;
    readonly certificateArn?: pulumi.Input<string>;
    readonly sslPolicy?: pulumi.Input<string>;
    readonly ingressCidrBlocks?: readonly string[];
    readonly idleTimeoutSeconds?: pulumi.Input<number>;
}

/** Defaults of SwarmClusterArgs, in one place so the docs, the code and the tests agree. */
export const CLUSTER_DEFAULTS = {
    managerCount: 3,
    workerCount: 2,
    maxUnavailableWorkers: 1,
    allowSingleManagerReplacement: false,
    availabilityZoneCount: 3,
    vpcCidrBlock: "10.0.0.0/16",
    os: "ubuntu-24.04" as NodeOs,
    managerInstanceType: "t3.small",
    workerInstanceType: "t3.medium",
    rootVolumeSizeGiB: 30,
    dockerVersion: "28.5.2",
    sshUser: "ubuntu",
    dockerReadyTimeoutSeconds: 600,
    drainTimeoutSeconds: 300,
    loadBalancerEnabled: true,
    registryKind: "ecr" as "ecr" | "external",
    keepImages: 10,
} as const;

/** Defaults of SwarmLoadBalancerArgs. */
export const LOAD_BALANCER_DEFAULTS = {
    ingressCidrBlocks: ["0.0.0.0/0"] as readonly string[],
    idleTimeoutSeconds: 60,
    deletionProtection: false,
    /** TLS 1.3 and 1.2 with forward-secret ciphers only: AWS's recommended policy for new HTTPS listeners. */
    sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
} as const;

/** How many images an ECR repository may be told to keep. */
export const KEEP_IMAGES_RANGE = { min: 1, max: 1000 } as const;

/** The most availability zones a cluster spreads over (the most any AWS region has). */
export const MAX_ZONES = 6;

export const VALID_MANAGER_COUNTS = [1, 3, 5, 7] as const;

/** What validation settles: plain values the component plans and declares from. */
export interface ValidatedClusterSettings {
    readonly managerCount: number;
    readonly workerCount: number;
    readonly maxUnavailableWorkers: number;
    readonly zoneCount: number;
    readonly adminCidrBlocks: readonly string[];
    readonly os: NodeOs;
    /** When the component creates the VPC: its CIDR and one public subnet CIDR per zone. */
    readonly newNetwork?: { readonly vpcCidrBlock: string; readonly subnetCidrs: readonly string[] };
    /** Whether the cluster has its Application Load Balancer. */
    readonly loadBalancer: boolean;
    /** Where stacks push built images and nodes pull from. */
    readonly registry: "ecr" | "external";
}

const isKnown = <T>(v: pulumi.Input<T> | undefined): v is T =>
    v !== undefined && !pulumi.Output.isInstance(v) && !(v instanceof Promise);

/**
 * Checks every argument whose value is known now, before any resource exists, and reports
 * all problems at once. Values that are still Outputs are checked where they resolve.
 */
export function validateClusterArgs(args: ClusterArgsToValidate): ValidatedClusterSettings {
    const problems: SwarmArgumentError[] = [];
    const d = CLUSTER_DEFAULTS;

    const managerCount = args.managerCount ?? d.managerCount;
    if (!(VALID_MANAGER_COUNTS as readonly number[]).includes(managerCount)) {
        problems.push(
            new SwarmArgumentError(
                "managerCount",
                args.managerCount,
                "must be 1, 3, 5 or 7: Raft needs a majority of managers for any change, so an even count " +
                    "tolerates no more lost managers than one fewer (4 tolerates 1, like 3), and more than 7 slows every " +
                    "write. Use 3 (tolerates 1 lost manager) or 5 (tolerates 2)",
            ),
        );
    }

    const workerCount = args.workerCount ?? d.workerCount;
    if (!Number.isInteger(workerCount) || workerCount < 0) {
        problems.push(
            new SwarmArgumentError(
                "workerCount",
                args.workerCount,
                "must be a whole number, 0 or more (with 0, services run on the managers)",
            ),
        );
    }

    const maxUnavailableWorkers = args.maxUnavailableWorkers ?? d.maxUnavailableWorkers;
    if (!Number.isInteger(maxUnavailableWorkers) || maxUnavailableWorkers < 1) {
        problems.push(
            new SwarmArgumentError(
                "maxUnavailableWorkers",
                args.maxUnavailableWorkers,
                "must be a whole number, 1 or more: how many workers a rolling change (an instance-type change) restarts at once",
            ),
        );
    }

    const cidrs = args.adminCidrBlocks;
    const adminCidrBlocks: string[] = [];
    if (!Array.isArray(cidrs) || cidrs.length === 0) {
        problems.push(
            new SwarmArgumentError(
                "adminCidrBlocks",
                cidrs,
                'is required and must list the networks allowed to reach SSH (22/tcp) on the nodes, e.g. ["203.0.113.7/32"] ' +
                    "for your own address; there is no open default",
            ),
        );
    } else {
        cidrs.forEach((c, i) => {
            const field = `adminCidrBlocks[${i}]`;
            const parsed = typeof c === "string" ? parseCidr(c) : undefined;
            if (!parsed) {
                const hint =
                    typeof c === "string" && isBareAddress(c)
                        ? `; for that one address write "${c}/${c.includes(":") ? 128 : 32}"`
                        : "";
                problems.push(
                    new SwarmArgumentError(field, c, `must be a CIDR block such as "203.0.113.0/24" or "2001:db8::/32"${hint}`),
                );
            } else if (parsed.canonical !== c) {
                problems.push(
                    new SwarmArgumentError(field, c, `has host bits set; write the network, "${parsed.canonical}"`),
                );
            } else if (parsed.prefix === 0 && !args.allowSshFromAnywhere) {
                problems.push(
                    new SwarmArgumentError(
                        field,
                        c,
                        "would open SSH to the whole internet; list your own networks instead, or set " +
                            "allowSshFromAnywhere: true if that is really meant",
                    ),
                );
            } else if (adminCidrBlocks.includes(c)) {
                problems.push(new SwarmArgumentError(field, c, "is listed twice; list each network once"));
            } else {
                adminCidrBlocks.push(c);
            }
        });
    }

    const zoneCount = args.availabilityZoneCount ?? (args.subnetIds ? Math.min(args.subnetIds.length, MAX_ZONES) : d.availabilityZoneCount);
    if (!Number.isInteger(zoneCount) || zoneCount < 1 || zoneCount > MAX_ZONES) {
        problems.push(
            new SwarmArgumentError(
                "availabilityZoneCount",
                args.availabilityZoneCount,
                `must be a whole number from 1 to ${MAX_ZONES}; 3 spreads managers so that one lost zone keeps quorum`,
            ),
        );
    }

    const hasVpc = args.vpcId !== undefined;
    const hasSubnets = args.subnetIds !== undefined;
    if (hasVpc && !hasSubnets) {
        problems.push(
            new SwarmArgumentError(
                "subnetIds",
                undefined,
                "must be given with vpcId: list that VPC's subnets for the nodes, one per availability zone " +
                    "(or give neither, and a VPC is created)",
            ),
        );
    }
    if (hasSubnets && !hasVpc) {
        problems.push(
            new SwarmArgumentError(
                "vpcId",
                undefined,
                "must be given with subnetIds: the VPC those subnets belong to (or give neither, and a VPC is created)",
            ),
        );
    }
    if (hasSubnets) {
        const subnets = args.subnetIds!;
        if (!Array.isArray(subnets) || subnets.length < zoneCount) {
            problems.push(
                new SwarmArgumentError(
                    "subnetIds",
                    subnets,
                    `must list at least availabilityZoneCount (${zoneCount}) subnets, one in each zone; add subnets ` +
                        "or lower availabilityZoneCount",
                ),
            );
        }
        subnets.forEach((s, i) => {
            if (isKnown(s) && !/^subnet-[0-9a-f]{8,17}$/.test(s)) {
                problems.push(new SwarmArgumentError(`subnetIds[${i}]`, s, 'must be a subnet ID such as "subnet-0123456789abcdef0"'));
            }
        });
    }
    if (isKnown(args.vpcId) && !/^vpc-[0-9a-f]{8,17}$/.test(args.vpcId)) {
        problems.push(new SwarmArgumentError("vpcId", args.vpcId, 'must be a VPC ID such as "vpc-0123456789abcdef0"'));
    }

    let newNetwork: ValidatedClusterSettings["newNetwork"];
    if (!hasVpc && !hasSubnets) {
        const vpcCidrBlock = args.vpcCidrBlock ?? d.vpcCidrBlock;
        const parsed = parseCidr(vpcCidrBlock);
        if (!parsed || parsed.family !== 4 || parsed.prefix < 16 || parsed.prefix > 24 || parsed.canonical !== vpcCidrBlock) {
            problems.push(
                new SwarmArgumentError(
                    "vpcCidrBlock",
                    args.vpcCidrBlock,
                    'must be an IPv4 network from /16 to /24 written with its host bits clear, such as "10.0.0.0/16"',
                ),
            );
        } else if (Number.isInteger(zoneCount) && zoneCount >= 1 && zoneCount <= MAX_ZONES) {
            newNetwork = { vpcCidrBlock, subnetCidrs: splitIpv4Cidr(vpcCidrBlock, zoneCount, 3) };
        }
    } else if (args.vpcCidrBlock !== undefined) {
        problems.push(
            new SwarmArgumentError("vpcCidrBlock", args.vpcCidrBlock, "applies only to a VPC the component creates; drop it when vpcId is given"),
        );
    }

    const os = (args.os ?? d.os) as NodeOs;
    if (!SUPPORTED_OS.includes(os)) {
        problems.push(
            new SwarmArgumentError("os", args.os, `must be one of: ${SUPPORTED_OS.map((o) => JSON.stringify(o)).join(", ")}`),
        );
    }
    if (isKnown(args.amiId) && !/^ami-[0-9a-f]{8,17}$/.test(args.amiId)) {
        problems.push(new SwarmArgumentError("amiId", args.amiId, 'must be an AMI ID such as "ami-0123456789abcdef0"'));
    }
    for (const field of ["managerInstanceType", "workerInstanceType"] as const) {
        const v = args[field];
        if (isKnown(v) && !/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(v)) {
            problems.push(new SwarmArgumentError(field, v, 'must be an EC2 instance type such as "t3.medium"'));
        }
    }
    if (isKnown(args.rootVolumeSizeGiB)) {
        const v = args.rootVolumeSizeGiB;
        if (!Number.isInteger(v) || v < 8 || v > 16384) {
            problems.push(
                new SwarmArgumentError("rootVolumeSizeGiB", v, "must be a whole number of GiB from 8 to 16384 (images and logs live there; 30 is the default)"),
            );
        }
    }
    if (isKnown(args.dockerVersion) && !/^[0-9]+\.[0-9]+\.[0-9]+$/.test(args.dockerVersion)) {
        problems.push(
            new SwarmArgumentError("dockerVersion", args.dockerVersion, 'must be a Docker Engine release such as "28.5.2"'),
        );
    }
    if (isKnown(args.sshUser) && !/^[a-z_][a-z0-9_-]*$/.test(args.sshUser)) {
        problems.push(new SwarmArgumentError("sshUser", args.sshUser, 'must be a Linux user name such as "ubuntu"'));
    }
    if ((args.sshPublicKey === undefined) !== (args.sshPrivateKey === undefined)) {
        const missing = args.sshPublicKey === undefined ? "sshPublicKey" : "sshPrivateKey";
        problems.push(
            new SwarmArgumentError(
                missing,
                undefined,
                "must be given together with its pair (sshPublicKey with sshPrivateKey), or neither, and a key is generated",
            ),
        );
    }

    const loadBalancer = args.loadBalancer?.enabled ?? d.loadBalancerEnabled;
    if (args.loadBalancer !== undefined && (typeof args.loadBalancer !== "object" || args.loadBalancer === null)) {
        problems.push(new SwarmArgumentError("loadBalancer", args.loadBalancer, "must be an object such as { certificateArn: \"arn:aws:acm:...\" } (or left out)"));
    } else if (loadBalancer) {
        if (zoneCount === 1) {
            const fromSubnets = args.availabilityZoneCount === undefined && Array.isArray(args.subnetIds);
            problems.push(
                new SwarmArgumentError(
                    fromSubnets ? "subnetIds" : "availabilityZoneCount",
                    fromSubnets ? args.subnetIds : zoneCount,
                    (fromSubnets ? "must list subnets in at least 2 zones" : "must be at least 2") +
                        " while the load balancer is enabled (an Application Load Balancer needs subnets in two zones); " +
                        `${fromSubnets ? "add a subnet" : "raise it"}, or set loadBalancer.enabled to false`,
                ),
            );
        }
        problems.push(...loadBalancerProblems(args.loadBalancer ?? {}, "loadBalancer."));
    } else {
        for (const field of ["certificateArn", "sslPolicy", "ingressCidrBlocks", "idleTimeoutSeconds", "deletionProtection"] as const) {
            if (args.loadBalancer?.[field] !== undefined) {
                problems.push(
                    new SwarmArgumentError(`loadBalancer.${field}`, "(set)", "applies only to an enabled load balancer; drop it, or set loadBalancer.enabled to true"),
                );
            }
        }
    }

    const registry = registryProblems(args.registry, problems);

    throwIfAny(problems);
    return { managerCount, workerCount, maxUnavailableWorkers, zoneCount, adminCidrBlocks, os, newNetwork, loadBalancer, registry };
}

/** The registry kind, after checking the registry args; problems go to `problems`. */
function registryProblems(reg: ClusterRegistryArgsToValidate | undefined, problems: SwarmArgumentError[]): "ecr" | "external" {
    if (reg === undefined) {
        return CLUSTER_DEFAULTS.registryKind;
    }
    if (typeof reg !== "object" || reg === null || (reg.kind !== "ecr" && reg.kind !== "external")) {
        problems.push(
            new SwarmArgumentError(
                "registry.kind",
                typeof reg === "object" && reg !== null ? reg.kind : reg,
                'must be "ecr" (a repository per built image in this account, pulled with the instance role) or "external" (an existing registry by address)',
            ),
        );
        return CLUSTER_DEFAULTS.registryKind;
    }
    const misplaced = (fields: readonly (keyof ClusterRegistryArgsToValidate)[], other: string) => {
        for (const f of fields) {
            if (reg[f] !== undefined) {
                problems.push(new SwarmArgumentError(`registry.${f}`, "(set)", `applies only to kind "${other}"; drop it`));
            }
        }
    };
    if (reg.kind === "ecr") {
        const keep = reg.keepImages;
        if (keep !== undefined && !(Number.isInteger(keep) && keep >= KEEP_IMAGES_RANGE.min && keep <= KEEP_IMAGES_RANGE.max)) {
            problems.push(
                new SwarmArgumentError(
                    "registry.keepImages",
                    keep,
                    `must be a whole number from ${KEEP_IMAGES_RANGE.min} to ${KEEP_IMAGES_RANGE.max} (how many images each repository keeps; older ones expire)`,
                ),
            );
        }
        misplaced(["address", "username", "password"], "external");
    } else {
        if (typeof reg.address !== "string" || !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$/.test(reg.address)) {
            problems.push(
                new SwarmArgumentError("registry.address", reg.address, 'must be the registry\'s host[:port], such as "registry.example.com" or "10.0.0.5:5000"'),
            );
        }
        if (reg.password !== undefined && reg.username === undefined) {
            problems.push(new SwarmArgumentError("registry.username", undefined, "must be given with registry.password (or give neither, to pull anonymously)"));
        }
        misplaced(["keepImages"], "ecr");
    }
    return reg.kind;
}

/**
 * Checks SwarmLoadBalancerArgs known now and throws every problem at once.
 */
export function validateLoadBalancerArgs(args: LoadBalancerArgsToValidate): void {
    const problems = loadBalancerProblems(args, "");
    if (!Array.isArray(args.subnetIds)) {
        problems.push(new SwarmArgumentError("subnetIds", args.subnetIds, "is required and must be a list"));
    }
    const ids = args.instanceIds;
    if (ids === null || typeof ids !== "object") {
        problems.push(new SwarmArgumentError("instanceIds", ids, "is required: every node's instance ID, by node key (or a list)"));
    }
    const subnets = args.subnetIds;
    if (Array.isArray(subnets)) {
        if (subnets.length < 2) {
            problems.push(
                new SwarmArgumentError("subnetIds", subnets, "must list public subnets in at least 2 availability zones (an Application Load Balancer needs two)"),
            );
        }
        subnets.forEach((s, i) => {
            if (isKnown(s) && !/^subnet-[0-9a-f]{8,17}$/.test(s)) {
                problems.push(new SwarmArgumentError(`subnetIds[${i}]`, s, 'must be a subnet ID such as "subnet-0123456789abcdef0"'));
            }
        });
    }
    if (ids !== null && typeof ids === "object") {
        const entries: [string, pulumi.Input<string>][] = Array.isArray(ids) ? ids.map((s, i) => [`[${i}]`, s]) : Object.entries(ids).map(([k, s]) => [`.${k}`, s]);
        if (entries.length === 0) {
            problems.push(new SwarmArgumentError("instanceIds", ids, "must hold every node's instance ID (each route sends traffic to all of them)"));
        }
        for (const [at, s] of entries) {
            if (!Array.isArray(ids) && !/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/.test(at.slice(1))) {
                problems.push(new SwarmArgumentError(`instanceIds${at}`, s, 'must be keyed by a node key: 1-40 lower-case letters, digits or "-", such as "worker-0"'));
            }
            if (isKnown(s) && !/^i-[0-9a-f]{8,17}$/.test(s)) {
                problems.push(new SwarmArgumentError(`instanceIds${at}`, s, 'must be an instance ID such as "i-0123456789abcdef0"'));
            }
        }
    }
    if (args.vpcId === undefined) {
        problems.push(new SwarmArgumentError("vpcId", undefined, "is required: the VPC of the subnets and the nodes"));
    } else if (isKnown(args.vpcId) && !/^vpc-[0-9a-f]{8,17}$/.test(args.vpcId)) {
        problems.push(new SwarmArgumentError("vpcId", args.vpcId, 'must be a VPC ID such as "vpc-0123456789abcdef0"'));
    }
    if (args.nodeSecurityGroupId === undefined) {
        problems.push(new SwarmArgumentError("nodeSecurityGroupId", undefined, "is required: the nodes' security group, which admits the load balancer on routed ports"));
    } else if (isKnown(args.nodeSecurityGroupId) && !/^sg-[0-9a-f]{8,17}$/.test(args.nodeSecurityGroupId)) {
        problems.push(new SwarmArgumentError("nodeSecurityGroupId", args.nodeSecurityGroupId, 'must be a security group ID such as "sg-0123456789abcdef0"'));
    }
    throwIfAny(problems);
}

/** The checks shared by the cluster's `loadBalancer` and SwarmLoadBalancerArgs; `prefix` names the fields. */
function loadBalancerProblems(args: ClusterLoadBalancerArgsToValidate, prefix: string): SwarmArgumentError[] {
    const problems: SwarmArgumentError[] = [];
    const cidrs = args.ingressCidrBlocks;
    if (cidrs !== undefined) {
        if (!Array.isArray(cidrs) || cidrs.length === 0) {
            problems.push(
                new SwarmArgumentError(
                    `${prefix}ingressCidrBlocks`,
                    cidrs,
                    'must list at least one network allowed to reach the load balancer, such as ["0.0.0.0/0"] (the default) or ["203.0.113.0/24"]',
                ),
            );
        } else {
            const seen: string[] = [];
            cidrs.forEach((c, i) => {
                const field = `${prefix}ingressCidrBlocks[${i}]`;
                const parsed = typeof c === "string" ? parseCidr(c) : undefined;
                if (!parsed) {
                    problems.push(new SwarmArgumentError(field, c, 'must be a CIDR block such as "0.0.0.0/0", "203.0.113.0/24" or "2001:db8::/32"'));
                } else if (parsed.canonical !== c) {
                    problems.push(new SwarmArgumentError(field, c, `has host bits set; write the network, "${parsed.canonical}"`));
                } else if (seen.includes(c)) {
                    problems.push(new SwarmArgumentError(field, c, "is listed twice; list each network once"));
                } else {
                    seen.push(c);
                }
            });
        }
    }
    if (
        isKnown(args.certificateArn) &&
        !/^arn:aws[a-z-]*:(acm:[a-z0-9-]+:[0-9]{12}:certificate\/[A-Za-z0-9-]+|iam::[0-9]{12}:server-certificate\/\S+)$/.test(args.certificateArn)
    ) {
        problems.push(
            new SwarmArgumentError(
                `${prefix}certificateArn`,
                args.certificateArn,
                'must be the ARN of an ACM certificate in the load balancer\'s region, such as "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-..."',
            ),
        );
    }
    if (args.sslPolicy !== undefined && args.certificateArn === undefined) {
        problems.push(new SwarmArgumentError(`${prefix}sslPolicy`, args.sslPolicy, "applies only to the HTTPS listener; give certificateArn too, or drop it"));
    } else if (isKnown(args.sslPolicy) && !/^ELBSecurityPolicy-[A-Za-z0-9-]+$/.test(args.sslPolicy)) {
        problems.push(
            new SwarmArgumentError(`${prefix}sslPolicy`, args.sslPolicy, `must be an ELB security policy name such as "${LOAD_BALANCER_DEFAULTS.sslPolicy}"`),
        );
    }
    if (isKnown(args.idleTimeoutSeconds)) {
        const v = args.idleTimeoutSeconds;
        if (!Number.isInteger(v) || v < 1 || v > 4000) {
            problems.push(new SwarmArgumentError(`${prefix}idleTimeoutSeconds`, v, "must be a whole number of seconds from 1 to 4000 (60 is the default)"));
        }
    }
    return problems;
}
