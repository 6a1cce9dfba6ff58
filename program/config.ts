/**
 * The repo's program's configuration (index.ts), as a pure function: the stack's config values
 * (strings, as `pulumi.runtime.allConfig()` gives them: lists and objects as JSON) and the stack's
 * name in, the components' arguments out, or a ProgramConfigError naming every bad key
 * (`pulumi-swarm:<key>`), its value, the fix and the stack file to edit (`Pulumi.<stack>.yaml`).
 * Nothing here reads the disk or the environment, so tests call it directly.
 *
 * To add a key: add it to PROGRAM_CONFIG_KEYS (its kind, default and example are what the
 * README's table documents; test/programConfig.test.ts checks the table against this list),
 * then read it in readProgramConfig. A key not in the list fails as unknown, so that a typo
 * is never silently ignored: an environment that is not on AWS (a local one, hosts you
 * already have) adds its keys here too, and may branch before the AWS keys are read.
 */
import * as pulumi from "@pulumi/pulumi";
import { SwarmArgumentError, SwarmArgumentErrors } from "../components/errors";
import type { SwarmClusterArgs } from "../components/swarmCluster";
import { validateClusterArgs } from "../components/validation";

/** The project's config namespace: `name` in Pulumi.yaml. */
export const CONFIG_NAMESPACE = "pulumi-swarm";

export type ConfigKind = "string" | "integer" | "boolean" | "list" | "map" | "stackVariables";

export interface ConfigKeySpec {
    readonly kind: ConfigKind;
    /** What the README's table says as the default. */
    readonly default: string;
    /** A value to set, as `pulumi config set` takes it (with `--path` for lists). */
    readonly example: string;
    readonly required?: boolean;
    /** Set with `pulumi config set --secret`; the program keeps it a Pulumi secret. */
    readonly secret?: boolean;
}

/** Every key of the program, in the `pulumi-swarm:` namespace. */
export const PROGRAM_CONFIG_KEYS: Readonly<Record<string, ConfigKeySpec>> = {
    adminCidrBlocks: { kind: "list", required: true, default: "none (required)", example: "pulumi config set --path 'adminCidrBlocks[0]' 203.0.113.7/32" },
    allowSshFromAnywhere: { kind: "boolean", default: "false", example: "true" },
    managerCount: { kind: "integer", default: "3", example: "5" },
    workerCount: { kind: "integer", default: "2", example: "0" },
    maxUnavailableWorkers: { kind: "integer", default: "1", example: "2" },
    allowSingleManagerReplacement: { kind: "boolean", default: "false", example: "true" },
    managerInstanceType: { kind: "string", default: "t3.small", example: "t3.medium" },
    workerInstanceType: { kind: "string", default: "t3.medium", example: "m7g.large" },
    availabilityZoneCount: { kind: "integer", default: "3 (or the number of subnetIds)", example: "2" },
    vpcCidrBlock: { kind: "string", default: "10.0.0.0/16", example: "10.20.0.0/16" },
    vpcId: { kind: "string", default: "a new VPC", example: "vpc-0123456789abcdef0" },
    subnetIds: { kind: "list", default: "new public subnets", example: "pulumi config set --path 'subnetIds[0]' subnet-0123456789abcdef0" },
    os: { kind: "string", default: "ubuntu-24.04", example: "ubuntu-24.04" },
    amiId: { kind: "string", default: "the newest Canonical Ubuntu 24.04 AMI", example: "ami-0123456789abcdef0" },
    rootVolumeSizeGiB: { kind: "integer", default: "30", example: "50" },
    dockerVersion: { kind: "string", default: "28.5.2", example: "28.5.2" },
    encryptedOverlay: { kind: "boolean", default: "false", example: "true" },
    certificateArn: { kind: "string", default: "none (HTTP only)", example: "arn:aws:acm:eu-west-1:123456789012:certificate/<id>" },
    stacks: { kind: "list", default: '["web"]', example: "pulumi config set --path 'stacks[1]' visualizer" },
    stackVariables: { kind: "stackVariables", default: "{}", example: "pulumi config set --path 'stackVariables.web.API_REPLICAS' 4" },
    registryAddress: { kind: "string", default: "none: Amazon ECR", example: "registry.example.com:5000" },
    registryUsername: { kind: "string", default: "none (anonymous pulls)", example: "deploy" },
    registryPassword: { kind: "string", secret: true, default: "none", example: "pulumi config set --secret registryPassword <password>" },
    ecrKeepImages: { kind: "integer", default: "10", example: "20" },
    tags: { kind: "map", default: "{}", example: "pulumi config set --path 'tags.team' platform" },
};

