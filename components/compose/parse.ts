import * as YAML from "yaml";
import { ComposeError } from "./errors";
import { Variables, interpolateDocument } from "./interpolate";

/**
 * Parsing and validation of a compose file for `docker stack deploy`: YAML (merge keys on),
 * `${VAR}` interpolation, then every check that would otherwise surface only on the manager,
 * after resources were created, or never (keys that `docker stack deploy` silently ignores).
 */

/** One published port, long form. */
export interface PortSpec {
    readonly target: number;
    /** Absent: swarm picks one (30000-32767), which a route cannot target. */
    readonly published?: number;
    readonly protocol: "tcp" | "udp" | "sctp";
    /** "ingress" (routing mesh, every node answers) or "host" (only nodes running a task). */
    readonly mode: "ingress" | "host";
}

export interface BuildSpec {
    /** Relative to the compose file's folder, as written. */
    readonly context: string;
    /** Relative to the context. @default "Dockerfile" */
    readonly dockerfile: string;
    readonly args: Readonly<Record<string, string>>;
    readonly target?: string;
}

export interface ServiceModel {
    readonly name: string;
    readonly image?: string;
    readonly build?: BuildSpec;
    readonly ports: readonly PortSpec[];
    /** Service labels (`deploy.labels`), normalised to a map. */
    readonly deployLabels: Readonly<Record<string, string>>;
    readonly mode: "replicated" | "global" | "replicated-job" | "global-job";
}

export interface ComposeModel {
    /** The file's name for messages (a path, or what the caller called the content). */
    readonly file: string;
    /** The interpolated document: what gets rendered. */
    readonly doc: Record<string, unknown>;
    readonly services: readonly ServiceModel[];
    /** Top-level secrets and configs: how each one gets its content. */
    readonly secrets: Readonly<Record<string, SourceSpec>>;
    readonly configs: Readonly<Record<string, SourceSpec>>;
}

/** Where a secret's or config's content comes from. */
export type SourceSpec =
    | { readonly kind: "external"; readonly name?: string }
    | { readonly kind: "file"; readonly file: string }
    | { readonly kind: "value" };

export interface ParseOptions {
    /** Names the file in messages. */
    readonly file: string;
    readonly variables?: Variables;
    /** Whether the target has a registry to push built images to. */
    readonly hasRegistry: boolean;
    /** Secrets and configs whose content the stack's args provide (as Pulumi values). */
    readonly secretValues?: readonly string[];
    readonly configValues?: readonly string[];
}

/**
 * Service keys that `docker stack deploy` ignores or rejects, and why. Ignored keys are the
 * worse case: the file deploys, and the setting silently does nothing.
 */
export const UNSUPPORTED_SERVICE_KEYS: Readonly<Record<string, string>> = {
    container_name: "docker stack deploy ignores it (swarm names each task's container itself); remove it",
    depends_on:
        "docker stack deploy ignores it (swarm starts services independently); remove it and let the service retry until its dependency answers (deploy.restart_policy, healthcheck)",
    links: "docker stack deploy ignores it; services on a shared network reach each other by service name, so remove it",
    external_links: "docker stack deploy ignores it; attach the service to the other stack's network (an external network) instead",
    network_mode: "docker stack deploy ignores it; use networks: (for host networking, an external network named host)",
    restart: "docker stack deploy ignores it; use deploy.restart_policy (condition: any, on-failure or none)",
    security_opt: "docker stack deploy ignores it (swarm services cannot set security options); remove it",
    userns_mode: "docker stack deploy ignores it; remove it",
    devices: "docker stack deploy ignores it (swarm services cannot map devices); remove it",
    cgroup_parent: "docker stack deploy ignores it; remove it",
    tmpfs: "docker stack deploy ignores it; use a volume of type tmpfs under volumes: instead",
    privileged: "swarm services cannot be privileged and docker stack deploy rejects the key; grant what is needed with cap_add",
    mem_limit: "docker stack deploy rejects it; use deploy.resources.limits.memory",
    memswap_limit: "docker stack deploy rejects it; use deploy.resources.limits.memory",
    mem_reservation: "docker stack deploy rejects it; use deploy.resources.reservations.memory",
    cpus: "docker stack deploy rejects it; use deploy.resources.limits.cpus",
    cpu_shares: "docker stack deploy rejects it; use deploy.resources.limits.cpus",
    cpuset: "docker stack deploy rejects it; use deploy.resources.limits.cpus",
    scale: "docker stack deploy rejects it; use deploy.replicas",
    profiles: "docker stack deploy does not support profiles; split the services into separate stacks",
    pull_policy: "docker stack deploy rejects it; swarm pulls by the image reference (pinned by digest for built images)",
    extends: "docker stack deploy does not support extends; use YAML anchors and merge keys (<<: *base), which are parsed here",
    env_file:
        "docker stack deploy reads env_file on the manager, where the file is not; list the variables under environment: (values may use ${VAR} interpolation)",
    platform: "docker stack deploy rejects it; use deploy.placement.constraints (node.platform.arch==...)",
    develop: "docker stack deploy rejects it (docker compose watch only); remove it",
};

