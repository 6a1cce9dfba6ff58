// Mock layer: the repo's program, index.ts, with configuration as `pulumi config set` gives it.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";

interface ProgramResult {
    error?: string;
    counts?: Record<string, number>;
    instanceTypes?: string[];
    names?: string[];
}

function runProgram(config: Record<string, string>, stack = "dev"): ProgramResult {
    const env = {
        ...process.env,
        STACK: stack,
        PULUMI_CONFIG: JSON.stringify(Object.fromEntries(Object.entries(config).map(([k, v]) => [k.includes(":") ? k : `pulumi-swarm:${k}`, v]))),
    };
    const r = spawnSync(process.execPath, [path.join(__dirname, "programRunner.js")], { env, encoding: "utf8" });
    const line = r.stdout.trim().split("\n").pop() ?? "";
    try {
        return JSON.parse(line) as ProgramResult;
    } catch {
        throw new Error(`program runner printed ${JSON.stringify(r.stdout)} ${r.stderr}`);
    }
}

describe("mock: the repo's program (index.ts) with stack config", function () {
    this.timeout(60000);

    it("builds the cluster the config asks for, named after the stack", () => {
        const out = runProgram(
            {
                adminCidrBlocks: '["203.0.113.0/24"]',
                managerCount: "1",
                workerCount: "3",
                workerInstanceType: "t3.large",
                "aws:region": "eu-west-1",
            },
            "staging",
        );
        assert.strictEqual(out.error, undefined);
        assert.strictEqual(out.counts!["aws:ec2/instance:Instance"], 4);
        // 10 bootstrap commands, and stacks/web (the default stacks) deployed by one more,
        // its API built by a local command into its ECR repository, its proxy routed.
        assert.strictEqual(out.counts!["command:remote:Command"], 11);
        assert.strictEqual(out.counts!["command:local:Command"], 1);
        assert.strictEqual(out.counts!["aws:ecr/repository:Repository"], 1);
        assert.strictEqual(out.counts!["aws:lb/targetGroup:TargetGroup"], 1);
        for (const n of ["stack-web-deploy", "stack-web-build-api", "stack-web-repo-api", "stack-web-route-proxy-8080"]) {
            assert.ok(out.names!.includes(n), n);
        }
        assert.deepStrictEqual(out.instanceTypes!.sort(), [
            "staging-manager-0=t3.small",
            "staging-worker-0=t3.large",
            "staging-worker-1=t3.large",
            "staging-worker-2=t3.large",
        ]);
        assert.ok(out.names!.includes("staging-swarm-init"));
    });

    it("fails naming the key when adminCidrBlocks is missing", () => {
        const out = runProgram({ managerCount: "3" });
        assert.match(out.error ?? "", /Missing required configuration variable 'pulumi-swarm:adminCidrBlocks'/);
    });

    it("passes bad values to the component's validation, which names the field", () => {
        const out = runProgram({ adminCidrBlocks: '["203.0.113.0/24"]', managerCount: "4" });
        assert.match(out.error ?? "", /^managerCount must be 1, 3, 5 or 7: Raft needs a majority/);
    });
});