/** What the program builds from the config. */
export interface ProgramConfig {
    /** `aws:region`, when set in the stack's config (else the AWS provider's own default, e.g. AWS_REGION). */
    readonly region?: string;
    readonly cluster: SwarmClusterArgs;
    /** The folders of stacks/ to deploy, in order, with their ${VAR} values. */
    readonly stacks: readonly { readonly name: string; readonly variables: Record<string, string> }[];
}

export interface ConfigProblem {
    /** The full key, e.g. `pulumi-swarm:adminCidrBlocks[0]` or `aws:region`. */
    readonly key: string;
    readonly value: unknown;
    /** What it must be and how to fix it. */
    readonly rule: string;
}

/** Thrown before any resource exists: every problem of the stack's config, and the file to edit. */
export class ProgramConfigError extends Error {
    constructor(
        public readonly stack: string,
        public readonly problems: readonly ConfigProblem[],
    ) {
        super(formatProblems(stack, problems));
        this.name = "ProgramConfigError";
    }
}

/** The value of a problem whose value must not be printed (a secret, or an unknown key that may hold one). */
export const HIDDEN_VALUE = Symbol("hidden");

function describeValue(value: unknown): string {
    if (value === HIDDEN_VALUE) {
        return "a value (not shown)";
    }
    return value === undefined ? "nothing (the key is not set)" : JSON.stringify(value);
}

function formatProblems(stack: string, problems: readonly ConfigProblem[]): string {
    const line = (p: ConfigProblem) => `${p.key} ${p.rule}; got ${describeValue(p.value)}`;
    const file = `Pulumi.${stack}.yaml`;
    if (problems.length === 1) {
        return `${line(problems[0])}. Fix it in ${file}.`;
    }
    return `The config of stack "${stack}" has ${problems.length} problems; fix them in ${file}:\n` +
        problems.map((p) => `- ${line(p)}`).join("\n");
}

const key = (k: string) => `${CONFIG_NAMESPACE}:${k}`;

/** How far apart two short strings are (edits), for "did you mean". */
function distance(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) {
        d[0][j] = j;
    }
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
        }
    }
    return d[a.length][b.length];
}

/** Component argument names (as SwarmArgumentError fields name them) that the program sets from a differently named key. */
const COMPONENT_FIELD_TO_KEY: Readonly<Record<string, string>> = {
    "loadBalancer.certificateArn": "certificateArn",
    "registry.address": "registryAddress",
    "registry.username": "registryUsername",
    "registry.password": "registryPassword",
    "registry.keepImages": "ecrKeepImages",
};

/** `adminCidrBlocks[2]` -> `pulumi-swarm:adminCidrBlocks[2]`; `registry.address` -> `pulumi-swarm:registryAddress`. */
function keyOfField(field: string): string {
    const base = /^[A-Za-z.]+/.exec(field)?.[0] ?? field;
    const mapped = COMPONENT_FIELD_TO_KEY[base];
    return key((mapped ?? base) + field.slice(base.length));
}

/** The components' rules name their own arguments; say the program's keys instead. */
function ruleInKeys(rule: string): string {
    let out = rule;
    for (const [field, k] of Object.entries(COMPONENT_FIELD_TO_KEY)) {
        out = out.split(field).join(key(k));
    }
    return out.replace("allowSshFromAnywhere: true", `${key("allowSshFromAnywhere")} to true`);
}

/**
 * Reads and checks the program's config.
 * @param values the stack's config: full keys (`pulumi-swarm:managerCount`, `aws:region`) to
 *   strings, lists and objects as JSON (what `pulumi.runtime.allConfig()` returns)
 * @param stack the stack's name (`pulumi.getStack()`): the file to fix is `Pulumi.<stack>.yaml`
 * @param stackFolders the folders of stacks/ that hold a compose.yaml (what `stacks` may name)
 * @throws ProgramConfigError naming every bad or missing key, before any resource exists
 */
