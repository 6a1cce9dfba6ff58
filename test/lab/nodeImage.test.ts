// The local environment's node image (local/node/Dockerfile), for real: built on a lab host's
// engine from the repo's Dockerfile with a locally made Debian base as BASE_IMAGE (the lab has
// no Docker Hub and no network inside builds), run privileged, its sshd reached over SSH from
// this test (through the lab host's own sshd, as `ssh -J` would) and its inner Docker engine
// pulling from the lab registry and running a container; two nodes on their own network form a
// swarm over SSH.
import * as assert from "assert";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client, ClientChannel } from "ssh2";
import { ExecResult, Lab, inOrder, labOrSkip, startLab } from "./lab";
import { until } from "./until";
import { labRootfs } from "./images";
import { LAB_NODE_BASE_IMAGE, LAB_NODE_BASE_ROOTFS } from "./nodeBase";
import { repoRoot } from "../paths";

const NODE_CONTEXT = path.join(repoRoot, "local", "node");
const NODE_IMAGE = "lab/pulumi-swarm-node:test";
const CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The docker CLI of this machine against lab host 0's engine (a build machine's DOCKER_HOST). */
function docker(lab: Lab, args: string[], timeoutMs = 600_000): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
        const child = spawn("docker", args, {
            stdio: ["ignore", "pipe", "pipe"],
            env: { PATH: CLEAN_PATH, HOME: process.env.HOME ?? "/root", DOCKER_HOST: lab.dockerHost(0) },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? 1, stdout, stderr });
        });
    });
}

/**
 * `docker run --rm <args>` whose output is read from the container's log after it has exited:
 * an attached run of a container that exits at once can lose its output (seen here: an empty
 * stdout from `ls | grep -c`).
 */
async function runToEnd(lab: Lab, args: string[]): Promise<ExecResult> {
    const created = await docker(lab, ["run", "-d", ...args]);
    assert.strictEqual(created.code, 0, `docker run -d ${args.join(" ")}\n${created.stderr}`);
    const id = created.stdout.trim();
    try {
        const waited = await docker(lab, ["wait", id]);
        assert.strictEqual(waited.code, 0, waited.stderr);
        const logs = await docker(lab, ["logs", id]);
        assert.strictEqual(logs.code, 0, logs.stderr);
        return { code: Number(waited.stdout.trim()), stdout: logs.stdout, stderr: logs.stderr };
    } finally {
        await docker(lab, ["rm", "-f", id]);
    }
}

/**
 * Runs cmd over SSH on the node: a first SSH connection to lab host 0, a direct-tcpip channel
 * from there to the node's published port, and an SSH session with `key` over that channel,
 * checking the node's own host key.
 */
function sshToNode(lab: Lab, nodePort: number, key: string, hostKey: string, cmd: string): Promise<ExecResult> {
    const expected = Buffer.from(hostKey.split(/\s+/)[1] ?? "", "base64");
    const conn = lab.connection(0);
    const labHostKey = Buffer.from(lab.hosts[0].hostKey.split(/\s+/)[1] ?? "", "base64");
    return new Promise((resolve, reject) => {
        const jump = new Client();
        const node = new Client();
        let settled = false;
        const finish = (err: Error | undefined, r?: ExecResult) => {
            if (settled) return;
            settled = true;
            node.end();
            jump.end();
            if (err) reject(err);
            else resolve(r!);
        };
        jump.on("error", (e) => finish(new Error(`SSH to lab host 0: ${e.message}`)));
        node.on("error", (e) => finish(e));
        jump.on("ready", () => {
            jump.forwardOut("127.0.0.1", 0, "127.0.0.1", nodePort, (err, channel: ClientChannel) => {
                if (err) return finish(new Error(`forward to 127.0.0.1:${nodePort} on lab host 0: ${err.message}`));
                node.on("ready", () => {
                    node.exec(cmd, (e2, stream) => {
                        if (e2) return finish(e2);
                        let stdout = "";
                        let stderr = "";
                        let code = 255;
                        stream.on("data", (d: Buffer) => (stdout += d.toString()));
                        stream.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
                        stream.on("exit", (c: number | null) => (code = c ?? 255));
                        stream.on("close", () => finish(undefined, { code, stdout, stderr }));
                        stream.end();
                    });
                });
                node.connect({
                    sock: channel,
                    username: "root",
                    privateKey: key,
                    readyTimeout: 20_000,
                    hostVerifier: (k: Buffer) => k.equals(expected),
                });
            });
        });
        jump.connect({
            host: conn.host,
            port: conn.port,
            username: conn.user,
            privateKey: conn.privateKey,
            readyTimeout: 20_000,
            hostVerifier: (k: Buffer) => k.equals(labHostKey),
        });
    });
}

