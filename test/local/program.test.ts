// The repo's program for the local environment: the stack `local` (Pulumi.local.yaml) builds
// LocalSwarm and the stacks/ files on it, and nothing of AWS; its config keys as a pure function.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { LOCAL_CONFIG_KEYS, isLocalEnvironment, readLocalConfig } from "../../program/local";
import { repoRoot } from "../paths";

interface ProgramResult {
    error?: string;
    /** How many resources were registered before the error (counted once registrations settle). */
    registered?: number;
    counts?: Record<string, number>;
    names?: string[];
}

/** Pulumi.<stack>.yaml's config as `pulumi.runtime.allConfig()` gives it (objects as JSON). */
function stackFileConfig(stack: string): Record<string, string> {
    const doc = parse(fs.readFileSync(path.join(repoRoot, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    return Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

function runProgram(config: Record<string, string>, stack: string): ProgramResult {
    const env = { ...process.env, STACK: stack, PULUMI_CONFIG: JSON.stringify(config) };
    const r = spawnSync(process.execPath, [path.join(__dirname, "..", "programRunner.js")], { env, encoding: "utf8" });
    const line = r.stdout.trim().split("\n").pop() ?? "";
    try {
        return JSON.parse(line) as ProgramResult;
    } catch {
        throw new Error(`program runner printed ${JSON.stringify(r.stdout)} ${r.stderr}`);
    }
}

const FOLDERS = ["visualizer", "web"];

describe("mock: the repo's program on the stack local (Pulumi.local.yaml)", function () {
    this.timeout(60000);

    it("builds the local swarm and deploys stacks/web and stacks/visualizer on it, with no AWS resource", () => {
        const out = runProgram(stackFileConfig("local"), "local");
        assert.strictEqual(out.error, undefined);
        const aws = Object.keys(out.counts!).filter((t) => t.startsWith("aws:"));
        assert.deepStrictEqual(aws, []);
        assert.deepStrictEqual(
            Object.fromEntries(Object.entries(out.counts!).filter(([t]) => t.startsWith("docker:") || t.startsWith("swarm:"))),
            {
                "docker:index/network:Network": 1,
                "docker:index/image:Image": 1,
                "docker:index/remoteImage:RemoteImage": 1,
                "docker:index/container:Container": 4,
                "swarm:index:LocalSwarm": 1,
                "swarm:index:SwarmBootstrap": 1,
                "swarm:index:SwarmStack": 2,
            },
        );
        // 8 bootstrap commands (init; the manager's join; remove, join, member per worker) and one deploy per stack.
        assert.strictEqual(out.counts!["command:remote:Command"], 10);
        assert.strictEqual(out.counts!["command:local:Command"], 1);
        for (const n of ["local-manager-0", "local-worker-0", "local-worker-1", "local-registry", "local-swarm-init", "stack-web-deploy", "stack-visualizer-deploy", "stack-web-build-api"]) {
            assert.ok(out.names!.includes(n), n);
        }
    });

    it("a bad local key fails before any resource, naming the key, the value and the stack file", () => {
        const out = runProgram({ ...stackFileConfig("local"), "pulumi-swarm:workerCount": "two" }, "local");
        assert.strictEqual(out.error, 'pulumi-swarm:workerCount must be a number (in Pulumi.local.yaml); got "two"');
        assert.strictEqual(out.registered, 0, "resources were registered before the error");
    });
});

describe("pure: the local environment's config (program/local.ts)", () => {
    it("is the stack local, or any stack with pulumi-swarm:environment local", () => {
        assert.strictEqual(isLocalEnvironment("local", {}), true);
        assert.strictEqual(isLocalEnvironment("laptop", { "pulumi-swarm:environment": "local" }), true);
        assert.strictEqual(isLocalEnvironment("dev", {}), false);
        assert.strictEqual(isLocalEnvironment("dev", { "pulumi-swarm:environment": "aws" }), false);
    });

    it("Pulumi.local.yaml gives 1 manager, 2 workers, web and visualizer on 8080 and 8081", () => {
        assert.deepStrictEqual(readLocalConfig(stackFileConfig("local"), "local", FOLDERS), {
            swarm: {
                managerCount: 1,
                workerCount: 2,
                publishedPorts: [8080, 8081],
                baseImage: undefined,
                registryImage: undefined,
                subnet: undefined,
                sshPortBase: undefined,
                registryPort: undefined,
                storageDriver: undefined,
            },
            stacks: [
                { name: "web", variables: { API_REPLICAS: "2" } },
                { name: "visualizer", variables: {} },
            ],
        });
    });

    it("with no keys: the documented defaults", () => {
        const s = readLocalConfig({}, "local", FOLDERS);
        assert.deepStrictEqual(s.stacks.map((x) => x.name), ["web", "visualizer"]);
        assert.deepStrictEqual(s.swarm.publishedPorts, [8080, 8081]);
        assert.strictEqual(s.swarm.managerCount, undefined); // LocalSwarm's default, 1
    });

    it("refuses a key it does not read (a typo), naming it and the stack file", () => {
        assert.throws(() => readLocalConfig({ "pulumi-swarm:workerCont": "3", "aws:region": "eu-west-1" }, "local", FOLDERS), {
            message:
                "pulumi-swarm:workerCont is not a key of the local environment (in Pulumi.local.yaml): use one of environment, managerCount, " +
                "workerCount, stacks, stackVariables, publishedPorts, baseImage, registryImage, subnet, sshPortBase, registryPort, storageDriver, or remove it",
        });
    });

    it("every key it reads is in the README's local table", () => {
        const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("## First run: a local swarm"), readme.indexOf("## Deploy an environment on AWS"));
        const documented = [...section.matchAll(/^\| `([a-zA-Z]+)` \|/gm)].map((m) => m[1]);
        assert.deepStrictEqual(documented, [...LOCAL_CONFIG_KEYS]);
    });

    it("names every bad key, its value, the fix and the stack file", () => {
        assert.throws(
            () =>
                readLocalConfig(
                    {
                        "pulumi-swarm:managerCount": "three",
                        "pulumi-swarm:stacks": '["web", "shop"]',
                        "pulumi-swarm:publishedPorts": '"8080"',
                        "pulumi-swarm:stackVariables": '{"web": {"API_REPLICAS": 2}}',
                    },
                    "laptop",
                    FOLDERS,
                ),
            {
                message: [
                    'pulumi-swarm:stacks must name folders of stacks/ that hold a compose.yaml (visualizer, web) (in Pulumi.laptop.yaml); got "shop"',
                    'pulumi-swarm:stackVariables must map stack names to string values, such as {"web": {"API_REPLICAS": "2"}} (in Pulumi.laptop.yaml); got "{\\"web\\": {\\"API_REPLICAS\\": 2}}"',
                    'pulumi-swarm:managerCount must be a number (in Pulumi.laptop.yaml); got "three"',
                    'pulumi-swarm:publishedPorts must be a list of ports, such as [8080, 8081] (in Pulumi.laptop.yaml); got "\\"8080\\""',
                ].join("\n"),
            },
        );
    });
});
