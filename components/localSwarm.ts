import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { SwarmArgumentError, throwIfAny } from "./errors";
import { SwarmBootstrap, SwarmHost } from "./swarmBootstrap";
import { ManagerConnection, StackTarget } from "./target";
import { VALID_MANAGER_COUNTS } from "./validation";

/**
 * A whole swarm on one machine's Docker engine (the local environment): no cloud account.
 * Every node is a privileged container of the node image (local/node/Dockerfile: Docker Engine
 * and sshd); the swarm is formed over SSH by the same `SwarmBootstrap` as on AWS.
 */
export interface LocalSwarmArgs {
    /** The folder holding the node image's Dockerfile and scripts (the repo's `local/node`). */
    readonly nodeImageContext: string;
    /** Managers: 1, 3, 5 or 7. @default 1 */
    readonly managerCount?: number;
    /** Workers: 0 to 20. @default 2 */
    readonly workerCount?: number;
    /**
     * The node image's `BASE_IMAGE`: a Debian-like image; what it lacks of docker.io,
     * containerd, runc, iptables, openssh-server, tini and socat is installed at build time.
     * @default "debian:bookworm-slim" (pulled from Docker Hub by the build)
     */
    readonly baseImage?: pulumi.Input<string>;
    /** The registry's image. @default "registry:2" (pulled from Docker Hub) */
    readonly registryImage?: pulumi.Input<string>;
    /**
     * The nodes' Docker network: an IPv4 CIDR, prefix /16 to /28. The registry gets its
     * second address, node i the eleventh plus i (managers first).
     * @default "10.213.0.0/24"
     */
    readonly subnet?: string;
    /**
     * Node i's SSH is published on 127.0.0.1:(sshPortBase + i), managers first. Only 127.0.0.1:
     * nothing is reachable from other machines. @default 2221
     */
    readonly sshPortBase?: number;
    /**
     * The registry is published on 127.0.0.1:registryPort, where builds on this machine push;
     * each node forwards its own 127.0.0.1:registryPort to the registry, so that the same image
     * reference (`127.0.0.1:<port>/<stack>/<service>@sha256:...`) pulls on every node. @default 5000
     */
    readonly registryPort?: number;
    /**
     * Ports of stack services published from the first manager on 127.0.0.1 (same number on
     * both sides): the routing mesh answers there for every service in ingress mode.
     * @default []
     */
    readonly publishedPorts?: number[];
    /**
     * The nodes' Docker storage driver. Left out, the engine chooses (overlay2 on the image's
     * /var/lib/docker volume, as the lab shows); "vfs" works everywhere, slowly. @default the engine's choice
     */
    readonly storageDriver?: string;
    /** How long each bootstrap command waits for a node's Docker engine. @default 120 */
    readonly dockerReadyTimeoutSeconds?: number;
}

export const LOCAL_SWARM_DEFAULTS = {
    managerCount: 1,
    workerCount: 2,
    maxWorkers: 20,
    baseImage: "debian:bookworm-slim",
    registryImage: "registry:2",
    subnet: "10.213.0.0/24",
    sshPortBase: 2221,
    registryPort: 5000,
    dockerReadyTimeoutSeconds: 120,
} as const;

/** One node container as planned. */
export interface LocalNodePlan {
    /** "manager-0", "worker-1": the host key, and (after the component's name) the container's name and hostname. */
    readonly key: string;
    readonly role: "manager" | "worker";
    /** Its fixed address on the network: what it advertises to the swarm. */
    readonly address: string;
    /** Published on 127.0.0.1. */
    readonly sshPort: number;
}

export interface LocalSwarmPlan {
    readonly nodes: LocalNodePlan[];
    readonly subnet: string;
    readonly gateway: string;
    readonly registryAddress: string;
    readonly registryPort: number;
    readonly publishedPorts: number[];
}

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const isPort = (v: unknown): v is number => isInt(v) && v >= 1 && v <= 65535;

function parseCidr(cidr: string): { base: number; prefix: number } | undefined {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    if (!m) return undefined;
    const octets = m.slice(1, 5).map(Number);
    const prefix = Number(m[5]);
    if (octets.some((o) => o > 255) || prefix > 32) return undefined;
    const base = octets.reduce((a, o) => a * 256 + o, 0);
    return { base, prefix };
}

const ipOf = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");

/**
 * Checks the arguments and plans the nodes, their addresses and ports: a pure function. Every
 * problem is reported at once, naming the field, the value and the fix.
 */
