import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/**
 * The content hash of a build: every file of the context (path, mode and bytes; `.git` left
 * out), the Dockerfile, the build args, the target and the platform. It names the pushed tag
 * and decides when an image is rebuilt: unchanged inputs, no rebuild.
 */
export function buildHash(input: {
    context: string;
    dockerfile: string;
    args: Readonly<Record<string, string>>;
    target?: string;
    platform?: string;
}): string {
    const h = createHash("sha256");
    for (const file of listFiles(input.context)) {
        const full = path.join(input.context, file);
        const st = fs.statSync(full);
        h.update(`${file}\0${st.mode & 0o111 ? "x" : "-"}\0`);
        h.update(fs.readFileSync(full));
        h.update("\0");
    }
    const dockerfile = path.resolve(input.context, input.dockerfile);
    if (!fs.existsSync(dockerfile)) {
        throw new Error(`the Dockerfile ${dockerfile} does not exist`);
    }
    h.update(`dockerfile\0${path.relative(input.context, dockerfile)}\0`);
    h.update(fs.readFileSync(dockerfile));
    h.update(JSON.stringify({ args: Object.entries(input.args).sort(), target: input.target ?? "", platform: input.platform ?? "" }));
    return h.digest("hex");
}

/** Every regular file under a folder, relative and sorted; `.git` is left out. */
export function listFiles(dir: string): string[] {
    const out: string[] = [];
    const walk = (rel: string) => {
        for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
            const r = rel === "" ? e.name : `${rel}/${e.name}`;
            if (e.isDirectory()) {
                if (e.name !== ".git") {
                    walk(r);
                }
            } else if (e.isFile()) {
                out.push(r);
            }
        }
    };
    walk("");
    return out.sort();
}