/**
 * Capabilities the kernel has that this process's bounding set lacks. `docker run --privileged`
 * asks runc for every capability the kernel knows (Docker 20.10), and runc fails ("unable to
 * apply caps: operation not permitted") when one is outside its bounding set: this sandbox's
 * root lacks CAP_SYS_RESOURCE. A user's machine has them all.
 */
function capabilitiesMissingHere(): string[] {
    const names = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    ];
    const last = Number(fs.readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
    const bnd = BigInt("0x" + (/^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync("/proc/self/status", "utf8"))?.[1] ?? "0"));
    return names.slice(0, last + 1).filter((_, i) => (bnd & (1n << BigInt(i))) === 0n);
}

/**
 * `--privileged`, or where this machine's root lacks capabilities, the nearest the lab can
 * give: every capability it has, no seccomp or AppArmor profile, /proc unmasked and writable
 * (the cgroup mounts are made writable after the start: see the test).
 */
function privilege(missing: string[]): string[] {
    if (missing.length === 0) return ["--privileged"];
    return [
        "--cap-add", "ALL",
        ...missing.flatMap((c) => ["--cap-drop", c]),
        "--security-opt", "seccomp=unconfined",
        "--security-opt", "apparmor=unconfined",
        "--security-opt", "systempaths=unconfined",
    ];
}

/** until(), where a probe that throws (SSH while sshd starts, say) means "not yet". */
function retrying<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
    return until(what, seconds, probe, { retryErrors: true });
}

function newKey(dir: string, name: string): { privateKey: string; publicKey: string } {
    const file = path.join(dir, name);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
    return { privateKey: fs.readFileSync(file, "utf8"), publicKey: fs.readFileSync(`${file}.pub`, "utf8").trim() };
}

