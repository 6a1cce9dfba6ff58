// Measured (2 cores): rootfs cold 52 s idle, 142 s under load (mmdebstrap; debootstrap 205 s); warm 1-3 ms (cached tarball); import + push 19-23 s; image 106 MB (42 MB gzipped).
/**
 * A realistic Debian image for the lab, which has no Docker Hub: Debian bookworm with nginx,
 * python3 (the full standard library), curl, ca-certificates and tini. It stands in for
 * `nginx:1.27-alpine` and `python:3.12-slim` (a proxy, a Python API service, a Dockerfile `FROM`).
 *
 * ```ts
 * const ref = await labWebImage(lab);   // "10.77.0.2:5000/lab/debian-web:bookworm", pushed
 * await lab.exec(1, `docker run -d ${ref} python3 -m http.server 8000`);  // any host pulls it
 * ```
 *
 * - The root file system is made here from Debian's packages by mmdebstrap (debootstrap is about
 *   2.5 times slower here), written straight to a tarball kept in LAB_IMAGE_CACHE
 *   (/var/cache/pulumi-swarm-lab, or $PULUMI_SWARM_LAB_CACHE), named by a hash of the suite, the
 *   package list and the recipe: a machine builds it once; a changed list builds a new one.
 *   mmdebstrap runs in its own mount and PID namespaces (its chroot mounts die with it) with its
 *   scratch folder in /dev/shm when that has room; the scratch folder is removed afterwards, and
 *   what a killed earlier run left (its scratch folder, a partial tarball) is removed next time.
 * - The image: `docker import` of the tarball into lab host 0's engine (through
 *   `lab.dockerHost(0)`), with ENTRYPOINT ["/usr/bin/tini", "-s", "--"] (containers stop at once
 *   on SIGTERM; `-s` keeps it quiet under compose's `init: true` too), CMD ["bash"], ENV PATH and
 *   LANG, a label listing the packages; then `docker push` to the lab registry, from which every
 *   lab host and swarm task pulls it.
 * - nginx: Debian's default site is removed, so a file in /etc/nginx/conf.d/ is the only server;
 *   its logs go to the container's stdout and stderr, as in the nginx image.
 * - One build per Node process (memoized) and one import + push per lab (memoized per Lab object).
 */
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Lab } from "./lab";

/** Debian suite of the image. */
export const LAB_WEB_SUITE = "bookworm";
/** What the image holds besides Debian's essential packages (bash, coreutils, dpkg, ...). */
export const LAB_WEB_PACKAGES: readonly string[] = Object.freeze([
    "nginx", // Debian's nginx 1.22 (nginx-light is a transitional package for it in bookworm)
    "python3", // 3.11 with the standard library: `python3 -m http.server` works
    "curl",
    "ca-certificates",
    "tini", // the image's entrypoint
]);
/** The same list under the name an earlier draft of this file used. */
export const WEB_IMAGE_PACKAGES = LAB_WEB_PACKAGES;
/** Repository and tag of the image in the lab registry. */
export const LAB_WEB_REPOSITORY = "lab/debian-web";
export const LAB_WEB_TAG = LAB_WEB_SUITE;
/** The label on the image that lists LAB_WEB_PACKAGES, space-separated. */
export const LAB_WEB_PACKAGES_LABEL = "org.pulumi-swarm.lab.packages";
/** Where the root file system tarballs are kept between runs. */
export const LAB_IMAGE_CACHE = process.env.PULUMI_SWARM_LAB_CACHE || "/var/cache/pulumi-swarm-lab";

const MIRROR = process.env.LAB_DEBIAN_MIRROR || "http://deb.debian.org/debian";
const CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const SCRATCH_PREFIX = "pulumi-swarm-lab-rootfs-";
const BUILD_TIMEOUT_MS = 20 * 60_000;

