// Lab layer: compose stacks for real. A 1 manager + 2 worker swarm is formed on lab hosts with
// SwarmBootstrap (hosts by address, no EC2), then SwarmStack deploys stacks/web/compose.yaml:
// the API's image is built from stacks/web/api/Dockerfile by a docker CLI on this machine
// (DOCKER_HOST: a lab host's engine), pushed to the lab registry and pulled by the workers; the
// stack deploy and its convergence wait run over SSH on the manager. Ports are published in
// host mode (PUBLISH_MODE=host): the lab has no routing mesh, so only nodes running a proxy
// answer. The proxy and API images stand on a Debian base made in the lab (no Docker Hub).
import * as assert from "assert";
import type { SwarmBootstrap as SwarmBootstrapType } from "../../components/swarmBootstrap";
import { Deployment, LabEngine } from "./engine";
import { labWebImage } from "./images";
import { Lab, inOrder, labOrSkip, startLab } from "./lab";
import { PROBE_TARGET_HEALTH, formatProbe, formatProbeEvents, startProbe } from "./probe";
import { WEB_COMPOSE, labSh, labSwarmHosts, labWebVariables, stackTasks } from "./swarmChecks";
import { until } from "./until";

const WEB = WEB_COMPOSE;

describe("lab: compose stacks on a real swarm", function () {
    // In order: the first test deploys the stack that the later ones change and delete.
    inOrder(this);
    this.timeout(600000);
    let lab: Lab | undefined;
    let engine: LabEngine;
    let swarm: Deployment;
    let image: string;

    before(async function () {
        labOrSkip(this);
        lab = await startLab({ hosts: 3, name: "stack" });
        engine = new LabEngine(lab, undefined, 0);
        image = await labWebImage(lab);
        const r = await engine.up(() => bootstrapProgram(lab!));
        assert.deepStrictEqual(r.failures, []);
        swarm = r.deployment;
    });

    after(async () => {
        if (lab) {
            await lab.teardown();
            assert.deepStrictEqual(await lab.leftovers(), []);
        }
    });

    /** The swarm program: the same bootstrap, kept in every run so it is never torn down. */
    async function bootstrapProgram(l: Lab): Promise<SwarmBootstrapType> {
        const { SwarmBootstrap } = await import("../../components/swarmBootstrap");
        return new SwarmBootstrap("lab", {
            hosts: labSwarmHosts(l),
            privateKey: l.privateKey,
            dockerReadyTimeoutSeconds: 30,
        });
    }

    function webProgram(version: string) {
        return async () => {
            const bootstrap = await bootstrapProgram(lab!);
            const { SwarmStack } = await import("../../components/swarmStack");
            return new SwarmStack("web", {
                target: {
                    clusterName: "lab",
                    manager: lab!.connection(0),
                    ready: [bootstrap],
                    registry: { kind: "external", address: lab!.registry },
                    // The file routes its proxy through an ALB; AWS is mocked here (the lab has none).
                    loadBalancer: {
                        vpcId: "vpc-lab",
                        listenerArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lab/1/2",
                        scheme: "http",
                        dnsName: "lab-alb.example",
                        securityGroupId: "sg-alb",
                        nodeSecurityGroupId: "sg-nodes",
                        instanceIds: { "manager-0": "i-1", "worker-0": "i-2", "worker-1": "i-3" },
                    },
                },
                composeFile: WEB,
                variables: labWebVariables(image, version),
                convergeTimeoutSeconds: 120,
            });
        };
    }

    const sh = (host: number, cmd: string) => labSh(lab!, host, cmd);
    const tasks = () => stackTasks(lab!, "web");
    const get = (host: number, url: string) => sh(host, `curl -sS --max-time 5 ${url}`);

    let web: Deployment;

    it("deploys stacks/web: every task Running, the API built, pushed and pulled by the workers", async () => {
        const r = await engine.up(webProgram("1"), swarm);
        assert.deepStrictEqual(r.failures, []);
        web = r.deployment;
        assert.deepStrictEqual(
            r.steps.map((s) => `${s.op} ${s.name}`),
            ["create web-build-api", "create web-deploy"],
        );
        assert.deepStrictEqual(await tasks(), ["web_api Running", "web_api Running", "web_proxy Running", "web_proxy Running"]);
        // The API runs the pushed image by digest, pulled from the lab registry by the workers.
        const apiImage = (await sh(0, "docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' web_api")).trim();
        assert.match(apiImage, new RegExp(`^${lab!.registry.replace(/\./g, "\\.")}/web/api@sha256:[0-9a-f]{64}$`));
        for (const host of [1, 2]) {
            const digests = await sh(host, "docker images --digests --format '{{.Repository}}@{{.Digest}}'");
            assert.ok(digests.split("\n").includes(apiImage), `lab-${host + 1} pulled ${apiImage}: ${digests}`);
        }
        // The manager runs nothing (both services are constrained to workers).
        assert.strictEqual((await sh(0, "docker ps -q")).trim(), "");
    });

    it("answers on the nodes that run the proxy, and the proxy reaches the API over the overlay network", async () => {
        const workers = lab!.hosts.slice(1).map((h) => h.privateAddress);
        for (const addr of workers) {
            assert.strictEqual(await get(0, `http://${addr}:8080/healthz`), "ok\n");
            const api = JSON.parse(await get(0, `http://${addr}:8080/api/hello`));
            assert.deepStrictEqual({ ...api, host: "(any)" }, { greeting: "hello from the api", version: "1", host: "(any)", path: "/hello" });
        }
        // Host mode: the manager runs no proxy, so nothing answers there.
        const r = await lab!.exec(1, `curl -sS --max-time 3 http://${lab!.hosts[0].privateAddress}:8080/healthz`);
        assert.notStrictEqual(r.code, 0);
    });

    it("probe: with the stack healthy every sample has quorum and no request fails; a stopped proxy fails requests only until its node's health check takes it out, then the other node serves them all until swarm restarts it", async () => {
        const rps = 4;
        const probe = startProbe(lab!, {
            // lab-2 is a worker: its engine answers "not a swarm manager", so the probe asks lab-1 next.
            managers: () => [1, 0],
            // The load balancer's targets: the workers, where the proxy publishes 8080 in host mode.
            web: { nodes: () => [1, 2], port: 8080, healthPath: "/healthz", requestPath: "/api/", requestsPerSecond: rps },
        });
        const t0 = Date.now();
        try {
            const event = (what: RegExp, after = -1) => probe.report().events.find((e) => e.at > after && what.test(e.what));
            // Healthy: 3 seconds of samples, their requests settled.
            await until("3 seconds of samples and requests", 20, async () => {
                const r = probe.report();
                return r.samples >= 3 && r.served + r.failed >= 3 * rps;
            });
            const healthy = probe.report();
            console.log(`    healthy: ${formatProbe(healthy)}`);
            assert.strictEqual(healthy.quorumSamples, healthy.samples);
            assert.strictEqual(healthy.failed, 0, JSON.stringify(healthy.failures));
            assert.ok(healthy.nodes["lab-2"].served > 0 && healthy.nodes["lab-3"].served > 0, JSON.stringify(healthy.nodes));

            // lab-3's proxy stops: its checks fail; out after unhealthyThreshold of them.
            await sh(2, "docker stop -t 5 $(docker ps -q --filter label=com.docker.swarm.service.name=web_proxy)");
            const out = await until("lab-3 taken out of service", 20, async () => event(/^lab-3 unhealthy/));
            // Swarm starts a new proxy task on lab-3 (the only worker with 8080 free) after its
            // restart delay; back in service after healthyThreshold passed checks.
            const back = await until("lab-3 back in service", 60, async () => event(/^lab-3 healthy/, out.at));
            // Two more seconds of requests, settled.
            await until("2 seconds after lab-3 came back", 20, async () => {
                const r = probe.report();
                return r.ticks.length > back.at + 3 && r.ticks.slice(back.at, back.at + 2).every((t) => t.served + t.failed === rps);
            });
            const r = await probe.stop();
            console.log(`    ${formatProbe(r)} (${Date.now() - t0} ms)`);
            formatProbeEvents(r).forEach((l) => console.log(`    ${l}`));

            assert.strictEqual(r.quorumSamples, r.samples);
            assert.deepStrictEqual(r.answeredBy, { "lab-1": r.samples });
            assert.strictEqual(r.noHealthyNode, 0);
            // Every failed request went to lab-3, before the health check took it out. While lab-3
            // was in service with failing checks (unhealthyThreshold - 1 seconds), round robin gave
            // it half of each second's requests, and each was refused.
            for (const key of Object.keys(r.failures)) assert.match(key, /^lab-3 /, JSON.stringify(r.failures));
            assert.ok(r.failed >= (rps / 2) * (PROBE_TARGET_HEALTH.unhealthyThreshold - 1), `${r.failed} failed`);
            const ticks = (from: number, to: number) => r.ticks.slice(from, to);
            assert.ok(ticks(0, out.at).every((t) => t.failed === 0 || t.inService?.includes("lab-3")), "failures only while lab-3 was in service");
            // Out of service: lab-2 alone served every request.
            const outage = ticks(out.at, back.at);
            assert.ok(outage.length >= 1);
            // (A second whose checks were skipped, the test process having lagged, sent nothing.)
            for (const t of outage.filter((x) => x.inService)) assert.deepStrictEqual({ at: t.at, inService: t.inService, failed: t.failed }, { at: t.at, inService: ["lab-2"], failed: 0 });
            assert.ok(outage.reduce((n, t) => n + t.served, 0) > 0);
            // Back: both serve again, and nothing fails.
            for (const t of ticks(back.at, r.ticks.length)) assert.strictEqual(t.failed, 0, `second ${t.at}`);
            assert.deepStrictEqual(r.ticks[back.at].inService, ["lab-2", "lab-3"]);
        } finally {
            await probe.stop().catch(() => undefined);
        }
        // The stack is as before: both proxies and both API tasks running.
        assert.deepStrictEqual(await tasks(), ["web_api Running", "web_api Running", "web_proxy Running", "web_proxy Running"]);
    });

    /**
     * `<registry>/<repo>@sha256:...` of the one image in the lab registry's `repo` whose config
     * has `env` in its environment, asked of the registry itself (tags, manifests, configs).
     */
    async function registryImageWithEnv(repo: string, env: string): Promise<string> {
        const base = `http://${lab!.registry}/v2/${repo}`;
        const accept = "-H 'Accept: application/vnd.docker.distribution.manifest.v2+json'";
        const found: string[] = [];
        for (const tag of (JSON.parse(await sh(0, `curl -sf ${base}/tags/list`)) as { tags: string[] }).tags) {
            const manifest = JSON.parse(await sh(0, `curl -sf ${accept} ${base}/manifests/${tag}`)) as { config: { digest: string } };
            const digest = (await sh(0, `curl -sf -o /dev/null -w '%header{docker-content-digest}' ${accept} ${base}/manifests/${tag}`)).trim();
            const config = JSON.parse(await sh(0, `curl -sf ${base}/blobs/${manifest.config.digest}`)) as { config: { Env: string[] } };
            if (config.config.Env.includes(env)) found.push(`${lab!.registry}/${repo}@${digest}`);
        }
        assert.strictEqual(found.length, 1, `one image of ${repo} has ${env}: ${found.join(", ")}`);
        assert.match(found[0], /@sha256:[0-9a-f]{64}$/);
        return found[0];
    }

    it("an unchanged program runs nothing; a changed API image rolls the service: when the deploy returns, every running API task runs the new image by digest", async () => {
        const same = await engine.up(webProgram("1"), web);
        assert.deepStrictEqual(same.failures, []);
        assert.deepStrictEqual(same.steps, []);

        const r = await engine.up(webProgram("2"), web);
        // Read at once, with no wait of any kind: the deploy must not return before the update is
        // done. The manager's view of every task, and every host's running API containers.
        const [taskLines, ...containers] = await Promise.all([
            sh(0, "docker service ps web_api --no-trunc --format '{{.Image}} {{.DesiredState}} {{.CurrentState}}'"),
            ...lab!.hosts.map((_, i) => sh(i, "docker ps --no-trunc --filter label=com.docker.swarm.service.name=web_api --format '{{.Image}}'")),
        ]);
        assert.deepStrictEqual(r.failures, []);
        assert.deepStrictEqual(r.steps.map((s) => `${s.op} ${s.name}`), ["update web-build-api", "update web-deploy"]);
        web = r.deployment;

        // The new image, by digest, as the registry has it: the one built with API_VERSION=2.
        const v2 = await registryImageWithEnv("web/api", "API_VERSION=2");
        const v1 = await registryImageWithEnv("web/api", "API_VERSION=1");
        assert.notStrictEqual(v2, v1);
        // `<image> <desired> <current state>` of every task that should run or still runs.
        const live = taskLines
            .trim()
            .split("\n")
            .map((l) => l.split(" ").slice(0, 3).join(" "))
            .filter((l) => / Running( |$)/.test(l));
        assert.deepStrictEqual(live, [`${v2} Running Running`, `${v2} Running Running`], taskLines);
        assert.deepStrictEqual(
            containers.flatMap((c) => c.trim().split("\n").filter((l) => l !== "")),
            [v2, v2],
            "exactly two API containers run, on any host, both of the new image",
        );
        const services = (web.get([...web.keys()].find((u) => u.endsWith("::web-deploy"))!)!.outputs.stdout as string).trim();
        assert.ok(services.includes(`{"name":"web_api","image":"${v2}",`), services);

        // So no answer can come from version 1 any more. nginx re-resolves the API every 5 s; until
        // then it may still try the old tasks' addresses (a 502); poll until 6 answers in a row
        // come from version 2, and fail on any from another version.
        let inARow = 0;
        await until("6 answers in a row from version 2", 30, async () => {
            const r2 = await lab!.exec(0, `curl -sS --max-time 5 http://${lab!.hosts[1].privateAddress}:8080/api/`);
            let version: string | undefined;
            try {
                version = (JSON.parse(r2.stdout) as { version: string }).version;
            } catch {
                inARow = 0; // nginx's 502 page while it still knows the old addresses
                return undefined;
            }
            assert.strictEqual(version, "2", `an answer from version ${version} after the deploy returned`);
            return ++inARow === 6 ? true : undefined;
        });
    });

    it("a stack whose image does not exist fails within its timeout, naming the service, and leaves nothing", async () => {
        const broken = async () => {
            const bootstrap = await bootstrapProgram(lab!);
            const { SwarmStack } = await import("../../components/swarmStack");
            return new SwarmStack("broken", {
                target: { clusterName: "lab", manager: lab!.connection(0), ready: [bootstrap] },
                composeContent: `services:\n  app:\n    image: ${lab!.registry}/no/such-image:1\n`,
                resolveImage: "never",
                convergeTimeoutSeconds: 15,
            });
        };
        // (How long it takes is a benchmark's figure: bench/stack.ts; a test asserts no wall-clock bound.)
        const r = await engine.up(broken, swarm);
        const failure = r.failures.find((f) => f.name === "broken-deploy");
        assert.ok(failure, JSON.stringify(r.failures));
        assert.match(failure.message, /stack broken did not converge within 15 s:/);
        assert.match(failure.message, /service broken_app: 0\/1 tasks running with the current spec/);
        assert.match(failure.message, /No such image|not found|manifest unknown/);
        assert.match(failure.message, /removing stack broken, which this failed first deploy created/);
        // The failed deploy waits until its stack is gone, network included (a network stays
        // while a task's container holds it, and one 'docker stack rm' may leave it for good).
        for (const kind of ["service", "network", "config", "secret"]) {
            assert.strictEqual((await sh(0, `docker ${kind} ls -q --filter label=com.docker.stack.namespace=broken`)).trim(), "", kind);
        }
    });

    it("deleting the stack leaves no service, network or config behind; the swarm stays", async () => {
        const gone = new Map([...web].filter(([, r]) => r.name.startsWith("web")));
        const steps = await engine.destroy(gone);
        assert.deepStrictEqual(steps.map((s) => `${s.op} ${s.name}`).sort(), ["delete web-deploy"]);
        for (const kind of ["service", "network", "config", "secret"]) {
            assert.strictEqual((await sh(0, `docker ${kind} ls -q --filter label=com.docker.stack.namespace=web`)).trim(), "", kind);
        }
        assert.deepStrictEqual((await sh(0, "docker node ls --format '{{.Status}}'")).trim().split("\n"), ["Ready", "Ready", "Ready"]);
    });
});
