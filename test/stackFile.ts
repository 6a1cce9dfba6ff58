// Reads a Pulumi.<stack>.yaml as the Pulumi CLI hands it to a program: its `config:` map
// with strings as they are, numbers and booleans as their text, lists and objects as JSON
// (what PULUMI_CONFIG carries and pulumi.runtime.allConfig() returns).
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { repoRoot } from "./paths";

export function stackFileConfig(stack: string): Record<string, string> {
    const file = path.join(repoRoot, `Pulumi.${stack}.yaml`);
    const doc = YAML.parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc.config ?? {})) {
        if (typeof v === "object" && v !== null && "secure" in v) {
            throw new Error(`${file}: ${k} is an encrypted secret; the tests cannot read it`);
        }
        out[k] = typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : JSON.stringify(v);
    }
    return out;
}