/** Runs on the finished root file system (outside the chroot; $1 is its folder). */
const CUSTOMIZE = [
    'r="$1"',
    'rm -f "$r/etc/nginx/sites-enabled/default"',
    'ln -sf /dev/stdout "$r/var/log/nginx/access.log"',
    'ln -sf /dev/stderr "$r/var/log/nginx/error.log"',
    'rm -rf "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/*',
    'find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +',
    'rm -f "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old "$r"/etc/hostname',
].join("\n");

/** mmdebstrap's arguments before the suite, target and mirror, for a package list and a customize script. */
function mmdebstrapOptions(packages: readonly string[], customize: string): string[] {
    return [
    "--variant=essential",
    // merged /usr set up the debootstrap way: no usrmerge package and the full perl it pulls in
    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
    '--aptopt=APT::Install-Recommends "false"',
    '--aptopt=Acquire::Retries "3"',
    "--dpkgopt=force-unsafe-io",
    "--format=tar", // the target's name (*.tar.tmp-<pid> until complete) does not say it
    `--include=${packages.join(",")}`,
    // Docs are removed afterwards rather than by --dpkgopt=path-exclude: with path-exclude
    // mmdebstrap filters every essential package through a Python script (about 50 s more here).
    `--customize-hook=${customize}`,
    ];
}

/** A Debian root file system to make with mmdebstrap and keep in LAB_IMAGE_CACHE. */
export interface LabRootfsSpec {
    /** Names the tarball: `<name>-<suite>-<hash>.tar`. [a-z0-9-]+ */
    readonly name: string;
    /** What it holds besides Debian's essential packages. */
    readonly packages: readonly string[];
    /** Runs on the finished root file system (outside the chroot; $1 is its folder). */
    readonly customize: string;
}

/** The web image's root file system (its tarball name and hash as before the specs existed). */
const WEB_ROOTFS: LabRootfsSpec = { name: "debian-web", packages: LAB_WEB_PACKAGES, customize: CUSTOMIZE };

export interface LabRootfs {
    /** The tarball in LAB_IMAGE_CACHE. */
    tarball: string;
    /** True when an earlier run had made it. */
    cached: boolean;
    /** Time to build it, or to find it in the cache. */
    ms: number;
    bytes: number;
}

export interface LabWebImageInfo {
    ref: string;
    /** "10.77.0.2:5000/lab/debian-web@sha256:..." as the registry knows it. */
    digest: string;
    rootfs: LabRootfs;
    /** `docker import` into host 0 and `docker push`. */
    importMs: number;
    pushMs: number;
    /** The image's size as host 0's engine reports it. */
    imageBytes: number;
}

interface Result {
    code: number;
    out: string;
}

/** Runs a program; output (stdout and stderr together) keeps its last 64 KiB. */
function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Result> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], env });
        let out = "";
        const keep = (d: Buffer) => {
            out = (out + d.toString()).slice(-65536);
        };
        child.stdout.on("data", keep);
        child.stderr.on("data", keep);
        const timer = setTimeout(() => {
            out += `\n[killed after ${timeoutMs} ms]\n`;
            child.kill("SIGKILL");
        }, timeoutMs);
        child.on("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            resolve({ code: code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1), out });
        });
    });
}

function which(program: string): string | undefined {
    for (const dir of new Set([...(process.env.PATH ?? "").split(":"), ...CLEAN_PATH.split(":")])) {
        if (!dir) continue;
        try {
            fs.accessSync(path.join(dir, program), fs.constants.X_OK);
            return path.join(dir, program);
        } catch {
            // not here
        }
    }
    return undefined;
}

function pidAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** Mount points at or under `dir` in this process's mount namespace. */
function mountsUnder(dir: string): string[] {
    const table = fs.readFileSync("/proc/self/mountinfo", "utf8");
    return table
        .split("\n")
        .map((l) => l.split(" ")[4])
        .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(dir + "/")));
}

/** Removes a scratch folder or file; refuses when anything is mounted there (never in practice). */
function removeScratch(dir: string): void {
    const mounted = mountsUnder(dir);
    if (mounted.length > 0) throw new Error(`not removing ${dir}: still mounted there: ${mounted.join(", ")}`);
    fs.rmSync(dir, { recursive: true, force: true });
}

