// The local environment (components/localSwarm.ts): the plan as a pure function, and the real
// LocalSwarm's resource graph against the recording monitor with @pulumi/docker's resource
// types: exact containers, network, registry and image; privileged nodes with SSH bound to
// 127.0.0.1; each bootstrap command wired to its container's published SSH port; the key secret;
// stacks deployed through it with their images pushed to its registry; nothing on bad input.
import * as assert from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { LocalSwarm as LocalSwarmType, LocalSwarmArgs } from "../../components/localSwarm";
import { planLocalSwarm } from "../../components/localSwarm";
import { Recorded, RecordingMonitor, awsCalls, awsOutputs, installMocks, isSecretValue, plain, unwrap } from "../mocks";
import { repoRoot } from "../paths";

const CONTEXT = path.join(repoRoot, "local", "node");
const WEB = path.join(repoRoot, "stacks", "web", "compose.yaml");
const NODE_DIGEST = "sha256:" + "ab".repeat(32);
const REGISTRY_IMAGE_ID = "sha256:" + "cd".repeat(32);

/** awsOutputs plus what the docker provider reports for the local graph. */
function localOutputs(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "docker:index/image:Image":
            return { repoDigest: NODE_DIGEST, imageName: inputs.imageName };
        case "docker:index/remoteImage:RemoteImage":
            return { imageId: REGISTRY_IMAGE_ID, repoDigest: `${String(inputs.name)}@sha256:${"ef".repeat(32)}` };
        case "docker:index/network:Network":
            return { name: inputs.name };
        case "docker:index/container:Container":
            // The engine reports each published port; here 10000 above the one asked for, so
            // that a test can tell a port read from the container from a planned one.
            return { ports: (inputs.ports as { external: number }[]).map((p) => ({ ...p, external: p.external + 10000 })) };
        default:
            return awsOutputs(type, name, inputs);
    }
}

async function build(args: Partial<LocalSwarmArgs> = {}, withStack = false) {
    const monitor = installMocks(localOutputs, awsCalls, { stack: "local" });
    const { LocalSwarm } = await import("../../components/localSwarm");
    const { SwarmStack } = await import("../../components/swarmStack");
    const swarm: LocalSwarmType = new LocalSwarm("local", { nodeImageContext: CONTEXT, ...args });
    if (withStack) {
        new SwarmStack("stack-web", { target: swarm.stackTarget, stackName: "web", composeFile: WEB });
    }
    await monitor.settled();
    return { monitor, swarm };
}

const typed = (m: RecordingMonitor) => m.records.map((r) => `${r.type} ${r.name}`).sort();
const byType = (m: RecordingMonitor, type: string) => m.ofType(type).map((r) => r.name).sort();

