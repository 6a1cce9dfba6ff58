import { createHash } from "crypto";
import { SwarmRole } from "./scripts/swarmJoin";

/** The tag on every AWS resource of a cluster; its value is the cluster's identity (clusterIdentity). */
export const CLUSTER_TAG = "pulumi-swarm:cluster";

/** EC2's longest tag value. */
const TAG_VALUE_MAX = 256;
/** ECR's longest repository name. */
const ECR_NAME_MAX = 256;

const hash8 = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 8);

/**
 * A cluster's identity on AWS, `<project>/<stack>/<name>`: the value of its `CLUSTER_TAG`,
 * which the lookup of its running managers and its nodes' load-balancer policy match, and the
 * start of its ECR repositories' names. The component's name alone is not enough: the stacks
 * of one program (an environment each), or two programs, in one account and region may name
 * their clusters alike. Longer than a tag value may be, it ends in a hash of the whole.
 */
export function clusterIdentity(project: string, stack: string, name: string): string {
    const id = `${project}/${stack}/${name}`;
    return id.length <= TAG_VALUE_MAX ? id : `${id.slice(0, TAG_VALUE_MAX - 9)}-${hash8(id)}`;
}

/**
 * The ECR repository of a built image: `<cluster identity>/<stack>/<service>`, each part made
 * what ECR accepts (lowercase letters and digits, single '.', '_' or '-' between them). A
 * name longer than ECR allows keeps the stack and service (a Docker service name is at most 63
 * characters) and puts a hash of the identity first.
 */
export function ecrRepositoryName(identity: string, stackName: string, service: string): string {
    const part = (s: string) =>
        s
            .toLowerCase()
            .replace(/[^a-z0-9._-]+/g, "-")
            .replace(/[._-]{2,}/g, (run) => run[0])
            .replace(/^[._-]+|[._-]+$/g, "") || "x";
    const tail = [stackName, service].map(part).join("/");
    const name = [...identity.split("/").map(part), tail].join("/");
    return name.length <= ECR_NAME_MAX ? name : `${hash8(identity)}/${tail}`;
}

/** Raft quorum facts for a manager count: how many may be lost with the swarm still writable. */
export function toleratedManagerFailures(managerCount: number): number {
    return Math.floor((managerCount - 1) / 2);
}

/** The node's place in the cluster: its host key (child names, node label), role and zone. */
export interface NodePlacement {
    readonly key: string;
    readonly role: SwarmRole;
    readonly index: number;
    /** Index into the cluster's subnets (one per availability zone). */
    readonly zoneIndex: number;
}

/**
 * Managers go round-robin over the zones, so that losing one zone costs as few managers as
 * possible (5 managers over 3 zones: 2-2-1). Workers go round-robin too, by their own index
 * only: a worker's zone (and so its subnet) never depends on the manager count, so scaling
 * managers never replaces a worker.
 */
export function planPlacement(managerCount: number, workerCount: number, zoneCount: number): NodePlacement[] {
    const out: NodePlacement[] = [];
    for (let i = 0; i < managerCount; i++) {
        out.push({ key: `manager-${i}`, role: "manager", index: i, zoneIndex: i % zoneCount });
    }
    for (let i = 0; i < workerCount; i++) {
        out.push({ key: `worker-${i}`, role: "worker", index: i, zoneIndex: i % zoneCount });
    }
    return out;
}

/** A node's turn in a rolling change (an instance-type change restarts every instance of the role). */
export interface RestartTurn {
    readonly key: string;
    readonly role: SwarmRole;
    /** The node whose restart must be over (the swarm whole again) before this one starts; none for the first of the chain. */
    readonly after?: string;
    /**
     * The manager that drains this node before it restarts (and, for a manager, moves the
     * leadership off it): a manager earlier in the chain. None for the first of the chain: every
     * other manager comes after it.
     */
    readonly drainedOn?: string;
    /** For the last manager's turn: the first of the chain, whose leadership it moves away, so the next roll starts on a follower. */
    readonly leadershipOffOf?: string;
}

