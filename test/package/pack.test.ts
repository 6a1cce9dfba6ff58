// What an outside user does: `npm pack` (which runs prepack: the package build only), the
// tarball installed into a fresh project in a temp dir, the README's stack example as that
// project's program, type-checked with tsc (strict, declarations checked too), and run under
// Pulumi's public mocks. Needs npm and the npm registry (or npm's cache: --prefer-offline).
import * as assert from "assert";
import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { repoRoot } from "../paths";
import { readmeExamples } from "../readme.test";

interface PackFile {
    path: string;
}
interface PackResult {
    filename: string;
    files: PackFile[];
}
interface ScratchRun {
    error?: string;
    resolvedFrom?: string;
    urls?: Record<string, string>;
    resources?: { type: string; name: string }[];
}

const timings: Record<string, number> = {};

function run(title: string, cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> {
    const start = Date.now();
    const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    timings[title] = (Date.now() - start) / 1000;
    if (r.error) {
        throw r.error;
    }
    return r;
}

function must(r: SpawnSyncReturns<string>, what: string): string {
    assert.strictEqual(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
}

/** The README's example that imports SwarmCluster and SwarmStack: the user's program. */
export function readmeStackExample(): string {
    const found = readmeExamples().filter((e) => /import \{ SwarmCluster, SwarmStack \} from "pulumi-swarm"/.test(e));
    assert.strictEqual(found.length, 1, "README.md should have exactly one example importing { SwarmCluster, SwarmStack }");
    return found[0];
}

/** The tarball's file list that the package may hold, as a reason per bad path (empty: fine). */
export function unpublishable(paths: string[]): string[] {
    const bad: string[] = [];
    for (const p of paths) {
        const ok = p === "package.json" || p === "README.md" || p === "LICENSE" || /^dist\/.+\.(js|d\.ts)$/.test(p);
        if (!ok) {
            bad.push(`${p}: not compiled code, declarations, README, LICENSE or package.json`);
        } else if (/(^|\/)(test|lab|bench|stacks)(\/|$)|\.test\./.test(p)) {
            bad.push(`${p}: tests, lab, bench and stacks examples are not published`);
        }
    }
    return bad;
}

describe("package: npm pack, install into a scratch project, import", function () {
    this.timeout(600000);
    let dir: string;
    let pack: PackResult;

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-swarm-pack-"));
        const out = must(run("npm pack (prepack builds dist/)", "npm", ["pack", "--json", "--loglevel=error", "--pack-destination", dir], repoRoot), "npm pack");
        // Lifecycle output may precede the JSON array.
        pack = (JSON.parse(out.slice(out.indexOf("\n[") + 1 || out.indexOf("["))) as PackResult[])[0];
    });

    after(() => {
        console.log(`      timings (s): ${JSON.stringify(timings)}`);
        if (dir) {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("packs compiled JavaScript and declarations for the components, README and LICENSE, nothing else", () => {
        const paths = pack.files.map((f) => f.path).sort();
        assert.deepStrictEqual(unpublishable(paths), []);
        for (const p of ["dist/index.js", "dist/index.d.ts", "dist/swarmCluster.d.ts", "dist/swarmStack.d.ts", "dist/compose/parse.js", "README.md", "LICENSE", "package.json"]) {
            assert.ok(paths.includes(p), `${p} missing from the tarball: ${paths.join(", ")}`);
        }
        // One declaration beside each compiled module.
        const js = paths.filter((p) => p.endsWith(".js")).map((p) => p.slice(0, -3));
        const dts = paths.filter((p) => p.endsWith(".d.ts")).map((p) => p.slice(0, -5));
        assert.deepStrictEqual(js, dts);
        assert.match(fs.readFileSync(path.join(repoRoot, "LICENSE"), "utf8"), /Apache License\s+Version 2\.0, January 2004/);
    });

    it("the file check can fail: tests, lab files, stacks and sources are refused", () => {
        assert.deepStrictEqual(unpublishable(["dist/index.js", "bin/test/cluster/cluster.test.js", "test/lab/lab.ts", "stacks/web/compose.yaml", "dist/lab/hosts.js", "components/index.ts"]), [
            "bin/test/cluster/cluster.test.js: not compiled code, declarations, README, LICENSE or package.json",
            "test/lab/lab.ts: not compiled code, declarations, README, LICENSE or package.json",
            "stacks/web/compose.yaml: not compiled code, declarations, README, LICENSE or package.json",
            "dist/lab/hosts.js: tests, lab, bench and stacks examples are not published",
            "components/index.ts: not compiled code, declarations, README, LICENSE or package.json",
        ]);
    });

    it("installs into a fresh project, type-checks the README's example there and builds a cluster and a stack under mocks", () => {
        const app = path.join(dir, "app");
        fs.mkdirSync(app);
        const ours = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
        fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "scratch-user-program", version: "1.0.0", private: true }, null, 2));
        // A Pulumi program depends on the SDK itself; it must dedupe with the package's range.
        must(
            run("npm install (tarball, @pulumi/pulumi, @types/node)", "npm", [
                "install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact", "--loglevel=error",
                path.join(dir, pack.filename), "@pulumi/pulumi@3.248.0", `@types/node@${ours.devDependencies["@types/node"]}`,
            ], app),
            "npm install",
        );
        // One SDK copy: a second @pulumi/pulumi under the package would not see the mocks.
        assert.ok(!fs.existsSync(path.join(app, "node_modules", "pulumi-swarm", "node_modules", "@pulumi", "pulumi")), "a nested @pulumi/pulumi under pulumi-swarm");
        assert.ok(!fs.existsSync(path.join(app, "node_modules", "pulumi-swarm", "test")), "tests were installed");

        fs.writeFileSync(path.join(app, "program.ts"), readmeStackExample());
        fs.writeFileSync(path.join(app, "usage.ts"), readmeExamples()[0]);
        fs.copyFileSync(path.join(repoRoot, "test", "package", "scratchMain.ts.txt"), path.join(app, "main.ts"));
        fs.cpSync(path.join(repoRoot, "stacks", "web"), path.join(app, "stacks", "web"), { recursive: true });
        fs.writeFileSync(
            path.join(app, "tsconfig.json"),
            JSON.stringify({
                compilerOptions: {
                    strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true,
                    outDir: "bin", rootDir: ".", types: ["node"], skipLibCheck: false,
                },
                files: ["main.ts", "program.ts", "usage.ts"],
            }, null, 2),
        );
        // The repo's TypeScript compiler; every import resolves from the scratch project's node_modules.
        must(run("tsc (scratch project)", process.execPath, [path.join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], app), "tsc in the scratch project");

        const r = run("program under mocks", process.execPath, [path.join(app, "bin", "main.js")], app);
        const line = r.stdout.trim().split("\n").pop() ?? "";
        let out: ScratchRun;
        try {
            out = JSON.parse(line) as ScratchRun;
        } catch {
            throw new Error(`the scratch program printed ${JSON.stringify(r.stdout)} ${r.stderr}`);
        }
        assert.strictEqual(out.error, undefined);
        assert.strictEqual(r.status, 0, r.stderr);
        assert.strictEqual(out.resolvedFrom, fs.realpathSync(path.join(app, "node_modules", "pulumi-swarm", "dist", "index.js")));
        const resources = out.resources!;
        const count = (type: string) => resources.filter((x) => x.type === type).length;
        const names = resources.map((x) => x.name);
        // The README's cluster: defaults, 3 managers and 2 workers.
        assert.strictEqual(count("aws:ec2/instance:Instance"), 5);
        assert.deepStrictEqual(resources.filter((x) => x.type === "aws:ec2/instance:Instance").map((x) => x.name).sort(), [
            "prod-manager-0", "prod-manager-1", "prod-manager-2", "prod-worker-0", "prod-worker-1",
        ]);
        assert.strictEqual(count("swarm:index:SwarmCluster"), 1);
        assert.strictEqual(count("swarm:index:SwarmStack"), 1);
        for (const n of ["prod-swarm-init", "prod-alb", "web-deploy", "web-build-api", "web-repo-api", "web-route-proxy-8080"]) {
            assert.ok(names.includes(n), `${n} not registered; have ${names.join(", ")}`);
        }
        assert.strictEqual(count("aws:ecr/repository:Repository"), 1);
        assert.strictEqual(count("aws:lb/targetGroup:TargetGroup"), 1);
        assert.deepStrictEqual(Object.values(out.urls!), ["http://prod-alb-1234.us-east-1.elb.amazonaws.com"]);
    });
});