describe("pure: planLocalSwarm (the local environment's nodes, addresses and ports)", () => {
    it("defaults: 1 manager and 2 workers at .11-.13 of 10.213.0.0/24, SSH on 2221-2223, the registry at .2 on 5000", () => {
        assert.deepStrictEqual(planLocalSwarm({ nodeImageContext: CONTEXT }), {
            nodes: [
                { key: "manager-0", role: "manager", address: "10.213.0.11", sshPort: 2221 },
                { key: "worker-0", role: "worker", address: "10.213.0.12", sshPort: 2222 },
                { key: "worker-1", role: "worker", address: "10.213.0.13", sshPort: 2223 },
            ],
            subnet: "10.213.0.0/24",
            gateway: "10.213.0.1",
            registryAddress: "10.213.0.2",
            registryPort: 5000,
            publishedPorts: [],
        });
    });

    it("3 managers first, then workers, on another subnet and port base", () => {
        const plan = planLocalSwarm({ nodeImageContext: CONTEXT, managerCount: 3, workerCount: 1, subnet: "172.31.8.0/26", sshPortBase: 3000, publishedPorts: [8080] });
        assert.deepStrictEqual(
            plan.nodes.map((n) => `${n.key} ${n.role} ${n.address} ${n.sshPort}`),
            ["manager-0 manager 172.31.8.11 3000", "manager-1 manager 172.31.8.12 3001", "manager-2 manager 172.31.8.13 3002", "worker-0 worker 172.31.8.14 3003"],
        );
        assert.strictEqual(plan.registryAddress, "172.31.8.2");
        assert.deepStrictEqual(plan.publishedPorts, [8080]);
    });

    it("names each bad field, its value and the fix, all at once", () => {
        assert.throws(
            () =>
                planLocalSwarm({
                    nodeImageContext: CONTEXT,
                    managerCount: 2,
                    workerCount: 21,
                    sshPortBase: 0,
                    registryPort: 70000,
                    publishedPorts: [8080, 8080, 22],
                    subnet: "10.213.0.5/24",
                }),
            (e: Error) => {
                assert.strictEqual(
                    e.message,
                    [
                        "- managerCount must be 1, 3, 5 or 7: Raft needs a majority of managers, so an even count tolerates no more lost managers than one fewer; got 2",
                        "- workerCount must be a whole number from 0 to 20: every node is a container with its own Docker engine on this machine; got 21",
                        "- sshPortBase must be a port from 1 to 65535: node i's SSH is published on 127.0.0.1:(sshPortBase + i); got 0",
                        "- registryPort must be a port from 1 to 65535; got 70000",
                        "- publishedPorts[1] must be unique; it is listed twice; got 8080",
                        "- publishedPorts[2] must not be 22: that is each node's sshd; got 22",
                        '- subnet must start on its block boundary; use "10.213.0.0/24"; got "10.213.0.5/24"',
                    ].join("\n"),
                );
                return true;
            },
        );
    });

    it("refuses ports that collide and a subnet too small for the nodes", () => {
        assert.throws(
            () => planLocalSwarm({ nodeImageContext: CONTEXT, registryPort: 2222 }),
            { message: "registryPort must not be one of the nodes' SSH ports (2221-2223); choose another port or sshPortBase; got 2222" },
        );
        assert.throws(
            () => planLocalSwarm({ nodeImageContext: CONTEXT, publishedPorts: [5000] }),
            { message: "publishedPorts[0] must not be a node's SSH port or the registry's port; change one of them; got 5000" },
        );
        assert.throws(
            () => planLocalSwarm({ nodeImageContext: CONTEXT, workerCount: 3, subnet: "10.9.0.0/28" }),
            { message: "subnet is too small for 4 nodes (they start at its eleventh address); use a shorter prefix; got \"10.9.0.0/28\"" },
        );
        assert.throws(() => planLocalSwarm({ nodeImageContext: CONTEXT, sshPortBase: 65535 }), {
            message: "sshPortBase must leave room for 3 nodes below 65536; use 65533 or less; got 65535",
        });
        assert.throws(() => planLocalSwarm({ nodeImageContext: "" }), {
            message: "nodeImageContext must be the folder of the node image's Dockerfile (the repo's local/node); got \"\"",
        });
    });
});

