// Pure layer: package.json's declared ranges tell the truth. The versions the tests run
// against are inside them; the Node.js range is inside the engines of every runtime
// dependency npm installs (package-lock.json records them); @pulumi/pulumi's range leaves out
// releases that need a newer Node.js than the package declares.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as semver from "semver";
import { repoRoot } from "../paths";

interface Manifest {
    version: string;
    engines?: { node?: string };
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
}
interface LockEntry {
    version?: string;
    dev?: boolean;
    devOptional?: boolean;
    engines?: { node?: string } | string[];
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
}

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as Manifest;
const lock = JSON.parse(fs.readFileSync(path.join(repoRoot, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };

/** @pulumi/pulumi releases and their engines.node, from `npm view` (2026-12-02). */
export const PULUMI_SDK_ENGINES: Record<string, string> = { "3.248.0": ">=20", "3.249.0": ">=22" };

/** Runtime packages (not dev) whose engines.node does not cover all of `node`. */
export function engineConflicts(node: string, packages: Record<string, LockEntry>): string[] {
    const out: string[] = [];
    for (const [where, e] of Object.entries(packages)) {
        if (where === "" || e.dev || e.devOptional || !e.engines || Array.isArray(e.engines) || !e.engines.node) {
            continue;
        }
        if (!semver.subset(node, e.engines.node)) {
            out.push(`${where}@${e.version}: node ${e.engines.node}`);
        }
    }
    return out;
}

/** SDK releases inside `range` that need a Node.js the package's `node` range does not guarantee. */
export function sdkConflicts(range: string, node: string): string[] {
    return Object.entries(PULUMI_SDK_ENGINES)
        .filter(([v, engines]) => semver.satisfies(v, range) && !semver.subset(node, engines))
        .map(([v, engines]) => `@pulumi/pulumi@${v}: node ${engines}`);
}

describe("package: declared ranges", () => {
    it("every dependency the tests ran against is inside its declared range", () => {
        const outside: string[] = [];
        for (const [name, range] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
            const installed = (JSON.parse(fs.readFileSync(path.join(repoRoot, "node_modules", name, "package.json"), "utf8")) as Manifest).version;
            if (!semver.satisfies(installed, range)) {
                outside.push(`${name}@${installed} is outside ${range}`);
            }
        }
        assert.deepStrictEqual(outside, []);
        assert.ok(semver.satisfies(process.versions.node, pkg.engines!.node!), `Node.js ${process.versions.node} runs the tests but is outside engines ${pkg.engines!.node}`);
    });

    it("package-lock.json agrees with package.json (npm ci refuses otherwise)", () => {
        const root = lock.packages[""];
        assert.deepStrictEqual(root.dependencies, pkg.dependencies);
        assert.deepStrictEqual(root.devDependencies, pkg.devDependencies);
        assert.deepStrictEqual(root.engines, pkg.engines);
        assert.strictEqual(lock.packages["node_modules/@pulumi/pulumi"].version, "3.248.0");
    });

    it("engines.node is inside the engines of every runtime dependency", () => {
        assert.deepStrictEqual(engineConflicts(pkg.engines!.node!, lock.packages), []);
    });

    it("the engines check can fail: a plain >=20.19.0 would promise Node 21, which npm's own libraries the SDK uses refuse", () => {
        const conflicts = engineConflicts(">=20.19.0", lock.packages);
        assert.ok(conflicts.includes("node_modules/@npmcli/arborist@9.9.3: node ^20.17.0 || >=22.9.0"), conflicts.join("\n"));
    });

    it("@pulumi/pulumi's range leaves out the releases that need Node.js 22", () => {
        assert.deepStrictEqual(sdkConflicts(pkg.dependencies!["@pulumi/pulumi"], pkg.engines!.node!), []);
        assert.ok(semver.satisfies("3.248.0", pkg.dependencies!["@pulumi/pulumi"]));
    });

    it("the SDK range check can fail: ^3.248.0 would let npm pick 3.249.0 on Node 20", () => {
        assert.deepStrictEqual(sdkConflicts("^3.248.0", pkg.engines!.node!), ["@pulumi/pulumi@3.249.0: node >=22"]);
    });
});