/** Service keys that `docker stack deploy` (compose file format 3.x) applies. */
const SUPPORTED_SERVICE_KEYS = new Set([
    "image", "build", "command", "entrypoint", "environment", "deploy", "ports", "networks", "volumes", "secrets",
    "configs", "labels", "healthcheck", "init", "stop_grace_period", "stop_signal", "user", "working_dir", "hostname",
    "dns", "dns_search", "extra_hosts", "cap_add", "cap_drop", "sysctls", "ulimits", "logging", "read_only", "tty",
    "stdin_open", "domainname", "ipc", "isolation", "credential_spec", "expose", "pid", "mac_address",
]);

const TOP_LEVEL_KEYS = new Set(["version", "services", "networks", "volumes", "secrets", "configs"]);

/** Names of services, secrets and configs: what swarm accepts in `<stack>_<name>`. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Parses, interpolates and validates; throws a ComposeError (or several) naming file, key and fix. */
export function parseCompose(text: string, opts: ParseOptions): ComposeModel {
    const { model, problems } = checkCompose(text, opts);
    if (problems.length > 0) {
        throw aggregate(problems);
    }
    return model!;
}

function aggregate(problems: ComposeError[]): Error {
    if (problems.length === 1) {
        return problems[0];
    }
    const err = new Error(`${problems.length} problems in ${problems[0].file}:\n` + problems.map((p) => "- " + p.message).join("\n"));
    err.name = "ComposeError";
    return err;
}

/** Like parseCompose, but returns every problem instead of throwing. */
export function checkCompose(text: string, opts: ParseOptions): { model?: ComposeModel; problems: ComposeError[] } {
    const file = opts.file;
    const problems: ComposeError[] = [];
    const problem = (at: string, message: string) => problems.push(new ComposeError(file, at, message));

    let raw: unknown;
    try {
        const docs = YAML.parseAllDocuments(text, { merge: true, uniqueKeys: true });
        if (docs.length !== 1) {
            problem("(file)", `holds ${docs.length} YAML documents; a compose file is exactly one (remove the extra "---")`);
            return { problems };
        }
        const errs = docs[0].errors;
        if (errs.length > 0) {
            problem("(file)", `is not valid YAML: ${errs[0].message.split("\n")[0]}; fix the YAML syntax`);
            return { problems };
        }
        raw = docs[0].toJS({ maxAliasCount: 1000 });
    } catch (e) {
        problem("(file)", `is not valid YAML: ${(e as Error).message.split("\n")[0]}; fix the YAML syntax`);
        return { problems };
    }
    if (!isMap(raw)) {
        problem("(file)", "must be a YAML mapping with a services: key; got " + describe(raw));
        return { problems };
    }
    const interpolated = interpolateDocument(raw, opts.variables ?? {});
    for (const e of interpolated.errors) {
        problem(e.at, e.message);
    }
    const doc = castTypes(interpolated.value as Record<string, unknown>);

    for (const key of Object.keys(doc)) {
        if (!TOP_LEVEL_KEYS.has(key) && !key.startsWith("x-")) {
            problem(key, `is not a top-level key that docker stack deploy knows (version, services, networks, volumes, secrets, configs, x-*); remove it`);
        }
    }
    if (doc.version !== undefined && !/^3(\.\d+)?$/.test(String(doc.version))) {
        problem("version", `must be 3.x for docker stack deploy (or be left out); got ${describe(doc.version)}`);
    }

    const secrets = topLevelSources("secrets", doc.secrets, opts.secretValues ?? [], problem);
    const configs = topLevelSources("configs", doc.configs, opts.configValues ?? [], problem);
    const networks = isMap(doc.networks) ? Object.keys(doc.networks) : [];

    const services: ServiceModel[] = [];
    if (!isMap(doc.services) || Object.keys(doc.services).length === 0) {
        problem("services", "must be a mapping with at least one service; got " + describe(doc.services));
    } else {
        for (const [name, svc] of Object.entries(doc.services)) {
            const keys = (section: unknown, values: readonly string[]) => [...(isMap(section) ? Object.keys(section) : []), ...values];
            const ctx = { opts, secretKeys: keys(doc.secrets, opts.secretValues ?? []), configKeys: keys(doc.configs, opts.configValues ?? []), networks };
            const s = checkService(name, svc, ctx, problem);
            if (s) {
                services.push(s);
            }
        }
    }
    if (problems.length > 0) {
        return { problems };
    }
    return { model: { file, doc, services, secrets, configs }, problems };
}

