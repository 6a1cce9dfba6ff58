// Mock layer: the real HostSwarm over hosts given by address builds its resource graph against a
// recording monitor: exactly the bootstrap's commands, each wired to its host's SSH address and
// port with the private key as a secret; no AWS resource; nothing at all on bad input.
import * as assert from "assert";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import type { HostSwarm as HostSwarmType, HostSwarmArgs } from "../../components/hostSwarm";
import type { ManagerConnection } from "../../components/target";
import { goldenDir } from "../golden";
import { repoRoot } from "../paths";
import { RecordingMonitor, awsCalls, awsOutputs, installMocks, isSecretValue, plain, unwrap } from "../mocks";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nSHAREDKEY\n-----END OPENSSH PRIVATE KEY-----\n";
const OWN = "-----BEGIN OPENSSH PRIVATE KEY-----\nOWNKEY\n-----END OPENSSH PRIVATE KEY-----\n";
const N = "edge";
const REMOTE = "command:remote:Command";

const args = (): HostSwarmArgs => ({
    hosts: [
        { key: "manager-0", role: "manager", sshHost: "203.0.113.10", sshUser: "admin", privateAddress: "192.168.1.10" },
        { key: "worker-0", role: "worker", sshHost: "203.0.113.10", sshPort: 2222, sshUser: "root", privateAddress: "192.168.1.11" },
        { key: "worker-1", role: "worker", sshHost: "node-2.example.com", sshPort: 22, sshUser: "ops", privateAddress: "192.168.1.12", privateKey: OWN },
    ],
    privateKey: KEY,
    registry: { kind: "external", address: "registry.example.com:5000", username: "ci", password: "regpass-123" },
});

async function build(a: HostSwarmArgs) {
    const monitor = installMocks(awsOutputs, awsCalls);
    const { HostSwarm } = await import("../../components/hostSwarm");
    const swarm = new HostSwarm(N, a);
    await monitor.settled();
    return { monitor, swarm };
}