describe("lab: the local environment's node image (Docker-in-Docker + sshd)", function () {
    // In order: the first test builds the image every later test runs.
    inOrder(this);
    this.timeout(120_000);
    let lab: Lab | undefined;
    let keyDir = "";
    let key = { privateKey: "", publicKey: "" };
    let buildOutput = "";
    const SSH_PORT = 2222;
    const L = (): Lab => {
        if (!lab) throw new Error("the lab did not start");
        return lab;
    };
    const ok = async (cmd: string): Promise<string> => {
        const r = await L().exec(0, cmd);
        assert.strictEqual(r.code, 0, `lab-1: ${cmd}\n${r.stderr}${r.stdout}`);
        return r.stdout;
    };
    /**
     * Where --privileged cannot be used (see privilege()), what it would give and those flags do
     * not: the node's cgroup mounts read-write (its engine makes its containers' cgroups under
     * the node's own).
     */
    const writableCgroups = async (container: string, missing: string[]): Promise<void> => {
        if (missing.length === 0) return;
        await ok(
            `pid=$(docker inspect -f '{{.State.Pid}}' ${container}) && ` +
                "for m in $(nsenter -t \"$pid\" -m sh -c 'ls -d /sys/fs/cgroup/*/'); do " +
                "mount -N \"/proc/$pid/ns/mnt\" -o remount,bind,rw \"$m\" || exit 1; done",
        );
    };
    const dockerOk = async (args: string[]): Promise<string> => {
        const r = await docker(L(), args);
        assert.strictEqual(r.code, 0, `docker ${args.join(" ")}\n${r.stderr}${r.stdout}`);
        return r.stdout;
    };

    before(async function () {
        this.timeout(25 * 60_000); // a cold base downloads from Debian's mirror
        labOrSkip(this);
        keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-swarm-node-keys-"));
        key = newKey(keyDir, "node-admin");
        lab = await startLab({ hosts: 1, name: "localnode" });
        const base = await labRootfs(LAB_NODE_BASE_ROOTFS);
        console.log(`    lab: node base rootfs ${base.cached ? "cached" : `built in ${base.ms} ms`} (${(base.bytes / 1024 ** 2).toFixed(0)} MB)`);
        await dockerOk(["import", "--change", `ENV PATH=${CLEAN_PATH}`, "--change", 'CMD ["bash"]', base.tarball, LAB_NODE_BASE_IMAGE]);
    });

    after(async function () {
        this.timeout(120_000);
        try {
            if (lab) await lab.exec(0, "docker rm -f -v node node-a node-b >/dev/null 2>&1; docker network rm local-net >/dev/null 2>&1; true");
        } finally {
            await lab?.teardown();
            if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
        }
    });

    it("builds from the repo's Dockerfile with the local base as BASE_IMAGE, using the base's packages as they are", async function () {
        this.timeout(10 * 60_000);
        const t0 = Date.now();
        const r = await docker(L(), ["build", "--build-arg", `BASE_IMAGE=${LAB_NODE_BASE_IMAGE}`, "-t", NODE_IMAGE, NODE_CONTEXT]);
        buildOutput = r.stdout + r.stderr;
        assert.strictEqual(r.code, 0, buildOutput);
        console.log(`    lab: node image built in ${Date.now() - t0} ms`);
        // install.sh found everything in the base: nothing was installed (there is no network).
        assert.match(buildOutput, /pulumi-swarm node: the base image has dockerd, containerd, runc, iptables, sshd, tini and socat/);
        assert.doesNotMatch(buildOutput, /pulumi-swarm node: installing/);
        const inspect = JSON.parse(await dockerOk(["image", "inspect", NODE_IMAGE])) as {
            Config: { Entrypoint: string[]; Volumes: Record<string, unknown>; ExposedPorts: Record<string, unknown> };
        }[];
        assert.deepStrictEqual(inspect[0].Config.Entrypoint, ["/usr/bin/tini", "-g", "--", "/usr/local/bin/pulumi-swarm-node"]);
        assert.deepStrictEqual(Object.keys(inspect[0].Config.Volumes), ["/var/lib/docker"]);
        assert.deepStrictEqual(Object.keys(inspect[0].Config.ExposedPorts), ["22/tcp"]);
        // No host key is baked in: each node makes its own.
        const keys = await runToEnd(L(), ["--entrypoint", "sh", NODE_IMAGE, "-c", "ls /etc/ssh/ | grep -c ssh_host_ || true"]);
        assert.deepStrictEqual([keys.code, keys.stdout], [0, "0\n"], keys.stderr);
        // "As they are": the build installed and removed no package; the node's programs are the
        // base's Debian packages.
        const packages = async (image: string) => {
            const r = await runToEnd(L(), ["--entrypoint", "dpkg-query", image, "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\n"]);
            assert.strictEqual(r.code, 0, r.stderr);
            return r.stdout.split("\n").filter((l) => l !== "").sort();
        };
        const [base, node] = [await packages(LAB_NODE_BASE_IMAGE), await packages(NODE_IMAGE)];
        assert.deepStrictEqual(node, base);
        const installed = (name: string) => node.find((l) => l.startsWith(`${name} `));
        for (const name of ["docker.io", "containerd", "runc", "iptables", "openssh-server", "openssh-client", "tini", "socat"]) {
            assert.match(installed(name) ?? `${name} missing`, /^\S+ \S+ ii ?$/, `${name} is installed in the node image`);
        }
        assert.match(installed("docker.io")!, /^docker\.io 20\.10\./);
    });

    it("runs with every capability this machine's root has: --privileged, or, where root lacks some and --privileged cannot start, the nearest flags", async function () {
        const missing = capabilitiesMissingHere();
        // Docker 20.10's --privileged asks runc for every capability the kernel knows: it starts
        // exactly when this machine's root has them all.
        const r = await docker(L(), ["run", "--rm", "--privileged", "--entrypoint", "true", NODE_IMAGE]);
        assert.strictEqual(r.code === 0, missing.length === 0, `--privileged exit ${r.code} (${r.stderr.trim()}) while root lacks [${missing.join(", ")}]`);
        if (missing.length > 0) {
            console.log(`    lab: this machine's root lacks CAP_${missing.join(", CAP_")}: --privileged cannot start here`);
            assert.match(r.stderr, /unable to apply caps: operation not permitted/);
        }
        // Either way, the node's processes hold every capability root has here (this process's
        // bounding set, read from /proc): all of them under --privileged; under the nearest
        // flags, those of them that Docker 20.10's "ALL" names, CAP_CHOWN (0) to CAP_AUDIT_READ (37).
        const status = await runToEnd(L(), [...privilege(missing), "--entrypoint", "grep", NODE_IMAGE, "^CapEff:", "/proc/self/status"]);
        assert.strictEqual(status.code, 0, status.stderr);
        const last = Number(fs.readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
        const ownBounding = BigInt("0x" + /^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync("/proc/self/status", "utf8"))![1]);
        const known = missing.length === 0 ? (1n << BigInt(last + 1)) - 1n : (1n << 38n) - 1n;
        assert.strictEqual(BigInt("0x" + status.stdout.trim().split(/\s+/)[1]).toString(16), (ownBounding & known).toString(16));
    });

    it("refuses to start without an authorized key, naming the variable", async function () {
        // Its message is read back with `docker logs`: the attached output of a container that
        // exits at once can come back empty (seen once in CI: exit 64, no stderr).
        const r = await docker(L(), ["run", "--name", "no-key", ...privilege(capabilitiesMissingHere()), NODE_IMAGE]);
        const logs = await docker(L(), ["logs", "no-key"]);
        await docker(L(), ["rm", "-f", "no-key"]);
        assert.strictEqual(r.code, 64, r.stdout + r.stderr);
        assert.match(logs.stderr, /SSH_AUTHORIZED_KEYS is empty and \/run\/pulumi-swarm\/authorized_keys is missing/);
    });

    it("runs privileged (or as near as the lab allows): sshd accepts the key (and only it), and the inner engine pulls from the registry and runs a container", async function () {
        this.timeout(5 * 60_000);
        const registry = L().registry; // 10.77.0.2:5000, reached from lab host 0's network
        const missing = capabilitiesMissingHere();
        const registryPort = registry.split(":")[1];
        // The lab's busybox image, in the lab registry for the node to pull.
        await ok(`docker tag ${L().image} ${registry}/lab/busybox:node && docker push -q ${registry}/lab/busybox:node >/dev/null`);
        await dockerOk([
            "run", "-d", ...privilege(missing), "--name", "node", "--hostname", "node-0",
            "-p", `127.0.0.1:${SSH_PORT}:22`,
            "-e", `SSH_AUTHORIZED_KEYS=${key.publicKey}`,
            "-e", `DOCKERD_INSECURE_REGISTRIES=${registry}`,
            "-e", `REGISTRY_FORWARD=${registryPort}=${registry}`,
            NODE_IMAGE,
        ]);
        await writableCgroups("node", missing);
        // The node's host key, read by the engine (not over SSH) so that SSH can check it.
        const hostKey = await retrying("the node's host key", 60, async () => {
            const r = await docker(L(), ["exec", "node", "cat", "/etc/ssh/ssh_host_ed25519_key.pub"]);
            return r.code === 0 && r.stdout.startsWith("ssh-ed25519 ") ? r.stdout.trim() : undefined;
        });
        const ssh = (cmd: string) => sshToNode(L(), SSH_PORT, key.privateKey, hostKey, cmd);

        const who = await retrying("sshd on the node", 60, async () => {
            const r = await ssh("id -un; hostname");
            return r.code === 0 ? r.stdout : undefined;
        });
        assert.strictEqual(who, "root\nnode-0\n");

        // Key-only: another key is refused; sshd's effective configuration offers no password.
        const other = newKey(keyDir, "someone-else");
        await assert.rejects(sshToNode(L(), SSH_PORT, other.privateKey, hostKey, "true"), /authentication methods failed/);
        const sshdConfig = await ssh("/usr/sbin/sshd -T | grep -E '^(passwordauthentication|kbdinteractiveauthentication|permitrootlogin|pubkeyauthentication) '");
        assert.strictEqual(sshdConfig.code, 0, sshdConfig.stderr);
        assert.deepStrictEqual(sshdConfig.stdout.trim().split("\n").sort(), [
            "kbdinteractiveauthentication no",
            "passwordauthentication no",
            "permitrootlogin without-password",
            "pubkeyauthentication yes",
        ]);

        // The inner engine, over SSH as SwarmBootstrap uses it.
        const info = await retrying("the inner Docker engine", 90, async () => {
            const r = await ssh("docker info --format '{{.ServerVersion}}|{{.Driver}}|{{json .RegistryConfig.IndexConfigs}}'");
            return r.code === 0 ? r.stdout.trim() : undefined;
        });
        const [version, driver, indexConfigs] = info.split("|");
        console.log(`    lab: inner engine ${version}, storage driver ${driver}`);
        assert.match(version, /^20\.10\./);
        const configs = JSON.parse(indexConfigs) as Record<string, { Secure: boolean }>;
        assert.strictEqual(configs[registry]?.Secure, false, `${registry} is an insecure registry for the inner engine: ${indexConfigs}`);

        // Pull by the registry's own address (insecure-registries) and by 127.0.0.1:<port>, the
        // address a build machine pushes to, which the node forwards to the registry.
        for (const ref of [`${registry}/lab/busybox:node`, `127.0.0.1:${registryPort}/lab/busybox:node`]) {
            const run = await ssh(`docker run --rm ${ref} sh -c 'echo hello from $(hostname)' && docker image inspect --format '{{index .RepoDigests 0}}' ${ref}`);
            assert.strictEqual(run.code, 0, `${ref}: ${run.stderr}${run.stdout}`);
            const [hello, digest] = run.stdout.trim().split("\n");
            assert.match(hello, /^hello from [0-9a-f]{12}$/);
            assert.match(digest, /@sha256:[0-9a-f]{64}$/);
        }
        // A container of the inner engine is that engine's, not the lab host's.
        const inner = await ssh("docker run -d --name inner " + `${registry}/lab/busybox:node sleep 300 >/dev/null && docker ps --format '{{.Names}}'`);
        assert.strictEqual(inner.stdout.trim(), "inner", inner.stderr);
        assert.strictEqual((await ok("docker ps --format '{{.Names}}'")).trim(), "node");
        // And a swarm forms on it: `docker swarm init` as the bootstrap runs it.
        const swarm = await ssh("docker swarm init --advertise-addr 127.0.0.1 >/dev/null && docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'");
        assert.strictEqual(swarm.stdout.trim(), "active true", swarm.stderr);
    });
    it("two nodes on their own network form a swarm over SSH, advertising their network addresses, and run a global service", async function () {
        this.timeout(5 * 60_000);
        const missing = capabilitiesMissingHere();
        const registry = L().registry;
        await ok(`docker tag ${L().image} ${registry}/lab/busybox:node && docker push -q ${registry}/lab/busybox:node >/dev/null`);
        await ok("docker network create --subnet 10.213.0.0/24 --gateway 10.213.0.1 local-net >/dev/null");
        const nodes = [
            { name: "node-a", address: "10.213.0.11", port: 2231 },
            { name: "node-b", address: "10.213.0.12", port: 2232 },
        ];
        const hostKeys: string[] = [];
        for (const n of nodes) {
            await dockerOk([
                "run", "-d", ...privilege(missing), "--name", n.name, "--hostname", n.name,
                "--network", "local-net", "--ip", n.address, "-p", `127.0.0.1:${n.port}:22`,
                "-e", `SSH_AUTHORIZED_KEYS=${key.publicKey}`, "-e", `DOCKERD_INSECURE_REGISTRIES=${registry}`,
                NODE_IMAGE,
            ]);
            await writableCgroups(n.name, missing);
            hostKeys.push(
                await retrying(`${n.name}'s host key`, 60, async () => {
                    const r = await docker(L(), ["exec", n.name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub"]);
                    return r.code === 0 && r.stdout.startsWith("ssh-ed25519 ") ? r.stdout.trim() : undefined;
                }),
            );
        }
        const ssh = async (i: number, cmd: string): Promise<string> => {
            const r = await sshToNode(L(), nodes[i].port, key.privateKey, hostKeys[i], cmd);
            assert.strictEqual(r.code, 0, `${nodes[i].name}: ${cmd}\n${r.stderr}${r.stdout}`);
            return r.stdout;
        };
        for (let i = 0; i < nodes.length; i++) {
            await retrying(`${nodes[i].name}'s engine over SSH`, 90, async () => {
                const r = await sshToNode(L(), nodes[i].port, key.privateKey, hostKeys[i], "docker info --format '{{.ServerVersion}}'");
                return r.code === 0 ? r.stdout : undefined;
            });
        }
        await ssh(0, `docker swarm init --advertise-addr ${nodes[0].address} >/dev/null`);
        const token = (await ssh(0, "docker swarm join-token -q worker")).trim();
        await ssh(1, `docker swarm join --token ${token} --advertise-addr ${nodes[1].address} ${nodes[0].address}:2377 >/dev/null`);
        const members = await retrying("both nodes Ready", 60, async () => {
            const out = (await ssh(0, "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'")).trim().split("\n").map((l) => l.trimEnd()).sort();
            return out.length === 2 && out.every((l) => / Ready/.test(l)) ? out : undefined;
        });
        assert.deepStrictEqual(members, ["node-a Ready Leader", "node-b Ready"]);
        const addrs = (await ssh(0, "docker node inspect --format '{{.Description.Hostname}} {{.Status.Addr}}' node-a node-b")).trim().split("\n").sort();
        assert.deepStrictEqual(addrs, ["node-a 10.213.0.11", "node-b 10.213.0.12"]);
        // A global service: each node's engine pulls the image from the registry and runs a task.
        await ssh(0, `docker service create --detach --name hello --mode global ${registry}/lab/busybox:node sleep 300 >/dev/null`);
        const tasks = await retrying("a running task on each node", 90, async () => {
            const out = (await ssh(0, "docker service ps hello --filter desired-state=running --format '{{.Node}} {{.CurrentState}}'")).trim().split("\n").sort();
            return out.length === 2 && out.every((l) => / Running /.test(l)) ? out.map((l) => l.split(" ")[0]) : undefined;
        });
        assert.deepStrictEqual(tasks, ["node-a", "node-b"]);
    });
});