describe("mock: LocalSwarm (1 manager, 2 workers, ports 8080 and 8081)", function () {
    this.timeout(60000);
    let monitor: RecordingMonitor;
    let swarm: LocalSwarmType;
    const containers = () => byType(monitor, "docker:index/container:Container");
    const node = (key: string): Recorded => monitor.named(`local-${key}`, "docker:index/container:Container");

    before(async () => {
        ({ monitor, swarm } = await build({ publishedPorts: [8080, 8081] }));
    });

    it("creates exactly the network, the node image, the registry, three node containers, the key and the bootstrap", () => {
        assert.deepStrictEqual(typed(monitor), [
            "command:remote:Command local-swarm-init",
            "command:remote:Command local-swarm-join-manager-0",
            "command:remote:Command local-swarm-join-worker-0",
            "command:remote:Command local-swarm-join-worker-1",
            "command:remote:Command local-swarm-member-worker-0",
            "command:remote:Command local-swarm-member-worker-1",
            "command:remote:Command local-swarm-remove-worker-0",
            "command:remote:Command local-swarm-remove-worker-1",
            "docker:index/container:Container local-manager-0",
            "docker:index/container:Container local-registry",
            "docker:index/container:Container local-worker-0",
            "docker:index/container:Container local-worker-1",
            "docker:index/image:Image local-node-image",
            "docker:index/network:Network local-network",
            "docker:index/remoteImage:RemoteImage local-registry-image",
            "swarm:index:LocalSwarm local",
            "swarm:index:SwarmBootstrap local-swarm",
            "tls:index/privateKey:PrivateKey local-ssh",
        ]);
        const parent = monitor.named("local", "swarm:index:LocalSwarm").urn;
        for (const r of monitor.records.filter((x) => x.type.startsWith("docker:") || x.type.startsWith("tls:") || x.type === "swarm:index:SwarmBootstrap")) {
            assert.strictEqual(r.parentUrn, parent, r.name);
        }
    });

    it("a bridge network on the planned subnet; the node image built from local/node with BASE_IMAGE, never pushed", () => {
        const net = monitor.named("local-network", "docker:index/network:Network");
        assert.deepStrictEqual(plain(net.inputs), {
            name: "local-network",
            driver: "bridge",
            ipamConfigs: [{ subnet: "10.213.0.0/24", gateway: "10.213.0.1" }],
        });
        const image = monitor.named("local-node-image", "docker:index/image:Image");
        assert.deepStrictEqual(plain(image.inputs), {
            imageName: "pulumi-swarm-node:local",
            build: { context: CONTEXT, dockerfile: `${CONTEXT}/Dockerfile`, args: { BASE_IMAGE: "debian:bookworm-slim" } },
            skipPush: true,
            buildOnPreview: false,
        });
    });

    it("the registry: registry:2 on the network at .2, published on 127.0.0.1:5000 only", () => {
        assert.deepStrictEqual(plain(monitor.named("local-registry-image").inputs), { name: "registry:2", keepLocally: true });
        const reg = monitor.named("local-registry", "docker:index/container:Container");
        const i = plain<Record<string, unknown>>(reg.inputs);
        assert.strictEqual(i.image, REGISTRY_IMAGE_ID);
        assert.deepStrictEqual(i.ports, [{ internal: 5000, external: 5000, ip: "127.0.0.1" }]);
        assert.deepStrictEqual(i.networksAdvanced, [{ name: "local-network", ipv4Address: "10.213.0.2", aliases: ["local-registry"] }]);
        assert.strictEqual(i.privileged, undefined);
        assert.deepStrictEqual(reg.dependencies.sort(), ["local-network", "local-registry-image"]);
    });

    it("node containers: privileged, of the built image, on the network at fixed addresses, hostname = name, SSH on 127.0.0.1 only", () => {
        assert.deepStrictEqual(containers(), ["local-manager-0", "local-registry", "local-worker-0", "local-worker-1"]);
        const expected: [string, string, number][] = [
            ["manager-0", "10.213.0.11", 2221],
            ["worker-0", "10.213.0.12", 2222],
            ["worker-1", "10.213.0.13", 2223],
        ];
        for (const [key, address, port] of expected) {
            const i = plain<Record<string, unknown>>(node(key).inputs);
            assert.strictEqual(i.privileged, true, key);
            assert.strictEqual(i.image, NODE_DIGEST, key);
            assert.strictEqual(i.name, `local-${key}`);
            assert.strictEqual(i.hostname, `local-${key}`);
            assert.strictEqual(i.removeVolumes, true, `${key}: its /var/lib/docker volume goes with it`);
            assert.deepStrictEqual(i.networksAdvanced, [{ name: "local-network", ipv4Address: address, aliases: [`local-${key}`] }]);
            const ports = i.ports as { internal: number; external: number; ip: string }[];
            // Every published port binds 127.0.0.1: nothing is reachable from other machines.
            assert.ok(ports.every((p) => p.ip === "127.0.0.1"), JSON.stringify(ports));
            assert.deepStrictEqual(
                ports,
                key === "manager-0"
                    ? [
                          { internal: 22, external: port, ip: "127.0.0.1" },
                          { internal: 8080, external: 8080, ip: "127.0.0.1" },
                          { internal: 8081, external: 8081, ip: "127.0.0.1" },
                      ]
                    : [{ internal: 22, external: port, ip: "127.0.0.1" }],
            );
            assert.deepStrictEqual(i.envs, [
                "SSH_AUTHORIZED_KEYS=ssh-ed25519 AAAAFAKE",
                "DOCKERD_INSECURE_REGISTRIES=10.213.0.2:5000,local-registry:5000,127.0.0.1:5000",
                "REGISTRY_FORWARD=5000=10.213.0.2:5000",
            ]);
            assert.deepStrictEqual(node(key).dependencies.sort(), ["local-network", "local-node-image", "local-registry", "local-ssh"]);
        }
    });

    it("each bootstrap command connects to 127.0.0.1 at its own container's published SSH port, with the key as a secret", () => {
        const portOf = (key: string) => (plain<{ internal: number; external: number }[]>(node(key).outputs.ports).find((p) => p.internal === 22) ?? { external: 0 }).external;
        const wiring = monitor.ofType("command:remote:Command").map((c) => {
            assert.ok(isSecretValue(c.inputs.connection), `${c.name}: the connection (with the key) is a secret`);
            const conn = plain<{ host: string; port: number; user: string; privateKey: string }>(c.inputs.connection);
            assert.strictEqual(conn.privateKey, "-----BEGIN OPENSSH PRIVATE KEY-----\nFAKE\n-----END OPENSSH PRIVATE KEY-----\n");
            return `${c.name} ${conn.user}@${conn.host}:${conn.port}`;
        });
        assert.deepStrictEqual(wiring.sort(), [
            `local-swarm-init root@127.0.0.1:${portOf("manager-0")}`,
            `local-swarm-join-manager-0 root@127.0.0.1:${portOf("manager-0")}`,
            `local-swarm-join-worker-0 root@127.0.0.1:${portOf("worker-0")}`,
            `local-swarm-join-worker-1 root@127.0.0.1:${portOf("worker-1")}`,
            `local-swarm-member-worker-0 root@127.0.0.1:${portOf("manager-0")}`,
            `local-swarm-member-worker-1 root@127.0.0.1:${portOf("manager-0")}`,
            `local-swarm-remove-worker-0 root@127.0.0.1:${portOf("manager-0")}`,
            `local-swarm-remove-worker-1 root@127.0.0.1:${portOf("manager-0")}`,
        ]);
        assert.deepStrictEqual([portOf("manager-0"), portOf("worker-0"), portOf("worker-1")], [12221, 12222, 12223]);
        // The port comes from the container: each command depends on the container it runs on
        // (so destroy removes the command first), and the init waits for every node.
        assert.deepStrictEqual(monitor.named("local-swarm-init").dependencies.sort(), ["local-manager-0", "local-ssh", "local-worker-0", "local-worker-1"]);
        assert.ok(monitor.named("local-swarm-join-worker-0").dependencies.includes("local-worker-0"));
        assert.ok(monitor.named("local-swarm-join-worker-1").dependencies.includes("local-worker-1"));
        assert.ok(monitor.named("local-swarm-member-worker-1").dependencies.includes("local-swarm-join-worker-1"));
        // The init advertises the manager's fixed address on the network.
        assert.match(plain<string>(monitor.named("local-swarm-init").inputs.create), /--advertise-addr '?10\.213\.0\.11'?/);
    });

    it("keeps the private key secret and tells how to reach the swarm", async () => {
        assert.ok(await pulumi.isSecret(swarm.privateKey));
        // (the ports as the engine reports them: see localOutputs)
        assert.strictEqual(await unwrap(swarm.dockerHost), "ssh://root@127.0.0.1:12221");
        assert.deepStrictEqual(await unwrap(swarm.sshPorts), { "manager-0": 12221, "worker-0": 12222, "worker-1": 12223 });
        assert.strictEqual(await unwrap(swarm.registryAddress), "127.0.0.1:5000");
        assert.deepStrictEqual(await unwrap(swarm.urls), ["http://127.0.0.1:8080", "http://127.0.0.1:8081"]);
        assert.deepStrictEqual(
            { ...swarm.stackTarget, manager: undefined, ready: swarm.stackTarget.ready.length, registryReady: swarm.stackTarget.registryReady?.length },
            { clusterName: "local", manager: undefined, ready: 2, registry: { kind: "external", address: "127.0.0.1:5000" }, ignoreRoutes: true, registryReady: 1 },
        );
        const manager = pulumi.output(swarm.stackTarget.manager);
        assert.ok(await pulumi.isSecret(manager));
        assert.deepStrictEqual({ ...(await unwrap(manager)), privateKey: "(secret)" }, { host: "127.0.0.1", port: 12221, user: "root", privateKey: "(secret)" });
    });
});