export function readProgramConfig(values: Readonly<Record<string, string>>, stack: string, stackFolders: readonly string[]): ProgramConfig {
    const problems: ConfigProblem[] = [];
    const problem = (k: string, value: unknown, rule: string) => problems.push({ key: k, value, rule });

    // Keys this program does not know: a typo would otherwise be ignored silently.
    const known = Object.keys(PROGRAM_CONFIG_KEYS);
    for (const full of Object.keys(values).sort()) {
        if (!full.startsWith(`${CONFIG_NAMESPACE}:`)) {
            continue;
        }
        const short = full.slice(CONFIG_NAMESPACE.length + 1);
        if (!known.includes(short)) {
            // A near name (up to 2 edits, fewer for short names) is most likely what was meant.
            const near = known.filter((k) => distance(k, short) <= Math.min(2, Math.max(1, Math.floor(short.length / 4))));
            problem(
                full,
                HIDDEN_VALUE,
                "is not a key of this program (README.md lists every key): " +
                    (near.length > 0 ? `rename it to ${near.map(key).join(" or ")}, or remove it` : "remove it"),
            );
        }
    }

    const region = values["aws:region"];
    if (region !== undefined && !/^[a-z]{2}(-[a-z]+)+-[0-9]$/.test(region)) {
        problem("aws:region", region, 'must be an AWS region such as "eu-west-1" (pulumi config set aws:region eu-west-1)');
    }

    // Each key by its kind; a value of the wrong kind is reported and read as not set.
    const read = <T>(name: string): T | undefined => {
        const spec = PROGRAM_CONFIG_KEYS[name];
        const raw = values[key(name)];
        if (raw === undefined) {
            if (spec.required) {
                problem(key(name), undefined, `is required; set it, e.g. ${spec.example} --stack ${stack}`);
            }
            return undefined;
        }
        const parsed = parseKind(spec, raw);
        if ("error" in parsed) {
            problem(key(name), spec.secret ? HIDDEN_VALUE : raw, parsed.error);
            return undefined;
        }
        return parsed.value as T;
    };

    const adminCidrBlocks = read<string[]>("adminCidrBlocks");
    const availabilityZoneCount = read<number>("availabilityZoneCount");
    const subnetIds = read<string[]>("subnetIds");
    // The program always has its load balancer (its stacks declare routes), which needs two zones.
    if (availabilityZoneCount === 1) {
        problem(key("availabilityZoneCount"), 1, "must be at least 2: the load balancer needs subnets in two availability zones");
    }
    if (subnetIds !== undefined && availabilityZoneCount === undefined && subnetIds.length < 2) {
        problem(key("subnetIds"), subnetIds, "must list subnets in at least 2 availability zones: the load balancer needs two");
    }

    const registryAddress = read<string>("registryAddress");
    const registryUsername = read<string>("registryUsername");
    const registryPassword = read<string>("registryPassword");
    const ecrKeepImages = read<number>("ecrKeepImages");
    if (registryAddress === undefined) {
        for (const k of ["registryUsername", "registryPassword"] as const) {
            if (values[key(k)] !== undefined) {
                problem(key(k), PROGRAM_CONFIG_KEYS[k].secret ? HIDDEN_VALUE : values[key(k)], `applies only to an external registry; set ${key("registryAddress")} too, or remove it (images then go to Amazon ECR)`);
            }
        }
    } else if (ecrKeepImages !== undefined) {
        problem(key("ecrKeepImages"), ecrKeepImages, `applies only to Amazon ECR; remove it, or remove ${key("registryAddress")}`);
    }

    const cluster: SwarmClusterArgs = {
        adminCidrBlocks: adminCidrBlocks as string[],
        allowSshFromAnywhere: read<boolean>("allowSshFromAnywhere"),
        managerCount: read<number>("managerCount"),
        workerCount: read<number>("workerCount"),
        maxUnavailableWorkers: read<number>("maxUnavailableWorkers"),
        allowSingleManagerReplacement: read<boolean>("allowSingleManagerReplacement"),
        managerInstanceType: read<string>("managerInstanceType"),
        workerInstanceType: read<string>("workerInstanceType"),
        availabilityZoneCount,
        vpcCidrBlock: read<string>("vpcCidrBlock"),
        vpcId: read<string>("vpcId"),
        subnetIds,
        os: read<string>("os"),
        amiId: read<string>("amiId"),
        rootVolumeSizeGiB: read<number>("rootVolumeSizeGiB"),
        dockerVersion: read<string>("dockerVersion"),
        encryptedOverlay: read<boolean>("encryptedOverlay"),
        loadBalancer: { certificateArn: read<string>("certificateArn") },
        registry:
            registryAddress !== undefined
                ? {
                      kind: "external",
                      address: registryAddress,
                      username: registryUsername,
                      password: registryPassword === undefined ? undefined : pulumi.secret(registryPassword),
                  }
                : { kind: "ecr", keepImages: ecrKeepImages },
        tags: read<Record<string, string>>("tags"),
    };

    // The components' own checks, their fields said as the program's keys. A key already
    // reported above (bad kind, or the program's own rule) is not reported twice.
    {
        const reported = new Set(problems.map((p) => p.key.replace(/\[\d+\]$/, "")));
        try {
            validateClusterArgs(cluster);
        } catch (e) {
            const found = e instanceof SwarmArgumentErrors ? e.problems : e instanceof SwarmArgumentError ? [e] : undefined;
            if (found === undefined) {
                throw e;
            }
            for (const p of found) {
                const k = keyOfField(p.field);
                if (!reported.has(k.replace(/\[\d+\]$/, ""))) {
                    problem(k, k === key("registryPassword") ? HIDDEN_VALUE : p.value, ruleInKeys(p.rule));
                }
            }
        }
    }

    // Which compose files to deploy, and their variables.
    const stackNames = read<string[]>("stacks") ?? ["web"];
    const seen = new Set<string>();
    stackNames.forEach((s, i) => {
        if (!stackFolders.includes(s)) {
            problem(key(`stacks[${i}]`), s, `must name a folder of stacks/ that holds a compose.yaml: one of ${stackFolders.map((f) => JSON.stringify(f)).join(", ")}`);
        } else if (seen.has(s)) {
            problem(key(`stacks[${i}]`), s, "is listed twice; list each stack once");
        }
        seen.add(s);
    });
    const stackVariables = read<Record<string, Record<string, string>>>("stackVariables") ?? {};
    for (const s of Object.keys(stackVariables)) {
        if (!stackNames.includes(s)) {
            problem(key(`stackVariables.${s}`), stackVariables[s], `is for a stack that is not deployed; add "${s}" to ${key("stacks")}, or remove it`);
        }
    }

    if (problems.length > 0) {
        throw new ProgramConfigError(stack, problems);
    }
    return {
        region,
        cluster,
        stacks: stackNames.map((name) => ({ name, variables: stackVariables[name] ?? {} })),
    };
}

