// Pure layer: the GitHub Actions workflows in .github/workflows, for the users' repositories.
// Each file passes the GitHub workflow schema (@action-validator/cli, offline: wasm), and the
// parsed files say what the README says: triggers, permissions, OIDC without AWS keys,
// concurrency per environment, the teardown's confirmation, prod after dev behind a
// protected environment.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { repoRoot } from "./paths";
import { evaluate, runs, Value } from "./workflowExpr";

interface Step {
    uses?: string;
    run?: string;
    with?: Record<string, string | number | boolean>;
    env?: Record<string, string>;
}
interface Job {
    needs?: string | string[];
    if?: string;
    environment?: string | { name: string };
    permissions?: Record<string, string> | string;
    concurrency?: { group: string; "cancel-in-progress"?: boolean } | string;
    strategy?: { matrix?: Record<string, unknown>; "fail-fast"?: boolean };
    steps: Step[];
}
interface Workflow {
    name: string;
    on: Record<string, unknown>;
    permissions?: Record<string, string> | string;
    concurrency?: unknown;
    jobs: Record<string, Job>;
}

const workflowDir = path.join(repoRoot, ".github", "workflows");
const validator = path.join(repoRoot, "node_modules", "@action-validator", "cli", "cli.mjs");
const PULUMI_ACTION = "pulumi/actions@v7";
const AWS_ACTION = "aws-actions/configure-aws-credentials@v6";

function files(): string[] {
    return fs.readdirSync(workflowDir).filter((f) => /\.ya?ml$/.test(f)).sort();
}
function text(file: string): string {
    return fs.readFileSync(path.join(workflowDir, file), "utf8");
}
function load(file: string): Workflow {
    return parse(text(file)) as Workflow;
}

/** Runs the schema validator on a file: its exit status and its report. */
function validate(file: string): { status: number | null; output: string } {
    const r = spawnSync(process.execPath, [validator, file], { encoding: "utf8" });
    return { status: r.status, output: r.stdout + r.stderr };
}

/** The Pulumi action steps of a job. */
function pulumiSteps(job: Job): Step[] {
    return job.steps.filter((s) => s.uses?.startsWith("pulumi/actions@"));
}
function needs(job: Job): string[] {
    return job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];
}
/**
 * The test job on GitHub's runner, whose user is not root: install, make sure of shellcheck,
 * then every layer but the lab (which needs root; it runs in .ci/run).
 */
const TEST_STEPS = [
    "npm ci",
    "command -v shellcheck || { sudo apt-get update -q && sudo apt-get install -y -q --no-install-recommends shellcheck; }",
    "npm test -- --no-lab",
];

function runSteps(job: Job): string[] {
    return job.steps.filter((s) => s.run !== undefined).map((s) => s.run!.trim());
}

/** Every job of every workflow that runs a Pulumi command, with that command. */
function pulumiJobs(): { file: string; id: string; job: Job; command: string; stack: string }[] {
    const out = [];
    for (const file of files()) {
        for (const [id, job] of Object.entries(load(file).jobs)) {
            for (const s of pulumiSteps(job)) {
                out.push({ file, id, job, command: String(s.with?.command), stack: String(s.with?.["stack-name"]) });
            }
        }
    }
    return out;
}

