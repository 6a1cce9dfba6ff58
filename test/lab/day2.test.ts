// Lab layer: Day 2. A SwarmCluster of 3 managers + 2 workers with stacks/web (a config) and a
// stack holding a secret, then the routine `pulumi up`s of a cluster's life, each under the
// faithful engine (engine.ts) with a probe sampling every second (probe.ts): quorum, asked of a
// surviving manager, and requests through the proxy, sent only to workers whose health check
// passes, as the ALB sends them. After each run: the same swarm (cluster ID), every node Ready
// and no Down node left, the stacks converged, their secret and config still there.
//
// Hosts: lab-1 is the build machine (local commands' DOCKER_HOST); lab-2..lab-11 are the EC2
// pool (managers on lab-2..4, workers on lab-5..6, the rest spare for replacements, for
// managers 4 and 5, and for a new AMI's five new machines while the old five still run).
import * as assert from "assert";
import type { SwarmCluster as SwarmClusterType } from "../../components";
import { unwrap } from "../mocks";
import { Deployment, LabEngine, UpResult, placeByRole } from "./engine";
import { labWebImage } from "./images";
import { Lab, inOrder, labOrSkip, startLab } from "./lab";
import { AwsStandIn, startAwsStandIn } from "./awsStandIn";
import { ProbeReport, formatProbe, startProbe } from "./probe";
import { WEB_COMPOSE, labClusterArgs, labSh, labWebVariables, swarmNodes } from "./swarmChecks";
import { until } from "./until";

const BUILDER = 0;
const POOL = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const AMI_NAME = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*";
const INSTANCE = "aws:ec2/instance:Instance";
const REMOTE = "command:remote:Command";

/** A stack whose service holds a secret (given as a Pulumi secret) and a config. */
const VAULT_COMPOSE = `services:
  holder:
    image: \${IMAGE}
    command: ["sleep", "infinity"]
    secrets: [token]
    configs: [motd]
    deploy:
      replicas: 1
secrets:
  token: {}
configs:
  motd: {}
`;

interface Change {
    managerInstanceType?: string;
    workerInstanceType?: string;
    managerCount?: number;
    amiId?: string;
}