export function planLocalSwarm(args: LocalSwarmArgs): LocalSwarmPlan {
    const d = LOCAL_SWARM_DEFAULTS;
    const problems: SwarmArgumentError[] = [];
    const managers = args.managerCount ?? d.managerCount;
    const workers = args.workerCount ?? d.workerCount;
    const sshBase = args.sshPortBase ?? d.sshPortBase;
    const registryPort = args.registryPort ?? d.registryPort;
    const published = args.publishedPorts ?? [];
    const subnet = args.subnet ?? d.subnet;

    if (typeof args.nodeImageContext !== "string" || args.nodeImageContext === "") {
        problems.push(new SwarmArgumentError("nodeImageContext", args.nodeImageContext, "must be the folder of the node image's Dockerfile (the repo's local/node)"));
    }
    if (!(VALID_MANAGER_COUNTS as readonly number[]).includes(managers)) {
        problems.push(
            new SwarmArgumentError("managerCount", managers, "must be 1, 3, 5 or 7: Raft needs a majority of managers, so an even count tolerates no more lost managers than one fewer"),
        );
    }
    if (!isInt(workers) || workers < 0 || workers > d.maxWorkers) {
        problems.push(new SwarmArgumentError("workerCount", workers, `must be a whole number from 0 to ${d.maxWorkers}: every node is a container with its own Docker engine on this machine`));
    }
    const nodeCount = (isInt(managers) ? managers : 0) + (isInt(workers) && workers >= 0 ? workers : 0);
    if (!isPort(sshBase)) {
        problems.push(new SwarmArgumentError("sshPortBase", sshBase, "must be a port from 1 to 65535: node i's SSH is published on 127.0.0.1:(sshPortBase + i)"));
    } else if (sshBase + nodeCount - 1 > 65535) {
        problems.push(new SwarmArgumentError("sshPortBase", sshBase, `must leave room for ${nodeCount} nodes below 65536; use ${65536 - nodeCount} or less`));
    }
    const sshPorts = isPort(sshBase) ? Array.from({ length: nodeCount }, (_, i) => sshBase + i) : [];
    if (!isPort(registryPort)) {
        problems.push(new SwarmArgumentError("registryPort", registryPort, "must be a port from 1 to 65535"));
    } else if (sshPorts.includes(registryPort)) {
        problems.push(new SwarmArgumentError("registryPort", registryPort, `must not be one of the nodes' SSH ports (${sshPorts[0]}-${sshPorts[sshPorts.length - 1]}); choose another port or sshPortBase`));
    }
    if (!Array.isArray(published)) {
        problems.push(new SwarmArgumentError("publishedPorts", published, "must be a list of ports, such as [8080]"));
    } else {
        const seen = new Set<number>();
        published.forEach((p, i) => {
            if (!isPort(p)) {
                problems.push(new SwarmArgumentError(`publishedPorts[${i}]`, p, "must be a port from 1 to 65535"));
            } else if (seen.has(p)) {
                problems.push(new SwarmArgumentError(`publishedPorts[${i}]`, p, "must be unique; it is listed twice"));
            } else if (sshPorts.includes(p) || p === registryPort) {
                problems.push(new SwarmArgumentError(`publishedPorts[${i}]`, p, "must not be a node's SSH port or the registry's port; change one of them"));
            } else if (p === 22) {
                problems.push(new SwarmArgumentError(`publishedPorts[${i}]`, p, "must not be 22: that is each node's sshd"));
            }
            seen.add(p);
        });
    }
    const cidr = typeof subnet === "string" ? parseCidr(subnet) : undefined;
    let base = 0;
    if (!cidr) {
        problems.push(new SwarmArgumentError("subnet", subnet, 'must be an IPv4 CIDR block such as "10.213.0.0/24"'));
    } else if (cidr.prefix < 16 || cidr.prefix > 28) {
        problems.push(new SwarmArgumentError("subnet", subnet, "must have a prefix from /16 to /28"));
    } else if (cidr.base % 2 ** (32 - cidr.prefix) !== 0) {
        const size = 2 ** (32 - cidr.prefix);
        problems.push(new SwarmArgumentError("subnet", subnet, `must start on its block boundary; use "${ipOf(cidr.base - (cidr.base % size))}/${cidr.prefix}"`));
    } else if (11 + nodeCount > 2 ** (32 - cidr.prefix) - 2) {
        problems.push(new SwarmArgumentError("subnet", subnet, `is too small for ${nodeCount} nodes (they start at its eleventh address); use a shorter prefix`));
    } else {
        base = cidr.base;
    }
    if (args.storageDriver !== undefined && !/^[a-z0-9-]+$/.test(args.storageDriver)) {
        problems.push(new SwarmArgumentError("storageDriver", args.storageDriver, 'must be a Docker storage driver name such as "overlay2" or "vfs"'));
    }
    const ready = args.dockerReadyTimeoutSeconds ?? d.dockerReadyTimeoutSeconds;
    if (!isInt(ready) || ready < 1) {
        problems.push(new SwarmArgumentError("dockerReadyTimeoutSeconds", ready, "must be a whole number of seconds, 1 or more"));
    }
    throwIfAny(problems);

    const nodes: LocalNodePlan[] = [];
    for (let i = 0; i < managers + workers; i++) {
        const role = i < managers ? "manager" : "worker";
        nodes.push({ key: `${role}-${role === "manager" ? i : i - managers}`, role, address: ipOf(base + 11 + i), sshPort: sshBase + i });
    }
    return {
        nodes,
        subnet: subnet,
        gateway: ipOf(base + 1),
        registryAddress: ipOf(base + 2),
        registryPort,
        publishedPorts: [...published],
    };
}

