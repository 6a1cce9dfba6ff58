// Golden-file checks for rendered host scripts: each script byte for byte against
// test/golden/<file> (rewritten only with UPDATE_GOLDEN=1), and shellcheck-clean.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { repoRoot } from "./paths";
import { shellcheck } from "./shellcheck";

export const goldenDir = path.join(repoRoot, "test", "golden");

export interface GoldenCase {
    readonly file: string;
    readonly shell: "sh" | "bash";
    readonly render: () => string;
}

/** Declares, per case, "matches its golden file exactly" and "passes shellcheck (<shell>)". */
export function goldenScriptTests(cases: readonly GoldenCase[]): void {
    for (const c of cases) {
        describe(c.file, () => {
            const script = c.render();
            it("matches its golden file exactly", () => {
                const golden = path.join(goldenDir, c.file);
                if (process.env.UPDATE_GOLDEN === "1") {
                    fs.mkdirSync(goldenDir, { recursive: true });
                    fs.writeFileSync(golden, script);
                }
                assert.strictEqual(script, fs.readFileSync(golden, "utf8"));
            });
            it(`passes shellcheck (${c.shell})`, () => {
                assert.strictEqual(shellcheck(script, c.shell), "");
            });
        });
    }
}
