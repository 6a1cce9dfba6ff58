import { SwarmRole } from "./scripts/swarmJoin";

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