describe("lab: Day 2, routine pulumi up on a running cluster (3 managers + 2 workers, stacks deployed)", function () {
    // In order: each run starts from the state the previous one left.
    inOrder(this);
    this.timeout(600000);
    let lab: Lab | undefined;
    let engine: LabEngine;
    let image: string;
    let state: Deployment;
    let cluster: SwarmClusterType | undefined;
    let clusterId: string;
    let aws: AwsStandIn | undefined;
    const figures: string[] = [];

    before(async function () {
        labOrSkip(this);
        lab = await startLab({ hosts: 11, name: "daytwo" });
        image = await labWebImage(lab);
        engine = new LabEngine(lab, (n) => placeByRole(3)(n) + 1, BUILDER, { pool: POOL });
        engine.amis = { [AMI_NAME]: "ami-0aaaaaaaaaaaaaaa1" };
        aws = await startAwsStandIn(lab, engine);
    });

    after(async () => {
        await aws?.stop();
        if (lab) {
            console.log(figures.map((f) => `    ${f}`).join("\n"));
            await lab.teardown();
        }
    });

    function program(change: Change = {}) {
        return async () => {
            const { SwarmCluster, SwarmStack } = await import("../../components");
            cluster = new SwarmCluster("lab", {
                ...labClusterArgs(lab!),
                managerInstanceType: change.managerInstanceType,
                workerInstanceType: change.workerInstanceType,
                managerCount: change.managerCount ?? 3,
                amiId: change.amiId,
                registry: { kind: "external", address: lab!.registry },
            });
            new SwarmStack("web", {
                target: cluster.stackTarget,
                composeFile: WEB_COMPOSE,
                variables: labWebVariables(image, "1"),
                convergeTimeoutSeconds: 60,
            });
            new SwarmStack("vault", {
                target: cluster.stackTarget,
                composeContent: VAULT_COMPOSE,
                variables: { IMAGE: image },
                secrets: { token: "s3cret-day2" },
                configs: { motd: "hello day 2" },
                convergeTimeoutSeconds: 60,
            });
        };
    }

    /** Lab hosts an instance of the state runs on, by instance name (replaced ones excluded). */
    function hostsOf(d: Deployment): Record<string, number> {
        return Object.fromEntries(
            [...d.values()].filter((x) => x.type === INSTANCE && !x.pendingDelete && x.host !== undefined).map((x) => [x.name.replace(/^lab-/, ""), x.host!]),
        );
    }
    const managerHosts = (d: Deployment) => Object.entries(hostsOf(d)).filter(([k]) => k.startsWith("manager-")).map(([, h]) => h);

    /** One run with the probe sampling: every pool host is asked for quorum, workers serve. */
    async function probed(what: string, change: Change, replace: string[] = []): Promise<{ r: UpResult; probe: ProbeReport }> {
        // The load balancer's targets: the instances registered in the route's target group and
        // not draining (the lab engine's ELB model: attachments, and the nodes' own calls).
        const registered = () => engine.elb.registeredInstances().map((id) => engine.hostOfInstance(id)).filter((h): h is number => h !== undefined);
        const probe = startProbe(lab!, {
            // Quorum is asked of the hosts that still run (the lab host of a lost machine does not answer).
            managers: () => POOL.filter((h) => !lostHosts.has(h)),
            web: { nodes: registered, port: 8080, healthPath: "/healthz", requestPath: "/api/" },
        });
        // What DescribeTargetHealth answers: the probe's health checks ("initial" until its first).
        engine.elb.health = (id) => {
            // A dead machine fails its health checks; one EC2 terminated is `unused` (Target.InvalidState).
            const lost = engine.lostAs(id);
            if (lost !== undefined) return lost === "terminated" ? "unused" : "unhealthy";
            const h = engine.hostOfInstance(id);
            return h === undefined ? undefined : (probe.targetState(h) ?? "initial");
        };
        let r: UpResult;
        try {
            r = await engine.up(program(change), state, replace);
        } finally {
            engine.elb.health = () => undefined;
        }
        const report = await probe.stop();
        figures.push(`${what}: ${(r.ms / 1000).toFixed(1)} s; ${formatProbe(report)}`);
        return { r, probe: report };
    }

    function ok(r: UpResult): Deployment {
        assert.deepStrictEqual(r.failures, [], JSON.stringify(r.failures, null, 2));
        return r.deployment;
    }

    /** The same swarm, whole: cluster ID on every manager, every node Ready, no Down node, stacks converged, secret and config there. */
    async function sameSwarmWhole(d: Deployment, managerCount = 3): Promise<Record<string, string>> {
        const managers = managerHosts(d);
        assert.strictEqual(managers.length, managerCount);
        for (const h of managers) {
            assert.strictEqual((await labSh(lab!, h, "docker info --format '{{.Swarm.Cluster.ID}}'")).trim(), clusterId, `${lab!.hosts[h].name}'s cluster`);
        }
        const byKey: Record<string, string> = {};
        await until(`${managerCount + 2} Ready nodes, none Down`, 60, async () => {
            const rows = await swarmNodes(lab!, managers[0]);
            return rows.length === managerCount + 2 && rows.every((r) => r.status === "ready" && r.availability === "active");
        });
        const rows = await swarmNodes(lab!, managers[0]);
        assert.deepStrictEqual(rows.map((r) => r.manager).sort(), ["leader", ...Array(managerCount - 1).fill("reachable"), "worker", "worker"]);
        const ids = await unwrap(cluster!.bootstrap.nodeIds);
        for (const [key, id] of Object.entries(ids)) byKey[key] = id;
        assert.deepStrictEqual(rows.map((r) => r.id).sort(), Object.values(byKey).sort());
        try {
            await until("stacks converged", 60, async () => {
                const s = await labSh(lab!, managers[0], "docker service ls --format '{{.Name}} {{.Replicas}}'");
                const lines = s.trim().split("\n").sort();
                return lines.join(";") === "vault_holder 1/1;web_api 2/2;web_proxy 2/2";
            });
        } catch (e) {
            // What the services and their tasks were doing, to read why.
            const seen = await labSh(lab!, managers[0], "docker service ls; docker service ps --no-trunc $(docker service ls -q)").catch((x: Error) => x.message);
            throw new Error(`${(e as Error).message}\n${seen}`);
        }
        const secrets = (await labSh(lab!, managers[0], "docker secret ls --format '{{.Name}}'")).trim().split("\n");
        const configs = (await labSh(lab!, managers[0], "docker config ls --format '{{.Name}}'")).trim().split("\n");
        assert.ok(secrets.some((s) => s.startsWith("vault_token")), `secrets: ${secrets.join(", ")}`);
        assert.ok(configs.some((c) => c.startsWith("vault_motd")), `configs: ${configs.join(", ")}`);
        assert.ok(configs.some((c) => c.startsWith("web_nginx_conf")), `configs: ${configs.join(", ")}`);
        return byKey;
    }

    /** Where cluster.dockerHost points: a live manager of this swarm. */
    async function dockerHostIsALiveManager(): Promise<void> {
        const url = await unwrap(cluster!.dockerHost);
        const ip = /^ssh:\/\/[^@]+@(.+)$/.exec(url)![1];
        const h = engine.hostAt(ip);
        assert.ok(h !== undefined, `dockerHost ${url} reaches no running instance`);
        assert.strictEqual((await labSh(lab!, h, "docker info --format '{{.Swarm.ControlAvailable}} {{.Swarm.Cluster.ID}}'")).trim(), `true ${clusterId}`);
    }

    // From the instance-type change on, every run keeps it (a run without it would change it back).
    const KEEP: Change = { managerInstanceType: "t3.medium", workerInstanceType: "t3.large" };
    const commandOps = (r: UpResult, op: string) => r.steps.filter((s) => s.type === REMOTE && s.op === op).map((s) => s.name);
    const instanceUrn = (d: Deployment, name: string) => [...d.values()].find((x) => x.type === INSTANCE && x.name === name && !x.pendingDelete)!.urn;
    let nodeIds: Record<string, string>;
    /** Lab hosts of machines EC2 lost, until the run that replaces them. */
    const lostHosts = new Set<number>();

    it("first up: the cluster and both stacks", async () => {
        const r = await engine.up(program());
        state = ok(r);
        figures.push(`first up: ${(r.ms / 1000).toFixed(1)} s`);
        // A new cluster has nothing to roll: its five instances launch at once, not one link of
        // the chain after another (each had started before any had ended).
        const launches = r.steps.filter((s) => s.type === INSTANCE);
        assert.deepStrictEqual(launches.map((s) => s.op), ["create", "create", "create", "create", "create"]);
        assert.ok(Math.max(...launches.map((s) => s.at)) < Math.min(...launches.map((s) => s.at + s.ms)), JSON.stringify(launches));
        clusterId = (await labSh(lab!, managerHosts(state)[0], "docker info --format '{{.Swarm.Cluster.ID}}'")).trim();
        assert.strictEqual(clusterId, await unwrap(cluster!.bootstrap.clusterId));
        nodeIds = await sameSwarmWhole(state);
        await dockerHostIsALiveManager();
    });

    it("instance types change (managers and workers): one node restarts at a time, each drained (a leader handing its leadership over) before and back in a whole swarm before the next; quorum at every sample; no command replaced; same node IDs", async () => {
        const before = await unwrap(cluster!.managerPublicIps);
        const workersBefore = await unwrap(cluster!.workerPublicIps);
        const callsBefore = aws!.calls.length;
        const { r, probe } = await probed("instance types t3.small/t3.medium -> t3.medium/t3.large", KEEP);
        state = ok(r);
        // The instances restart one at a time, in the chain's order, each after the one before
        // it has ended (and its ready with it).
        const restarts = r.steps.filter((s) => s.type === INSTANCE);
        assert.deepStrictEqual(
            restarts.map((s) => `${s.op} ${s.name}`),
            ["lab-manager-1", "lab-manager-2", "lab-manager-0", "lab-worker-0", "lab-worker-1"].map((n) => `update ${n}`),
        );
        const step = (n: string) => r.steps.find((s) => s.name === n && s.type === REMOTE)!;
        const end = (s: { at: number; ms: number }) => s.at + s.ms;
        for (let i = 1; i < restarts.length; i++) {
            const previousReady = step(`${restarts[i - 1].name}-ready`);
            const handoff = step(`${restarts[i].name}-handoff`);
            const drain = step(`${restarts[i].name}-drain`);
            const back = step(`${restarts[i].name}-back`);
            const ready = step(`${restarts[i].name}-ready`);
            assert.ok(end(restarts[i - 1]) <= previousReady.at && end(previousReady) <= handoff.at, `${restarts[i].name} started before ${restarts[i - 1].name} was back`);
            assert.ok(end(handoff) <= drain.at && end(drain) <= restarts[i].at && end(restarts[i]) <= ready.at && end(ready) <= back.at, `${restarts[i].name}: hand-off, drain, restart, ready, back, in that order`);
            if (i > 1) assert.ok(end(step(`${restarts[i - 1].name}-back`)) <= handoff.at, `${restarts[i].name} handed off before ${restarts[i - 1].name} was back in the load balancer`);
        }
        // Each node but the chain's first left the load balancer before its drain and came back
        // after its ready: the AWS stand-in saw exactly their deregistrations and registrations.
        const ids = Object.fromEntries([...state.values()].filter((x) => x.type === INSTANCE).map((x) => [x.name, x.id]));
        const rolled = ["lab-manager-2", "lab-manager-0", "lab-worker-0", "lab-worker-1"].map((n) => ids[n]).sort();
        const calls = aws!.calls.slice(callsBefore);
        const ofAction = (a: string) => [...new Set(calls.filter((c) => c.startsWith(`${a} `)).map((c) => c.split(" ")[1]))].sort();
        assert.deepStrictEqual(ofAction("DeregisterTargets"), rolled, calls.join("\n"));
        assert.deepStrictEqual(ofAction("RegisterTargets"), rolled, calls.join("\n"));
        assert.deepStrictEqual(engine.elb.registeredInstances(), Object.values(ids).sort());
        // The commands that ran: a hand-off and a drain before every node but the chain's first
        // (manager-1), a ready after each and a back after those, and the workers' joins, which
        // reconnect to their new addresses and find their nodes in the swarm; nothing replaced.
        assert.deepStrictEqual(
            r.steps.filter((s) => s.type === REMOTE).map((s) => `${s.op} ${s.name}`).sort(),
            [
                "update lab-manager-0-back",
                "update lab-manager-0-drain",
                "update lab-manager-0-handoff",
                "update lab-manager-0-ready",
                "update lab-manager-1-ready",
                "update lab-manager-2-back",
                "update lab-manager-2-drain",
                "update lab-manager-2-handoff",
                "update lab-manager-2-ready",
                "update lab-swarm-join-worker-0",
                "update lab-swarm-join-worker-1",
                "update lab-worker-0-back",
                "update lab-worker-0-drain",
                "update lab-worker-0-handoff",
                "update lab-worker-0-ready",
                "update lab-worker-1-back",
                "update lab-worker-1-drain",
                "update lab-worker-1-handoff",
                "update lab-worker-1-ready",
            ],
        );
        // The managers kept their Elastic IPs; the workers got new public addresses.
        assert.deepStrictEqual(await unwrap(cluster!.managerPublicIps), before);
        const workersAfter = await unwrap(cluster!.workerPublicIps);
        workersAfter.forEach((ip, i) => assert.notStrictEqual(ip, workersBefore[i]));
        for (const s of restarts) assert.match(s.detail ?? "", /stopped and started/, s.name);
        assert.deepStrictEqual(await sameSwarmWhole(state), nodeIds);
        await dockerHostIsALiveManager();
        assert.strictEqual(probe.noQuorumSamples, 0, formatProbe(probe));
    });

    it("manager-0 replaced (pulumi up --replace of its instance): it joins the same swarm through a survivor; the old node is drained, demoted and removed, and its machine terminated", async () => {
        const oldHost = hostsOf(state)["manager-0"];
        const { r, probe } = await probed("manager-0 replaced", KEEP, [instanceUrn(state, "lab-manager-0")]);
        state = ok(r);
        const newHost = hostsOf(state)["manager-0"];
        assert.notStrictEqual(newHost, oldHost);
        // The init is the swarm's birth: it does not run again.
        assert.ok(!r.steps.some((s) => s.name === "lab-swarm-init"), r.steps.map((s) => `${s.op} ${s.name}`).join("\n"));
        assert.deepStrictEqual(commandOps(r, "create-replacement").sort(), ["lab-swarm-join-manager-0", "lab-swarm-member-manager-0"]);
        const ids = await sameSwarmWhole(state);
        assert.notStrictEqual(ids["manager-0"], nodeIds["manager-0"]);
        assert.deepStrictEqual({ ...ids, "manager-0": "" }, { ...nodeIds, "manager-0": "" });
        nodeIds = ids;
        // The old host: terminated (its dockerd stopped).
        assert.notStrictEqual((await lab!.exec(oldHost, "timeout 5 docker info >/dev/null 2>&1")).code, 0);
        await dockerHostIsALiveManager();
        assert.strictEqual(probe.noQuorumSamples, 0, formatProbe(probe));
    });

    it("manager-1 replaced: the same, and no node rm fails", async () => {
        const oldHost = hostsOf(state)["manager-1"];
        const { r, probe } = await probed("manager-1 replaced", KEEP, [instanceUrn(state, "lab-manager-1")]);
        state = ok(r);
        assert.notStrictEqual(hostsOf(state)["manager-1"], oldHost);
        assert.ok(!r.steps.some((s) => s.failed));
        // The old machine's join has no delete: it runs nothing before its termination.
        assert.deepStrictEqual(commandOps(r, "delete-replaced").sort(), ["lab-swarm-member-manager-1", "lab-swarm-remove-manager-1"]);
        const ids = await sameSwarmWhole(state);
        assert.notStrictEqual(ids["manager-1"], nodeIds["manager-1"]);
        assert.deepStrictEqual({ ...ids, "manager-1": "" }, { ...nodeIds, "manager-1": "" });
        nodeIds = ids;
        await dockerHostIsALiveManager();
        assert.strictEqual(probe.noQuorumSamples, 0, formatProbe(probe));
    });

    it("manager-2's machine dies (EC2 still lists it, impaired): pulumi up --replace of its instance; the new machine joins through a survivor, past the dead one, and retires the dead node (demoted, removed); nothing dials the dead host; quorum at every sample; the same swarm", async () => {
        const oldId = nodeIds["manager-2"];
        const dead = await engine.lose(state, "lab-manager-2", "impaired");
        lostHosts.add(dead);
        // The swarm sees it Down before anyone acts (as an operator's alarm would).
        const survivor = managerHosts(state).find((h) => h !== dead)!;
        // (A manager may answer DeadlineExceeded while Raft notices the loss: asked again.)
        await until("manager-2 seen down", 60, async () => (await swarmNodes(lab!, survivor)).find((n) => n.id === oldId)?.status === "down", { retryErrors: true });
        const { r, probe } = await probed("manager-2's machine died, replaced", KEEP, [instanceUrn(state, "lab-manager-2")]);
        state = ok(r);
        lostHosts.clear();
        assert.ok(!r.steps.some((s) => s.failed));
        assert.notStrictEqual(hostsOf(state)["manager-2"], dead);
        assert.deepStrictEqual(commandOps(r, "create-replacement").sort(), ["lab-swarm-join-manager-2", "lab-swarm-member-manager-2"]);
        // The old node's member and remover run on a survivor and find nothing left to do (the new
        // member removed the node); its join has no delete: nothing dialled the dead machine.
        assert.deepStrictEqual(commandOps(r, "delete-replaced").sort(), ["lab-swarm-member-manager-2", "lab-swarm-remove-manager-2"]);
        // The new manager's join went past the dead manager, which the run's EC2 lookup listed first.
        const joinScript = String([...state.values()].find((x) => x.name === "lab-swarm-join-manager-2")!.inputs.create);
        assert.match(joinScript, new RegExp(`\\n {6}for manager in ${lab!.hosts[dead].privateAddress.replace(/\./g, "\\.")} `));
        const ids = await sameSwarmWhole(state);
        assert.notStrictEqual(ids["manager-2"], oldId);
        assert.deepStrictEqual({ ...ids, "manager-2": "" }, { ...nodeIds, "manager-2": "" });
        nodeIds = ids;
        await dockerHostIsALiveManager();
        assert.strictEqual(probe.noQuorumSamples, 0, formatProbe(probe));
    });

    it("managers 3 -> 5 -> 3: the new managers join one at a time, then are drained, demoted and removed, then terminated; quorum at every sample, no Down node", async () => {
        const up5 = await probed("managers 3 -> 5", { ...KEEP, managerCount: 5 });
        state = ok(up5.r);
        const five = await sameSwarmWhole(state, 5);
        // What managers 4 and 5 are: an instance, its Elastic IP, a join and a member each (and a
        // remover, which has no create script).
        const added = [
            "lab-manager-3",
            "lab-manager-3-ip",
            "lab-manager-4",
            "lab-manager-4-ip",
            "lab-swarm-join-manager-3",
            "lab-swarm-join-manager-4",
            "lab-swarm-member-manager-3",
            "lab-swarm-member-manager-4",
        ];
        assert.deepStrictEqual(up5.r.steps.filter((s) => s.op === "create").map((s) => s.name).sort(), added);
        assert.ok(up5.r.steps.findIndex((s) => s.name === "lab-swarm-join-manager-4") > up5.r.steps.findIndex((s) => s.name === "lab-swarm-join-manager-3"));
        // The nodes already in the swarm run no join: their scripts now name five managers, a
        // change a join ignores.
        assert.deepStrictEqual(commandOps(up5.r, "update").filter((n) => n.includes("-join-")), []);
        const up3 = await probed("managers 5 -> 3", KEEP);
        state = ok(up3.r);
        const three = await sameSwarmWhole(state, 3);
        assert.deepStrictEqual(commandOps(up3.r, "update").filter((n) => n.includes("-join-")), []);
        assert.deepStrictEqual(three, Object.fromEntries(Object.entries(five).filter(([k]) => k !== "manager-3" && k !== "manager-4")));
        // The joins have no delete (the machines go with their nodes): the members drain and
        // demote (one at a time, under the membership lock), the removers remove, and the
        // instances are terminated after both.
        assert.deepStrictEqual(
            up3.r.steps.filter((s) => s.op === "delete").map((s) => s.name).sort(),
            [...added.filter((n) => !n.includes("-join-")), "lab-swarm-remove-manager-3", "lab-swarm-remove-manager-4"].sort(),
        );
        const at = (n: string) => up3.r.steps.findIndex((s) => s.op === "delete" && s.name === n);
        for (const k of ["manager-3", "manager-4"]) {
            assert.ok(at(`lab-swarm-member-${k}`) < at(`lab-swarm-remove-${k}`) && at(`lab-swarm-remove-${k}`) < at(`lab-${k}`), k);
        }
        // Every node stays in the load balancer's target group: a node added or removed changes
        // only its own registration (attachments keyed by node, not by position).
        const instanceIds = (d: Deployment) => [...d.values()].filter((x) => x.type === INSTANCE && !x.pendingDelete).map((x) => x.id).sort();
        assert.deepStrictEqual(engine.elb.registeredInstances(), instanceIds(state));
        assert.strictEqual(up5.probe.noQuorumSamples, 0, formatProbe(up5.probe));
        assert.strictEqual(up3.probe.noQuorumSamples, 0, formatProbe(up3.probe));
    });
    it("amiId set to a newer AMI: every node replaced, one after another; each new machine joins through the old managers and retires its predecessor (drained, demoted, removed) before the next; quorum at every sample; the same swarm", async () => {
        const NEW_AMI = "ami-0ccccccccccccccc3";
        const oldHosts = hostsOf(state);
        const oldInstances = [...state.values()].filter((x) => x.type === INSTANCE && !x.pendingDelete).map((x) => x.id).sort();
        const callsBefore = aws!.calls.length;
        const { r, probe } = await probed(`amiId -> ${NEW_AMI} (3 managers + 2 workers replaced)`, { ...KEEP, amiId: NEW_AMI });
        state = ok(r);
        const end = (s: { at: number; ms: number }) => s.at + s.ms;
        // The new machines launch one link of the chain after another.
        const launches = r.steps.filter((s) => s.type === INSTANCE && s.op === "create-replacement");
        assert.deepStrictEqual(launches.map((s) => s.name), ["lab-manager-1", "lab-manager-2", "lab-manager-0", "lab-worker-0", "lab-worker-1"]);
        for (let i = 1; i < launches.length; i++) assert.ok(end(launches[i - 1]) <= launches[i].at, `${launches[i].name} launched before ${launches[i - 1].name} was up`);
        // The managers join one at a time; each member retires the node its machine replaces,
        // the first manager's before the others' (one manager at a time).
        const step = (n: string) => r.steps.find((s) => s.name === `lab-swarm-${n}` && s.op === "create-replacement")!;
        assert.ok(end(step("join-manager-0")) <= step("join-manager-1").at && end(step("join-manager-1")) <= step("join-manager-2").at);
        for (const k of ["manager-1", "manager-2"]) assert.ok(end(step("member-manager-0")) <= step(`member-${k}`).at, k);
        // The old machines' commands and instances go at the end of the run, after every create.
        const firstDelete = r.steps.findIndex((s) => s.op === "delete-replaced");
        assert.ok(firstDelete > r.steps.findIndex((s) => s.name === "lab-swarm-member-manager-1" && s.op === "create-replacement"));
        assert.deepStrictEqual(
            r.steps.filter((s) => s.type === INSTANCE && s.op === "delete-replaced").map((s) => s.name).sort(),
            ["lab-manager-0", "lab-manager-1", "lab-manager-2", "lab-worker-0", "lab-worker-1"],
        );
        assert.ok(!r.steps.some((s) => s.failed));
        // The same swarm, whole, on five new machines: new node IDs, no Down node, the old hosts gone.
        const ids = await sameSwarmWhole(state);
        for (const [k, id] of Object.entries(ids)) assert.notStrictEqual(id, nodeIds[k], k);
        nodeIds = ids;
        const newHosts = hostsOf(state);
        for (const [k, h] of Object.entries(oldHosts)) {
            assert.notStrictEqual(newHosts[k], h, k);
            assert.notStrictEqual((await lab!.exec(h, "timeout 5 docker info >/dev/null 2>&1")).code, 0, `${k}'s old host still runs Docker`);
        }
        assert.deepStrictEqual(Object.values(await unwrap(cluster!.nodeAmis)), Array(5).fill(NEW_AMI));
        // Each old node was taken out of the load balancer by the member that retired it, before
        // its drain (it then had no request to fail), and no call to "AWS" was refused.
        const deregistered = aws!.calls.slice(callsBefore).filter((c) => c.startsWith("DeregisterTargets ")).map((c) => c.split(" ")[1]);
        assert.deepStrictEqual([...new Set(deregistered)].sort(), oldInstances, aws!.calls.slice(callsBefore).join("\n"));
        assert.deepStrictEqual(aws!.refused, []);
        await dockerHostIsALiveManager();
        assert.strictEqual(probe.noQuorumSamples, 0, formatProbe(probe));
    });

    it("the run after the roll touches no node and runs no script: the joins keep the scripts they ran, which named the old managers", async () => {
        const r = await engine.up(program({ ...KEEP, amiId: "ami-0ccccccccccccccc3" }), state);
        state = ok(r);
        // Steps list the instances, Elastic IPs and the commands that run a script (the quorum
        // check, which now asks a new manager, is replaced but has no create or delete script).
        assert.deepStrictEqual(r.steps.map((s) => `${s.op} ${s.name}`), []);
        assert.deepStrictEqual(await sameSwarmWhole(state), nodeIds);
    });
});
