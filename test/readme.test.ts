// The README's usage example is compiled (strict) against the package's own sources, so
// it can never rot. "pulumi-swarm" resolves to components/index.ts.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { repoRoot } from "./paths";

export function readmeExample(): string {
    const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
    const m = /```typescript\n([\s\S]*?)```/.exec(readme);
    if (!m) {
        throw new Error("README.md has no ```typescript block");
    }
    return m[1];
}

/** Every ```typescript block of the README. */
export function readmeExamples(): string[] {
    const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
    return [...readme.matchAll(/```typescript\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** Type-checks each source as its own file, all in one program (one load of the types). */
export function typeCheck(...sources: string[]): string[] {
    const dir = path.join(repoRoot, "bin", "readme-example");
    fs.mkdirSync(dir, { recursive: true });
    const files = sources.map((source, i) => {
        const file = path.join(dir, `example-${i + 1}.ts`);
        fs.writeFileSync(file, source);
        return file;
    });
    const program = ts.createProgram(files, {
        strict: true,
        noEmit: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.CommonJS,
        moduleResolution: ts.ModuleResolutionKind.Node10,
        esModuleInterop: true,
        skipLibCheck: true,
        baseUrl: repoRoot,
        paths: { "pulumi-swarm": ["components/index.ts"] },
    });
    return ts
        .getPreEmitDiagnostics(program)
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
}

describe("pure: README", function () {
    this.timeout(180000);
    it("its usage example type-checks against the package", () => {
        const example = readmeExample();
        assert.match(example, /from "pulumi-swarm"/);
        assert.deepStrictEqual(typeCheck(example), []);
    });
    it("every typescript block type-checks (the stack example too)", () => {
        const examples = readmeExamples();
        assert.ok(examples.length >= 2, `found ${examples.length} blocks`);
        assert.deepStrictEqual(typeCheck(...examples), []);
    });
    it("its two commands: the local run first, then the tests that .ci/run runs", () => {
        const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("## The two commands"), readme.indexOf("\n## ", readme.indexOf("## The two commands") + 1));
        const blocks = [...section.matchAll(/```sh\n([\s\S]*?)\n```/g)].map((m) => m[1]);
        assert.deepStrictEqual(blocks, ["npm ci && pulumi login --local && pulumi stack select --create local && pulumi up", "npm ci && npm test"]);
        assert.ok(readme.indexOf("## The two commands") < readme.indexOf("```"), "they are the README's first commands");
        assert.ok(fs.existsSync(path.join(repoRoot, "Pulumi.local.yaml")), "the stack local has its file");
        const ci = fs.readFileSync(path.join(repoRoot, ".ci", "run"), "utf8");
        assert.match(ci, /\nnpm ci [^\n]*\n/);
        assert.ok(ci.endsWith("\nnpm test\n"), ".ci/run ends with the README's test command");
        // As root, it runs the same command as an unprivileged user first (issue 11).
        assert.match(ci, /runuser -u nobody -- env -u CI -u REQUIRE_LAB [^\n]* npm test\)/);
    });
    it("a broken example would fail (the check can fail)", () => {
        const broken = readmeExample().replace("managerCount: 3", 'managerCount: "three"');
        assert.notDeepStrictEqual(typeCheck(broken), []);
    });
});
