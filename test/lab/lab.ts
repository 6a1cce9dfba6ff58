/**
 * The lab: real Docker hosts made of Linux namespaces on this machine (see LAB.md in the shared
 * folder for what was measured and what does not work here: no routing mesh, no encrypted
 * overlays, no Docker Hub).
 *
 * ```ts
 * const reason = labUnavailableReason();          // "not root", "missing dockerd (...)", ...
 * const lab = await startLab({ hosts: 3 });        // ~1 s for 3 hosts
 * lab.hosts[0];                                    // { name: "lab-1", privateAddress: "10.77.0.11",
 *                                                  //   sshHost: "127.0.0.1", sshPort: 4xxxx, hostKey }
 * await lab.ssh(0, "docker swarm init --advertise-addr 10.77.0.11");   // over real SSH (ssh2)
 * await lab.exec(1, "curl -s http://10.77.0.11:8080/");                // inside host 2, no SSH
 * await lab.teardown();                            // nothing left behind
 * ```
 *
 * API (host numbers are 0-based indexes into `lab.hosts`; hosts are named lab-1, lab-2, ...):
 * - `labUnavailableReason(): string | undefined` why the lab cannot start here, or undefined.
 * - `labOrSkip(this)`, first in every lab suite's before(): the one place that decides what a
 *   lab that cannot start means. Where the lab is required (root on Linux, `CI` set, or
 *   `REQUIRE_LAB=1`: see `labRequiredBecause`) the hook fails, naming what is missing; elsewhere
 *   it prints the reason and skips the suite (its tests count as skipped, never as passed).
 * - `inOrder(this)`, in a lab suite's describe(): its tests build on each other in order, so
 *   `npm test -- --grep <one of them>` runs the whole suite (test/run.js).
 * - `startLab({ hosts, name? }): Promise<Lab>` 1..50 hosts; `name` ([a-z0-9]{1,20}, default
 *   "lab") names the state folder /tmp/pulumi-swarm-lab-<name>-<pid>. It first removes what a
 *   crashed earlier run with the same name left behind, and refuses to start when a live process
 *   still runs a lab of that name. One lab at a time is the intended use.
 * - `Lab.hosts`, `user` ("root"), `privateKey` (OpenSSH ed25519, authorised on every host),
 *   `registry` ("10.77.0.2:5000", an insecure registry of every dockerd), `image`
 *   ("lab/busybox:latest": static busybox with sh, httpd, nc, ... and Entrypoint
 *   ["/bin/tini", "-s", "--"], Cmd ["sh"], so containers stop at once on SIGTERM; made with no
 *   registry, loaded on every host, the same image ID everywhere).
 * - `Lab.exec(host, cmd, stdin?)` runs `sh -c cmd` inside the host's namespaces (nsenter), clean
 *   environment, for assertions. `Lab.ssh(host, cmd, stdin?)` runs cmd over SSH with ssh2 and
 *   checks the host key. Both resolve `{ code, stdout, stderr }` and never reject on a non-zero
 *   exit code.
 * - `Lab.connection(host)` `{ host, port, user, privateKey }` (the shape of @pulumi/command's
 *   remote connection).
 * - `Lab.stopDocker(host, signal?)` stops that host's dockerd by the PID in its /run/docker.pid
 *   (SIGTERM and wait, or "SIGKILL" for a crash); no-op when stopped. `Lab.startDocker(host)`
 *   starts it and waits until `docker info` answers; no-op when running.
 *   `Lab.resetDocker(host)` starts sshd and dockerd if needed (a stopped engine's swarm state
 *   removed first), `docker swarm leave --force`,
 *   removes all containers, prunes networks and volumes (images stay).
 * - `Lab.stopSshd(host)` stops that host's sshd (the listener, by /run/sshd.pid): new SSH
 *   connections are refused, as by a terminated instance. `Lab.startSshd(host)` starts it again
 *   and waits until it listens; no-op when running.
 * - `Lab.teardown()` kills every process of the lab (all of them live in one PID namespace),
 *   unmounts, removes cgroups and the state folder; idempotent. `Lab.leftovers()` lists what of
 *   the lab still exists (empty after teardown). `Lab.timings` has startMs and teardownMs.
 *
 * How a host is made (lab.sh beside this file does the work): network, UTS, IPC, mount and PID
 * namespaces; eth0 with its private address on a bridge in a control netns (10.77.0.1, and the
 * registry on 10.77.0.2); default route to 10.77.0.1, where every other destination is
 * "unreachable" (an immediate ICMP error), so nothing leaves the lab and nothing hangs trying;
 * private /run, /tmp, /proc and /sys (with the cgroup mounts); per-host folders on /etc/docker,
 * /etc/containerd, /etc/ssh, /root, /var/lib/docker, /var/lib/containerd, /var/log, /etc/hosts
 * (lists every lab host), /etc/hostname, /etc/resolv.conf (a name server that refuses at once);
 * containerd, dockerd (cgroup-parent /<lab id>/lab-<i>) and sshd with their default paths,
 * under tini as the host's PID 1. 127.0.0.1:<sshPort> in the root netns reaches the host's sshd
 * through two socat processes and a unix socket; the outer socat binds a port the kernel picks
 * (port 0) and keeps it from then on, and lab.sh reports which (no port is freed and bound again,
 * so two labs never race for one). The lab process itself is reaped by this Node
 * process and dies with it: if Node dies, its pipe closes and the lab's init exits; the mounts
 * and the state folder are then removed by the 'exit' handler or by the next startLab.
 */
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { Client } from "ssh2";

