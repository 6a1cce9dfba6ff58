// Mock layer: SwarmStack's resource graph against the recording monitor. Exact resources for
// the services that build, the ALB routes a file declares (and none for undeclared ports),
// the deploy's dependencies, and secrecy of the bundle, the key and registry credentials.
import * as assert from "assert";
import { createHash } from "crypto";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { StackTarget } from "../../components/target";
import { RecordingMonitor, awsCalls, awsOutputs, installMocks, isSecretValue, plain, unwrap } from "../mocks";
import { repoRoot } from "../paths";

const WEB = path.join(repoRoot, "stacks", "web", "compose.yaml");
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nLABKEY\n-----END OPENSSH PRIVATE KEY-----\n";

async function target(withLoadBalancer: boolean): Promise<StackTarget> {
    const command = await import("@pulumi/command");
    const ready = new command.remote.Command("swarm-init", { connection: { host: "198.51.100.1", user: "ubuntu", privateKey: pulumi.secret(KEY) }, create: "true" });
    return {
        clusterName: "prod",
        manager: { host: "198.51.100.1", user: "ubuntu", privateKey: pulumi.secret(KEY) as unknown as string },
        ready: [ready],
        registry: { kind: "ecr", keepImages: 5 },
        loadBalancer: withLoadBalancer
            ? {
                  vpcId: "vpc-1",
                  listenerArn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/prod/1/2",
                  scheme: "https",
                  dnsName: "prod-alb-123.us-east-1.elb.amazonaws.com",
                  securityGroupId: "sg-alb",
                  nodeSecurityGroupId: "sg-nodes",
                  instanceIds: { "manager-0": "i-1", "worker-0": "i-2", "worker-1": "i-3" },
              }
            : undefined,
    };
}

async function build(args: (t: StackTarget) => Record<string, unknown>, withLoadBalancer = true) {
    const monitor = installMocks(awsOutputs, awsCalls);
    const { SwarmStack } = await import("../../components/swarmStack");
    const t = await target(withLoadBalancer);
    const stack = new SwarmStack("web", args(t) as never);
    await monitor.settled();
    return { monitor, stack };
}

const types = (m: RecordingMonitor) => m.records.map((r) => `${r.type} ${r.name}`).sort();