interface Context {
    opts: ParseOptions;
    /** Declared at the top level (valid or not: an invalid one is reported there, once). */
    secretKeys: string[];
    configKeys: string[];
    networks: string[];
}

function checkService(
    name: string,
    svc: unknown,
    ctx: Context,
    problem: (at: string, message: string) => void,
): ServiceModel | undefined {
    const at = `services.${name}`;
    if (!NAME.test(name)) {
        problem(at, "a service name must be letters, digits, '_', '.' or '-', starting with a letter or digit; rename it");
    }
    if (!isMap(svc)) {
        problem(at, "must be a mapping (image:, ports:, deploy: ...); got " + describe(svc));
        return undefined;
    }
    for (const key of Object.keys(svc)) {
        if (key.startsWith("x-")) {
            continue;
        }
        const why = UNSUPPORTED_SERVICE_KEYS[key];
        if (why) {
            problem(`${at}.${key}`, why);
        } else if (!SUPPORTED_SERVICE_KEYS.has(key)) {
            problem(`${at}.${key}`, "is not a service key that docker stack deploy knows (compose file format 3.x); check its spelling or remove it");
        }
    }

    let image: string | undefined;
    if (svc.image !== undefined) {
        if (typeof svc.image !== "string" || svc.image.trim() === "" || /\s/.test(svc.image)) {
            problem(`${at}.image`, "must be an image reference such as nginx:1.27-alpine; got " + describe(svc.image));
        } else {
            image = svc.image;
        }
    }
    let build: BuildSpec | undefined;
    if (svc.build !== undefined) {
        build = checkBuild(`${at}.build`, svc.build, problem);
        if (!ctx.opts.hasRegistry) {
            problem(
                `${at}.build`,
                "needs a registry to push the built image to, and this stack's target has none; give the cluster a registry (ECR by default) or use a prebuilt image:",
            );
        }
    }
    if (svc.image === undefined && svc.build === undefined) {
        problem(at, "has neither image: nor build:; docker stack deploy needs an image reference, so add image: (or build: to build one)");
    }

    const ports: PortSpec[] = [];
    if (svc.ports !== undefined) {
        if (!Array.isArray(svc.ports)) {
            problem(`${at}.ports`, "must be a list; got " + describe(svc.ports));
        } else {
            svc.ports.forEach((p, i) => {
                const parsed = parsePort(p);
                if (typeof parsed === "string") {
                    problem(`${at}.ports[${i}]`, parsed);
                } else {
                    ports.push(...parsed);
                }
            });
            const seen = new Set<string>();
            for (const p of ports) {
                if (p.published !== undefined) {
                    const k = `${p.published}/${p.protocol}`;
                    if (seen.has(k)) {
                        problem(`${at}.ports`, `publish ${k} twice; each published port can be used once`);
                    }
                    seen.add(k);
                }
            }
        }
    }
    checkLabels(`${at}.labels`, svc.labels, problem);
    let deployLabels: Record<string, string> = {};
    let mode: ServiceModel["mode"] = "replicated";
    if (svc.deploy !== undefined) {
        if (!isMap(svc.deploy)) {
            problem(`${at}.deploy`, "must be a mapping; got " + describe(svc.deploy));
        } else {
            deployLabels = checkLabels(`${at}.deploy.labels`, svc.deploy.labels, problem);
            const m = svc.deploy.mode;
            if (m !== undefined) {
                if (m === "replicated" || m === "global" || m === "replicated-job" || m === "global-job") {
                    mode = m;
                } else {
                    problem(`${at}.deploy.mode`, "must be replicated, global, replicated-job or global-job; got " + describe(m));
                }
            }
            const r = svc.deploy.replicas;
            if (r !== undefined && !(Number.isInteger(Number(r)) && Number(r) >= 0 && String(r).trim() !== "")) {
                problem(`${at}.deploy.replicas`, "must be a whole number, 0 or more; got " + describe(r));
            }
        }
    }
    checkReferences(`${at}.secrets`, svc.secrets, ctx.secretKeys, "secrets", problem);
    checkReferences(`${at}.configs`, svc.configs, ctx.configKeys, "configs", problem);
    if (Array.isArray(svc.volumes)) {
        svc.volumes.forEach((v, i) => {
            const source = typeof v === "string" ? v.split(":")[0] : isMap(v) ? v.source : undefined;
            if (typeof source === "string" && (source.startsWith(".") || source.startsWith("~"))) {
                problem(
                    `${at}.volumes[${i}]`,
                    `mounts ${JSON.stringify(source)}, a path relative to where docker stack deploy runs (a temporary folder on the manager); use a named volume, an absolute host path, or a config for files`,
                );
            }
        });
    }
    if (svc.networks !== undefined) {
        const names = Array.isArray(svc.networks) ? svc.networks : isMap(svc.networks) ? Object.keys(svc.networks) : undefined;
        if (!names) {
            problem(`${at}.networks`, "must be a list or a mapping of network names; got " + describe(svc.networks));
        } else {
            for (const n of names) {
                if (n !== "default" && !ctx.networks.includes(String(n))) {
                    problem(`${at}.networks`, `refers to network ${JSON.stringify(n)}, which the file's top-level networks: does not declare; declare it`);
                }
            }
        }
    }
    return { name, image, build, ports, deployLabels, mode };
}

