// Lab layer: the registry credentials that swarm keeps with a service go stale (an ECR token
// lasts 12 hours), and the renewal script (components/scripts/registryAuth.ts, run on AWS by a
// timer on every node) renews them without restarting anything, on the swarm's leader only. The
// lab stands in for ECR with a registry that needs a password: started again with a new password,
// the old one is refused, as an expired token is; every node's docker CLI then holds the new one,
// as the ECR credential helper would give it. Shown for real on 3 managers + 1 worker, with the
// leadership moved off the first manager (so "the leader" is not "the host the swarm began on"):
// - a task placed after the expiry on a node without the image fails to pull (no renewal);
// - the renewal does nothing on the two managers that are not the leader, nor on the worker,
//   and on the leader updates exactly the services of that registry; the running task is the
//   same task in the same container afterwards;
// - a task placed after the renewal on a node without the image pulls and runs, beside the
//   first task, still never replaced.
import * as assert from "assert";
import { renderRegistryAuthRenewal } from "../../components/scripts/registryAuth";
import { AUTH_REGISTRY, Lab, inOrder, labOrSkip, startLab } from "./lab";
import { until } from "./until";

/** lab-1..3 are managers, lab-4 the worker that runs the first tasks. */
const WORKER = 3;

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
    /** Index (into lab.hosts) of the swarm's leader, as `docker node ls` on `host` reports it. */
    const leaderSeenBy = async (host: number): Promise<number | undefined> => {
        const r = await lab!.ssh(host, "docker node ls --format '{{.Hostname}} {{.ManagerStatus}}'");
        const m = /^lab-(\d+) Leader$/m.exec(r.stdout);
        return r.code === 0 && m ? Number(m[1]) - 1 : undefined;
    };
    const appContainer = async () => (await lab!.exec(WORKER, "docker ps -q --no-trunc --filter label=com.docker.swarm.service.name=app")).stdout.trim();

    let firstApp = "";
    let firstContainer = "";

    before(async function () {
        labOrSkip(this);
        lab = await startLab({ hosts: 4, name: "regauth" });
        const first = lab.hosts[0].privateAddress;
        await sh(0, `docker swarm init --advertise-addr ${first}`);
        const [managerToken, workerToken] = (await sh(0, "docker swarm join-token -q manager; docker swarm join-token -q worker")).split("\n");
        for (const h of [1, 2]) await sh(h, `docker swarm join --advertise-addr ${lab.hosts[h].privateAddress} --token ${managerToken} ${first}:2377`);
        await sh(WORKER, `docker swarm join --advertise-addr ${lab.hosts[WORKER].privateAddress} --token ${workerToken} ${first}:2377`);
        // Move the leadership off lab-1: its engine stops, lab-2 or lab-3 is elected, lab-1 comes
        // back as a plain manager.
        await until("lab-1 to lead", 30, async () => (await leaderSeenBy(0)) === 0);
        await lab.stopDocker(0);
        const leader = await until("a new leader among lab-2 and lab-3", 90, async () => {
            const l = await leaderSeenBy(1);
            return l !== undefined && l !== 0 ? l : undefined;
        });
        await lab.startDocker(0);
        await until("lab-1 back as a manager that follows", 90, async () => {
            const r = await lab!.ssh(1, "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'");
            return /^lab-1 Ready Reachable$/m.test(r.stdout) && (await leaderSeenBy(0)) === leader;
        });

        await lab.startAuthRegistry("first");
        await sh(0, `docker login -u pulumi --password-stdin ${AUTH_REGISTRY}`, "first\n");
        await sh(0, `docker tag ${lab.image} ${AUTH_REGISTRY}/app:1 && docker push -q ${AUTH_REGISTRY}/app:1`);
        await sh(0, `docker tag ${lab.image} ${lab.registry}/plain:1 && docker push -q ${lab.registry}/plain:1`);
        // lab-4 runs the first tasks; lab-3 gets the labels later, so what lands there must pull.
        await sh(0, "docker node update --label-add app=yes --label-add stale=yes lab-4 >/dev/null");
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
        [firstApp] = (await running("app", 1))!;
        firstContainer = await appContainer();
        assert.match(firstContainer, /^[0-9a-f]{64}$/);
        // The token expires: the registry takes only a new password.
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
        await until("stale's tasks gone", 60, async () => (await lab!.exec(2, "docker ps -q --filter label=com.docker.swarm.service.name=stale")).stdout.trim() === "");
    });

    it("the renewal does nothing on the managers that do not lead nor on the worker; on the leader it updates only the services of the renewed registry and restarts nothing", async () => {
        // Every node's CLI has the new password, as every node has the ECR credential helper.
        for (let h = 0; h < lab!.hosts.length; h++) await sh(h, `docker login -u pulumi --password-stdin ${AUTH_REGISTRY}`, "second\n");
        const script = renderRegistryAuthRenewal({ registries: ["*.dkr.ecr.*.amazonaws.com", AUTH_REGISTRY] });
        const leader = (await leaderSeenBy(0))!;
        const followers = [0, 1, 2].filter((h) => h !== leader);
        assert.strictEqual(followers.length, 2, `lab-${leader + 1} leads; lab-1 does not (the before() moved the leadership)`);
        assert.ok(followers.includes(0));
        const [appVersion, plainVersion] = [await version("app"), await version("plain")];

        for (const h of [...followers, WORKER]) {
            const r = await lab!.ssh(h, "sh -s", script);
            assert.deepStrictEqual([r.code, r.stdout, r.stderr], [0, "", ""], `lab-${h + 1} (${h === WORKER ? "the worker" : "a manager that does not lead"}) does nothing`);
            assert.deepStrictEqual([await version("app"), await version("plain")], [appVersion, plainVersion], `after the run on lab-${h + 1}`);
        }

        const appId = await sh(0, "docker service inspect app --format '{{.ID}}'");
        const out = await sh(leader, "sh -s", script);
        assert.match(out, new RegExp(`^pulumi-swarm: renewed the registry credentials of service ${appId} \\(${AUTH_REGISTRY}/app:1@sha256:[0-9a-f]{64}\\)$`));
        assert.ok(Number(await version("app")) > Number(appVersion), "app's spec was updated");
        assert.strictEqual(await version("plain"), plainVersion, "a service of another registry is left alone");

        await until("app's update to settle", 60, async () => {
            const state = await sh(0, "docker service inspect app --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}'");
            return state !== "updating";
        });
        const idNodeDesired = (l: string) => l.split(" ").slice(0, 3).join(" ");
        assert.deepStrictEqual((await tasks("app")).map(idNodeDesired), [idNodeDesired(firstApp)], "the same single task");
        assert.strictEqual(await appContainer(), firstContainer, "in the same container");
    });

    it("after the renewal, a task placed on a node without the image pulls with the new credentials and runs; the first task was never replaced", async () => {
        const before = await lab!.exec(2, `docker image ls -q ${AUTH_REGISTRY}/app`);
        assert.strictEqual(before.stdout.trim(), "", "lab-3 has no copy of the image yet");
        await sh(0, "docker node update --label-add app=yes lab-3 >/dev/null && docker service scale --detach app=2 >/dev/null");
        const lines = await until("app running on lab-3 and lab-4", 90, () => running("app", 2));
        assert.deepStrictEqual(lines.map((l) => l.split(" ")[1]).sort(), ["lab-3", "lab-4"]);
        const after = await lab!.exec(2, `docker image ls -q ${AUTH_REGISTRY}/app`);
        assert.notStrictEqual(after.stdout.trim(), "", "lab-3 pulled the image");
        // Well after the renewal (a new task was placed, pulled and started since): still the
        // first task on lab-4, in its first container.
        const onLab4 = lines.filter((l) => / lab-4 /.test(l)).map((l) => l.split(" ")[0]);
        assert.deepStrictEqual(onLab4, [firstApp.split(" ")[0]], lines.join("\n"));
        assert.strictEqual(await appContainer(), firstContainer);
    });
});