type Parsed = { value: unknown } | { error: string };

/** A config string as its key's kind; an error says what the kind looks like. */
function parseKind(spec: ConfigKeySpec, raw: string): Parsed {
    const json = (): unknown => {
        try {
            return JSON.parse(raw) as unknown;
        } catch {
            return undefined;
        }
    };
    const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
    switch (spec.kind) {
        case "string":
            return raw.trim() === "" ? { error: "must not be empty; remove the key to get the default" } : { value: raw };
        case "integer":
            return /^-?[0-9]+$/.test(raw.trim()) ? { value: Number(raw) } : { error: `must be a whole number, such as ${spec.example}` };
        case "boolean":
            return raw === "true" || raw === "false" ? { value: raw === "true" } : { error: "must be true or false" };
        case "list": {
            const v = json();
            return Array.isArray(v) && v.every((x) => typeof x === "string")
                ? { value: v }
                : { error: `must be a list of strings; set each item with --path, e.g. ${spec.example}` };
        }
        case "map": {
            const v = json();
            return isPlainObject(v) && Object.values(v).every((x) => typeof x === "string")
                ? { value: v }
                : { error: `must be an object of strings; set each entry with --path, e.g. ${spec.example}` };
        }
        case "stackVariables": {
            // Compose variables are strings; a YAML number or boolean (API_REPLICAS: 4) is taken as its text.
            const v = json();
            const scalar = (x: unknown) => typeof x === "string" || typeof x === "number" || typeof x === "boolean";
            if (isPlainObject(v) && Object.values(v).every((vars) => isPlainObject(vars) && Object.values(vars).every(scalar))) {
                return {
                    value: Object.fromEntries(
                        Object.entries(v).map(([s, vars]) => [s, Object.fromEntries(Object.entries(vars as Record<string, unknown>).map(([k, x]) => [k, String(x)]))]),
                    ),
                };
            }
            return { error: `must map each stack to its variables, e.g. {"web": {"API_REPLICAS": "4"}}: ${spec.example}` };
        }
    }
}