function checkBuild(at: string, b: unknown, problem: (at: string, message: string) => void): BuildSpec | undefined {
    if (typeof b === "string") {
        return { context: b, dockerfile: "Dockerfile", args: {} };
    }
    if (!isMap(b)) {
        problem(at, "must be a context path or a mapping (context, dockerfile, args, target); got " + describe(b));
        return undefined;
    }
    for (const key of Object.keys(b)) {
        if (!["context", "dockerfile", "args", "target"].includes(key)) {
            problem(`${at}.${key}`, "is not supported here (context, dockerfile, args and target are); remove it");
        }
    }
    const context = b.context ?? ".";
    if (typeof context !== "string" || /^[a-z]+:\/\//.test(context)) {
        problem(`${at}.context`, "must be a folder relative to the compose file (URLs are not supported); got " + describe(context));
        return undefined;
    }
    const dockerfile = b.dockerfile ?? "Dockerfile";
    if (typeof dockerfile !== "string") {
        problem(`${at}.dockerfile`, "must be a file name relative to the context; got " + describe(dockerfile));
        return undefined;
    }
    let args: Record<string, string> = {};
    if (b.args !== undefined) {
        args = checkLabels(`${at}.args`, b.args, problem);
    }
    const target = b.target;
    if (target !== undefined && typeof target !== "string") {
        problem(`${at}.target`, "must be a build stage name; got " + describe(target));
    }
    return { context, dockerfile, args, target: target as string | undefined };
}

/**
 * Parses one entry of `ports:` into long-form specs: "8080:80", "8080:80/udp", "80" (random
 * published port), "8000-8001:80-81", or { target, published, protocol, mode }. Returns an
 * error message (with the fix) for anything else.
 */