export interface LabHost {
    /** lab-1, lab-2, ...: the host's hostname and its swarm node name. */
    name: string;
    /** Address on the lab bridge, e.g. 10.77.0.11; use it for --advertise-addr. */
    privateAddress: string;
    /** Where the host's sshd is reached from the root network namespace: always 127.0.0.1. */
    sshHost: string;
    sshPort: number;
    /** The host's public SSH host key, "ssh-ed25519 AAAA... root@lab-1". */
    hostKey: string;
}

export interface ExecResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** The shape of @pulumi/command's `remote.ConnectionArgs`. */
export interface LabConnection {
    host: string;
    port: number;
    user: string;
    privateKey: string;
}

export interface LabTimings {
    startMs: number;
    teardownMs?: number;
}

export interface Lab {
    /** "pulumi-swarm-lab-<name>-<pid>": names the state folder and the dockerds' cgroup parent. */
    id: string;
    /** /tmp/<id>: keys, per-host folders (hosts/lab-<i>/log/{dockerd,containerd,sshd}.log). */
    stateDir: string;
    hosts: LabHost[];
    user: string;
    privateKey: string;
    registry: string;
    image: string;
    /**
     * (Re)starts a second registry, AUTH_REGISTRY ("10.77.0.2:5001", insecure for every dockerd
     * too), that takes user "pulumi" with this password only; started again with another
     * password, the old one is refused from then on (as an expired token is). Its images stay.
     */
    startAuthRegistry(password: string): Promise<void>;
    timings: LabTimings;
    exec(host: number, cmd: string, stdin?: string): Promise<ExecResult>;
    ssh(host: number, cmd: string, stdin?: string): Promise<ExecResult>;
    connection(host: number): LabConnection;
    /**
     * `unix://<state>/fwd/lab-<i>-docker.sock`: a socket in the root namespace that reaches the
     * host's Docker engine, for a docker CLI outside the lab (a build machine's DOCKER_HOST).
     */
    dockerHost(host: number): string;
    stopDocker(host: number, signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
    startDocker(host: number): Promise<void>;
    stopSshd(host: number): Promise<void>;
    startSshd(host: number): Promise<void>;
    resetDocker(host: number): Promise<void>;
    teardown(): Promise<void>;
    leftovers(): Promise<string[]>;
}

export interface StartLabOptions {
    /** How many hosts, 1..50. */
    hosts: number;
    /** [a-z0-9]{1,20}; default "lab". */
    name?: string;
}

const PREFIX = "10.77.0";
const REGISTRY = `${PREFIX}.2:5000`;
/** The lab's registry that needs a password (see `Lab.startAuthRegistry`); its user is "pulumi". */
export const AUTH_REGISTRY = `${PREFIX}.2:5001`;
const IMAGE = "lab/busybox:latest";
const CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NSFS_MAGIC = 0x6e736673;

/** Programs the lab runs, and the Debian package of each (all in apt-packages.txt). */
const PROGRAMS: [string, string][] = [
    ["dockerd", "docker.io"],
    ["docker-init", "docker.io"],
    ["docker-proxy", "docker.io"],
    ["docker", "docker.io"],
    ["containerd", "containerd"],
    ["containerd-shim-runc-v2", "containerd"],
    ["runc", "runc"],
    ["iptables", "iptables"],
    ["sshd", "openssh-server"],
    ["ssh-keygen", "openssh-client"],
    ["docker-registry", "docker-registry"],
    ["busybox", "busybox-static"],
    ["socat", "socat"],
    ["curl", "curl"],
    ["ip", "iproute2"],
    ["ss", "iproute2"],
    ["nsenter", "util-linux"],
    ["unshare", "util-linux"],
    ["setsid", "util-linux"],
    ["flock", "util-linux"],
    ["perl", "perl-base"],
    ["htpasswd", "apache2-utils"],
];

function findLabScript(): string | undefined {
    // lab.ts runs as bin/test/lab/lab.js; the script stays in test/lab.
    const candidates = [
        path.join(__dirname, "lab.sh"),
        path.resolve(__dirname, "..", "..", "..", "test", "lab", "lab.sh"),
    ];
    return candidates.find((p) => fs.existsSync(p));
}

function which(program: string): string | undefined {
    const dirs = new Set([...(process.env.PATH ?? "").split(":"), ...CLEAN_PATH.split(":")]);
    for (const dir of dirs) {
        if (!dir) continue;
        const p = path.join(dir, program);
        try {
            fs.accessSync(p, fs.constants.X_OK);
            return p;
        } catch {
            // not here
        }
    }
    return undefined;
}

let unavailable: { reason: string | undefined } | undefined;

/** Why the lab cannot start on this machine, or undefined when it can. Cached. */
export function labUnavailableReason(): string | undefined {
    if (!unavailable) unavailable = { reason: computeUnavailableReason() };
    return unavailable.reason;
}

/**
 * Why a lab that cannot start must fail the run here rather than skip, or undefined where
 * skipping (with the reason printed) is right: as root on Linux the lab is expected to work,
 * and CI (`CI` set, as GitHub Actions and most CI services set it) or `REQUIRE_LAB=1` ask for
 * it explicitly. `npm test -- --no-lab` leaves the lab suites out altogether.
 */
export function labRequiredBecause(env: NodeJS.ProcessEnv = process.env): string | undefined {
    const set = (v: string | undefined) => v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
    if (env.REQUIRE_LAB === "1") return "REQUIRE_LAB=1 is set";
    if (set(env.CI)) return `CI is set (CI=${env.CI})`;
    if (process.platform === "linux" && process.getuid?.() === 0) return "this is root on Linux, where the lab must run";
    return undefined;
}

/**
 * The one rule for a lab that cannot start, called first in every lab suite's before():
 * returns when the lab can start; throws (failing the hook, hence the run) when it cannot and
 * is required here (labRequiredBecause); otherwise prints why and skips the suite.
 */
export function labOrSkip(ctx: Mocha.Context): void {
    const reason = labUnavailableReason();
    if (!reason) return;
    const required = labRequiredBecause();
    if (required) {
        throw new Error(`the lab cannot start: ${reason}. It must run here because ${required}; use \`npm test -- --no-lab\` to leave the lab out on purpose.`);
    }
    console.log(`    lab: skipped: ${reason}`);
    ctx.skip();
}

/** The property test/run.js looks for on a suite whose tests run in order (see inOrder). */
export const IN_ORDER = "pulumiSwarmInOrder";

/**
 * Marks a suite whose tests build on each other, in order (a later test uses what an earlier
 * one made). test/run.js widens `--grep` to every test of such a suite when it selects any of
 * them, so that one test's title runs the suite up to it and on, never that test alone.
 */
export function inOrder(suite: Mocha.Suite): void {
    (suite as unknown as Record<string, boolean>)[IN_ORDER] = true;
}

function computeUnavailableReason(): string | undefined {
    if (process.platform !== "linux") return `not Linux (${process.platform})`;
    if (process.getuid?.() !== 0) return "not root (the lab makes namespaces, mounts and veths)";
    if (!findLabScript()) return "test/lab/lab.sh not found";
    const install = "apt-get install -y --no-install-recommends $(cat test/lab/apt-packages.txt)";
    const missing = PROGRAMS.filter(([program]) => !which(program));
    if (missing.length > 0) {
        const list = missing.map(([program, pkg]) => `${program} (${pkg})`).join(", ");
        return `missing ${list}: ${install}`;
    }
    try {
        execFileSync("ldd", [which("busybox") ?? "busybox"], { stdio: "ignore" });
        return `busybox is dynamically linked; the lab image needs busybox-static: ${install}`;
    } catch {
        // "not a dynamic executable": good
    }
    try {
        execFileSync("unshare", ["--pid", "--net", "--mount", "--uts", "--ipc", "--fork", "true"], {
            stdio: ["ignore", "ignore", "pipe"],
        });
    } catch (e) {
        const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
        return `cannot create namespaces here: ${stderr || String(e)}`;
    }
    if (!fs.existsSync("/sys/fs/cgroup")) return "no /sys/fs/cgroup";
    return undefined;
}

interface RunOptions {
    input?: string | Buffer;
    timeoutMs?: number;
}

/** Runs a program; resolves with its exit code and output (never rejects on exit codes). */
function run(file: string, args: string[], opts: RunOptions = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        let timer: NodeJS.Timeout | undefined;
        if (opts.timeoutMs !== undefined) {
            timer = setTimeout(() => {
                err.push(Buffer.from(`\n[lab: killed after ${opts.timeoutMs} ms]\n`));
                child.kill("SIGKILL");
            }, opts.timeoutMs);
        }
        child.stdout.on("data", (d: Buffer) => out.push(d));
        child.stderr.on("data", (d: Buffer) => err.push(d));
        child.stdin.on("error", () => undefined); // EPIPE when the program does not read stdin
        child.on("error", (e) => {
            if (timer) clearTimeout(timer);
            reject(e);
        });
        child.on("close", (code, signal) => {
            if (timer) clearTimeout(timer);
            resolve({
                code: code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0),
                stdout: Buffer.concat(out).toString(),
                stderr: Buffer.concat(err).toString(),
            });
        });
        child.stdin.end(opts.input ?? "");
    });
}