describe("mock: LocalSwarm with stacks/web deployed on it", function () {
    this.timeout(60000);

    it("builds the API into the local registry after the registry exists, deploys after the swarm, ignores the route", async () => {
        const { monitor } = await build({}, true);
        const mine = typed(monitor).filter((x) => x.includes("stack-web"));
        assert.deepStrictEqual(mine, ["command:local:Command stack-web-build-api", "command:remote:Command stack-web-deploy", "swarm:index:SwarmStack stack-web"]);
        assert.strictEqual(monitor.records.filter((r) => r.type.startsWith("aws:")).length, 0, "no AWS resource at all");
        const buildCmd = monitor.named("stack-web-build-api", "command:local:Command");
        assert.match(plain<string>(buildCmd.inputs.create), /^# pulumi-swarm: build and push 127\.0\.0\.1:5000\/web\/api:[0-9a-f]{32}\n/);
        assert.deepStrictEqual(buildCmd.dependencies, ["local-registry"]);
        const deploy = monitor.named("stack-web-deploy", "command:remote:Command");
        const conn = plain<{ host: string; port: number; user: string }>(deploy.inputs.connection);
        assert.deepStrictEqual([conn.host, conn.port, conn.user], ["127.0.0.1", 12221, "root"]);
        assert.ok(isSecretValue(deploy.inputs.connection));
        // Stacks go before the swarm and the nodes on destroy: the deploy depends on every
        // bootstrap command (the SwarmBootstrap) and on the registry and the build.
        assert.deepStrictEqual(
            [...new Set(deploy.dependencies)].sort(),
            [
                "local-manager-0", // its published SSH port is the connection's
                "local-registry",
                "local-ssh",
                "local-swarm-init",
                "local-swarm-join-manager-0",
                "local-swarm-join-worker-0",
                "local-swarm-join-worker-1",
                "local-swarm-member-worker-0",
                "local-swarm-member-worker-1",
                "local-swarm-remove-worker-0",
                "local-swarm-remove-worker-1",
                "stack-web-build-api",
            ],
        );
    });
});

describe("mock: LocalSwarm on bad input", function () {
    this.timeout(60000);

    it("registers nothing and names the field", async () => {
        const monitor = installMocks(localOutputs, awsCalls, { stack: "local" });
        const { LocalSwarm } = await import("../../components/localSwarm");
        assert.throws(() => new LocalSwarm("local", { nodeImageContext: CONTEXT, managerCount: 4 }), {
            name: "SwarmArgumentError",
            message: "managerCount must be 1, 3, 5 or 7: Raft needs a majority of managers, so an even count tolerates no more lost managers than one fewer; got 4",
        });
        assert.throws(() => new LocalSwarm("local", { nodeImageContext: CONTEXT, publishedPorts: [0] }), {
            message: "publishedPorts[0] must be a port from 1 to 65535; got 0",
        });
        await monitor.settled();
        assert.deepStrictEqual(monitor.records, []);
    });
});
