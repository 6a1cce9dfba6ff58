/**
 * A Debian image for the lab, which has no Docker Hub: the stand-in for `nginx:1.27-alpine`
 * and `python:3.12-slim` in stacks/web (nginx-light, python3 with its standard library, curl),
 * made from Debian's packages with mmdebstrap, imported into a lab host's engine and pushed to
 * the lab registry, so that every host (and every swarm task) pulls it from there.
 *
 * Measured on this project's 2-core machines: the root file system takes about 130 s to make
 * cold (downloads included) and is cached under /var/cache/pulumi-swarm-lab, keyed by its
 * recipe; import and push take a few seconds. The image is about 180 MB.
 */
import { execFile } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Lab } from "./lab";

export const WEB_IMAGE_PACKAGES = ["nginx-light", "python3", "curl", "ca-certificates"];
const SUITE = "bookworm";
const MIRROR = "http://deb.debian.org/debian";
const CACHE = "/var/cache/pulumi-swarm-lab";

function run(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(cmd, args, { env: { ...process.env, ...(env ?? {}) }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
            if (err) {
                reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stderr.slice(-2000)}`));
            } else {
                resolve(stdout);
            }
        });
    });
}

/** The root file system as a tarball, made once per recipe and kept in the cache. */
async function rootfs(): Promise<string> {
    const hooks = ['rm -f "$1"/etc/nginx/sites-enabled/default'];
    const recipe = JSON.stringify({ SUITE, MIRROR, packages: WEB_IMAGE_PACKAGES, hooks });
    const file = path.join(CACHE, `debian-web-${createHash("sha256").update(recipe).digest("hex").slice(0, 16)}.tar`);
    if (fs.existsSync(file)) {
        return file;
    }
    fs.mkdirSync(CACHE, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    try {
        await run("mmdebstrap", [
            "--quiet",
            "--variant=minbase",
            `--include=${WEB_IMAGE_PACKAGES.join(",")}`,
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            ...hooks.map((h) => `--customize-hook=${h}`),
            "--format=tar",
            SUITE,
            tmp,
            MIRROR,
        ]);
        fs.renameSync(tmp, file);
    } finally {
        fs.rmSync(tmp, { force: true });
    }
    return file;
}

const made = new WeakMap<Lab, Promise<string>>();

/** `<lab registry>/lab/debian-web:bookworm`, pushed to the lab registry (once per lab). */
export function labWebImage(lab: Lab): Promise<string> {
    let p = made.get(lab);
    if (!p) {
        p = (async () => {
            const ref = `${lab.registry}/lab/debian-web:${SUITE}`;
            const tar = await rootfs();
            const env = { DOCKER_HOST: lab.dockerHost(0) };
            await run("docker", ["import", "--change", 'CMD ["bash"]', "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", tar, ref], env);
            await run("docker", ["push", "--quiet", ref], env);
            return ref;
        })();
        made.set(lab, p);
    }
    return p;
}