async function runOk(file: string, args: string[], what: string, opts: RunOptions = {}): Promise<string> {
    const r = await run(file, args, opts);
    if (r.code !== 0) {
        throw new Error(`${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
    }
    return r.stdout;
}

function procStartTime(pid: number): string | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    } catch {
        return undefined;
    }
}

function isLiveNode(pid: number): boolean {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return false;
        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("node");
    } catch {
        return false;
    }
}

function isNsfs(file: string): boolean {
    try {
        return fs.statfsSync(file).type === NSFS_MAGIC;
    } catch {
        return false;
    }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves true when `p` settles within `ms`, false otherwise; leaves no timer behind. */
async function withTimeout(p: Promise<void>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
    });
    try {
        return await Promise.race([p.then(() => true), timeout]);
    } finally {
        clearTimeout(timer);
    }
}

/** Lab ids of earlier runs named `name`: state folders and cgroups. */
function earlierLabIds(name: string): string[] {
    const re = new RegExp(`^pulumi-swarm-lab-${name}-(\\d+)$`);
    const ids = new Set<string>();
    const scan = (dir: string) => {
        try {
            for (const e of fs.readdirSync(dir)) if (re.test(e)) ids.add(e);
        } catch {
            // no such folder
        }
    };
    scan("/tmp");
    try {
        for (const h of fs.readdirSync("/sys/fs/cgroup")) scan(path.join("/sys/fs/cgroup", h));
    } catch {
        // no cgroups
    }
    return [...ids];
}

const running = new Set<string>();

export async function startLab(opts: StartLabOptions): Promise<Lab> {
    const started = Date.now();
    const reason = labUnavailableReason();
    if (reason) throw new Error(`the lab cannot start here: ${reason}`);
    const name = opts.name ?? "lab";
    if (!/^[a-z0-9]{1,20}$/.test(name)) throw new Error(`lab name must match [a-z0-9]{1,20}; got "${name}"`);
    const n = opts.hosts;
    if (!Number.isInteger(n) || n < 1 || n > 50) throw new Error(`hosts must be an integer 1..50; got ${n}`);
    const script = findLabScript() as string;
    const id = `pulumi-swarm-lab-${name}-${process.pid}`;
    if (running.has(id)) throw new Error(`lab "${name}" is already running in this process`);

    // What a crashed earlier run left behind.
    for (const old of earlierLabIds(name)) {
        const owner = Number(old.slice(old.lastIndexOf("-") + 1));
        if (owner !== process.pid && isLiveNode(owner)) {
            throw new Error(`lab "${name}" is in use by process ${owner} (/tmp/${old}); one lab at a time`);
        }
        await runOk("bash", [script, "down", old], `removing the leftovers of ${old}`, { timeoutMs: 120_000 });
    }

    const stateDir = `/tmp/${id}`;
    const ns = (f: string) => path.join(stateDir, "ns", f);
    let init: ChildProcess | undefined;
    let initExited: Promise<void> = Promise.resolve();
    let torndown = false;
    running.add(id);

    const downSync = () => {
        try {
            init?.kill("SIGKILL");
        } catch {
            // already gone
        }
        try {
            execFileSync("bash", [script, "down", id], { stdio: "ignore", timeout: 120_000 });
        } catch {
            // best effort at exit; the next startLab of this name tries again
        }
    };
    const onExit = () => {
        if (!torndown) downSync();
    };
    process.on("exit", onExit);

    const teardown = async () => {
        if (torndown) return;
        torndown = true;
        const t0 = Date.now();
        try {
            // Closing the pipe ends `cat`, then tini, whose exit makes the kernel kill the rest of
            // the lab; unshare reaps tini and this process reaps unshare: no zombie is left.
            // (SIGKILL to unshare instead would leave tini to the machine's PID 1 to reap.)
            init?.stdin?.end();
            if (!(await withTimeout(initExited, 10_000))) init?.kill("SIGKILL");
            await withTimeout(initExited, 10_000);
            await runOk("bash", [script, "down", id], `tearing down ${id}`, { timeoutMs: 120_000 });
        } finally {
            process.removeListener("exit", onExit);
            running.delete(id);
            lab.timings.teardownMs = Date.now() - t0;
        }
    };

    const hosts: LabHost[] = [];
    const lab: Lab = {
        id,
        stateDir,
        hosts,
        user: "root",
        privateKey: "",
        registry: REGISTRY,
        image: IMAGE,
        timings: { startMs: 0 },
        startAuthRegistry: async (password) => {
            if (!/^[A-Za-z0-9._-]{1,64}$/.test(password)) throw new Error(`startAuthRegistry: password must match [A-Za-z0-9._-]{1,64}`);
            await run("pkill", ["-f", `[d]ocker-registry serve ${stateDir}/auth-registry/config.yml`]);
            await runOk("nsenter", [`--pid=${ns("lab.pid")}`, "--", "bash", script, "auth-registry", id, password], "starting the password registry", {
                timeoutMs: 60_000,
            });
        },
        exec: async (host, cmd, stdin) => {
            const h = hostName(host);
            return run(
                "nsenter",
                [
                    `--pid=${ns(`${h}.pid`)}`,
                    `--mount=${ns(`${h}.mnt`)}`,
                    `--net=${ns(`${h}.net`)}`,
                    `--uts=${ns(`${h}.uts`)}`,
                    `--ipc=${ns(`${h}.ipc`)}`,
                    "--",
                    "env",
                    "-i",
                    `PATH=${CLEAN_PATH}`,
                    "HOME=/root",
                    "LANG=C.UTF-8",
                    "sh",
                    "-c",
                    cmd,
                ],
                { input: stdin },
            );
        },
        ssh: async (host, cmd, stdin) => sshExec(lab.connection(host), hosts[host].hostKey, cmd, stdin),
        connection: (host) => {
            const h = hosts[checkHost(host)];
            return { host: h.sshHost, port: h.sshPort, user: lab.user, privateKey: lab.privateKey };
        },
        dockerHost: (host) => `unix://${stateDir}/fwd/${hosts[checkHost(host)].name}-docker.sock`,
        stopDocker: async (host, signal = "SIGTERM") => {
            const sig = signal === "SIGKILL" ? "KILL" : "TERM";
            const r = await lab.exec(
                host,
                `pid=$(cat /run/docker.pid 2>/dev/null) && kill -0 "$pid" 2>/dev/null || exit 0
                 kill -s ${sig} "$pid"
                 n=0
                 while kill -0 "$pid" 2>/dev/null; do
                     n=$((n + 1)); [ $n -lt 600 ] || { echo "dockerd ($pid) still runs after 60 s" >&2; exit 1; }
                     sleep 0.1
                 done`,
            );
            if (r.code !== 0) throw new Error(`stopDocker(${host}): ${r.stderr.trim()}`);
        },
        startDocker: async (host) => {
            const r = await lab.exec(
                host,
                `if ! { pid=$(cat /run/docker.pid 2>/dev/null) && kill -0 "$pid" 2>/dev/null; }; then
                     rm -f /run/docker.pid
                     setsid -f dockerd </dev/null >>/var/log/dockerd.log 2>&1
                 fi
                 n=0
                 until docker info >/dev/null 2>&1; do
                     n=$((n + 1))
                     [ $n -lt 600 ] || { tail -20 /var/log/dockerd.log >&2; echo "dockerd did not answer in 60 s" >&2; exit 1; }
                     sleep 0.1
                 done`,
            );
            if (r.code !== 0) throw new Error(`startDocker(${host}): ${r.stderr.trim()}`);
        },
        stopSshd: async (host) => {
            const r = await lab.exec(
                host,
                `pid=$(cat /run/sshd.pid 2>/dev/null) && kill -0 "$pid" 2>/dev/null || exit 0
                 kill "$pid"
                 n=0
                 while kill -0 "$pid" 2>/dev/null; do
                     n=$((n + 1)); [ $n -lt 100 ] || { echo "sshd ($pid) still runs after 10 s" >&2; exit 1; }
                     sleep 0.1
                 done
                 rm -f /run/sshd.pid`,
            );
            if (r.code !== 0) throw new Error(`stopSshd(${host}): ${r.stderr.trim()}`);
        },
        startSshd: async (host) => {
            const r = await lab.exec(
                host,
                `if ! { pid=$(cat /run/sshd.pid 2>/dev/null) && kill -0 "$pid" 2>/dev/null; }; then
                     /usr/sbin/sshd -E /var/log/sshd.log || exit 1
                 fi
                 n=0
                 until [ -n "$(ss -Hltn 'sport = :22')" ]; do
                     n=$((n + 1)); [ $n -lt 100 ] || { echo "sshd does not listen after 10 s" >&2; exit 1; }
                     sleep 0.1
                 done`,
            );
            if (r.code !== 0) throw new Error(`startSshd(${host}): ${r.stderr.trim()}`);
        },
        resetDocker: async (host) => {
            await lab.startSshd(host);
            // A stopped engine that was in a swarm would spend its start reaching that swarm's
            // managers (22 to 57 s measured, for an engine stopped while its node was removed):
            // its swarm state goes first, which is what the leave below would leave of it.
            const wiped = await lab.exec(host, `{ pid=$(cat /run/docker.pid 2>/dev/null) && kill -0 "$pid" 2>/dev/null; } || rm -rf /var/lib/docker/swarm`);
            if (wiped.code !== 0) throw new Error(`resetDocker(${host}): ${wiped.stderr.trim()}`);
            await lab.startDocker(host);
            const r = await lab.exec(
                host,
                `timeout 60 docker swarm leave --force >/dev/null 2>&1 || true
                 ids=$(docker ps -aq) && { [ -z "$ids" ] || docker rm -f $ids >/dev/null; } &&
                 docker network prune -f >/dev/null && docker volume prune -f >/dev/null &&
                 [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ]`,
            );
            if (r.code !== 0) throw new Error(`resetDocker(${host}): ${(r.stderr || r.stdout).trim()}`);
        },
        teardown,
        leftovers: async () => {
            const out = await runOk("bash", [script, "leftovers", id], "listing leftovers");
            return out.split("\n").filter((l) => l.trim() !== "");
        },
    };
    const checkHost = (host: number) => {
        if (!Number.isInteger(host) || host < 0 || host >= n) {
            throw new Error(`host must be an index 0..${n - 1} into lab.hosts; got ${host}`);
        }
        return host;
    };
    const hostName = (host: number) => `lab-${checkHost(host) + 1}`;

    try {
        await runOk("bash", [script, "prepare", id, String(n)], "preparing the lab", { timeoutMs: 60_000 });
        const log = fs.openSync(path.join(stateDir, "run", "lab.log"), "a");
        // The lab's init: tini as PID 1 of a new PID namespace, with `cat` reading our pipe. When
        // this process dies the pipe closes, cat and tini exit, and the kernel kills the rest.
        const child = spawn(
            "unshare",
            [`--pid=${ns("lab.pid")}`, "--fork", "--kill-child", "--", which("docker-init") as string, "--", "cat"],
            { detached: true, stdio: ["pipe", log, log] },
        );
        fs.closeSync(log);
        init = child;
        initExited = new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) resolve();
            else child.once("exit", () => resolve());
        });
        child.on("error", () => undefined);
        child.unref();
        (child.stdin as unknown as net.Socket).unref();
        if (child.pid === undefined) throw new Error("could not start unshare for the lab's init");
        fs.writeFileSync(path.join(stateDir, "run", "lab.pid"), `${child.pid} ${procStartTime(child.pid)}\n`);
        for (let i = 0; !isNsfs(ns("lab.pid")); i++) {
            if (i > 500 || child.exitCode !== null) throw new Error("the lab's PID namespace did not appear");
            await sleep(10);
        }

        const inLab = (args: string[], what: string) =>
            runOk("nsenter", [`--pid=${ns("lab.pid")}`, "--", "bash", script, ...args], what, {
                timeoutMs: 180_000,
            });
        // Each host-up prints "sshport <port>": the port its forwarder bound and holds.
        const [, ...hostUps] = await Promise.all([
            inLab(["ctl-up", id], "starting the registry"),
            ...Array.from({ length: n }, (_, i) => inLab(["host-up", id, String(i + 1)], `starting lab-${i + 1}`)),
        ]);
        const ports = hostUps.map((out, i) => {
            const m = /^sshport (\d+)$/m.exec(out);
            if (!m) throw new Error(`starting lab-${i + 1}: lab.sh host-up reported no SSH port; it printed: ${JSON.stringify(out)}`);
            return Number(m[1]);
        });

        lab.privateKey = fs.readFileSync(path.join(stateDir, "id_ed25519"), "utf8");
        for (let i = 0; i < n; i++) {
            const h = `lab-${i + 1}`;
            hosts.push({
                name: h,
                privateAddress: `${PREFIX}.${11 + i}`,
                sshHost: "127.0.0.1",
                sshPort: ports[i],
                hostKey: fs
                    .readFileSync(path.join(stateDir, "hosts", h, "etc-ssh", "ssh_host_ed25519_key.pub"), "utf8")
                    .trim(),
            });
        }
    } catch (e) {
        try {
            await teardown();
        } catch (e2) {
            throw new Error(`${(e as Error).message}\n(and the teardown after it failed: ${(e2 as Error).message})`);
        }
        throw e;
    }
    lab.timings.startMs = Date.now() - started;
    return lab;
}