describe("mock: SwarmStack", function () {
    this.timeout(60000);

    it("stacks/web: an ECR repository, lifecycle policy and build for the API only; one deploy; one route", async () => {
        const { monitor } = await build((t) => ({ target: t, composeFile: WEB }));
        const mine = types(monitor).filter((x) => !x.endsWith(" swarm-init"));
        assert.deepStrictEqual(
            mine.filter((x) => !x.startsWith("aws:lb/") && !x.startsWith("aws:vpc/")),
            [
                "aws:ecr/lifecyclePolicy:LifecyclePolicy web-repo-api",
                "aws:ecr/repository:Repository web-repo-api",
                "command:local:Command web-build-api",
                "command:remote:Command web-deploy",
                "swarm:index:SwarmStack web",
            ],
        );
        const repo = monitor.named("web-repo-api", "aws:ecr/repository:Repository");
        // A target built by hand (no repositoryPrefix): the cluster's name starts it.
        assert.strictEqual(plain(repo.inputs.name), "prod/web/api");
        assert.strictEqual(plain(repo.inputs.forceDelete), true);
        const policy = JSON.parse(plain<string>(monitor.named("web-repo-api", "aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs.policy));
        assert.deepStrictEqual(policy.rules[0].selection, { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 5 });
        // The build logs in with the ECR token: a secret on stdin, never in the script.
        const buildCmd = monitor.named("web-build-api", "command:local:Command");
        assert.ok(isSecretValue(buildCmd.inputs.stdin));
        assert.strictEqual(plain(buildCmd.inputs.stdin), "ecr-token-not-a-real-one");
        assert.ok(!JSON.stringify(plain(buildCmd.inputs.create)).includes("ecr-token"));
        assert.match(plain<string>(buildCmd.inputs.create), /^# pulumi-swarm: build and push 123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com\/prod\/web\/api:[0-9a-f]{32}\n/);
    });

    it("an ECR target's repositoryPrefix (SwarmCluster gives its identity) starts each repository's name", async () => {
        const { monitor } = await build((t) => ({ target: { ...t, registry: { kind: "ecr", keepImages: 5, repositoryPrefix: "shop/Dev/prod" } }, composeFile: WEB }));
        assert.strictEqual(plain(monitor.named("web-repo-api", "aws:ecr/repository:Repository").inputs.name), "shop/dev/prod/web/api");
    });

    it("builds for the target's platform unless buildPlatform says otherwise; without either, for the builder's own", async () => {
        const createOf = async (extra: Record<string, unknown>, platform?: string) => {
            const { monitor } = await build((t) => ({ target: { ...t, platform }, composeFile: WEB, ...extra }));
            return plain<string>(monitor.named("web-build-api", "command:local:Command").inputs.create);
        };
        assert.match(await createOf({}, "linux/arm64"), / --platform linux\/arm64 /);
        const override = await createOf({ buildPlatform: "linux/amd64" }, "linux/arm64");
        assert.match(override, / --platform linux\/amd64 /);
        assert.doesNotMatch(override, /linux\/arm64/);
        assert.doesNotMatch(await createOf({}), /--platform/);
    });

    it("the deploy depends on the swarm's bootstrap and on the pushed image, and runs the API by digest", async () => {
        const { monitor, stack } = await build((t) => ({ target: t, composeFile: WEB }));
        const deploy = monitor.named("web-deploy", "command:remote:Command");
        // (and on the repository, whose address is in the bundle)
        assert.deepStrictEqual([...deploy.dependencies].sort(), ["swarm-init", "web-build-api", "web-repo-api"]);
        const compose = await unwrap(stack.renderedCompose);
        assert.match(compose, /image: 123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com\/prod\/web\/api@sha256:[0-9a-f]{64}\n/);
        assert.ok(!compose.includes("build:"));
        assert.deepStrictEqual(deploy.customTimeouts, { create: "600s", update: "600s", delete: "10m" });
        const script = plain<string>(deploy.inputs.create);
        assert.strictEqual(plain(deploy.inputs.update), script);
        // The content hash, worked out here from the bundle the deploy ships ("<path> <base64>"
        // lines): sha256 of the lines "<path>\0<sha256 of the file>", so any file's change shows.
        const sha = (x: string) => createHash("sha256").update(x, "utf8").digest("hex");
        const shipped = plain<string>(deploy.inputs.stdin).trim().split("\n").map((l) => l.split(" "));
        assert.deepStrictEqual(shipped.map(([p]) => p), ["compose.yaml", "configs/nginx_conf"]);
        const hash = sha(shipped.map(([p, b64]) => `${p}\0${sha(Buffer.from(b64, "base64").toString("utf8"))}`).join("\n"));
        assert.strictEqual(await unwrap(stack.contentHash), hash);
        assert.ok(script.includes(`\n# content sha256: ${hash}\n`));
        assert.match(plain<string>(deploy.inputs.delete), /^# pulumi-swarm: remove stack web\n/);
    });

    it("the ALB: a target group per declared route and none for other ports; the node group admits the ALB on exactly those ports", async () => {
        const { monitor, stack } = await build((t) => ({
            target: t,
            composeFile: WEB,
            routes: [{ service: "proxy", host: "admin.example.com", healthCheckPath: "/healthz" }],
        }));
        const tgs = monitor.ofType("aws:lb/targetGroup:TargetGroup");
        assert.deepStrictEqual(tgs.map((r) => [r.name, plain(r.inputs.port)]).sort(), [
            ["web-route-proxy-8080", 8080],
            ["web-route-proxy-8080-2", 8080],
        ]);
        const rules = monitor.ofType("aws:lb/listenerRule:ListenerRule");
        assert.strictEqual(rules.length, 2);
        const nodeIngress = monitor
            .ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
            .map((r) => plain<Record<string, unknown>>(r.inputs))
            .filter((i) => i.securityGroupId === "sg-nodes");
        assert.deepStrictEqual(
            nodeIngress.map((i) => [i.fromPort, i.toPort, i.referencedSecurityGroupId]),
            [[8080, 8080, "sg-alb"]],
        );
        // One attachment per node key; an attachment named by position before (the same node, in
        // the same place) is adopted through its alias instead of replaced.
        const attachments = monitor.ofType("aws:lb/targetGroupAttachment:TargetGroupAttachment");
        assert.deepStrictEqual(
            attachments.filter((a) => a.name.startsWith("web-route-proxy-8080-") && !a.name.startsWith("web-route-proxy-8080-2")).map((a) => [a.name, a.inputs.targetId, a.aliases.filter((x) => x.name !== undefined).map((x) => x.name)]),
            [
                ["web-route-proxy-8080-manager-0", "i-1", ["web-route-proxy-8080-0"]],
                ["web-route-proxy-8080-worker-0", "i-2", ["web-route-proxy-8080-1"]],
                ["web-route-proxy-8080-worker-1", "i-3", ["web-route-proxy-8080-2"]],
            ],
        );
        assert.strictEqual(attachments.length, 2 * 3);
        const urls = await unwrap(stack.routeUrls);
        assert.deepStrictEqual(Object.keys(urls).sort(), ["proxy-8080", "proxy-8080-2"]);
    });

    it("no route, no ALB resources; a route without a load balancer is refused before anything is created", async () => {
        const { monitor } = await build((t) => ({ target: t, composeContent: "services:\n  a:\n    image: x:1\n    ports: ['80:80']\n" }));
        assert.deepStrictEqual(monitor.ofType("aws:lb/targetGroup:TargetGroup"), []);
        const m2 = installMocks(awsOutputs, awsCalls);
        const { SwarmStack } = await import("../../components/swarmStack");
        const t = await target(false);
        await m2.settled();
        const before = m2.records.length;
        assert.throws(
            () => new SwarmStack("web", { target: t, composeFile: WEB }),
            {
                message:
                    'routes need a load balancer, and this stack\'s target has none; enable the cluster\'s load balancer, remove the pulumi-swarm.route.* labels, or set the target\'s ignoreRoutes; got ["proxy-8080"]',
            },
        );
        await m2.settled();
        assert.strictEqual(m2.records.length, before);
    });

    it("a target without a load balancer but with ignoreRoutes deploys the labelled file with no route resource", async () => {
        const { monitor, stack } = await build((t) => ({ target: { ...t, ignoreRoutes: true }, composeFile: WEB }), false);
        assert.deepStrictEqual(monitor.records.filter((r) => r.type.startsWith("aws:lb/") || r.type.startsWith("aws:vpc/")), []);
        assert.strictEqual(monitor.ofType("command:remote:Command").filter((r) => r.name === "web-deploy").length, 1);
        assert.deepStrictEqual(await unwrap(stack.routeUrls), {});
    });

    it("two stacks of one program with the same route priority on one load balancer: the second is refused before it creates anything", async () => {
        const m = installMocks(awsOutputs, awsCalls);
        const { SwarmStack } = await import("../../components/swarmStack");
        const t = await target(true);
        new SwarmStack("web", { target: t, composeFile: WEB, routePriorityBase: 2000 });
        await m.settled();
        const before = m.records.length;
        assert.throws(() => new SwarmStack("shop", { target: t, composeFile: WEB, routePriorityBase: 2000 }), {
            message:
                "routes.proxy-8080.priority is already used by stack web on this load balancer; give one of the stacks another routePriorityBase (1-49900) or a pulumi-swarm.route.priority label; got 2000",
        });
        new SwarmStack("shop2", { target: t, composeFile: WEB, routePriorityBase: 2100 });
        await m.settled();
        assert.deepStrictEqual(m.records.slice(before).filter((r) => r.name.startsWith("shop-")), []);
        assert.ok(m.records.some((r) => r.name === "shop2-deploy"));
    });

    it("a bad compose file fails before any resource is created, naming file, key and fix", async () => {
        const monitor = installMocks(awsOutputs, awsCalls);
        const { SwarmStack } = await import("../../components/swarmStack");
        const t = await target(true);
        await monitor.settled();
        const before = monitor.records.length;
        assert.throws(() => new SwarmStack("bad", { target: t, composeContent: "services:\n  a:\n    image: x\n    restart: always\n" }), {
            message: "bad (composeContent): services.a.restart: docker stack deploy ignores it; use deploy.restart_policy (condition: any, on-failure or none)",
        });
        await monitor.settled();
        assert.strictEqual(monitor.records.length, before);
    });

    it("secrets stay secret: the bundle, the connection key, and the rendered file when a secret is in it", async () => {
        const { monitor, stack } = await build((t) => ({
            target: t,
            composeContent: "services:\n  a:\n    image: x:1\n    secrets: [token]\n    environment:\n      PASSWORD: ${DB_PASSWORD}\nsecrets:\n  token: {}\n",
            secrets: { token: "s3cret-token" },
            variables: { DB_PASSWORD: pulumi.secret("db-pass-123") },
        }));
        const deploy = monitor.named("web-deploy", "command:remote:Command");
        assert.ok(isSecretValue(deploy.inputs.stdin));
        assert.ok(isSecretValue(deploy.inputs.connection));
        const bundle = plain<string>(deploy.inputs.stdin);
        const files = Object.fromEntries(bundle.trim().split("\n").map((l) => [l.split(" ")[0], Buffer.from(l.split(" ")[1], "base64").toString()]));
        assert.strictEqual(files["secrets/token"], "s3cret-token");
        assert.match(files["compose.yaml"], /PASSWORD: db-pass-123/);
        // Nowhere in plain sight: no recorded input holds them outside a secret.
        for (const r of monitor.records) {
            const visible = JSON.stringify(r.inputs, (_k, v) => (isSecretValue(v) ? "[secret]" : v));
            for (const s of ["s3cret-token", "db-pass-123", "LABKEY", Buffer.from("s3cret-token").toString("base64")]) {
                assert.ok(!visible.includes(s), `${r.name} shows ${s}`);
            }
        }
        assert.strictEqual(await pulumi.isSecret(stack.renderedCompose), true);
    });
});
