import { createHash } from "crypto";
import * as YAML from "yaml";
import { ComposeError } from "./errors";
import { ComposeModel, isMap } from "./parse";

/**
 * Rendering a validated compose file into what `docker stack deploy` gets on the manager:
 * - services that build run the pushed image by digest, and lose `build:`;
 * - every secret and config that is not external gets a content-hashed name,
 *   `<stack>_<key>_<12 hex>`, and a file shipped beside the compose file, so that changing
 *   its content creates a new secret and rolls the services that use it (swarm refuses to
 *   change a secret in place: "only updates to Labels are allowed");
 * - `version: "3.9"`, which `name:` on secrets and configs needs and Docker 20.10's CLI
 *   accepts.
 */

export interface RenderInput {
    readonly model: ComposeModel;
    readonly stackName: string;
    /** Service name -> the image to run, for services that build (`repo@sha256:...`). */
    readonly builtImages: Readonly<Record<string, string>>;
    /** Content of every secret that is not external (from files or the stack's args). */
    readonly secretContents: Readonly<Record<string, string>>;
    /** Content of every config that is not external. */
    readonly configContents: Readonly<Record<string, string>>;
}

export interface RenderedFile {
    /** Relative to the compose file: `compose.yaml`, `secrets/<key>`, `configs/<key>`. */
    readonly path: string;
    readonly content: string;
}

export interface RenderedStack {
    /** The compose file as deployed. */
    readonly compose: string;
    /** Every file the deploy writes on the manager, the compose file first. */
    readonly files: readonly RenderedFile[];
    /** Secret key -> swarm secret name (content-hashed; external ones as declared). */
    readonly secretNames: Readonly<Record<string, string>>;
    readonly configNames: Readonly<Record<string, string>>;
    /** sha256 of every file: changes exactly when what is deployed changes. */
    readonly hash: string;
}

/** Swarm's limit on secret and config names. */
export const MAX_OBJECT_NAME = 64;

export function contentHash(content: string): string {
    return createHash("sha256").update(content, "utf8").digest("hex");
}

/** `<stack>_<key>_<first 12 hex of sha256(content)>`. */
export function hashedName(stackName: string, key: string, content: string): string {
    return `${stackName}_${key}_${contentHash(content).slice(0, 12)}`;
}

export function renderStack(input: RenderInput): RenderedStack {
    const { model, stackName } = input;
    const doc = structuredClone(model.doc) as Record<string, unknown>;
    const problems: ComposeError[] = [];
    const files: RenderedFile[] = [];

    const services = doc.services as Record<string, Record<string, unknown>>;
    for (const s of model.services) {
        if (s.build) {
            const image = input.builtImages[s.name];
            if (image === undefined) {
                throw new Error(`internal: no built image for service ${s.name}`);
            }
            const svc = { ...services[s.name] };
            delete svc.build;
            svc.image = image;
            services[s.name] = reorder(svc, "image");
        }
    }

    const named = (kind: "secrets" | "configs", contents: Readonly<Record<string, string>>): Record<string, string> => {
        const names: Record<string, string> = {};
        const section = doc[kind] as Record<string, unknown> | undefined;
        for (const [key, source] of Object.entries(kind === "secrets" ? model.secrets : model.configs)) {
            if (source.kind === "external") {
                names[key] = source.name ?? key;
                continue;
            }
            const content = contents[key];
            if (content === undefined) {
                throw new Error(`internal: no content for ${kind}.${key}`);
            }
            const name = hashedName(stackName, key, content);
            if (name.length > MAX_OBJECT_NAME) {
                problems.push(
                    new ComposeError(
                        model.file,
                        `${kind}.${key}`,
                        `its swarm name ${name} is longer than ${MAX_OBJECT_NAME} characters; shorten the stack name or the key`,
                    ),
                );
            }
            const path = `${kind}/${key}`;
            const old = isMap(section?.[key]) ? (section![key] as Record<string, unknown>) : {};
            const spec: Record<string, unknown> = { name, file: `./${path}` };
            if (old.labels !== undefined) {
                spec.labels = old.labels;
            }
            section![key] = spec;
            files.push({ path, content });
            names[key] = name;
        }
        return names;
    };
    const secretNames = named("secrets", input.secretContents);
    const configNames = named("configs", input.configContents);
    if (problems.length > 0) {
        throw problems.length === 1 ? problems[0] : new Error(problems.map((p) => "- " + p.message).join("\n"));
    }

    const out: Record<string, unknown> = { version: "3.9" };
    for (const [k, v] of Object.entries(doc)) {
        if (k !== "version" && !k.startsWith("x-")) {
            out[k] = v;
        }
    }
    const compose = YAML.stringify(out, { aliasDuplicateObjects: false, lineWidth: 0 });
    const all = [{ path: "compose.yaml", content: compose }, ...files.sort((a, b) => a.path.localeCompare(b.path))];
    const hash = contentHash(all.map((f) => `${f.path}\0${contentHash(f.content)}`).join("\n"));
    return { compose, files: all, secretNames, configNames, hash };
}

/** The same mapping with `first` as its first key. */
function reorder(m: Record<string, unknown>, first: string): Record<string, unknown> {
    const out: Record<string, unknown> = { [first]: m[first] };
    for (const [k, v] of Object.entries(m)) {
        if (k !== first) {
            out[k] = v;
        }
    }
    return out;
}

/**
 * The bundle that carries the files to the manager on the deploy's stdin: one line per file,
 * `<path> <base64 of content>`. The deploy script decodes it into a private temporary folder.
 */
export function encodeBundle(files: readonly RenderedFile[]): string {
    return files.map((f) => `${f.path} ${Buffer.from(f.content, "utf8").toString("base64")}\n`).join("");
}