describe("pure: CI workflows (.github/workflows)", function () {
    this.timeout(60000);

    it("has the preview, deploy and teardown workflows", () => {
        assert.deepStrictEqual(files(), ["deploy.yml", "preview.yml", "teardown.yml"]);
    });

    for (const file of ["deploy.yml", "preview.yml", "teardown.yml"]) {
        it(`${file} passes the GitHub workflow schema (action-validator)`, () => {
            const r = validate(path.join(workflowDir, file));
            assert.strictEqual(r.status, 0, r.output);
        });
    }

    it("the validator rejects a broken workflow (the schema check can fail)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-swarm-wf-"));
        try {
            // A permission level that does not exist, and a job key that does not either.
            const broken = text("preview.yml").replace("pull-requests: write", "pull-requests: admin").replace("    runs-on: ubuntu-latest\n", "    runs-on: ubuntu-latest\n    run-on: ubuntu-latest\n");
            assert.notStrictEqual(broken, text("preview.yml"));
            fs.writeFileSync(path.join(dir, "broken.yml"), broken);
            const r = validate(path.join(dir, "broken.yml"));
            assert.strictEqual(r.status, 1, r.output);
            assert.match(r.output, /\/jobs\/(test|preview)/);
            assert.match(r.output, /Additional property 'run-on' is not allowed/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("triggers: preview on pull requests to main, deploy on pushes to main, teardown only by hand", () => {
        assert.deepStrictEqual(load("preview.yml").on, { pull_request: { branches: ["main"] } });
        assert.deepStrictEqual(load("deploy.yml").on, { push: { branches: ["main"] } });
        const teardown = load("teardown.yml").on as { workflow_dispatch: { inputs: Record<string, Record<string, unknown>> } };
        assert.deepStrictEqual(Object.keys(teardown), ["workflow_dispatch"]);
        assert.deepStrictEqual(teardown.workflow_dispatch.inputs.environment, {
            description: "Environment to destroy",
            type: "choice",
            options: ["dev", "prod"],
            required: true,
        });
        assert.strictEqual(teardown.workflow_dispatch.inputs.confirm.type, "string");
        assert.strictEqual(teardown.workflow_dispatch.inputs.confirm.required, true);
    });

    it("pull requests: install and test on Node 20 as the runner's non-root user (lab left out, shellcheck installed), then a preview of dev and of prod posted on the pull request", () => {
        const wf = load("preview.yml");
        assert.deepStrictEqual(runSteps(wf.jobs.test), TEST_STEPS);
        const preview = wf.jobs.preview;
        assert.deepStrictEqual(needs(preview), ["test"]);
        assert.deepStrictEqual(preview.strategy?.matrix, { environment: ["dev", "prod"] });
        assert.strictEqual(preview.strategy?.["fail-fast"], false);
        assert.deepStrictEqual(
            pulumiSteps(preview).map((s) => s.with),
            [{ command: "preview", "stack-name": "${{ matrix.environment }}", "comment-on-pr": true }],
        );
        // The Pulumi step runs after the install and the credentials.
        const uses = preview.steps.map((s) => s.uses ?? s.run);
        assert.deepStrictEqual(uses, ["actions/checkout@v6", "actions/setup-node@v6", "npm ci", AWS_ACTION, PULUMI_ACTION]);
        for (const file of files()) {
            for (const job of Object.values(load(file).jobs)) {
                for (const s of job.steps.filter((x) => x.uses?.startsWith("actions/setup-node@"))) {
                    assert.strictEqual(s.with?.["node-version"], 20, `${file}: setup-node`);
                }
            }
        }
    });

    it("permissions: none by default, per job only contents: read, id-token: write where AWS is used, pull-requests: write for the preview comment", () => {
        const allowed: Record<string, string> = { contents: "read", "id-token": "write", "pull-requests": "write" };
        for (const file of files()) {
            const wf = load(file);
            assert.deepStrictEqual(wf.permissions, {}, `${file}: workflow-level permissions`);
            assert.doesNotMatch(text(file), /write-all|read-all/, file);
            for (const [id, job] of Object.entries(wf.jobs)) {
                const perms = job.permissions as Record<string, string>;
                assert.strictEqual(typeof perms, "object", `${file} ${id}: permissions must be a map`);
                for (const [scope, level] of Object.entries(perms)) {
                    assert.strictEqual(level, allowed[scope], `${file} ${id}: ${scope}: ${level}`);
                }
                const usesAws = job.steps.some((s) => s.uses === AWS_ACTION);
                assert.strictEqual(perms["id-token"] === "write", usesAws, `${file} ${id}: id-token: write exactly where AWS credentials are assumed`);
                assert.strictEqual(perms["pull-requests"] === "write", file === "preview.yml" && id === "preview", `${file} ${id}: pull-requests: write`);
                assert.strictEqual(perms.contents, "read", `${file} ${id}: contents: read`);
            }
        }
    });

    it("AWS: by OIDC with a role from a variable (read-only one for previews), no AWS keys anywhere", () => {
        for (const file of files()) {
            const t = text(file);
            assert.doesNotMatch(t, /aws-access-key-id|aws-secret-access-key|aws-session-token|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY/i, file);
            assert.doesNotMatch(t, /secrets\.AWS/i, file);
            // The only secret is the Pulumi backend's token.
            assert.deepStrictEqual([...new Set([...t.matchAll(/secrets\.([A-Za-z0-9_]+)/g)].map((m) => m[1]))], ["PULUMI_ACCESS_TOKEN"], file);
        }
        const roles = pulumiJobs().map(({ file, id, job }) => {
            const aws = job.steps.filter((s) => s.uses === AWS_ACTION);
            assert.strictEqual(aws.length, 1, `${file} ${id}`);
            assert.deepStrictEqual(Object.keys(aws[0].with!).sort(), ["aws-region", "role-session-name", "role-to-assume"], `${file} ${id}`);
            const at = job.steps.indexOf(aws[0]);
            assert.ok(at < job.steps.indexOf(pulumiSteps(job)[0]), `${file} ${id}: credentials before Pulumi`);
            return `${file} ${id}: ${aws[0].with!["role-to-assume"]}`;
        });
        assert.deepStrictEqual(roles, [
            "deploy.yml dev: ${{ vars.AWS_DEPLOY_ROLE_ARN }}",
            "deploy.yml prod: ${{ vars.AWS_DEPLOY_ROLE_ARN }}",
            "preview.yml preview: ${{ vars.AWS_PREVIEW_ROLE_ARN }}",
            "teardown.yml destroy: ${{ vars.AWS_DEPLOY_ROLE_ARN }}",
        ]);
    });

    it("every Pulumi command: the right stack, the backend token from the secret, actions pinned to a major version", () => {
        assert.deepStrictEqual(
            pulumiJobs().map(({ file, id, command, stack }) => `${file} ${id}: ${command} ${stack}`),
            [
                "deploy.yml dev: up dev",
                "deploy.yml prod: up prod",
                "preview.yml preview: preview ${{ matrix.environment }}",
                "teardown.yml destroy: destroy ${{ inputs.environment }}",
            ],
        );
        for (const { file, id, job } of pulumiJobs()) {
            assert.deepStrictEqual(pulumiSteps(job)[0].env, { PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}" }, `${file} ${id}`);
            assert.deepStrictEqual(runSteps(job), ["npm ci"], `${file} ${id}: dependencies installed before Pulumi runs the program`);
        }
        for (const file of files()) {
            for (const m of text(file).matchAll(/uses:\s*(\S+)/g)) {
                assert.match(m[1], /^[\w.-]+\/[\w.-]+@v\d+$/, `${file}: ${m[1]} is not pinned to a major version`);
            }
        }
    });

    it("concurrency: up and destroy share one group per environment and never cancel a running update; previews have their own", () => {
        for (const { file, id, job, command, stack } of pulumiJobs()) {
            const c = job.concurrency as { group: string; "cancel-in-progress": boolean };
            assert.strictEqual(typeof c, "object", `${file} ${id}`);
            if (command === "preview") {
                assert.strictEqual(c.group, "pulumi-preview-${{ matrix.environment }}-${{ github.event.pull_request.number }}");
                assert.strictEqual(c["cancel-in-progress"], true);
            } else {
                // The group is "pulumi-" + exactly the expression that names the stack.
                assert.strictEqual(c.group, `pulumi-${stack}`, `${file} ${id}`);
                assert.strictEqual(c["cancel-in-progress"], false, `${file} ${id}`);
            }
        }
        // Evaluated: the teardown of an environment and its deploy land in the same group.
        const teardown = load("teardown.yml").jobs.destroy.concurrency as { group: string };
        const group = (env: string) => String(evaluate(teardown.group.replace(/^pulumi-/, ""), { inputs: { environment: env } }));
        assert.deepStrictEqual(["dev", "prod"].map((e) => `pulumi-${group(e)}`), [
            (load("deploy.yml").jobs.dev.concurrency as { group: string }).group,
            (load("deploy.yml").jobs.prod.concurrency as { group: string }).group,
        ]);
    });

    it("main: up dev after the tests, then prod only after dev, in the protected environment production", () => {
        const jobs = load("deploy.yml").jobs;
        assert.deepStrictEqual(Object.keys(jobs), ["test", "dev", "prod"]);
        assert.deepStrictEqual(runSteps(jobs.test), TEST_STEPS);
        assert.deepStrictEqual(needs(jobs.dev), ["test"]);
        assert.deepStrictEqual(needs(jobs.prod), ["dev"]);
        assert.strictEqual(jobs.dev.environment, "dev");
        assert.strictEqual(jobs.prod.environment, "production");
    });

    const ctx = (environment: string, confirm: string, ref = "refs/heads/main"): Record<string, Value> => ({ inputs: { environment, confirm }, github: { ref } });
    const guardCases: [string, string, string, boolean][] = [
        ["dev", "dev", "refs/heads/main", true],
        ["prod", "prod", "refs/heads/main", true],
        ["prod", "", "refs/heads/main", false],
        ["prod", "dev", "refs/heads/main", false],
        ["dev", "prod", "refs/heads/main", false],
        ["prod", "yes", "refs/heads/main", false],
        ["prod", "prod", "refs/heads/feature", false],
    ];
    /** The guard's answer for each case: [environment, confirm, ref, runs]. */
    const guardTable = (expr: string | undefined) => guardCases.map(([e, c, ref]) => [e, c, ref, runs(expr, ctx(e, c, ref))]);

    it("teardown: destroys only when the confirmation repeats the environment, on main; prod in the protected environment", () => {
        const job = load("teardown.yml").jobs.destroy;
        assert.deepStrictEqual(guardTable(job.if), guardCases);
        assert.strictEqual(evaluate(String(job.environment), ctx("prod", "prod")), "production");
        assert.strictEqual(evaluate(String(job.environment), ctx("dev", "dev")), "dev");
    });

    it("the guard check can fail: a guard without the confirmation, or none, would be refused", () => {
        assert.notDeepStrictEqual(guardTable("github.ref == 'refs/heads/main'"), guardCases);
        assert.notDeepStrictEqual(guardTable("inputs.confirm != ''"), guardCases);
        assert.notDeepStrictEqual(guardTable(undefined), guardCases);
        assert.throws(() => evaluate("fromJSON('true')", {}), /functions are not supported/);
    });
});
