// Lab layer: a swarm on hosts you already have. HostSwarm is given the lab hosts by their SSH
// address and port (no EC2 and no AWS mock anywhere in the program); the engine runs its
// bootstrap for real over SSH, and SwarmStack deploys stacks/web through its stackTarget (no
// load balancer: the file's route label is left unused). Ports are published in host mode
// (the lab has no routing mesh): the nodes running a proxy answer. Then the engine's destroy
// does what `pulumi destroy` does, and no host is left in a swarm.
import * as assert from "assert";
import type { HostSwarm as HostSwarmType } from "../../components/hostSwarm";
import { unwrap } from "../mocks";
import { Deployment, LabEngine } from "./engine";
import { labWebImage } from "./images";
import { Lab, inOrder, labOrSkip, startLab } from "./lab";
import { WEB_COMPOSE, labSh, labSwarmHosts, labWebVariables, stackTasks, swarmState } from "./swarmChecks";

const OPS_COMPOSE = (image: string) => `services:
  watch:
    image: ${image}
    command: ["sleep", "infinity"]
    init: true
    deploy:
      placement:
        constraints: ["node.role == manager"]
`;

describe("lab: HostSwarm on hosts you already have, with a stack, for real over SSH", function () {
    // In order: the first test's run forms the swarm and the stacks the later tests read and tear down.
    inOrder(this);
    this.timeout(600000);
    let lab: Lab | undefined;
    let engine: LabEngine;
    let image: string;
    let swarm: HostSwarmType | undefined;
    let deployment: Deployment | undefined;

    before(async function () {
        labOrSkip(this);
        lab = await startLab({ hosts: 3, name: "hostswarm" });
        // No hostFor: an EC2 instance in the program would fail the run.
        engine = new LabEngine(lab, undefined, 0);
        image = await labWebImage(lab);
    });

    after(async () => {
        if (lab) {
            await lab.teardown();
            assert.deepStrictEqual(await lab.leftovers(), []);
        }
    });

    const sh = (host: number, cmd: string) => labSh(lab!, host, cmd);

    const program = async () => {
        const { HostSwarm } = await import("../../components/hostSwarm");
        const { SwarmStack } = await import("../../components/swarmStack");
        swarm = new HostSwarm("hosts", {
            hosts: labSwarmHosts(lab!),
            privateKey: lab!.privateKey,
            registry: { kind: "external", address: lab!.registry },
            dockerReadyTimeoutSeconds: 30,
            drainTimeoutSeconds: 30,
        });
        new SwarmStack("web", {
            target: swarm.stackTarget,
            composeFile: WEB_COMPOSE,
            variables: labWebVariables(image, "1"),
            convergeTimeoutSeconds: 120,
        });
        // A service pinned to the manager, as stacks/visualizer is (which needs Docker Hub), on
        // its stack's default overlay network: the first manager too must leave without one.
        new SwarmStack("ops", {
            target: swarm.stackTarget,
            composeContent: OPS_COMPOSE(image),
            convergeTimeoutSeconds: 120,
        });
    };

    it("forms a 1 manager + 2 worker swarm on the hosts and deploys stacks/web on it in one run", async () => {
        const r = await engine.up(program);
        assert.deepStrictEqual(r.failures, []);
        deployment = r.deployment;
        assert.deepStrictEqual([...deployment.values()].filter((x) => x.type.startsWith("aws:")), []);
        assert.deepStrictEqual(
            r.steps.map((s) => `${s.op} ${s.name}`).sort(),
            [
                "create hosts-swarm-init",
                "create hosts-swarm-join-manager-0",
                "create hosts-swarm-join-worker-0",
                "create hosts-swarm-join-worker-1",
                "create hosts-swarm-member-worker-0",
                "create hosts-swarm-member-worker-1",
                "create ops-deploy",
                "create web-build-api",
                "create web-deploy",
            ],
        );
        // The deploy ran after every bootstrap command had finished.
        const order = r.steps.map((s) => s.name);
        for (const d of ["web-deploy", "ops-deploy"]) {
            assert.ok(order.filter((n) => n.startsWith("hosts-swarm-")).every((n) => order.indexOf(n) < order.indexOf(d)), order.join(", "));
        }

        const rows = (await sh(0, "docker node ls --format '{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}'"))
            .trim()
            .split("\n")
            .map((l) => l.trim())
            .sort();
        assert.deepStrictEqual(rows, ["lab-1 Ready Active Leader", "lab-2 Ready Active", "lab-3 Ready Active"]);
        // Each node carries its host's key and advertises its private address.
        const labels = (
            await sh(
                0,
                "docker node inspect $(docker node ls -q) --format " +
                    "'{{.Description.Hostname}} {{.Spec.Role}} {{index .Spec.Labels \"pulumi-swarm.host\"}} {{.Status.Addr}}'",
            )
        )
            .trim()
            .split("\n")
            .sort();
        const addr = (i: number) => lab!.hosts[i].privateAddress;
        assert.deepStrictEqual(labels, [`lab-1 manager manager-0 ${addr(0)}`, `lab-2 worker worker-0 ${addr(1)}`, `lab-3 worker worker-1 ${addr(2)}`]);
        // The component's outputs come from the real swarm.
        const ids = await unwrap(swarm!.nodeIds);
        const real = (await sh(0, "docker node ls -q")).trim().split("\n").sort();
        assert.deepStrictEqual(Object.keys(ids).sort(), ["manager-0", "worker-0", "worker-1"]);
        assert.deepStrictEqual(Object.values(ids).sort(), real);
        assert.strictEqual(await unwrap(swarm!.clusterId), (await sh(0, "docker info --format '{{.Swarm.Cluster.ID}}'")).trim());
        assert.match(await unwrap(swarm!.workerJoinToken), /^SWMTKN-1-/);
    });

    it("stacks/web runs on the workers and answers on their published port 8080 (host mode); the ops stack runs on the manager", async () => {
        assert.strictEqual((await sh(0, "docker stack ps ops --filter desired-state=running --format '{{.Node}} {{.CurrentState}}'")).replace(/ Running .*/, " Running").trim(), "lab-1 Running");
        assert.deepStrictEqual(await stackTasks(lab!, "web"), ["web_api Running", "web_api Running", "web_proxy Running", "web_proxy Running"]);
        for (const i of [1, 2]) {
            const url = `http://${lab!.hosts[i].privateAddress}:8080`;
            assert.strictEqual(await sh(0, `curl -sS --max-time 5 ${url}/healthz`), "ok\n");
            const api = JSON.parse(await sh(0, `curl -sS --max-time 5 ${url}/api/hello`));
            assert.deepStrictEqual({ ...api, host: "(any)" }, { greeting: "hello from the api", version: "1", host: "(any)", path: "/hello" });
        }
        // Host mode and services on workers only: nothing answers on the manager.
        const r = await lab!.exec(1, `curl -sS --max-time 3 http://${lab!.hosts[0].privateAddress}:8080/healthz`);
        assert.notStrictEqual(r.code, 0);
    });

    it("teardown (the engine's destroy): the stack is removed first, then no host is in a swarm, no task container and no overlay network is left on any host, the manager included", async () => {
        assert.ok(deployment, "the first test deployed nothing");
        const steps = await engine.destroy(deployment);
        const names = steps.map((s) => s.name);
        assert.deepStrictEqual([...names].sort(), [
            "hosts-swarm-join-manager-0",
            "hosts-swarm-join-worker-0",
            "hosts-swarm-join-worker-1",
            "hosts-swarm-member-worker-0",
            "hosts-swarm-member-worker-1",
            "hosts-swarm-remove-worker-0",
            "hosts-swarm-remove-worker-1",
            "ops-deploy",
            "web-deploy",
        ]);
        // `docker stack rm` (and its wait) ran before any node was drained or left.
        for (const d of ["web-deploy", "ops-deploy"]) {
            assert.ok(names.filter((n) => n.startsWith("hosts-swarm-")).every((n) => names.indexOf(n) > names.indexOf(d)), names.join(", "));
        }
        // The manager leaves last, ending the swarm (the init, the swarm's birth, has no delete).
        assert.strictEqual(names[names.length - 1], "hosts-swarm-join-manager-0");
        for (let i = 0; i < 3; i++) {
            assert.strictEqual(await swarmState(lab!, i), "inactive", `lab-${i + 1}`);
            assert.strictEqual((await sh(i, "docker ps -aq --filter label=com.docker.swarm.task.id")).trim(), "", `lab-${i + 1} task containers`);
            // No stack network anywhere: each worker left only once its tasks had stopped and
            // their networks were gone (a network kept past the leave stays until Docker restarts).
            assert.strictEqual((await sh(i, "docker network ls -q --filter driver=overlay")).trim(), "", `lab-${i + 1} overlay networks`);
        }
    });
});
