// Lab layer: the real SwarmCluster, its bootstrap commands executed for real over SSH on
// lab hosts (see engine.ts), and the swarm it makes checked with docker node ls.
// Services here publish nothing: the routing mesh does not work in the lab (no IPVS).
import * as assert from "assert";
import type { SwarmCluster as SwarmClusterType, SwarmClusterArgs } from "../../components";
import { unwrap } from "../mocks";
import { Deployment, LabEngine, UpResult, placeByRole } from "./engine";
import { Lab, labOrSkip, startLab } from "./lab";
import { formatProbe, formatProbeEvents, startProbe } from "./probe";
import { until } from "./until";
import { labClusterArgs, swarmNodes as nodes, swarmState } from "./swarmChecks";

describe("lab: SwarmCluster bootstrap for real over SSH", function () {
    this.timeout(180000);
    let lab: Lab;
    let engine: LabEngine;
    let cluster: SwarmClusterType | undefined;
    const timings: string[] = [];

    before(async function () {
        labOrSkip(this);
        lab = await startLab({ hosts: 5, name: "cluster" });
        // managers on hosts 0-2 (lab-1..3), workers on hosts 3-4 (lab-4, lab-5), whatever the counts.
        engine = new LabEngine(lab, placeByRole(3));
    });

    after(async () => {
        if (lab) {
            await lab.teardown();
            console.log(`    lab: ${timings.join("; ")}`);
        }
    });

    beforeEach(async () => {
        await Promise.all(lab.hosts.map((_, i) => lab.resetDocker(i)));
    });

    const program = (args: Partial<SwarmClusterArgs>) => async () => {
        const { SwarmCluster } = await import("../../components");
        cluster = new SwarmCluster("lab", { ...labClusterArgs(lab), ...args });
    };

    async function up(args: Partial<SwarmClusterArgs>, previous?: Deployment, what = "", replace: string[] = []): Promise<UpResult> {
        const r = await engine.up(program(args), previous, replace);
        if (what) {
            timings.push(`${what} ${r.ms} ms`);
        }
        return r;
    }

    function ok(r: UpResult): Deployment {
        assert.deepStrictEqual(r.failures, []);
        return r.deployment;
    }

    it("3 managers + 2 workers: 5 Ready nodes, a Leader and 2 Reachable managers, each advertising its private address", async () => {
        ok(await up({}, undefined, "bootstrap 3+2"));
        const rows = await nodes(lab);
        assert.deepStrictEqual(
            rows.map((r) => `${r.hostname} ${r.status} ${r.availability} ${r.manager} ${r.addr}`),
            [
                "lab-1 ready active leader 10.77.0.11",
                "lab-2 ready active reachable 10.77.0.12",
                "lab-3 ready active reachable 10.77.0.13",
                "lab-4 ready active worker 10.77.0.14",
                "lab-5 ready active worker 10.77.0.15",
            ],
        );
        // The component's outputs come from the real swarm.
        const ids = await unwrap(cluster!.bootstrap.nodeIds);
        assert.deepStrictEqual(
            Object.values(ids).sort(),
            rows.map((r) => r.id).sort(),
        );
        assert.strictEqual((await lab.exec(0, "docker node inspect self --format '{{index .Spec.Labels \"pulumi-swarm.host\"}}'")).stdout.trim(), "manager-0");
    });

    it("a newer AMI published: the next run replaces no node and runs no command; nodeAmis and newNodeAmis show the drift", async () => {
        const published = engine.amis;
        try {
            engine.amis = { "*": "ami-0000000000000old1" };
            const first = ok(await up({}));
            engine.amis = { "*": "ami-0000000000000new2" };
            const again = await up({}, first, "newer AMI published");
            ok(again);
            assert.deepStrictEqual(again.steps, []);
            assert.deepStrictEqual(await unwrap(cluster!.nodeAmis), {
                "manager-0": "ami-0000000000000old1",
                "manager-1": "ami-0000000000000old1",
                "manager-2": "ami-0000000000000old1",
                "worker-0": "ami-0000000000000old1",
                "worker-1": "ami-0000000000000old1",
            });
            assert.deepStrictEqual(await unwrap(cluster!.newNodeAmis), { manager: "ami-0000000000000new2", worker: "ami-0000000000000new2" });
        } finally {
            engine.amis = published;
        }
    });

    it("a second run changes nothing: with state it runs nothing; re-running every create script keeps node IDs and leader", async () => {
        const first = ok(await up({}));
        const before = await nodes(lab);
        const again = await up({}, first, "second run with state");
        ok(again);
        assert.deepStrictEqual(again.steps, []);
        const fresh = await up({}, undefined, "second run, every script again");
        ok(fresh);
        // 5 instances (the same lab hosts again); init, 5 joins, 5 members (removers have only a
        // delete script).
        const created = (type: string) => fresh.steps.filter((s) => s.op === "create" && s.type === type).length;
        assert.strictEqual(created("aws:ec2/instance:Instance"), 5);
        assert.strictEqual(created("command:remote:Command"), 11);
        assert.deepStrictEqual(await nodes(lab), before);
    });

    it("scale in workers 2 -> 1: the worker is drained and removed from the swarm, then its instance is terminated (the real engine deletes it too; the machine never has to answer); its tasks move; no Down node", async () => {
        const first = ok(await up({}));
        const svc = await lab.exec(
            0,
            "docker service create -d --name spread --replicas 4 --constraint node.role==worker --no-resolve-image " +
                "--stop-grace-period 1s lab/busybox:latest sleep 100000",
        );
        assert.strictEqual(svc.code, 0, svc.stderr);
        const onHost = async (name: string) =>
            (await lab.exec(0, "docker service ps spread --filter desired-state=running --format '{{.Node}} {{.CurrentState}}'")).stdout
                .split("\n")
                .filter((l) => l.startsWith(`${name} Running`)).length;
        await until("tasks running on both workers", 60, async () => (await onHost("lab-4")) > 0 && (await onHost("lab-5")) > 0);

        const r = await up({ workerCount: 1 }, first, "scale in 2->1 workers");
        ok(r);
        // The join has no delete: the machine goes with its node, which the managers remove.
        assert.deepStrictEqual(r.steps.map((s) => `${s.op} ${s.name}`), ["delete lab-swarm-member-worker-1", "delete lab-swarm-remove-worker-1", "delete lab-worker-1"]);
        const rows = await nodes(lab);
        assert.deepStrictEqual(rows.map((x) => `${x.hostname} ${x.status}`), ["lab-1 ready", "lab-2 ready", "lab-3 ready", "lab-4 ready"]);
        // The terminated host's engine is stopped.
        assert.strictEqual((await lab.exec(4, "docker info")).code, 1);
        await until("all 4 tasks running on the remaining worker", 60, async () => (await onHost("lab-4")) === 4);
    });

    it("scale in managers 3 -> 1: drained and demoted one at a time (the membership lock), removed, then their instances terminated (the real engine deletes them too); their tasks move; no Down node", async () => {
        const first = ok(await up({ workerCount: 1 }));
        const svc = await lab.exec(
            0,
            "docker service create -d --name on-managers --replicas 3 --constraint node.role==manager --no-resolve-image " +
                "--stop-grace-period 1s lab/busybox:latest sleep 100000",
        );
        assert.strictEqual(svc.code, 0, svc.stderr);
        const running = async () =>
            (await lab.exec(0, "docker service ps on-managers --filter desired-state=running --format '{{.Node}} {{.CurrentState}}'")).stdout
                .split("\n")
                .filter((l) => / Running/.test(l))
                .map((l) => l.split(" ")[0])
                .sort();
        await until("tasks running on all 3 managers", 60, async () => (await running()).join(" ") === "lab-1 lab-2 lab-3");
        const r = await up({ managerCount: 1, workerCount: 1 }, first, "scale in 3->1 managers");
        ok(r);
        const at = (name: string) => r.steps.findIndex((x) => x.op === "delete" && x.name === name);
        // With one manager left, manager-0 has no member or remover any more (they ran on
        // manager-1): their deletes run too, and demote nothing (manager-0 stays the leader,
        // below). The joins left run nothing: their scripts' list of managers changed, a change
        // a join ignores (it runs only when its node joins).
        assert.deepStrictEqual(
            r.steps.filter((x) => x.op === "delete").map((x) => x.name).sort(),
            [
                "lab-manager-1",
                "lab-manager-1-ip",
                "lab-manager-2",
                "lab-manager-2-ip",
                "lab-swarm-member-manager-0",
                "lab-swarm-member-manager-1",
                "lab-swarm-member-manager-2",
                "lab-swarm-remove-manager-0",
                "lab-swarm-remove-manager-1",
                "lab-swarm-remove-manager-2",
            ],
        );
        assert.deepStrictEqual(r.steps.filter((x) => x.op !== "delete").map((x) => `${x.op} ${x.name}`).sort(), [
            // Now the only manager, manager-0 gets its guard, which records what would replace it.
            "create lab-manager-0-guard",
            // manager-0's ready has no manager-1 left to move the leadership off of: its script
            // changes, and its update waits for a whole swarm and finds manager-0 active.
            "update lab-manager-0-ready",
        ]);
        // manager-0's member goes after the other managers' (they depend on it).
        assert.ok(at("lab-swarm-member-manager-0") > at("lab-swarm-member-manager-1"));
        assert.ok(at("lab-swarm-member-manager-0") > at("lab-swarm-member-manager-2"));
        for (const k of [1, 2]) {
            // Each node: drained and demoted (and recorded as a worker), then removed, then its
            // instance goes; the machine itself runs nothing.
            assert.ok(at(`lab-swarm-member-manager-${k}`) < at(`lab-swarm-remove-manager-${k}`));
            assert.ok(at(`lab-swarm-remove-manager-${k}`) < at(`lab-manager-${k}`));
        }
        const rows = await nodes(lab);
        assert.deepStrictEqual(rows.map((x) => `${x.hostname} ${x.status} ${x.manager}`), ["lab-1 ready leader", "lab-4 ready worker"]);
        for (const h of [1, 2]) assert.strictEqual((await lab.exec(h, "docker info")).code, 1, `lab-${h + 1}'s engine still runs`);
        // The tasks that ran on the removed managers run on the remaining one.
        await until("all 3 tasks running on lab-1", 60, async () => (await running()).join(" ") === "lab-1 lab-1 lab-1");
    });

    it("one manager: a run that would replace it (a new amiId) fails at its guard before anything changes, with the message; the swarm and its node are the same", async () => {
        const A = "ami-0aaaaaaaaaaaaaaaa";
        const B = "ami-0bbbbbbbbbbbbbbbb";
        const first = ok(await up({ managerCount: 1, workerCount: 1, amiId: A }));
        const before = await nodes(lab);
        const clusterId = (await lab.exec(0, "docker info --format '{{.Swarm.Cluster.ID}}'")).stdout.trim();
        const r = await up({ managerCount: 1, workerCount: 1, amiId: B }, first, "one manager, amiId change refused");
        assert.deepStrictEqual(r.failures.map((f) => f.name), ["lab-manager-0-guard"]);
        const message = r.failures[0].message.trim().split("\n").pop();
        assert.strictEqual(
            message,
            `pulumi-swarm: this run would replace manager-0, the swarm's only manager (from ami=${A} to ami=${B}). ` +
                "A swarm whose only manager is replaced is lost: the new manager starts a new, empty swarm, without the services, secrets, configs and networks of the old one. " +
                "Nothing was changed. To keep the swarm, undo the change, raise managerCount to 3 and run pulumi up (the new managers join), then make the change. " +
                "To accept the loss, set allowSingleManagerReplacement to true and run pulumi up again.",
        );
        // Nothing but the guard ran: no instance launched or replaced, no command on a host.
        assert.deepStrictEqual(r.steps.filter((s) => s.name !== "lab-manager-0-guard").map((s) => `${s.op} ${s.name}`), []);
        assert.deepStrictEqual(await nodes(lab), before);
        assert.strictEqual((await lab.exec(0, "docker info --format '{{.Swarm.Cluster.ID}}'")).stdout.trim(), clusterId);
        // Undone, the next run changes nothing.
        const undone = await up({ managerCount: 1, workerCount: 1, amiId: A }, first);
        assert.deepStrictEqual([undone.failures, undone.steps], [[], []]);
    });

    it("blank state: after every host left its swarm, the program forms a new swarm instead of trusting old outputs", async () => {
        const first = ok(await up({}));
        const oldCluster = await unwrap(cluster!.bootstrap.clusterId);
        const leaveAll = async () => {
            await Promise.all(lab.hosts.map((_, i) => lab.exec(i, "docker swarm leave --force")));
            for (let i = 0; i < 5; i++) {
                assert.strictEqual(await swarmState(lab, i), "inactive");
            }
        };
        const formed = async (previousCluster: string) => {
            const newCluster = await unwrap(cluster!.bootstrap.clusterId);
            assert.notStrictEqual(newCluster, previousCluster);
            assert.strictEqual((await lab.exec(0, "docker info --format '{{.Swarm.Cluster.ID}}'")).stdout.trim(), newCluster);
            assert.deepStrictEqual((await nodes(lab)).map((x) => `${x.hostname} ${x.status}`), [
                "lab-1 ready",
                "lab-2 ready",
                "lab-3 ready",
                "lab-4 ready",
                "lab-5 ready",
            ]);
            return newCluster;
        };
        // With the state kept: `pulumi up --replace <init>` re-runs the init (the swarm's birth: its
        // old state has no delete script to run), and every join updates because the new swarm's
        // tokens are on its stdin.
        await leaveAll();
        const replaced = await up({}, first, "re-bootstrap from blank, with state (--replace init)", ["lab-swarm-init"]);
        ok(replaced);
        assert.deepStrictEqual(
            replaced.steps.filter((x) => x.name === "lab-swarm-init").map((x) => x.op),
            ["create-replacement"],
        );
        const second = await formed(oldCluster);
        // With no state (every create script runs, as when the nodes are replaced with their commands).
        await leaveAll();
        ok(await up({}, undefined, "re-bootstrap from blank, no state"));
        await formed(second);
    });

    it("a host already in another swarm: the run fails with a clear message, that host's membership is unchanged, and (as in the real engine) the steps not yet started are cancelled: the last manager never joins", async () => {
        const init = await lab.exec(4, "docker swarm init --advertise-addr 10.77.0.15");
        assert.strictEqual(init.code, 0, init.stderr);
        const before = await swarmState(lab, 4);
        const r = await up({});
        const failure = r.failures.find((f) => f.name === "lab-swarm-join-worker-1");
        assert.ok(failure, JSON.stringify(r.failures));
        assert.match(
            failure.message,
            /^lab-swarm-join-worker-1: Process exited with status 1: running "# pulumi-swarm: worker-1 joins the swarm as a worker\\n.*":\npulumi-swarm: lab-5 \(10\.77\.0\.15\) is already in another swarm, whose managers are at: 10\.77\.0\.15:2377 \. Nothing was changed\./s,
        );
        assert.strictEqual(await swarmState(lab, 4), before);
        assert.strictEqual((await lab.exec(4, "docker node ls -q | wc -l")).stdout.trim(), "1");
        assert.strictEqual(r.failures.length, 1, JSON.stringify(r.failures));
        // Manager 2 joins after manager 1's join, which was still running when worker 1 failed:
        // its registration came after the failure and never started. The members of the nodes
        // that joined were cancelled too.
        assert.ok(r.cancelled.includes("lab-swarm-join-manager-2"), r.cancelled.join(", "));
        assert.ok(!r.steps.some((s) => s.name === "lab-swarm-join-manager-2"));
        assert.deepStrictEqual((await nodes(lab)).map((x) => x.hostname), ["lab-1", "lab-2", "lab-4"]);
        assert.match(await swarmState(lab, 2), /^inactive/);
    });

    it("fault: with one of 3 managers' dockerd stopped, a run that adds a worker (instance launched, joined) and one that removes it (drained, removed, instance terminated) succeed, and a new service converges; restarted, the manager is Reachable again", async () => {
        const first = ok(await up({ workerCount: 1 }));
        await lab.stopDocker(2);
        await until("lab-3 seen down", 30, async () => (await nodes(lab)).find((x) => x.hostname === "lab-3")?.status === "down");

        // The component acts while the manager is down: a worker joins ...
        const added = await up({ workerCount: 2 }, first, "add a worker, a manager down");
        const two = ok(added);
        assert.deepStrictEqual(added.steps.map((s) => `${s.op} ${s.name}`), ["create lab-worker-1", "create lab-swarm-join-worker-1", "create lab-swarm-member-worker-1"]);
        assert.deepStrictEqual(
            (await nodes(lab)).map((r) => `${r.hostname} ${r.status} ${r.manager}`),
            ["lab-1 ready leader", "lab-2 ready reachable", "lab-3 down unreachable", "lab-4 ready worker", "lab-5 ready worker"],
        );
        // ... and leaves again.
        const removed = await up({ workerCount: 1 }, two, "remove a worker, a manager down");
        ok(removed);
        assert.deepStrictEqual(removed.steps.map((s) => `${s.op} ${s.name}`), ["delete lab-swarm-member-worker-1", "delete lab-swarm-remove-worker-1", "delete lab-worker-1"]);
        assert.deepStrictEqual(
            (await nodes(lab)).map((r) => `${r.hostname} ${r.status} ${r.manager}`),
            ["lab-1 ready leader", "lab-2 ready reachable", "lab-3 down unreachable", "lab-4 ready worker"],
        );
        // The terminated host's engine is stopped.
        assert.strictEqual((await lab.exec(4, "docker info")).code, 1);

        const svc = await lab.exec(
            0,
            "docker service create -d --name during-fault --replicas 3 --no-resolve-image --stop-grace-period 1s lab/busybox:latest sleep 100000",
        );
        assert.strictEqual(svc.code, 0, svc.stderr);
        await until("3/3 replicas running", 60, async () => (await lab.exec(0, "docker service ls --filter name=during-fault --format '{{.Replicas}}'")).stdout.trim() === "3/3");
        const t = Date.now();
        await lab.startDocker(2);
        await until("lab-3 Reachable again", 60, async () => {
            const row = (await nodes(lab)).find((x) => x.hostname === "lab-3");
            return row?.status === "ready" && row.manager === "reachable";
        });
        timings.push(`manager back Reachable ${Date.now() - t} ms after dockerd start`);
    });

    it("quorum lost: a run that would change the nodes (an instance type) fails at its quorum check, with the recovery, before any node is touched; with the managers back, the undone change runs nothing", async () => {
        // The check waits at most the swarm's readiness time-out: 10 s here, for the suite's time.
        const fast = { dockerReadyTimeoutSeconds: 10 };
        const first = ok(await up(fast));
        // The second run creates the check, running nothing (it runs only on update).
        const second = await up(fast, first);
        assert.deepStrictEqual([second.failures, second.steps], [[], []]);
        const t = Date.now();
        await Promise.all([lab.stopDocker(1), lab.stopDocker(2)]);
        // A swarm that has lost its quorum, as the remaining manager sees it: no leader, or (for
        // seconds after the stop) a leader that reaches no majority.
        await until("lab-1 sees no quorum", 60, async () => {
            const r = await lab.exec(0, "docker node ls --filter role=manager --format '{{.ManagerStatus}}'");
            const reachable = r.stdout.split("\n").filter((l) => l === "Leader" || l === "Reachable").length;
            return r.code !== 0 || reachable * 2 <= 3;
        });
        let after = second.deployment;
        try {
            const r = await up({ ...fast, managerInstanceType: "t3.medium" }, second.deployment, "quorum lost, instance type change refused");
            after = r.deployment;
            assert.deepStrictEqual(r.failures.map((f) => f.name), ["lab-quorum"]);
            // Which of the two it meets depends on when the remaining manager stops naming a
            // leader; both are exact, and both end with the recovery.
            const recovery =
                "No node is touched. Start the managers that are down; if they are lost for good, run 'docker swarm init --force-new-cluster' on a surviving manager " +
                "(it keeps the swarm's services, secrets and configs, as a swarm of one manager; see https://docs.docker.com/engine/swarm/admin_guide/#recover-from-losing-the-quorum), " +
                "then run pulumi up again.";
            const said = r.failures[0].message.split("\n").filter((l) => l.startsWith("pulumi-swarm: before any node changes"));
            assert.strictEqual(said.length, 1, r.failures[0].message);
            assert.ok(
                [
                    `pulumi-swarm: before any node changes, the swarm has lost its quorum: too few managers are online to elect a leader, and no change can be made to it. ${recovery}`,
                    `pulumi-swarm: before any node changes, the swarm has lost its quorum: fewer than half of its managers are reachable (see 'docker node ls' below), and no change can be made to it. ${recovery}`,
                ].includes(said[0]),
                said[0],
            );
            // Nothing but the check ran: no instance stopped, no drain.
            assert.deepStrictEqual(r.steps.map((s) => `${s.op} ${s.name}${s.failed ? " (failed)" : ""}`), ["update lab-quorum (failed)"]);
        } finally {
            await Promise.all([lab.startDocker(1), lab.startDocker(2)]);
        }
        // The undone change runs nothing, so it needs no quorum.
        const undone = await up(fast, after);
        assert.deepStrictEqual([undone.failures, undone.steps], [[], []]);
        timings.push(`quorum-lost test ${Date.now() - t} ms`);
    });

    it("probe: quorum held in every sample with 3 managers, and with one follower's dockerd stopped (the next manager answers); with 2 of 3 stopped, samples without quorum; restarted, quorum again", async () => {
        ok(await up({}));
        // lab-2 (a follower) is asked first, so that once it is stopped the probe asks lab-3.
        const probe = startProbe(lab, { managers: () => [1, 2, 0] });
        const t0 = Date.now();
        try {
            const samples = async (n: number) => until(`${n} samples`, 30, async () => probe.report().samples >= n);
            await samples(2);
            const first = probe.report();
            assert.deepStrictEqual(first.answeredBy, { "lab-2": first.samples });
            await lab.stopDocker(1);
            await samples(probe.report().samples + 2);
            const oneDown = probe.report();
            console.log(`    3 managers, then lab-2 stopped: ${formatProbe(oneDown)}; answered by ${JSON.stringify(oneDown.answeredBy)}`);
            assert.strictEqual(oneDown.noQuorumSamples, 0);
            assert.strictEqual(oneDown.quorumSamples, oneDown.samples);
            assert.ok((oneDown.answeredBy["lab-3"] ?? 0) >= 1, "lab-3 answered once lab-2 was stopped");

            await lab.stopDocker(2);
            await until("2 samples without quorum", 30, async () => probe.report().noQuorumSamples >= 2);
            await Promise.all([lab.startDocker(1), lab.startDocker(2)]);
            const lost = probe.report().firstNoQuorumAt!;
            const back = await until("quorum back", 60, async () => probe.report().events.find((e) => e.at > lost && e.what.startsWith("quorum back")));
            const r = await probe.stop();
            console.log(`    2 of 3 stopped, then started: ${formatProbe(r)} (${Date.now() - t0} ms)`);
            formatProbeEvents(r).forEach((l) => console.log(`    ${l}`));
            // The first sample without quorum came after every sample taken with one manager down.
            assert.ok(r.firstNoQuorumAt! > Math.max(...oneDown.ticks.filter((t) => t.quorum !== undefined).map((t) => t.at)));
            assert.ok(r.lastNoQuorumAt! < back.at);
            // Every sample from the second quorum came back on has quorum.
            assert.ok(r.ticks.slice(back.at).every((t) => t.quorum !== false));
            assert.deepStrictEqual(r.failures, {});
        } finally {
            await probe.stop().catch(() => undefined);
        }
        timings.push(`probe test ${Date.now() - t0} ms`);
    });

    it("full teardown: destroy drains and demotes every other node, removes it, then terminates the instances; the machines run nothing", async () => {
        const d = ok(await up({}));
        const t = Date.now();
        const steps = await engine.destroy(d);
        timings.push(`destroy ${Date.now() - t} ms`);
        const commands = steps.filter((s) => s.type === "command:remote:Command");
        const instances = steps.filter((s) => s.type === "aws:ec2/instance:Instance");
        // 5 members, 5 removers (the init, the swarm's birth, has no delete; nor has a join: its
        // machine goes with the node).
        assert.deepStrictEqual(commands.map((s) => s.name.replace(/-(manager|worker)-\d$/, "")).sort(), [...Array(5).fill("lab-swarm-member"), ...Array(5).fill("lab-swarm-remove")]);
        assert.ok(steps.every((s) => !s.failed));
        assert.strictEqual(instances.length, 5);
        // The first manager's member goes after every other manager's.
        const order = commands.map((s) => s.name);
        for (const k of ["manager-1", "manager-2"]) assert.ok(order.indexOf(`lab-swarm-member-${k}`) < order.indexOf("lab-swarm-member-manager-0"), order.join(", "));
        // Each instance is terminated after its own node's commands (its member's drain and its
        // remover); other nodes' commands may still run then.
        for (const inst of instances) {
            const key = inst.name.replace(/^lab-/, "");
            const own = commands.filter((c) => c.name.endsWith(`-${key}`));
            assert.strictEqual(own.length, 2, `${key}: ${own.map((c) => c.name).join(", ")}`);
            for (const c of own) assert.ok(steps.indexOf(c) < steps.indexOf(inst), `${c.name} after ${inst.name}`);
        }
        for (let i = 0; i < 5; i++) assert.strictEqual((await lab.exec(i, "docker info")).code, 1, `lab-${i + 1}'s engine still runs`);
    });
});