/** /dev/shm (tmpfs: dpkg's many small writes cost nothing) when it has 2 GiB free, else tmpdir. */
function scratchParent(): string {
    try {
        const s = fs.statfsSync("/dev/shm");
        fs.accessSync("/dev/shm", fs.constants.W_OK);
        if (s.bavail * s.bsize >= 2 * 1024 ** 3) return "/dev/shm";
    } catch {
        // no /dev/shm
    }
    return os.tmpdir();
}

/** What killed earlier builds left: scratch folders and partial tarballs of dead processes. */
function removeStaleLeftovers(): void {
    const dead = (pid: string) => Number(pid) !== process.pid && !pidAlive(Number(pid));
    for (const parent of new Set(["/dev/shm", os.tmpdir()])) {
        let entries: string[] = [];
        try {
            entries = fs.readdirSync(parent);
        } catch {
            continue;
        }
        for (const e of entries) {
            const m = new RegExp(`^${SCRATCH_PREFIX}(\\d+)-`).exec(e);
            if (m && dead(m[1])) removeScratch(path.join(parent, e));
        }
    }
    let cached: string[] = [];
    try {
        cached = fs.readdirSync(LAB_IMAGE_CACHE);
    } catch {
        return;
    }
    for (const e of cached) {
        const m = /^[a-z0-9-]+-[a-z]+-[0-9a-f]{16}\.tar\.tmp-(\d+)$/.exec(e);
        if (m && dead(m[1])) removeScratch(path.join(LAB_IMAGE_CACHE, e));
    }
}

/** The cache file for the current recipe: a hash of everything that shapes the tarball. */
export function labRootfsTarball(spec: LabRootfsSpec = WEB_ROOTFS): string {
    const options = mmdebstrapOptions(spec.packages, spec.customize);
    const recipe = JSON.stringify({ suite: LAB_WEB_SUITE, packages: spec.packages, options });
    const key = crypto.createHash("sha256").update(recipe).digest("hex").slice(0, 16);
    return path.join(LAB_IMAGE_CACHE, `${spec.name}-${LAB_WEB_SUITE}-${key}.tar`);
}

async function buildRootfs(spec: LabRootfsSpec): Promise<LabRootfs> {
    const t0 = Date.now();
    removeStaleLeftovers();
    const tarball = labRootfsTarball(spec);
    const existing = fs.statSync(tarball, { throwIfNoEntry: false });
    if (existing && existing.size > 0) return { tarball, cached: true, ms: Date.now() - t0, bytes: existing.size };

    const missing = ["mmdebstrap", "unshare"].filter((p) => !which(p));
    if (missing.length > 0) {
        throw new Error(
            `cannot build the lab's Debian image: missing ${missing.join(", ")}: ` +
                "apt-get install -y --no-install-recommends $(cat test/lab/apt-packages.txt)",
        );
    }
    fs.mkdirSync(LAB_IMAGE_CACHE, { recursive: true });
    const partial = `${tarball}.tmp-${process.pid}`;
    const scratch = fs.mkdtempSync(path.join(scratchParent(), `${SCRATCH_PREFIX}${process.pid}-`));
    try {
        // Own mount namespace: the chroot's /proc, /sys and /dev mounts vanish with mmdebstrap even
        // if it is killed; own PID namespace with --kill-child: killing unshare ends them all.
        const r = await run(
            "unshare",
            [
                "--mount",
                "--propagation",
                "private",
                "--pid",
                "--fork",
                "--kill-child",
                "--",
                "mmdebstrap",
                ...mmdebstrapOptions(spec.packages, spec.customize),
                LAB_WEB_SUITE,
                partial,
                MIRROR,
            ],
            { PATH: CLEAN_PATH, HOME: "/root", LANG: "C.UTF-8", TMPDIR: scratch },
            BUILD_TIMEOUT_MS,
        );
        if (r.code !== 0) throw new Error(`mmdebstrap failed (exit ${r.code}):\n${r.out.trim()}`);
        const bytes = fs.statSync(partial).size;
        if (bytes < 10 * 1024 ** 2) throw new Error(`mmdebstrap wrote only ${bytes} bytes to ${partial}`);
        fs.renameSync(partial, tarball);
        return { tarball, cached: false, ms: Date.now() - t0, bytes };
    } finally {
        try {
            removeScratch(scratch);
        } finally {
            removeScratch(partial);
        }
    }
}