/** Runs cmd over SSH with ssh2, checking the server's host key; resolves with code and output. */
export function sshExec(
    conn: LabConnection,
    hostKey: string,
    cmd: string,
    stdin?: string,
    env: Record<string, string> = {},
): Promise<ExecResult & { combined: string }> {
    const expected = Buffer.from(hostKey.split(/\s+/)[1] ?? "", "base64");
    return new Promise((resolve, reject) => {
        const client = new Client();
        let settled = false;
        const fail = (err: Error) => {
            if (settled) return;
            settled = true;
            client.end();
            reject(err);
        };
        client.on("error", fail);
        client.on("close", () => fail(new Error("ssh: connection closed")));
        client.on("ready", () => {
            // env: one setenv request per variable, as @pulumi/command sends its environment.
            client.exec(cmd, { env }, (err, stream) => {
                if (err) return fail(err);
                const out: Buffer[] = [];
                const errOut: Buffer[] = [];
                const both: Buffer[] = [];
                let code: number | undefined;
                let signal: string | undefined;
                stream.on("data", (d: Buffer) => (out.push(d), both.push(d)));
                stream.stderr.on("data", (d: Buffer) => (errOut.push(d), both.push(d)));
                stream.on("exit", (c: number | null, sig?: string) => {
                    if (c !== null) code = c;
                    signal = sig;
                });
                stream.on("close", () => {
                    if (settled) return;
                    settled = true;
                    client.end();
                    const signum = signal ? (os.constants.signals[`SIG${signal}` as NodeJS.Signals] ?? 0) : 0;
                    resolve({
                        code: code ?? (signal ? 128 + signum : 255),
                        stdout: Buffer.concat(out).toString(),
                        stderr: Buffer.concat(errOut).toString(),
                        combined: Buffer.concat(both).toString(),
                    });
                });
                // Nothing is written when stdin is empty (the provider sets none then).
                stream.end(stdin && stdin.length > 0 ? stdin : undefined);
            });
        });
        client.connect({
            host: conn.host,
            port: conn.port,
            username: conn.user,
            privateKey: conn.privateKey,
            readyTimeout: 30_000,
            hostVerifier: (key: Buffer) => key.equals(expected),
        });
    });
}
