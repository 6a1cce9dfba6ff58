// The lab's Debian image (images.ts): built from Debian's packages (or found in the cache),
// pushed to the lab registry, pulled by another host and by swarm tasks; nginx proxying to a
// python3 http.server on a user-defined network; a Dockerfile FROM it built and run.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Lab, inOrder, labOrSkip, startLab } from "./lab";
import { until } from "./until";
import {
    LAB_IMAGE_CACHE,
    LAB_WEB_PACKAGES,
    LAB_WEB_PACKAGES_LABEL,
    LabWebImageInfo,
    labRootfsTarball,
    labWebImage,
    labWebImageInfo,
} from "./images";

const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MB`;

describe("lab: the Debian web image (nginx, python3, curl)", function () {
    // In order: the first test makes the image the others use; the teardown test is last.
    inOrder(this);
    this.timeout(60_000);
    let lab: Lab | undefined;
    let info: LabWebImageInfo | undefined;
    const L = (): Lab => {
        if (!lab) throw new Error("the lab did not start");
        return lab;
    };
    const I = (): LabWebImageInfo => {
        if (!info) throw new Error("the image was not made");
        return info;
    };
    /** exec that must succeed; returns stdout. */
    const ok = async (host: number, cmd: string, stdin?: string): Promise<string> => {
        const r = await L().exec(host, cmd, stdin);
        assert.strictEqual(r.code, 0, `lab-${host + 1}: ${cmd}\n${r.stderr}${r.stdout}`);
        return r.stdout;
    };

    before(async function () {
        this.timeout(180_000);
        labOrSkip(this);
        lab = await startLab({ hosts: 2, name: "images" });
        console.log(`    lab: started ${lab.hosts.length} hosts in ${lab.timings.startMs} ms (${lab.stateDir})`);
    });

    after(async function () {
        this.timeout(120_000);
        await lab?.teardown();
    });

    it("builds (or finds in the cache) the root file system and pushes the image to the lab registry", async function () {
        this.timeout(25 * 60_000); // a cold build downloads from Debian's mirror
        const t0 = Date.now();
        info = await labWebImageInfo(L());
        const firstMs = Date.now() - t0;
        const { rootfs } = info;
        console.log(
            `    lab: rootfs ${rootfs.cached ? "warm (cached)" : "cold (built)"} in ${rootfs.ms} ms, ` +
                `tarball ${mb(rootfs.bytes)}; import ${info.importMs} ms, push ${info.pushMs} ms, ` +
                `image ${mb(info.imageBytes)}; first call ${firstMs} ms`,
        );
        assert.strictEqual(info.ref, "10.77.0.2:5000/lab/debian-web:bookworm");
        assert.match(info.digest, /^10\.77\.0\.2:5000\/lab\/debian-web@sha256:[0-9a-f]{64}$/);
        assert.strictEqual(rootfs.tarball, labRootfsTarball());
        assert.strictEqual(path.dirname(rootfs.tarball), LAB_IMAGE_CACHE);
        assert.strictEqual(fs.statSync(rootfs.tarball).size, rootfs.bytes);

        // A second call for the same lab is memoized: the very same result object (a new import
        // and push would make a new one), and the same reference. (No wall-clock bound here.)
        assert.strictEqual(await labWebImageInfo(L()), info);
        assert.strictEqual(await labWebImage(L()), info.ref);

        const tags = await ok(1, `curl -sf http://${L().registry}/v2/lab/debian-web/tags/list`);
        assert.deepStrictEqual(JSON.parse(tags), { name: "lab/debian-web", tags: ["bookworm"] });
        const manifest = await ok(
            1,
            `curl -sf -o /dev/null -w '%{http_code} %header{docker-content-digest}' ` +
                `-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' ` +
                `http://${L().registry}/v2/lab/debian-web/manifests/bookworm`,
        );
        assert.strictEqual(manifest, `200 ${info.digest.split("@")[1]}`);

        // Nothing of the build is left but the cached tarball.
        const scratch = [...new Set(["/dev/shm", os.tmpdir()])].flatMap((d) =>
            fs.readdirSync(d).filter((e) => e.startsWith(`pulumi-swarm-lab-rootfs-${process.pid}-`)),
        );
        assert.deepStrictEqual(scratch, []);
        assert.deepStrictEqual(
            fs.readdirSync(LAB_IMAGE_CACHE).filter((e) => e.endsWith(`.tmp-${process.pid}`)),
            [],
        );
    });

    it("swarm tasks pull it from the registry: a global python3 http.server on both hosts", async function () {
        this.timeout(120_000);
        const [h1, h2] = L().hosts;
        assert.strictEqual(
            await ok(1, `docker image inspect ${I().ref} >/dev/null 2>&1 && echo present || echo absent`),
            "absent\n",
            "host 2 has not got the image before the service starts",
        );
        try {
            await ok(0, `docker swarm init --advertise-addr ${h1.privateAddress} >/dev/null`);
            const token = (await ok(0, "docker swarm join-token -q worker")).trim();
            await ok(1, `docker swarm join --token ${token} --advertise-addr ${h2.privateAddress} ${h1.privateAddress}:2377`);
            await ok(
                0,
                `docker service create --detach --name py --mode global --hostname '{{.Node.Hostname}}' ` +
                    `--publish mode=host,target=8000,published=8000 ${I().ref} ` +
                    `sh -c 'mkdir -p /srv && hostname > /srv/who && exec python3 -m http.server 8000 --directory /srv'`,
            );
            for (const h of L().hosts) {
                const listing = await until(`the task on ${h.name}`, 60, async () => {
                    const r = await L().exec(0, `curl -sf -m 2 http://${h.privateAddress}:8000/`);
                    return r.code === 0 ? r.stdout : undefined;
                });
                assert.match(listing, /<title>Directory listing for \/<\/title>/);
                assert.match(listing, /<a href="who">who<\/a>/);
                assert.strictEqual(await ok(0, `curl -sf -m 2 http://${h.privateAddress}:8000/who`), `${h.name}\n`);
            }
            const tasks = await ok(0, "docker service ps py --format '{{.Node}} {{.CurrentState}} {{.Image}}'");
            const lines = tasks.trim().split("\n").sort();
            assert.strictEqual(lines.length, 2, tasks);
            assert.match(lines[0], new RegExp(`^lab-1 Running .* ${I().ref.replace(/[.]/g, "\\.")}`));
            assert.match(lines[1], new RegExp(`^lab-2 Running .* ${I().ref.replace(/[.]/g, "\\.")}`));
            // The service runs the tag resolved to the pushed digest, which host 2 pulled by digest.
            const spec = await ok(0, "docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' py");
            assert.strictEqual(spec.trim(), `${I().ref}@${I().digest.split("@")[1]}`);
            const digests = await ok(1, `docker image inspect --format '{{join .RepoDigests " "}}' ${I().digest}`);
            assert.strictEqual(digests, `${I().digest}\n`, "host 2 pulled the pushed image");
        } finally {
            await L().resetDocker(0);
            await L().resetDocker(1);
        }
    });

    it("holds nginx without Debian's default site, python3 with its standard library, curl and tini", async () => {
        const ref = I().ref;
        const pull = await ok(1, `docker pull ${ref}`);
        assert.match(pull, new RegExp(`^Digest: ${I().digest.split("@")[1]}$`, "m"));
        assert.match(pull, new RegExp(`^${ref.replace(/[.]/g, "\\.")}$`, "m"));
        const config = await ok(
            1,
            `docker image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{index .Config.Labels "${LAB_WEB_PACKAGES_LABEL}"}}' ${ref}`,
        );
        assert.strictEqual(config, `["/usr/bin/tini","-s","--"] ["bash"] ${LAB_WEB_PACKAGES.join(" ")}\n`);
        const out = await ok(
            1,
            `docker run --rm ${ref} sh -c '` +
                `. /etc/os-release && echo "$ID $VERSION_CODENAME"; ` +
                `python3 -c "import http.server, json, sqlite3, ssl, sys; print(sys.version_info[:2])"; ` +
                `nginx -v 2>&1; nginx -t 2>&1 | tail -1; ` +
                `curl --version | head -1 | cut -d" " -f1; ` +
                `ls -A /etc/nginx/sites-enabled | wc -l; readlink /var/log/nginx/access.log; echo "$PATH"'`,
        );
        assert.deepStrictEqual(out.trim().split("\n"), [
            "debian bookworm",
            "(3, 11)",
            "nginx version: nginx/1.22.1",
            "nginx: configuration file /etc/nginx/nginx.conf test is successful",
            "curl",
            "0",
            "/dev/stdout",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ]);
    });

    it("nginx in one container proxies to a python3 http.server in another on a user-defined network", async function () {
        this.timeout(90_000);
        const ref = I().ref;
        const h2 = L().hosts[1];
        await ok(1, "mkdir -p /tmp/web/api /tmp/web/proxy");
        await ok(1, "cat > /tmp/web/api/hello.txt", "hello from python3 http.server on lab-2\n");
        await ok(
            1,
            "cat > /tmp/web/proxy/api.conf",
            [
                "server {",
                "    listen 80;",
                "    location /api/ {",
                "        proxy_pass http://api:8000/;",
                "        add_header X-Lab-Proxy nginx always;",
                "    }",
                "    location = /healthz { return 200 'proxy ok\\n'; }",
                "}",
                "",
            ].join("\n"),
        );
        await ok(1, "docker network create web >/dev/null");
        await ok(
            1,
            `docker run -d --name api --network web -v /tmp/web/api:/srv:ro ${ref} ` +
                `python3 -m http.server 8000 --directory /srv >/dev/null`,
        );
        await ok(
            1,
            `docker run -d --name proxy --network web -p 8080:80 ` +
                `-v /tmp/web/proxy/api.conf:/etc/nginx/conf.d/api.conf:ro ${ref} nginx -g 'daemon off;' >/dev/null`,
        );
        const url = `http://${h2.privateAddress}:8080`;
        const health = await until("nginx on lab-2:8080", 30, async () => {
            const r = await L().exec(1, `curl -sf -m 2 ${url}/healthz`);
            return r.code === 0 ? r.stdout : undefined;
        });
        assert.strictEqual(health, "proxy ok\n", "conf.d/api.conf is the server (no Debian default site)");
        const body = await until("the API through nginx", 30, async () => {
            const r = await L().exec(1, `curl -sf -m 2 ${url}/api/hello.txt`);
            return r.code === 0 ? r.stdout : undefined;
        });
        assert.strictEqual(body, "hello from python3 http.server on lab-2\n");
        const head = await ok(1, `curl -s -m 2 -D - -o /dev/null ${url}/api/hello.txt | tr -d '\\r'`);
        assert.match(head, /^HTTP\/1\.1 200 OK$/m);
        assert.match(head, /^Server: nginx\/1\.22\.1$/m);
        assert.match(head, /^X-Lab-Proxy: nginx$/m);
        assert.match(head, /^Content-Length: 40$/m);
        // A path the API does not have: python's own error page, passed through nginx.
        const missing = await ok(1, `curl -s -m 2 -w '\\n%{http_code}' ${url}/api/nope`);
        assert.match(missing, /<p>Error code: 404<\/p>/);
        assert.match(missing, /<p>Message: File not found\.<\/p>/);
        assert.match(missing, /\n404$/);
        // Asked from the other host too, across the lab network.
        assert.strictEqual(await ok(0, `curl -sf -m 2 ${url}/api/hello.txt`), body);
        // nginx logs to the container's stdout, like the nginx image.
        const logs = await ok(1, "docker logs proxy 2>/dev/null");
        assert.match(logs, /"GET \/api\/hello\.txt HTTP\/1\.1" 200 40 /);
        await ok(1, "docker rm -f proxy api >/dev/null && docker network rm web >/dev/null");
    });

    it("docker build of a Dockerfile FROM it pulls the base, builds, pushes and runs on the other host", async function () {
        this.timeout(120_000);
        const ref = I().ref;
        const built = `${L().registry}/lab/api:1`;
        await ok(1, `docker rmi ${ref} >/dev/null`);
        await ok(1, "mkdir -p /tmp/build");
        await ok(
            1,
            "cat > /tmp/build/Dockerfile",
            [
                `FROM ${ref}`,
                "WORKDIR /app",
                "COPY app.py .",
                "ENV GREETING=hello",
                'RUN python3 -m py_compile app.py && echo "built FROM $(. /etc/os-release && echo $VERSION_CODENAME)" > built.txt',
                'CMD ["python3", "app.py"]',
                "",
            ].join("\n"),
        );
        await ok(
            1,
            "cat > /tmp/build/app.py",
            [
                "import json, os, sys",
                "built = open('/app/built.txt').read().strip()",
                "init = open('/proc/1/cmdline').read().split(chr(0))[0]",
                "print(json.dumps({'greeting': os.environ['GREETING'], 'built': built, 'python': list(sys.version_info[:2]), 'init': init}))",
                "",
            ].join("\n"),
        );
        const build = await L().exec(1, `docker build -t ${built} /tmp/build 2>&1`);
        assert.strictEqual(build.code, 0, build.stdout + build.stderr);
        const base = await ok(1, `docker image inspect --format '{{join .RepoDigests " "}}' ${ref}`);
        assert.strictEqual(base, `${I().digest}\n`, "the build pulled its base from the lab registry");
        await ok(1, `docker push ${built} >/dev/null`);
        // PID 1 is tini: the entrypoint is inherited from the base image.
        const expected = { greeting: "hello", built: "built FROM bookworm", python: [3, 11], init: "/usr/bin/tini" };
        assert.deepStrictEqual(JSON.parse(await ok(1, `docker run --rm ${built}`)), expected);
        assert.deepStrictEqual(JSON.parse(await ok(0, `docker run --rm ${built}`)), expected);
    });

    it("teardown leaves nothing of the lab behind", async function () {
        this.timeout(120_000);
        await L().teardown();
        console.log(`    lab: teardown took ${L().timings.teardownMs} ms`);
        assert.deepStrictEqual(await L().leftovers(), []);
        assert.ok(fs.existsSync(labRootfsTarball()), "the cached root file system stays for the next run");
    });
});