const rootfsBuilds = new Map<string, Promise<LabRootfs>>();

/** A root file system tarball: built at most once per process and spec, or found in the cache. */
export function labRootfs(spec: LabRootfsSpec = WEB_ROOTFS): Promise<LabRootfs> {
    const key = labRootfsTarball(spec);
    let p = rootfsBuilds.get(key);
    if (!p) {
        p = buildRootfs(spec);
        rootfsBuilds.set(key, p);
        p.catch(() => rootfsBuilds.delete(key)); // let a later call try again
    }
    return p;
}

async function importAndPush(lab: Lab): Promise<LabWebImageInfo> {
    const fsTar = await labRootfs();
    const ref = `${lab.registry}/${LAB_WEB_REPOSITORY}:${LAB_WEB_TAG}`;
    // This machine's docker CLI, talking to host 0's engine through the lab's socket.
    const env = { PATH: CLEAN_PATH, HOME: process.env.HOME ?? "/root", DOCKER_HOST: lab.dockerHost(0) };
    const docker = async (args: string[], what: string, timeoutMs = 300_000) => {
        const r = await run("docker", args, env, timeoutMs);
        if (r.code !== 0) throw new Error(`labWebImage: ${what} failed (exit ${r.code}): ${r.out.trim()}`);
        return r.out.trim();
    };
    const changes = [
        `ENV PATH=${CLEAN_PATH}`,
        "ENV LANG=C.UTF-8",
        'ENTRYPOINT ["/usr/bin/tini", "-s", "--"]',
        'CMD ["bash"]',
        `LABEL ${LAB_WEB_PACKAGES_LABEL}=${JSON.stringify(LAB_WEB_PACKAGES.join(" "))}`,
    ];
    const t0 = Date.now();
    await docker(["import", ...changes.flatMap((c) => ["--change", c]), fsTar.tarball, ref], `docker import ${fsTar.tarball}`);
    const t1 = Date.now();
    await docker(["push", ref], `docker push ${ref}`);
    const t2 = Date.now();
    const [digests, size] = (
        await docker(
            ["image", "inspect", "--format", "{{range .RepoDigests}}{{.}} {{end}}|{{.Size}}", ref],
            "docker image inspect",
        )
    ).split("|");
    const digest = digests.split(" ").find((d) => d.startsWith(`${lab.registry}/${LAB_WEB_REPOSITORY}@sha256:`));
    if (!digest) throw new Error(`labWebImage: pushed ${ref} but the engine reports no digest for it: ${digests}`);
    return { ref, digest, rootfs: fsTar, importMs: t1 - t0, pushMs: t2 - t1, imageBytes: Number(size) };
}

const perLab = new WeakMap<Lab, Promise<LabWebImageInfo>>();

/** The image and what it took to make it: built, imported and pushed once per lab. */
export function labWebImageInfo(lab: Lab): Promise<LabWebImageInfo> {
    let p = perLab.get(lab);
    if (!p) {
        p = importAndPush(lab);
        perLab.set(lab, p);
        p.catch(() => perLab.delete(lab));
    }
    return p;
}

/**
 * `${lab.registry}/lab/debian-web:bookworm`, pushed to the lab registry: every lab host and swarm
 * task can pull it. The first call for a lab imports the cached (or newly built) root file system
 * into host 0 and pushes it; later calls for the same lab return at once.
 */
export async function labWebImage(lab: Lab): Promise<string> {
    return (await labWebImageInfo(lab)).ref;
}
