// Mock layer: the repo's program, index.ts, with configuration as the Pulumi CLI gives it:
// the ACTUAL Pulumi.dev.yaml and Pulumi.prod.yaml, and single keys set or broken.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { AWS_ZONES, UNKNOWN_OUTPUT } from "./mocks";
import type { RunnerOutput, RunnerRecord } from "./programRunner";
import { stackFileConfig } from "./stackFile";

interface ProgramResult {
    error?: string;
    /** How many resources were registered before the error. */
    registered?: number;
    counts?: Record<string, number>;
    instanceTypes?: string[];
    names?: string[];
    records?: RunnerRecord[];
    outputs?: Record<string, RunnerOutput>;
}

function runProgram(config: Record<string, string>, stack = "dev", preview = false, running = false): ProgramResult {
    const env = {
        ...process.env,
        RUNNING: running ? "1" : "0",
        STACK: stack,
        PREVIEW: preview ? "1" : "0",
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

/** The program's graph, with lookups by type and name. */
class Graph {
    constructor(public readonly out: ProgramResult) {
        assert.strictEqual(out.error, undefined);
    }
    get records(): RunnerRecord[] {
        return this.out.records!;
    }
    ofType(type: string): RunnerRecord[] {
        return this.records.filter((r) => r.type === type);
    }
    namesOf(type: string): string[] {
        return this.ofType(type).map((r) => r.name).sort();
    }
    named(type: string, name: string): RunnerRecord {
        const r = this.records.find((x) => x.type === type && x.name === name);
        assert.ok(r, `no ${type} ${name}`);
        return r;
    }
    /** Does `from` depend on `to`, directly or through others? */
    dependsOn(from: RunnerRecord, to: string, seen = new Set<string>()): boolean {
        for (const d of from.dependencies) {
            if (d === to) {
                return true;
            }
            if (!seen.has(d)) {
                seen.add(d);
                const next = this.records.find((r) => `${r.type} ${r.name}` === d);
                if (next && this.dependsOn(next, to, seen)) {
                    return true;
                }
            }
        }
        return false;
    }
    /** The zone of each instance whose name starts with `prefix`, by name. */
    zonesOf(prefix: string): string[] {
        const subnetZone = new Map(this.ofType("aws:ec2/subnet:Subnet").map((s) => [`${s.name}-id`, s.inputs.availabilityZone as string]));
        return this.ofType("aws:ec2/instance:Instance")
            .filter((i) => i.name.startsWith(prefix))
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((i) => subnetZone.get(i.inputs.subnetId as string)!);
    }
    output(name: string): unknown {
        assert.ok(this.out.outputs![name], `no output ${name}`);
        return this.out.outputs![name].value;
    }
}

function without(config: Record<string, string>, key: string): Record<string, string> {
    assert.ok(key in config, `the stack file has no ${key}`);
    return Object.fromEntries(Object.entries(config).filter(([k]) => k !== key));
}

const REMOTE = "command:remote:Command";
const TARGET_GROUP = "aws:lb/targetGroup:TargetGroup";
const RULE = "aws:lb/listenerRule:ListenerRule";
const LISTENER = "aws:lb/listener:Listener";

describe("mock: the repo's program (index.ts) with stack config", function () {
    this.timeout(60000);

    it("builds the cluster the config asks for, named after the stack", () => {
        const out = runProgram(
            {
                adminCidrBlocks: '["203.0.113.0/24"]',
                managerCount: "1",
                workerCount: "3",
                workerInstanceType: "t3.large",
                maxUnavailableWorkers: "2",
                "aws:region": "eu-west-1",
            },
            "staging",
            false,
            true,
        );
        assert.strictEqual(out.error, undefined);
        // A running cluster (EC2 answers the lookup), maxUnavailableWorkers 2: workers 0 and 1
        // restart together after the manager, worker 2 after worker 0.
        const deps = (n: string) => out.records!.find((r) => r.name === n)!.dependencies.filter((d) => /-(ready|back)$/.test(d)).sort();
        assert.deepStrictEqual(deps("staging-worker-0"), ["command:remote:Command staging-manager-0-ready"]);
        assert.deepStrictEqual(deps("staging-worker-1"), ["command:remote:Command staging-manager-0-ready"]);
        assert.deepStrictEqual(deps("staging-worker-2"), ["command:remote:Command staging-worker-0-back"]);
        assert.strictEqual(out.counts!["aws:ec2/instance:Instance"], 4);
        // 11 bootstrap commands, 13 around the nodes' restarts (a ready per node; a drain, a
        // hand-off and a back per node but the first manager), and stacks/web (the default
        // stacks) deployed by one more, its API built by a local command into its ECR
        // repository, its proxy routed.
        assert.strictEqual(out.counts!["command:remote:Command"], 25);
        // The API's image build, and the lone manager's guard.
        assert.strictEqual(out.counts!["command:local:Command"], 2);
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

    describe("Pulumi.dev.yaml, as it is in the repo", () => {
        let g: Graph;
        before(() => {
            g = new Graph(runProgram(stackFileConfig("dev"), "dev"));
        });

        it("1 manager and 2 workers (t3.small) over 2 zones", () => {
            assert.deepStrictEqual(g.out.instanceTypes!.sort(), ["dev-manager-0=t3.small", "dev-worker-0=t3.small", "dev-worker-1=t3.small"]);
            assert.deepStrictEqual(g.namesOf("aws:ec2/subnet:Subnet"), ["dev-public-0", "dev-public-1"]);
            assert.deepStrictEqual(g.zonesOf("dev-manager-"), [AWS_ZONES[0]]);
            assert.deepStrictEqual(g.zonesOf("dev-worker-"), [AWS_ZONES[0], AWS_ZONES[1]]);
            // init, the manager's join, and per worker its remover, join and member; a ready per
            // node and a drain per worker around their restarts; one deploy.
            assert.deepStrictEqual(g.namesOf(REMOTE), [
                "dev-manager-0-ready",
                "dev-swarm-init",
                "dev-swarm-join-manager-0",
                "dev-swarm-join-worker-0",
                "dev-swarm-join-worker-1",
                "dev-swarm-member-worker-0",
                "dev-swarm-member-worker-1",
                "dev-swarm-remove-worker-0",
                "dev-swarm-remove-worker-1",
                "dev-worker-0-back",
                "dev-worker-0-drain",
                "dev-worker-0-handoff",
                "dev-worker-0-ready",
                "dev-worker-1-back",
                "dev-worker-1-drain",
                "dev-worker-1-handoff",
                "dev-worker-1-ready",
                "stack-web-deploy",
            ]);
        });

        it("deploys stacks/web only: its API built into ECR (keeping 5 images), its proxy routed through the HTTP listener", () => {
            assert.deepStrictEqual(g.namesOf("swarm:index:SwarmStack"), ["stack-web"]);
            assert.deepStrictEqual(g.namesOf("aws:ecr/repository:Repository"), ["stack-web-repo-api"]);
            // the image build, and the guard of the lone manager
            assert.deepStrictEqual(g.namesOf("command:local:Command"), ["dev-manager-0-guard", "stack-web-build-api"]);
            assert.deepStrictEqual(g.namesOf(TARGET_GROUP), ["stack-web-route-proxy-8080"]);
            assert.deepStrictEqual(g.namesOf(RULE), ["stack-web-route-proxy-8080"]);
            assert.deepStrictEqual(g.namesOf(LISTENER), ["dev-alb-http"]);
            assert.strictEqual(g.named(TARGET_GROUP, "stack-web-route-proxy-8080").inputs.port, 8080);
            // The route's target group carries the cluster's identity (project, stack, name), which
            // the node role's Deregister/RegisterTargets condition names; the API's repository
            // starts with it too.
            const tags = g.named(TARGET_GROUP, "stack-web-route-proxy-8080").inputs.tags as Record<string, string>;
            assert.strictEqual(tags["pulumi-swarm:cluster"], "pulumi-swarm/dev/dev");
            const policy = JSON.parse(String(g.named("aws:iam/rolePolicy:RolePolicy", "dev-node-elb").inputs.policy));
            assert.deepStrictEqual(policy.Statement[1].Condition, { StringEquals: { "aws:ResourceTag/pulumi-swarm:cluster": "pulumi-swarm/dev/dev" } });
            assert.strictEqual(g.named("aws:ecr/repository:Repository", "stack-web-repo-api").inputs.name, "pulumi-swarm/dev/dev/web/api");
            // every node is a target (the routing mesh answers on each)
            assert.strictEqual(g.ofType("aws:lb/targetGroupAttachment:TargetGroupAttachment").length, 3);
        });

        it("outputs what an operator needs: the ALB URL, route URLs, manager addresses, docker CLI access, the registry", () => {
            const dns = "dev-alb-f8441954-1234567890.us-east-1.elb.amazonaws.com";
            assert.strictEqual(g.output("loadBalancerDnsName"), dns);
            assert.strictEqual(g.output("loadBalancerUrl"), `http://${dns}`);
            assert.deepStrictEqual(g.output("routeUrls"), { "proxy-8080": `http://${dns}` });
            const [ip] = g.output("managerPublicIps") as string[];
            assert.match(ip, /^203\.0\.113\.\d+$/); // the manager's Elastic IP
            assert.deepStrictEqual((g.output("managerPrivateIps") as string[]).length, 1);
            assert.strictEqual(g.output("dockerHost"), `ssh://ubuntu@${ip}`);
            assert.strictEqual(g.output("dockerContextCommand"), `docker context create dev --docker host=ssh://ubuntu@${ip} && docker context use dev`);
            assert.strictEqual(g.output("registryAddress"), "123456789012.dkr.ecr.us-east-1.amazonaws.com");
            // AMI drift: what each node runs, and what a new node would get now.
            assert.deepStrictEqual(g.output("nodeAmis"), { "manager-0": "ami-0123456789abcdef0", "worker-0": "ami-0123456789abcdef0", "worker-1": "ami-0123456789abcdef0" });
            assert.deepStrictEqual(g.output("newNodeAmis"), { manager: "ami-0123456789abcdef0", worker: "ami-0123456789abcdef0" });
            for (const secret of ["privateKey", "workerJoinToken", "managerJoinToken"]) {
                assert.strictEqual(g.out.outputs![secret].secret, true, secret);
            }
            for (const open of ["loadBalancerUrl", "managerPublicIps", "dockerContextCommand", "registryAddress", "nodeAmis", "newNodeAmis"]) {
                assert.strictEqual(g.out.outputs![open].secret, false, open);
            }
        });
    });

    describe("Pulumi.prod.yaml, as it is in the repo", () => {
        let g: Graph;
        before(() => {
            g = new Graph(runProgram(stackFileConfig("prod"), "prod"));
        });

        it("3 managers (t3.medium), one in each of 3 zones, and 3 workers (t3.large)", () => {
            assert.deepStrictEqual(g.out.instanceTypes!.sort(), [
                "prod-manager-0=t3.medium",
                "prod-manager-1=t3.medium",
                "prod-manager-2=t3.medium",
                "prod-worker-0=t3.large",
                "prod-worker-1=t3.large",
                "prod-worker-2=t3.large",
            ]);
            assert.deepStrictEqual(g.zonesOf("prod-manager-"), AWS_ZONES.slice(0, 3));
            assert.deepStrictEqual(g.zonesOf("prod-worker-"), AWS_ZONES.slice(0, 3));
            // 1 init + 3 per node (6), a ready per node, a drain, a hand-off and a back per node
            // but the first manager, and 2 deploys
            assert.strictEqual(g.ofType(REMOTE).length, 1 + 18 + 6 + 3 * 5 + 2);
        });

        it("deploys stacks/web and stacks/visualizer; only web's proxy is routed (the visualizer is reached over SSH)", () => {
            assert.deepStrictEqual(g.namesOf("swarm:index:SwarmStack"), ["stack-visualizer", "stack-web"]);
            assert.deepStrictEqual(
                g.ofType(REMOTE).filter((r) => r.name.endsWith("-deploy")).map((r) => r.name).sort(),
                ["stack-visualizer-deploy", "stack-web-deploy"],
            );
            assert.deepStrictEqual(g.namesOf(TARGET_GROUP), ["stack-web-route-proxy-8080"]);
            assert.deepStrictEqual(g.namesOf(RULE), ["stack-web-route-proxy-8080"]);
            assert.strictEqual(g.ofType("aws:lb/targetGroupAttachment:TargetGroupAttachment").length, 6);
        });

        it("has no certificate (the file only shows the key), so it serves HTTP; with a certificate it serves HTTPS", () => {
            assert.deepStrictEqual(g.namesOf(LISTENER), ["prod-alb-http"]);
            const arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8091-a2b3c4d5e6f7";
            const https = new Graph(runProgram({ ...stackFileConfig("prod"), certificateArn: arn }, "prod"));
            assert.deepStrictEqual(https.namesOf(LISTENER), ["prod-alb-http", "prod-alb-https"]);
            assert.strictEqual(https.named(LISTENER, "prod-alb-https").inputs.certificateArn, arn);
            assert.match(https.output("loadBalancerUrl") as string, /^https:\/\/prod-alb-[0-9a-f]{8}-1234567890\.us-east-1\.elb\.amazonaws\.com$/);
        });
    });

    it("an external registry: the registry address output is that registry, and no ECR repository is made", () => {
        // ecrKeepImages applies only to ECR: the dev file's is dropped.
        const dev = without(stackFileConfig("dev"), "pulumi-swarm:ecrKeepImages");
        const g = new Graph(runProgram({ ...dev, registryAddress: "registry.example.com:5000", registryUsername: "deploy", registryPassword: "s3cret" }));
        assert.strictEqual(g.output("registryAddress"), "registry.example.com:5000");
        assert.deepStrictEqual(g.namesOf("aws:ecr/repository:Repository"), []);
    });

    describe("bad config fails before any resource, naming the key, the value, the fix and the stack file", () => {
        const fails = (config: Record<string, string>, stack: string) => {
            const out = runProgram(config, stack);
            assert.strictEqual(out.registered, 0, "resources were registered before the error");
            return out.error ?? "";
        };
        const dev = () => stackFileConfig("dev");

        it("a missing adminCidrBlocks", () => {
            assert.strictEqual(
                fails(without(dev(), "pulumi-swarm:adminCidrBlocks"), "dev"),
                "pulumi-swarm:adminCidrBlocks is required; set it, e.g. pulumi config set --path 'adminCidrBlocks[0]' 203.0.113.7/32 --stack dev; " +
                    "got nothing (the key is not set). Fix it in Pulumi.dev.yaml.",
            );
        });

        it("a value the component refuses (managerCount 4), said as the program's key", () => {
            assert.match(
                fails({ ...stackFileConfig("prod"), managerCount: "4" }, "prod"),
                /^pulumi-swarm:managerCount must be 1, 3, 5 or 7: Raft needs a majority .*; got 4\. Fix it in Pulumi\.prod\.yaml\.$/,
            );
        });

        it("a value of the wrong kind, an unknown key (a typo), a stack that is not in stacks/: all at once", () => {
            assert.strictEqual(
                fails({ ...dev(), workerCount: "two", workerInstanceTyp: "t3.large", stacks: '["web", "wbe"]' }, "dev"),
                'The config of stack "dev" has 3 problems; fix them in Pulumi.dev.yaml:\n' +
                    "- pulumi-swarm:workerInstanceTyp is not a key of this program (README.md lists every key): rename it to pulumi-swarm:workerInstanceType, or remove it; got a value (not shown)\n" +
                    '- pulumi-swarm:workerCount must be a whole number, such as 0; got "two"\n' +
                    '- pulumi-swarm:stacks[1] must name a folder of stacks/ that holds a compose.yaml: one of "visualizer", "web"; got "wbe"',
            );
        });

        it("maxUnavailableWorkers 0, said as the program's key", () => {
            assert.match(
                fails({ ...dev(), maxUnavailableWorkers: "0" }, "dev"),
                /^pulumi-swarm:maxUnavailableWorkers must be a whole number, 1 or more: .*; got 0\. Fix it in Pulumi\.dev\.yaml\.$/,
            );
        });

        it("one zone, which the program's load balancer cannot have", () => {
            assert.strictEqual(
                fails({ ...dev(), availabilityZoneCount: "1" }, "dev"),
                "pulumi-swarm:availabilityZoneCount must be at least 2: the load balancer needs subnets in two availability zones; got 1. Fix it in Pulumi.dev.yaml.",
            );
        });
    });
});

// Teardown: Pulumi deletes a resource only after everything that depends on it. These are the
// dependencies that give `pulumi destroy` its order, in the program's own graph (cluster and
// stacks together), for both stack files.
describe("mock: the repo's program tears down in order (dependencies, dev and prod)", function () {
    this.timeout(60000);
    for (const stack of ["dev", "prod"]) {
        describe(`Pulumi.${stack}.yaml`, () => {
            let g: Graph;
            before(() => {
                g = new Graph(runProgram(stackFileConfig(stack), stack));
            });
            const commands = (re: RegExp) => g.ofType(REMOTE).filter((r) => re.test(r.name));

            it("every stack is removed before any node leaves: each deploy depends on the init and on every node's join and member", () => {
                const deploys = commands(/^stack-.*-deploy$/);
                assert.strictEqual(deploys.length, stack === "dev" ? 1 : 2);
                const swarm = commands(new RegExp(`^${stack}-swarm-(init|join-.*|member-.*)$`));
                assert.strictEqual(swarm.length, stack === "dev" ? 6 : 13);
                for (const d of deploys) {
                    for (const c of swarm) {
                        assert.ok(g.dependsOn(d, `${REMOTE} ${c.name}`), `${d.name} does not wait for ${c.name}`);
                    }
                }
            });

            it("every node's commands go before its instance: its join depends on its own instance, the init on the first manager; no join has a delete (the managers remove a node whose machine goes)", () => {
                const joins = commands(new RegExp(`^${stack}-swarm-join-`));
                assert.strictEqual(joins.length, stack === "dev" ? 3 : 6);
                for (const j of joins) {
                    const node = j.name.replace(`${stack}-swarm-join-`, "");
                    assert.ok(j.dependencies.includes(`aws:ec2/instance:Instance ${stack}-${node}`), `${j.name}: ${j.dependencies.join(", ")}`);
                }
                assert.ok(g.named(REMOTE, `${stack}-swarm-init`).dependencies.includes(`aws:ec2/instance:Instance ${stack}-manager-0`));
                // (the stack's removal is the deploy's delete; a node's removal its remover's, which
                // depends on the instance too)
                for (const j of joins) {
                    assert.strictEqual(j.inputs.delete, undefined, j.name);
                    // (a swarm's only manager has no remover: nothing would be left to remove it)
                    const remover = commands(new RegExp(`^${j.name.replace("-join-", "-remove-")}$`))[0];
                    if (stack === "prod" || !j.name.endsWith("-manager-0")) {
                        assert.ok(remover.dependencies.includes(`aws:ec2/instance:Instance ${j.name.replace("-swarm-join-", "-")}`), j.name);
                    }
                }
                assert.match(String(g.named(REMOTE, "stack-web-deploy").inputs.delete), /^# pulumi-swarm: remove stack web\n/);
            });

            it("routes go before the load balancer and their target groups: each rule depends on its target group and the listener", () => {
                const rules = g.ofType(RULE);
                assert.strictEqual(rules.length, 1);
                for (const r of rules) {
                    assert.ok(r.dependencies.includes(`${TARGET_GROUP} ${r.name}`), r.dependencies.join(", "));
                    assert.ok(r.dependencies.includes(`${LISTENER} ${stack}-alb-http`), r.dependencies.join(", "));
                }
                assert.ok(g.named(LISTENER, `${stack}-alb-http`).dependencies.includes(`aws:lb/loadBalancer:LoadBalancer ${stack}-alb`));
                for (const a of g.ofType("aws:lb/targetGroupAttachment:TargetGroupAttachment")) {
                    assert.ok(a.dependencies.includes(`${TARGET_GROUP} stack-web-route-proxy-8080`), a.name);
                }
            });
        });
    }
});

describe("mock: the repo's program under preview (what pulumi preview builds from each stack file)", function () {
    this.timeout(60000);
    for (const stack of ["dev", "prod"]) {
        it(`Pulumi.${stack}.yaml: the same resources as an update, the addresses unknown until applied`, () => {
            const preview = new Graph(runProgram(stackFileConfig(stack), stack, true));
            const update = new Graph(runProgram(stackFileConfig(stack), stack));
            const all = (g: Graph) => g.records.map((r) => `${r.type} ${r.name}`).sort();
            assert.deepStrictEqual(all(preview), all(update));
            assert.strictEqual(preview.output("managerPublicIps"), UNKNOWN_OUTPUT);
            assert.strictEqual(preview.output("loadBalancerUrl"), UNKNOWN_OUTPUT);
            assert.strictEqual(preview.out.outputs!.privateKey.secret, true);
        });
    }
});