/**
 * The order of a rolling change. The managers one at a time, the first manager last: its
 * drain (and leadership handover) runs on the first of the chain, manager-1, so the manager
 * that restarts without one is a follower, and the last manager's ready moves the leadership
 * off manager-1 again for the next roll. Then the workers in batches of
 * `maxUnavailableWorkers`, drained on the first manager: the first batch after it, each
 * worker after the one a batch before it. One chain for the whole cluster, so a worker never
 * restarts while a manager does (the workers' commands run on the first manager).
 */
export function planRestartOrder(placement: readonly NodePlacement[], maxUnavailableWorkers: number): RestartTurn[] {
    const all = placement.filter((p) => p.role === "manager");
    const managers = [...all.slice(1), all[0]];
    const workers = placement.filter((p) => p.role === "worker");
    const chainFirst = managers[0].key;
    const firstManager = all[0].key;
    return [
        ...managers.map((p, i) => ({
            key: p.key,
            role: p.role,
            ...(i === 0 ? {} : { after: managers[i - 1].key, drainedOn: chainFirst }),
            ...(i === managers.length - 1 && i > 0 ? { leadershipOffOf: chainFirst } : {}),
        })),
        ...workers.map((p, j) => ({
            key: p.key,
            role: p.role,
            after: j < maxUnavailableWorkers ? firstManager : workers[j - maxUnavailableWorkers].key,
            drainedOn: firstManager,
        })),
    ];
}

/** One security-group rule of the node group, as data. */
export interface SecurityRule {
    /** Stable key: part of the rule resource's name. */
    readonly key: string;
    readonly direction: "ingress" | "egress";
    readonly description: string;
    /** "tcp", "udp", "50" (ESP) or "-1" (all). */
    readonly protocol: string;
    readonly fromPort?: number;
    readonly toPort?: number;
    /** "self": the node security group itself; otherwise a CIDR block. */
    readonly source: "self" | { readonly cidr: string };
}

/** The swarm's own ports: open between the nodes, and never to any CIDR. */
export const SWARM_PORTS: ReadonlyArray<{ key: string; protocol: "tcp" | "udp"; port: number; description: string }> = [
    { key: "swarm-2377-tcp", protocol: "tcp", port: 2377, description: "Swarm cluster management (to managers), between nodes only" },
    { key: "swarm-7946-tcp", protocol: "tcp", port: 7946, description: "Swarm node discovery (gossip), between nodes only" },
    { key: "swarm-7946-udp", protocol: "udp", port: 7946, description: "Swarm node discovery (gossip), between nodes only" },
    { key: "swarm-4789-udp", protocol: "udp", port: 4789, description: "Overlay network traffic (VXLAN, unauthenticated), between nodes only" },
];

/** A rule key for a CIDR: "203.0.113.0/24" -> "203-0-113-0-24". */
export function cidrKey(cidr: string): string {
    return cidr.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/**
 * The node security group's rules: the swarm ports from the group itself (plus IP protocol
 * 50 when overlay networks are encrypted), SSH from each admin CIDR, all egress.
 */
export function planNodeSecurityRules(adminCidrBlocks: readonly string[], encryptedOverlay: boolean): SecurityRule[] {
    const rules: SecurityRule[] = SWARM_PORTS.map((p) => ({
        key: p.key,
        direction: "ingress" as const,
        description: p.description,
        protocol: p.protocol,
        fromPort: p.port,
        toPort: p.port,
        source: "self" as const,
    }));
    if (encryptedOverlay) {
        rules.push({
            key: "swarm-esp",
            direction: "ingress",
            description: "Encrypted overlay networks (IPsec ESP, IP protocol 50), between nodes only",
            protocol: "50",
            source: "self",
        });
    }
    for (const cidr of adminCidrBlocks) {
        rules.push({
            key: `ssh-${cidrKey(cidr)}`,
            direction: "ingress",
            description: `SSH from admin network ${cidr}`,
            protocol: "tcp",
            fromPort: 22,
            toPort: 22,
            source: { cidr },
        });
    }
    rules.push({ key: "egress-all-ipv4", direction: "egress", description: "All outbound traffic", protocol: "-1", source: { cidr: "0.0.0.0/0" } });
    return rules;
}
