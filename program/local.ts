// The local environment of the repo's program: `pulumi up -s local` builds a whole swarm in
// containers on this machine's Docker engine (LocalSwarm) and deploys the stacks/ files on it.
// index.ts calls localProgram() instead of building AWS when isLocalEnvironment() says so.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LocalSwarm, LocalSwarmArgs } from "../components/localSwarm";
import { SwarmStack } from "../components/swarmStack";

const NS = "pulumi-swarm";

/** The stack `local`, or any stack whose config says `pulumi-swarm:environment: local`. */
export function isLocalEnvironment(stack: string, config: Record<string, string>): boolean {
    return stack === "local" || config[`${NS}:environment`] === "local";
}

export interface LocalProgramSettings {
    readonly swarm: Omit<LocalSwarmArgs, "nodeImageContext">;
    readonly stacks: { name: string; variables: Record<string, string> }[];
}

/** The keys the local environment reads (README.md, "First run: a local swarm"). */
export const LOCAL_CONFIG_KEYS = [
    "environment",
    "managerCount",
    "workerCount",
    "stacks",
    "stackVariables",
    "publishedPorts",
    "baseImage",
    "registryImage",
    "subnet",
    "sshPortBase",
    "registryPort",
    "storageDriver",
] as const;

/** The local defaults: 1 manager, 2 workers, stacks/web and stacks/visualizer on 8080 and 8081. */
export const LOCAL_PROGRAM_DEFAULTS = {
    stacks: ["web", "visualizer"],
    publishedPorts: [8080, 8081],
} as const;

/**
 * Reads the local environment's keys (a pure function of `pulumi.runtime.allConfig()`): numbers
 * and lists must parse, every stack must be a folder of stacks/. A bad key fails naming
 * `pulumi-swarm:<key>`, its value, the fix and the stack file; the components check the rest.
 */
export function readLocalConfig(config: Record<string, string>, stack: string, stackFolders: readonly string[]): LocalProgramSettings {
    const file = `Pulumi.${stack}.yaml`;
    const problems: string[] = [];
    for (const k of Object.keys(config).filter((x) => x.startsWith(`${NS}:`))) {
        const key = k.slice(NS.length + 1);
        if (!(LOCAL_CONFIG_KEYS as readonly string[]).includes(key)) {
            problems.push(`${k} is not a key of the local environment (in ${file}): use one of ${LOCAL_CONFIG_KEYS.join(", ")}, or remove it`);
        }
    }
    const bad = (key: string, value: string, rule: string) => problems.push(`${NS}:${key} ${rule} (in ${file}); got ${JSON.stringify(value)}`);
    const num = (key: string): number | undefined => {
        const v = config[`${NS}:${key}`];
        if (v === undefined) return undefined;
        const n = Number(v);
        if (v.trim() === "" || !Number.isFinite(n)) {
            bad(key, v, "must be a number");
            return undefined;
        }
        return n;
    };
    const str = (key: string): string | undefined => config[`${NS}:${key}`];
    const json = <T>(key: string, check: (v: unknown) => v is T, rule: string): T | undefined => {
        const v = config[`${NS}:${key}`];
        if (v === undefined) return undefined;
        try {
            const parsed: unknown = JSON.parse(v);
            if (check(parsed)) return parsed;
        } catch {
            // reported below
        }
        bad(key, v, rule);
        return undefined;
    };
    const isNumberList = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === "number");
    const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");
    const isVariables = (v: unknown): v is Record<string, Record<string, string>> =>
        typeof v === "object" && v !== null && !Array.isArray(v) &&
        Object.values(v).every((o) => typeof o === "object" && o !== null && Object.values(o).every((x) => typeof x === "string"));

    const stacks = json("stacks", isStringList, 'must be a list of folders of stacks/, such as ["web"]') ?? [...LOCAL_PROGRAM_DEFAULTS.stacks];
    for (const s of stacks) {
        if (!stackFolders.includes(s)) {
            bad("stacks", s, `must name folders of stacks/ that hold a compose.yaml (${stackFolders.join(", ")})`);
        }
    }
    const variables = json("stackVariables", isVariables, 'must map stack names to string values, such as {"web": {"API_REPLICAS": "2"}}') ?? {};
    const swarm = {
        managerCount: num("managerCount"),
        workerCount: num("workerCount"),
        publishedPorts: json("publishedPorts", isNumberList, "must be a list of ports, such as [8080, 8081]") ?? [...LOCAL_PROGRAM_DEFAULTS.publishedPorts],
        baseImage: str("baseImage"),
        registryImage: str("registryImage"),
        subnet: str("subnet"),
        sshPortBase: num("sshPortBase"),
        registryPort: num("registryPort"),
        storageDriver: str("storageDriver"),
    };
    if (problems.length > 0) {
        throw new Error(problems.join("\n"));
    }
    return { swarm, stacks: stacks.map((name) => ({ name, variables: variables[name] ?? {} })) };
}

/** What `pulumi stack output` shows for the local environment. */
export interface LocalProgramOutputs {
    urls: pulumi.Output<string[]>;
    dockerHost: pulumi.Output<string>;
    sshPorts: pulumi.Output<Record<string, number>>;
    registryAddress: pulumi.Output<string>;
    stackServices: pulumi.Output<unknown[]>;
    privateKey: pulumi.Output<string>;
}

/** Builds the local environment: the swarm in containers, then each stack on it. */
export function localProgram(stack: string, settings: LocalProgramSettings, repoDir: string): LocalProgramOutputs {
    const swarm = new LocalSwarm(stack, { ...settings.swarm, nodeImageContext: path.join(repoDir, "local", "node") });
    const stacks = settings.stacks.map(
        (s) =>
            new SwarmStack(`stack-${s.name}`, {
                target: swarm.stackTarget,
                stackName: s.name,
                composeFile: path.join(repoDir, "stacks", s.name, "compose.yaml"),
                variables: s.variables,
            }),
    );
    return {
        urls: swarm.urls,
        dockerHost: swarm.dockerHost,
        sshPorts: swarm.sshPorts,
        registryAddress: swarm.registryAddress,
        stackServices: pulumi.all(stacks.map((s) => s.services)),
        privateKey: swarm.privateKey,
    };
}