describe("mock: HostSwarm on hosts you already have (1 manager, 2 workers)", function () {
    this.timeout(60000);
    let m: RecordingMonitor;
    let swarm: HostSwarmType;
    const cmd = (n: string) => m.named(`${N}-swarm-${n}`, REMOTE);
    const conn = (n: string) => plain<Record<string, unknown>>(cmd(n).inputs.connection);

    before(async () => {
        ({ monitor: m, swarm } = await build(args()));
    });

    it("registers exactly the component, its bootstrap and the bootstrap's 8 commands, and no cloud resource", () => {
        assert.deepStrictEqual(
            m.records.map((r) => `${r.type} ${r.name}`).sort(),
            [
                `${REMOTE} ${N}-swarm-init`,
                `${REMOTE} ${N}-swarm-join-manager-0`,
                `${REMOTE} ${N}-swarm-join-worker-0`,
                `${REMOTE} ${N}-swarm-join-worker-1`,
                `${REMOTE} ${N}-swarm-member-worker-0`,
                `${REMOTE} ${N}-swarm-member-worker-1`,
                `${REMOTE} ${N}-swarm-remove-worker-0`,
                `${REMOTE} ${N}-swarm-remove-worker-1`,
                `swarm:index:HostSwarm ${N}`,
                `swarm:index:SwarmBootstrap ${N}-swarm`,
            ],
        );
        assert.ok(m.named(`${N}-swarm`).parentUrn.endsWith(`swarm:index:HostSwarm::${N}`));
    });

    it("runs the exact bootstrap scripts: init on the manager, joins on each worker advertising its private address", () => {
        // Every script of the graph, byte for byte, against test/golden/host-swarm-edge.txt
        // (rewritten only with UPDATE_GOLDEN=1; read it as a review: the pure layer's golden
        // scripts with HostSwarm's hosts, addresses and default time-outs in them).
        const scripts = m
            .ofType(REMOTE)
            .sort((a, b) => a.name.localeCompare(b.name))
            .flatMap((r) => (["create", "update", "delete"] as const).filter((k) => r.inputs[k] !== undefined).map((k) => `### ${r.name} ${k}\n${plain<string>(r.inputs[k])}`))
            .join("");
        const golden = path.join(goldenDir, "host-swarm-edge.txt");
        if (process.env.UPDATE_GOLDEN === "1") {
            fs.writeFileSync(golden, scripts);
        }
        assert.strictEqual(scripts, fs.readFileSync(golden, "utf8"));
        // What HostSwarm gives the renderers, as it shows in the scripts: the manager's private
        // address, each worker's, the leader's node ID, the default time-outs (Docker ready 60 s,
        // leave 120 s, drain 300 s).
        const create = (n: string) => plain<string>(cmd(n).inputs.create);
        assert.ok(create("init").includes("dkr swarm init --advertise-addr 192.168.1.10 --listen-addr 192.168.1.10:2377"), create("init"));
        assert.ok(create("init").includes("within 60 s"));
        for (const [key, addr] of [
            ["worker-0", "192.168.1.11"],
            ["worker-1", "192.168.1.12"],
        ]) {
            assert.ok(create(`join-${key}`).includes(`for manager in 192.168.1.10; do\n        if ! answers "$manager"; then\n          echo "pulumi-swarm: $manager:2377 does not answer; trying the next manager" >&2\n          continue\n        fi\n        if dkr swarm join --token "$token" --advertise-addr ${addr} "$manager:2377"`), key);
            assert.ok(create(`join-${key}`).includes(`case " $info " in *" 192.168.1.10:2377 "*) return 0 ;; esac`), key);
            assert.ok(plain<string>(cmd(`join-${key}`).inputs.delete).startsWith(`# pulumi-swarm: ${key} leaves the swarm\n`), key);
            assert.strictEqual(plain(cmd(`join-${key}`).inputs.stdin), "SWMTKN-1-fakeworker\n");
            assert.ok(isSecretValue(cmd(`join-${key}`).inputs.stdin));
            assert.deepStrictEqual(cmd(`join-${key}`).dependencies.sort(), [`${N}-swarm-init`, `${N}-swarm-join-manager-0`, `${N}-swarm-remove-${key}`]);
            assert.deepStrictEqual(cmd(`member-${key}`).dependencies.sort(), [`${N}-swarm-join-manager-0`, `${N}-swarm-join-${key}`]);
        }
    });

    it("wires each command to its host's address, port and user, with the private key (shared or the host's own) as a secret", () => {
        const manager = { host: "203.0.113.10", port: 22, user: "admin", privateKey: KEY, dialErrorLimit: 30, perDialTimeout: 15 };
        for (const n of ["init", "join-manager-0", "remove-worker-0", "remove-worker-1", "member-worker-0", "member-worker-1"]) {
            assert.deepStrictEqual(conn(n), manager, n);
        }
        assert.deepStrictEqual(conn("join-worker-0"), { ...manager, port: 2222, user: "root" });
        assert.deepStrictEqual(conn("join-worker-1"), { ...manager, host: "node-2.example.com", user: "ops", privateKey: OWN });
        for (const r of m.ofType(REMOTE)) {
            const c = r.inputs.connection as Record<string, unknown>;
            assert.ok(isSecretValue(c) || isSecretValue(c.privateKey), `${r.name}: the key is not a secret`);
            const visible = JSON.stringify(r.inputs, (_k, v) => (isSecretValue(v) ? "[secret]" : v));
            for (const s of ["SHAREDKEY", "OWNKEY", "regpass-123", "SWMTKN"]) {
                assert.ok(!visible.includes(s), `${r.name} shows ${s}`);
            }
        }
    });

    it("exposes a stack target without a load balancer that ignores routes, the tokens as secrets, and the docker CLI's address", async () => {
        const t = swarm.stackTarget;
        assert.strictEqual(t.clusterName, N);
        assert.strictEqual(t.ignoreRoutes, true);
        assert.strictEqual(t.loadBalancer, undefined);
        assert.deepStrictEqual(t.ready, [swarm.bootstrap]);
        const manager = t.manager as pulumi.Output<unknown>;
        assert.strictEqual(await pulumi.isSecret(manager), true);
        assert.deepStrictEqual(await unwrap(manager), { host: "203.0.113.10", port: 22, user: "admin", privateKey: KEY });
        assert.ok(t.registry && t.registry.kind === "external");
        assert.strictEqual(t.registry.address, "registry.example.com:5000");
        assert.strictEqual(t.registry.username, "ci");
        assert.strictEqual(await pulumi.isSecret(t.registry.password as pulumi.Output<string>), true);
        assert.strictEqual(await unwrap(t.registry.password as pulumi.Output<string>), "regpass-123");
        assert.strictEqual(await pulumi.isSecret(swarm.workerJoinToken), true);
        assert.strictEqual(await pulumi.isSecret(swarm.managerJoinToken), true);
        assert.strictEqual(await unwrap(swarm.workerJoinToken), "SWMTKN-1-fakeworker");
        assert.strictEqual(await unwrap(swarm.managerJoinToken), "SWMTKN-1-fakemanager");
        assert.deepStrictEqual(await unwrap(swarm.nodeIds), { "manager-0": "manager0node", "worker-0": "worker0node", "worker-1": "worker1node" });
        assert.strictEqual(await unwrap(swarm.dockerHost), "ssh://admin@203.0.113.10");
        assert.strictEqual(await unwrap(swarm.dockerContextCommand), `docker context create ${N} --docker host=ssh://admin@203.0.113.10 && docker context use ${N}`);
    });

    it("a manager on another SSH port puts the port in dockerHost and the stack target", async () => {
        const a = args();
        const { swarm: s } = await build({ ...a, hosts: [{ ...a.hosts[0], sshPort: 2201 }, ...a.hosts.slice(1)] });
        assert.strictEqual(await unwrap(s.dockerHost), "ssh://admin@203.0.113.10:2201");
        assert.strictEqual((await unwrap(s.stackTarget.manager as pulumi.Output<ManagerConnection>)).port, 2201);
    });

    it("a SwarmStack on its target deploys stacks/web on the manager after the bootstrap, with no route resource", async () => {
        const monitor = installMocks(awsOutputs, awsCalls);
        const { HostSwarm } = await import("../../components/hostSwarm");
        const { SwarmStack } = await import("../../components/swarmStack");
        const s = new HostSwarm(N, args());
        new SwarmStack("web", { target: s.stackTarget, composeFile: path.join(repoRoot, "stacks", "web", "compose.yaml") });
        await monitor.settled();
        assert.deepStrictEqual(monitor.records.filter((r) => r.type.startsWith("aws:")), []);
        const deploy = monitor.named("web-deploy", REMOTE);
        // dependsOn the bootstrap component: the engine waits for every one of its commands.
        const bootstrapCommands = monitor.ofType(REMOTE).filter((r) => r.name.startsWith(`${N}-swarm-`)).map((r) => r.name);
        assert.strictEqual(bootstrapCommands.length, 8);
        for (const c of bootstrapCommands) {
            assert.ok(deploy.dependencies.includes(c), `web-deploy does not wait for ${c}: ${deploy.dependencies.join(", ")}`);
        }
        assert.strictEqual(plain<Record<string, unknown>>(deploy.inputs.connection).host, "203.0.113.10");
        assert.ok(isSecretValue(deploy.inputs.connection));
    });

    it("bad input throws before anything is registered, not even the component", async () => {
        const monitor = installMocks(awsOutputs, awsCalls);
        const { HostSwarm } = await import("../../components/hostSwarm");
        const a = args();
        assert.throws(() => new HostSwarm("bad", { ...a, hosts: [a.hosts[0], { ...a.hosts[1], sshHost: "203.0.113.10", sshPort: 22 }, a.hosts[2]] }), {
            message:
                'hosts[1].sshHost and sshPort must be unique: host "manager-0" is reached at the same address and port, so both entries would be one machine; give each host its own address or port; got "203.0.113.10:22"',
        });
        const keyless = (i: number) =>
            `- hosts[${i}].privateKey must be given, since privateKey (the key for every host) is not: the bootstrap connects to this host over SSH with it; got nothing (the field is missing)`;
        assert.throws(() => new HostSwarm("bad", { ...a, privateKey: undefined }), { message: [keyless(0), keyless(1)].join("\n") });
        await monitor.settled();
        assert.deepStrictEqual(monitor.records, []);
    });
});
