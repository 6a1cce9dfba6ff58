// Lab layer: the registry credentials that swarm keeps with a service go stale (an ECR token
// lasts 12 hours), and the renewal script (components/scripts/registryAuth.ts, run on AWS by a
// timer on the leader) renews them without restarting anything. The lab stands in for ECR with
// a registry that needs a password: started again with a new password, the old one is refused,
// as an expired token is; the manager's docker CLI then holds the new one, as the ECR credential
// helper would give it. Shown for real on a 1 manager + 2 worker swarm:
// - a task placed after the expiry on a node without the image fails to pull (no renewal);
// - the renewal updates exactly the services of that registry, on the leader only, and the
//   running task is the same task in the same container afterwards;
// - a task placed after the renewal on a node without the image pulls and runs.
import * as assert from "assert";
import { renderRegistryAuthRenewal } from "../../components/scripts/registryAuth";
import { AUTH_REGISTRY, Lab, inOrder, labOrSkip, startLab } from "./lab";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("lab: registry credentials renewed without restarting tasks", function () {
    // In order: the expiry, then the renewal, then a pull with the renewed credentials.
    inOrder(this);
    this.timeout(600000);
    let lab: Lab | undefined;

    /** Runs on a host over SSH and returns trimmed stdout; fails with stderr on a non-zero exit. */
    async function sh(host: number, cmd: string, stdin?: string): Promise<string> {
        const r = await lab!.ssh(host, cmd, stdin);
        if (r.code !== 0) throw new Error(`lab-${host + 1}: ${cmd}: exit ${r.code}: ${r.stderr.trim()}`);
        return r.stdout.trim();
    }

    /** Polls until fn returns a value, or fails after the time limit saying what it waited for. */
    async function until<T>(what: string, seconds: number, fn: () => Promise<T | undefined>): Promise<T> {
        const deadline = Date.now() + seconds * 1000;
        for (;;) {
            const v = await fn();
            if (v !== undefined) return v;
            if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
            await sleep(500);
        }
    }

    /** `<task id> <node> <desired> <current state...>` lines of a service. */
    const tasks = (svc: string) =>
        sh(0, `docker service ps ${svc} --no-trunc --format '{{.ID}} {{.Node}} {{.DesiredState}} {{.CurrentState}}|{{.Error}}'`).then((o) =>
            o.split("\n").filter((l) => l !== ""),
        );
    const running = async (svc: string, n: number) => {
        const lines = (await tasks(svc)).filter((l) => / Running Running /.test(l));
        return lines.length === n ? lines : undefined;
    };
    const version = (svc: string) => sh(0, `docker service inspect ${svc} --format '{{.Version.Index}}'`);

    before(async function () {
        labOrSkip(this);
        lab = await startLab({ hosts: 3, name: "regauth" });
        const manager = lab.hosts[0].privateAddress;
        await sh(0, `docker swarm init --advertise-addr ${manager}`);
        const token = await sh(0, "docker swarm join-token -q worker");
        for (const h of [1, 2]) await sh(h, `docker swarm join --advertise-addr ${lab.hosts[h].privateAddress} --token ${token} ${manager}:2377`);
        await lab.startAuthRegistry("first");
        await sh(0, `docker login -u pulumi --password-stdin ${AUTH_REGISTRY}`, "first\n");
        await sh(0, `docker tag ${lab.image} ${AUTH_REGISTRY}/app:1 && docker push -q ${AUTH_REGISTRY}/app:1`);
        await sh(0, `docker tag ${lab.image} ${lab.registry}/plain:1 && docker push -q ${lab.registry}/plain:1`);
        // lab-2 runs the first tasks; lab-3 gets the labels later, so what lands there must pull.
        await sh(0, "docker node update --label-add app=yes --label-add stale=yes lab-2 >/dev/null");
        const create = (svc: string, label: string, image: string) =>
            sh(
                0,
                `docker service create --detach --quiet --with-registry-auth --name ${svc} --constraint node.labels.${label}==yes ` +
                    `--replicas 1 --replicas-max-per-node 1 --stop-grace-period 1s ${image} sleep 100000`,
            );
        await create("app", "app", `${AUTH_REGISTRY}/app:1`);
        await create("stale", "stale", `${AUTH_REGISTRY}/app:1`);
        await create("plain", "app", `${lab.registry}/plain:1`);
        for (const svc of ["app", "stale", "plain"]) await until(`${svc} running`, 60, () => running(svc, 1));
        // The token expires: the registry takes only a new password; the manager's CLI gets it.
        await lab.startAuthRegistry("second");
    });

    after(async () => {
        if (lab) {
            await lab.teardown();
            assert.deepStrictEqual(await lab.leftovers(), []);
        }
    });

    it("after the expiry, a task placed on a node without the image fails to pull with the stored credentials", async () => {
        const refused = await lab!.ssh(0, `docker login -u pulumi --password-stdin ${AUTH_REGISTRY}`, "first\n");
        assert.notStrictEqual(refused.code, 0, "the old password must be refused now");
        await sh(0, "docker node update --label-add stale=yes lab-3 >/dev/null && docker service scale --detach stale=2 >/dev/null");
        let seen: string[] = [];
        const failure = await until("a pull failure of stale on lab-3", 90, async () => {
            seen = await tasks("stale");
            // The agent goes on to create the container when a pull fails, so the task's error is
            // "No such image"; why the pull failed is in that node's engine log.
            return seen.find((l) => / lab-3 /.test(l) && l.includes(`|"No such image: ${AUTH_REGISTRY}/app:1@sha256:`));
        }).catch((e: Error) => {
            throw new Error(`${e.message}; stale's tasks:\n${seen.join("\n")}`);
        });
        assert.match(failure, / Rejected /);
        const log = (await lab!.exec(2, "cat /var/log/dockerd.log")).stdout;
        assert.match(log, /no basic auth credentials|unauthorized|authentication required/, `lab-3's engine log:\n${log.slice(-2000)}`);
        await sh(0, "docker service rm stale >/dev/null");
        await until("stale's tasks gone", 60, async () => ((await lab!.exec(2, "docker ps -q --filter label=com.docker.swarm.service.name=stale")).stdout.trim() === "" ? true : undefined));
    });

    it("the renewal updates only the services of the renewed registry, on the leader only, and restarts nothing", async () => {
        await sh(0, `docker login -u pulumi --password-stdin ${AUTH_REGISTRY}`, "second\n");
        const script = renderRegistryAuthRenewal({ registries: ["*.dkr.ecr.*.amazonaws.com", AUTH_REGISTRY] });
        const [appBefore] = (await running("app", 1))!;
        const containerBefore = (await lab!.exec(1, "docker ps -q --no-trunc --filter label=com.docker.swarm.service.name=app")).stdout.trim();
        const [appVersion, plainVersion] = [await version("app"), await version("plain")];

        const onWorker = await lab!.ssh(1, "sh -s", script);
        assert.deepStrictEqual([onWorker.code, onWorker.stdout, onWorker.stderr], [0, "", ""], "a worker does nothing");
        assert.strictEqual(await version("app"), appVersion);

        const appId = await sh(0, "docker service inspect app --format '{{.ID}}'");
        const out = await sh(0, "sh -s", script);
        assert.match(out, new RegExp(`^pulumi-swarm: renewed the registry credentials of service ${appId} \\(${AUTH_REGISTRY}/app:1@sha256:[0-9a-f]{64}\\)$`));
        assert.ok(Number(await version("app")) > Number(appVersion), "app's spec was updated");
        assert.strictEqual(await version("plain"), plainVersion, "a service of another registry is left alone");

        await until("app's update to settle", 60, async () => {
            const state = await sh(0, "docker service inspect app --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}'");
            return state === "updating" ? undefined : true;
        });
        await sleep(3000);
        const idNodeDesired = (l: string) => l.split(" ").slice(0, 3).join(" ");
        assert.deepStrictEqual((await tasks("app")).map(idNodeDesired), [idNodeDesired(appBefore)], "the same single task, never replaced");
        const containerAfter = (await lab!.exec(1, "docker ps -q --no-trunc --filter label=com.docker.swarm.service.name=app")).stdout.trim();
        assert.strictEqual(containerAfter, containerBefore);
    });

    it("after the renewal, a task placed on a node without the image pulls with the new credentials and runs", async () => {
        const before = await lab!.exec(2, `docker image ls -q ${AUTH_REGISTRY}/app`);
        assert.strictEqual(before.stdout.trim(), "", "lab-3 has no copy of the image yet");
        await sh(0, "docker node update --label-add app=yes lab-3 >/dev/null && docker service scale --detach app=2 >/dev/null");
        const lines = await until("app running on lab-2 and lab-3", 90, () => running("app", 2));
        assert.deepStrictEqual(lines.map((l) => l.split(" ")[1]).sort(), ["lab-2", "lab-3"]);
        const after = await lab!.exec(2, `docker image ls -q ${AUTH_REGISTRY}/app`);
        assert.notStrictEqual(after.stdout.trim(), "", "lab-3 pulled the image");
    });
});