/**
 * The local environment: on the Docker engine Pulumi's docker provider talks to (this
 * machine's, or DOCKER_HOST), it creates
 *
 * - `<name>-network`: a bridge network on `subnet`;
 * - `<name>-node-image`: the node image, built from `nodeImageContext` with `BASE_IMAGE`, kept
 *   local (never pushed);
 * - `<name>-registry-image` and `<name>-registry`: a registry container on the network,
 *   published on 127.0.0.1:registryPort;
 * - `<name>-ssh`: an ed25519 key (the private key a secret);
 * - `<name>-manager-<i>`, `<name>-worker-<i>`: privileged node containers on the network at
 *   fixed addresses, hostname = container name, SSH published on 127.0.0.1 only;
 * - `<name>-swarm`: the `SwarmBootstrap` over 127.0.0.1 and each node's published SSH port.
 *
 * `stackTarget` deploys stacks through the first manager, with the registry as an external
 * registry and routes ignored (no load balancer: published ports are opened directly).
 * Everything depends on what it runs on, so `pulumi destroy` removes stacks, then the swarm's
 * commands, then the containers, the network and the images.
 */
export class LocalSwarm extends pulumi.ComponentResource {
    /** The planned nodes (addresses and SSH ports). */
    public readonly plan: LocalSwarmPlan;
    public readonly bootstrap: SwarmBootstrap;
    public readonly stackTarget: StackTarget;
    public readonly network: docker.Network;
    public readonly nodeImage: docker.Image;
    public readonly registry: docker.Container;
    public readonly nodes: docker.Container[];
    /** The SSH private key every node accepts for root (secret). */
    public readonly privateKey: pulumi.Output<string>;
    /** "127.0.0.1:5000": where this machine pushes and every node pulls. */
    public readonly registryAddress: pulumi.Output<string>;
    /** `ssh://root@127.0.0.1:<port>` of the first manager, for DOCKER_HOST. */
    public readonly dockerHost: pulumi.Output<string>;
    /** Node key to its SSH port on 127.0.0.1. */
    public readonly sshPorts: pulumi.Output<Record<string, number>>;
    /** One URL per published port: `http://127.0.0.1:<port>`. */
    public readonly urls: pulumi.Output<string[]>;

