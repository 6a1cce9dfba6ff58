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

export function typeCheck(source: string): string[] {
    const dir = path.join(repoRoot, "bin", "readme-example");
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "example.ts");
    fs.writeFileSync(file, source);
    const program = ts.createProgram([file], {
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
    this.timeout(60000);
    it("its usage example type-checks against the package", () => {
        const example = readmeExample();
        assert.match(example, /from "pulumi-swarm"/);
        assert.deepStrictEqual(typeCheck(example), []);
    });
    it("a broken example would fail (the check can fail)", () => {
        const broken = readmeExample().replace("managerCount: 3", 'managerCount: "three"');
        assert.notDeepStrictEqual(typeCheck(broken), []);
    });
});
