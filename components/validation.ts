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
}

/** Defaults of SwarmClusterArgs, in one place so the docs, the code and the tests agree. */
export const CLUSTER_DEFAULTS = {
    managerCount: 3,
    workerCount: 2,
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
} as const;

/** The most availability zones a cluster spreads over (the most any AWS region has). */
export const MAX_ZONES = 6;

export const VALID_MANAGER_COUNTS = [1, 3, 5, 7] as const;

/** What validation settles: plain values the component plans and declares from. */
export interface ValidatedClusterSettings {
    readonly managerCount: number;
    readonly workerCount: number;
    readonly zoneCount: number;
    readonly adminCidrBlocks: readonly string[];
    readonly os: NodeOs;
    /** When the component creates the VPC: its CIDR and one public subnet CIDR per zone. */
    readonly newNetwork?: { readonly vpcCidrBlock: string; readonly subnetCidrs: readonly string[] };
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

    throwIfAny(problems);
    return { managerCount, workerCount, zoneCount, adminCidrBlocks, os, newNetwork };
}