    constructor(name: string, args: LocalSwarmArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate first: bad input registers nothing, not even this component.
        const plan = planLocalSwarm(args);
        super("swarm:index:LocalSwarm", name, {}, opts);
        this.plan = plan;
        const d = LOCAL_SWARM_DEFAULTS;

        this.network = new docker.Network(
            `${name}-network`,
            {
                name: `${name}-network`,
                driver: "bridge",
                ipamConfigs: [{ subnet: plan.subnet, gateway: plan.gateway }],
            },
            { parent: this },
        );
        this.nodeImage = new docker.Image(
            `${name}-node-image`,
            {
                imageName: `pulumi-swarm-node:${name}`,
                build: {
                    context: args.nodeImageContext,
                    dockerfile: `${args.nodeImageContext}/Dockerfile`,
                    args: { BASE_IMAGE: args.baseImage ?? d.baseImage },
                },
                skipPush: true,
            },
            { parent: this },
        );
        const registryImage = new docker.RemoteImage(
            `${name}-registry-image`,
            { name: args.registryImage ?? d.registryImage, keepLocally: true },
            { parent: this },
        );
        this.registry = new docker.Container(
            `${name}-registry`,
            {
                name: `${name}-registry`,
                hostname: `${name}-registry`,
                image: registryImage.imageId,
                networksAdvanced: [{ name: this.network.name, ipv4Address: plan.registryAddress, aliases: [`${name}-registry`] }],
                ports: [{ internal: 5000, external: plan.registryPort, ip: "127.0.0.1" }],
                restart: "unless-stopped",
                removeVolumes: true,
            },
            { parent: this },
        );

        const key = new tls.PrivateKey(`${name}-ssh`, { algorithm: "ED25519" }, { parent: this, additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem"] });
        this.privateKey = pulumi.secret(key.privateKeyOpenssh);

        const registryInside = `${plan.registryAddress}:5000`;
        const envs = [
            pulumi.interpolate`SSH_AUTHORIZED_KEYS=${key.publicKeyOpenssh}`,
            // The registry by its network address and name, and the forwarded loopback address.
            `DOCKERD_INSECURE_REGISTRIES=${registryInside},${name}-registry:5000,127.0.0.1:${plan.registryPort}`,
            `REGISTRY_FORWARD=${plan.registryPort}=${registryInside}`,
            ...(args.storageDriver ? [`DOCKERD_STORAGE_DRIVER=${args.storageDriver}`] : []),
        ];
        this.nodes = plan.nodes.map(
            (n, i) =>
                new docker.Container(
                    `${name}-${n.key}`,
                    {
                        name: `${name}-${n.key}`,
                        hostname: `${name}-${n.key}`,
                        image: this.nodeImage.repoDigest,
                        privileged: true,
                        networksAdvanced: [{ name: this.network.name, ipv4Address: n.address, aliases: [`${name}-${n.key}`] }],
                        ports: [
                            { internal: 22, external: n.sshPort, ip: "127.0.0.1" },
                            ...(i === 0 ? plan.publishedPorts.map((p) => ({ internal: p, external: p, ip: "127.0.0.1" })) : []),
                        ],
                        envs,
                        restart: "unless-stopped",
                        // The node's /var/lib/docker volume goes with it.
                        removeVolumes: true,
                        labels: [
                            { label: "pulumi-swarm.local", value: name },
                            { label: "pulumi-swarm.role", value: n.role },
                        ],
                    },
                    // The registry first: a node's forwarder and engine point at it.
                    { parent: this, dependsOn: [this.registry] },
                ),
        );

        // Each host's SSH port is read from its container: a command connects only once its
        // container exists, and is deleted before it.
        const sshPortOf = (c: docker.Container, planned: number): pulumi.Output<number> =>
            c.ports.apply((ports) => ports?.find((p) => p.internal === 22)?.external ?? planned);
        const hosts: SwarmHost[] = plan.nodes.map((n, i) => ({
            key: n.key,
            role: n.role,
            sshHost: "127.0.0.1",
            sshPort: sshPortOf(this.nodes[i], n.sshPort),
            sshUser: "root",
            privateAddress: n.address,
        }));
        this.bootstrap = new SwarmBootstrap(
            `${name}-swarm`,
            {
                hosts,
                privateKey: this.privateKey,
                clusterName: name,
                dockerReadyTimeoutSeconds: args.dockerReadyTimeoutSeconds ?? d.dockerReadyTimeoutSeconds,
                connectAfter: this.nodes,
            },
            { parent: this },
        );

        const managerPort = hosts[0].sshPort as pulumi.Output<number>;
        const manager: pulumi.Output<ManagerConnection> = pulumi
            .all([managerPort, this.privateKey])
            .apply(([port, privateKey]) => ({ host: "127.0.0.1", port, user: "root", privateKey }));
        this.registryAddress = pulumi.output(`127.0.0.1:${plan.registryPort}`);
        this.stackTarget = {
            clusterName: name,
            manager: pulumi.secret(manager),
            ready: [this.bootstrap, this.registry],
            registry: { kind: "external", address: `127.0.0.1:${plan.registryPort}` },
            ignoreRoutes: true,
            registryReady: [this.registry],
        };
        this.dockerHost = pulumi.interpolate`ssh://root@127.0.0.1:${managerPort}`;
        this.sshPorts = pulumi.all(Object.fromEntries(hosts.map((h) => [h.key, h.sshPort as pulumi.Output<number>])));
        this.urls = pulumi.output(plan.publishedPorts.map((p) => `http://127.0.0.1:${p}`));

        this.registerOutputs({
            privateKey: this.privateKey,
            registryAddress: this.registryAddress,
            dockerHost: this.dockerHost,
            sshPorts: this.sshPorts,
            urls: this.urls,
        });
    }
}