export function parsePort(p: unknown): PortSpec[] | string {
    if (typeof p === "number") {
        return checkedPorts(String(p), undefined, "tcp", "ingress");
    }
    if (typeof p === "string") {
        const m = /^(?:(\d+(?:-\d+)?):)?(\d+(?:-\d+)?)(?:\/(tcp|udp|sctp))?$/.exec(p.trim());
        if (!m) {
            if (/^\d+\.\d+\.\d+\.\d+:/.test(p) || p.startsWith("[")) {
                return `${JSON.stringify(p)} binds a host address, which swarm cannot do; write "PUBLISHED:TARGET" (every node publishes the port)`;
            }
            return `${JSON.stringify(p)} is not a port; write "PUBLISHED:TARGET" such as "8080:80", "8080:80/udp" or "80"`;
        }
        return checkedPorts(m[2], m[1], (m[3] ?? "tcp") as PortSpec["protocol"], "ingress");
    }
    if (isMap(p)) {
        for (const key of Object.keys(p)) {
            if (!["target", "published", "protocol", "mode"].includes(key)) {
                return `has key ${JSON.stringify(key)}; a long-form port has target, published, protocol and mode`;
            }
        }
        const protocol = p.protocol ?? "tcp";
        if (protocol !== "tcp" && protocol !== "udp" && protocol !== "sctp") {
            return `protocol must be tcp, udp or sctp; got ${describe(protocol)}`;
        }
        const mode = p.mode ?? "ingress";
        if (mode !== "ingress" && mode !== "host") {
            return `mode must be ingress (the routing mesh) or host (only nodes running a task); got ${describe(mode)}`;
        }
        if (p.target === undefined) {
            return "has no target: (the container's port); add it";
        }
        return checkedPorts(String(p.target), p.published === undefined ? undefined : String(p.published), protocol, mode);
    }
    return `must be "PUBLISHED:TARGET" or a mapping with target and published; got ${describe(p)}`;
}

function checkedPorts(target: string, published: string | undefined, protocol: PortSpec["protocol"], mode: PortSpec["mode"]): PortSpec[] | string {
    const range = (s: string): number[] | string => {
        const [a, b] = s.split("-").map((x) => Number(x));
        const end = b ?? a;
        if (!/^\d+(-\d+)?$/.test(s) || a < 1 || end > 65535 || end < a) {
            return `${JSON.stringify(s)} is not a port or range within 1-65535`;
        }
        return Array.from({ length: end - a + 1 }, (_, i) => a + i);
    };
    const t = range(target);
    if (typeof t === "string") {
        return t;
    }
    if (published === undefined) {
        return t.map((x) => ({ target: x, protocol, mode }));
    }
    const pub = range(published);
    if (typeof pub === "string") {
        return pub;
    }
    if (pub.length !== t.length) {
        return `publishes ${pub.length} ports onto ${t.length} targets; the two ranges must be the same length`;
    }
    return t.map((x, i) => ({ target: x, published: pub[i], protocol, mode }));
}

/** Labels (or build args): a map of scalars or a list of "key=value"; normalised to a map. */
function checkLabels(at: string, labels: unknown, problem: (at: string, message: string) => void): Record<string, string> {
    const out: Record<string, string> = {};
    if (labels === undefined || labels === null) {
        return out;
    }
    if (Array.isArray(labels)) {
        labels.forEach((l, i) => {
            if (typeof l !== "string" || !/^[^=\s]+=/.test(l)) {
                problem(`${at}[${i}]`, `must be "key=value"; got ${describe(l)}`);
            } else {
                const eq = l.indexOf("=");
                out[l.slice(0, eq)] = l.slice(eq + 1);
            }
        });
        return out;
    }
    if (isMap(labels)) {
        for (const [k, v] of Object.entries(labels)) {
            if (v === null || typeof v === "object") {
                problem(`${at}.${k}`, `must be a string, number or boolean; got ${describe(v)}`);
            } else {
                out[k] = String(v);
            }
        }
        return out;
    }
    problem(at, `must be a mapping or a list of "key=value"; got ${describe(labels)}`);
    return out;
}

