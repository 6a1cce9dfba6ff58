// The lab itself: real hosts (namespaces) with containerd, dockerd and sshd, a swarm formed over
// SSH, a host-mode published port, the registry, and a teardown that leaves nothing behind.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { execFileSync } from "child_process";
import { Lab, inOrder, labOrSkip, startLab } from "./lab";
import { until } from "./until";

/** Inode numbers of the namespaces a process holds: "net:[4026532288]" -> 4026532288. */
function namespaceInodesInUse(): Set<number> {
    const inUse = new Set<number>();
    for (const pid of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
        for (const t of ["pid", "mnt", "net", "uts", "ipc"]) {
            try {
                const m = /\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/ns/${t}`));
                if (m) inUse.add(Number(m[1]));
            } catch {
                // gone, or not ours to read
            }
        }
    }
    return inUse;
}

/** Namespace files ("nsfs" mounts) of all mount namespaces' mount tables, by inode. */
function nsfsMountsOf(inodes: Set<number>): string[] {
    const found: string[] = [];
    for (const pid of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
        let table = "";
        try {
            table = fs.readFileSync(`/proc/${pid}/mountinfo`, "utf8");
        } catch {
            continue;
        }
        for (const line of table.split("\n")) {
            const m = /^\S+ \S+ \S+ \S+:\[(\d+)\] (\S+)/.exec(line);
            if (m && inodes.has(Number(m[1]))) found.push(`${m[2]} in the mount table of process ${pid}`);
        }
    }
    return found;
}

function rootVeths(): string[] {
    return execFileSync("ip", ["-o", "link", "show", "type", "veth"], { encoding: "utf8" })
        .split("\n")
        .filter((l) => l.trim() !== "");
}

describe("lab: hosts", function () {
    // In order: the swarm formed by one test carries the service of the next; teardown is last.
    inOrder(this);
    this.timeout(60_000);
    let lab: Lab | undefined;
    const L = (): Lab => {
        if (!lab) throw new Error("the lab did not start");
        return lab;
    };

    before(async function () {
        this.timeout(180_000);
        labOrSkip(this);
        lab = await startLab({ hosts: 3, name: "labtest" });
        console.log(`    lab: started ${lab.hosts.length} hosts in ${lab.timings.startMs} ms (${lab.stateDir})`);
    });

    after(async function () {
        this.timeout(120_000);
        await lab?.teardown(); // no-op when the last test already tore it down
    });

    it("each host answers SSH with its own hostname and private address", async () => {
        for (const [i, h] of L().hosts.entries()) {
            assert.strictEqual(h.name, `lab-${i + 1}`);
            assert.strictEqual(h.privateAddress, `10.77.0.${11 + i}`);
            assert.strictEqual(h.sshHost, "127.0.0.1");
            const r = await L().ssh(i, "hostname; ip -4 -o addr show dev eth0 | awk '{ print $4 }'; id -un");
            assert.strictEqual(r.code, 0, r.stderr);
            assert.strictEqual(r.stdout, `${h.name}\n${h.privateAddress}/24\nroot\n`);
        }
    });

    it("an SSH session has sh, sleep, flock and its host's own docker engine", async () => {
        const ids = new Set<string>();
        for (const [i, h] of L().hosts.entries()) {
            const r = await L().ssh(
                i,
                "flock /tmp/lab.lock sh -c 'sleep 0.1; echo locked' && docker info --format '{{.Name}} {{.ID}}'",
            );
            assert.strictEqual(r.code, 0, r.stderr);
            const [locked, info] = r.stdout.trim().split("\n");
            assert.strictEqual(locked, "locked");
            const [name, engineId] = info.split(" ");
            assert.strictEqual(name, h.name);
            assert.match(engineId, /^[A-Z0-9]{4}(:[A-Z0-9]{4}){11}$/);
            ids.add(engineId);
        }
        assert.strictEqual(ids.size, 3, "every host has its own engine ID");
        const images = await L().exec(2, `docker image inspect --format '{{.Id}}' ${L().image}`);
        assert.strictEqual(images.code, 0, images.stderr);
        const r = await L().ssh(0, "echo from-stdin-$(cat)", "ok");
        assert.strictEqual(r.stdout, "from-stdin-ok\n");
        const failed = await L().ssh(1, "exit 3");
        assert.strictEqual(failed.code, 3);
    });

    it("forms a swarm over SSH: init on host 1, join of hosts 2 (manager) and 3 (worker)", async () => {
        const [h1, h2, h3] = L().hosts;
        const init = await L().ssh(0, `docker swarm init --advertise-addr ${h1.privateAddress}`);
        assert.strictEqual(init.code, 0, init.stderr);
        const tokens = await L().ssh(0, "docker swarm join-token -q manager; docker swarm join-token -q worker");
        const [managerToken, workerToken] = tokens.stdout.trim().split("\n");
        assert.match(workerToken, /^SWMTKN-/);
        const j2 = await L().ssh(1, `docker swarm join --token ${managerToken} --advertise-addr ${h2.privateAddress} ${h1.privateAddress}:2377`);
        assert.strictEqual(j2.code, 0, j2.stderr);
        const j3 = await L().ssh(2, `docker swarm join --token ${workerToken} --advertise-addr ${h3.privateAddress} ${h1.privateAddress}:2377`);
        assert.strictEqual(j3.code, 0, j3.stderr);
        const nodes = await until("3 Ready nodes", 30, async () => {
            const r = await L().ssh(0, "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'");
            const lines = r.stdout.trim().split("\n").sort();
            return lines.length === 3 && lines.every((l) => / Ready/.test(l)) ? lines : undefined;
        });
        assert.deepStrictEqual(nodes, ["lab-1 Ready Leader", "lab-2 Ready Reachable", "lab-3 Ready"]);
    });

    it("a global service with a host-mode published port answers on every host (the routing mesh does not work here)", async () => {
        const create = await L().ssh(
            0,
            `docker service create --detach --name web --mode global --stop-grace-period 1s ` +
                `--hostname '{{.Node.Hostname}}' --publish mode=host,target=80,published=8080 ${L().image} ` +
                `sh -c 'hostname > /var/www/index.html && exec httpd -f -p 80 -h /var/www'`,
        );
        assert.strictEqual(create.code, 0, create.stderr);
        // Asked from inside host 3: the root namespace has no route into the lab.
        for (const h of L().hosts) {
            const body = await until(`port 8080 on ${h.name}`, 30, async () => {
                const r = await L().exec(2, `curl -sf -m 2 http://${h.privateAddress}:8080/`);
                return r.code === 0 ? r.stdout : undefined;
            });
            assert.strictEqual(body, `${h.name}\n`, "each host's own task answers");
        }
    });

    it("an image pushed to the lab registry from host 1 is pulled and run on host 2", async () => {
        const tag = `${L().registry}/lab/pushed:1`;
        const push = await L().ssh(0, `docker tag ${L().image} ${tag} && docker push -q ${tag}`);
        assert.strictEqual(push.code, 0, push.stderr);
        const before = await L().ssh(1, `docker image inspect ${tag} >/dev/null 2>&1 && echo present || echo absent`);
        assert.strictEqual(before.stdout, "absent\n");
        const pull = await L().ssh(1, `docker pull -q ${tag} && docker run --rm ${tag} echo pulled`);
        assert.strictEqual(pull.code, 0, pull.stderr);
        assert.strictEqual(pull.stdout, `${tag}\npulled\n`);
        const catalog = await L().exec(2, `curl -sf http://${L().registry}/v2/_catalog`);
        assert.deepStrictEqual(JSON.parse(catalog.stdout), { repositories: ["lab/pushed"] });
    });

    it("stopDocker and startDocker stop and restart one host's engine only", async () => {
        await L().stopDocker(2);
        const down = await L().ssh(2, "docker info >/dev/null 2>&1; echo $?");
        assert.strictEqual(down.stdout, "1\n");
        const others = await L().ssh(1, "docker info --format '{{.Name}}'");
        assert.strictEqual(others.stdout, "lab-2\n");
        await L().stopDocker(2); // already stopped: no-op
        await L().startDocker(2);
        const up = await L().ssh(2, "docker info --format '{{.Name}}'");
        assert.strictEqual(up.stdout, "lab-3\n");
    });

    it("teardown leaves no processes, mounts, namespaces, veths, cgroups or folders", async function () {
        const lab = L();
        const nsDir = path.join(lab.stateDir, "ns");
        const nsFiles = fs.readdirSync(nsDir).map((f) => path.join(nsDir, f));
        const inodes = new Set(nsFiles.map((f) => fs.statSync(f).ino));
        assert.strictEqual(inodes.size, 2 + 5 * 3, "ctl.net, lab.pid and 5 namespaces per host");
        // Held open across the teardown: a namespace lives while a file descriptor refers to it,
        // so its inode number cannot be given to a namespace made meanwhile (the kernel hands out
        // the lowest free number at once, to another lab's dockerd, say) and be taken for ours.
        const held = nsFiles.map((f) => fs.openSync(f, "r"));
        try {
            const inUseBefore = namespaceInodesInUse();
            assert.ok([...inodes].some((i) => inUseBefore.has(i)), "the lab's namespaces are in use before");
            assert.notDeepStrictEqual(await lab.leftovers(), []);
            const vethsBefore = rootVeths();

            await lab.teardown();
            console.log(`    lab: teardown took ${lab.timings.teardownMs} ms`);

            assert.deepStrictEqual(await lab.leftovers(), []);
            const inUse = namespaceInodesInUse();
            assert.deepStrictEqual([...inodes].filter((i) => inUse.has(i)), [], "no process in a lab namespace");
            assert.deepStrictEqual(nsfsMountsOf(inodes), [], "no mount holds a lab namespace");
            assert.deepStrictEqual(
                fs
                    .readFileSync("/proc/self/mountinfo", "utf8")
                    .split("\n")
                    .map((l) => l.split(" ")[4])
                    .filter((m) => m === lab.stateDir || m?.startsWith(`${lab.stateDir}/`)),
                [],
            );
            assert.ok(!fs.existsSync(lab.stateDir), "the state folder is gone");
            assert.deepStrictEqual(rootVeths(), vethsBefore, "no veth in the root namespace");
            const cgroups = fs.readdirSync("/sys/fs/cgroup").filter((h) => fs.existsSync(`/sys/fs/cgroup/${h}/${lab.id}`));
            assert.deepStrictEqual(cgroups, []);
            const processes = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
            assert.ok(!processes.includes(`${lab.stateDir}/`), "no process mentions the lab's folder");
        } finally {
            held.forEach((fd) => fs.closeSync(fd));
        }
    });
});