function topLevelSources(
    kind: "secrets" | "configs",
    section: unknown,
    fromValues: readonly string[],
    problem: (at: string, message: string) => void,
): Record<string, SourceSpec> {
    const out: Record<string, SourceSpec> = {};
    const singular = kind === "secrets" ? "secret" : "config";
    if (section !== undefined && !isMap(section)) {
        problem(kind, "must be a mapping; got " + describe(section));
        return out;
    }
    for (const [key, spec] of Object.entries(section ?? {})) {
        const at = `${kind}.${key}`;
        if (!NAME.test(key)) {
            problem(at, `a ${singular} name must be letters, digits, '_', '.' or '-'; rename it`);
            continue;
        }
        if (fromValues.includes(key)) {
            out[key] = { kind: "value" };
            continue;
        }
        if (!isMap(spec)) {
            problem(at, `has no content: give file: (a path beside the compose file), external: true, or its value in the stack's ${kind} args`);
            continue;
        }
        if (spec.external === true) {
            out[key] = { kind: "external", name: typeof spec.name === "string" ? spec.name : undefined };
        } else if (typeof spec.file === "string") {
            out[key] = { kind: "file", file: spec.file };
        } else {
            problem(at, `has no content: give file: (a path beside the compose file), external: true, or its value in the stack's ${kind} args`);
        }
    }
    for (const key of fromValues) {
        if (!(key in out) && !(isMap(section) && key in section)) {
            problem(kind, `the stack's ${kind} args give ${JSON.stringify(key)}, which the file does not declare; add ${kind}: { ${key}: {} } or remove it from the args`);
        }
    }
    return out;
}

function checkReferences(
    at: string,
    refs: unknown,
    declared: readonly string[],
    kind: string,
    problem: (at: string, message: string) => void,
): void {
    if (refs === undefined) {
        return;
    }
    if (!Array.isArray(refs)) {
        problem(at, "must be a list; got " + describe(refs));
        return;
    }
    refs.forEach((r, i) => {
        const source = typeof r === "string" ? r : isMap(r) ? r.source : undefined;
        if (typeof source !== "string") {
            problem(`${at}[${i}]`, `must be a name or a mapping with source:; got ${describe(r)}`);
        } else if (!declared.includes(source)) {
            problem(`${at}[${i}]`, `refers to ${JSON.stringify(source)}, which the file's top-level ${kind}: does not declare; declare it`);
        }
    });
}

/** Service fields that are numbers or booleans in the compose schema (relative to a service). */
const NUMERIC_FIELDS = [
    "deploy.replicas",
    "deploy.update_config.parallelism",
    "deploy.rollback_config.parallelism",
    "deploy.restart_policy.max_attempts",
    "deploy.placement.max_replicas_per_node",
    "healthcheck.retries",
];
const BOOLEAN_FIELDS = ["init", "read_only", "tty", "stdin_open"];

/**
 * Interpolation yields strings; `${PORT:-8080}` must reach the schema as the number 8080, as
 * Docker's own loader casts it. Casts only strings that read as the expected type, leaving
 * anything else for validation to report.
 */
export function castTypes(doc: Record<string, unknown>): Record<string, unknown> {
    if (!isMap(doc.services)) {
        return doc;
    }
    const toNumber = (v: unknown) => (typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v);
    const toBoolean = (v: unknown) => (v === "true" ? true : v === "false" ? false : v);
    const update = (obj: Record<string, unknown>, dotted: string, f: (v: unknown) => unknown) => {
        const parts = dotted.split(".");
        let cur: unknown = obj;
        for (const part of parts.slice(0, -1)) {
            cur = isMap(cur) ? cur[part] : undefined;
        }
        const last = parts[parts.length - 1];
        if (isMap(cur) && cur[last] !== undefined) {
            cur[last] = f(cur[last]);
        }
    };
    for (const svc of Object.values(doc.services)) {
        if (!isMap(svc)) {
            continue;
        }
        NUMERIC_FIELDS.forEach((f) => update(svc, f, toNumber));
        BOOLEAN_FIELDS.forEach((f) => update(svc, f, toBoolean));
        if (Array.isArray(svc.ports)) {
            for (const p of svc.ports) {
                if (isMap(p)) {
                    update(p, "target", toNumber);
                    update(p, "published", toNumber);
                }
            }
        }
    }
    return doc;
}

export function isMap(v: unknown): v is Record<string, unknown> {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

function describe(v: unknown): string {
    return v === undefined ? "nothing" : JSON.stringify(v);
}
