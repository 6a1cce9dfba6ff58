// Mock layer: the load balancer (its security group, listeners and default actions), the routes
// declared on it (target groups, attachments, listener rules, one rule pair per published port),
// the route planner's refusals, and what SwarmCluster hands to stacks (stackTarget).
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import type { SwarmCluster as SwarmClusterType, SwarmClusterArgs, SwarmLoadBalancer as SwarmLoadBalancerType, SwarmLoadBalancerArgs } from "../../components";
import { planRouteResources, routeUrl, shortAwsName } from "../../components/routePlanning";
import type { LoadBalancerTarget, RoutePlan } from "../../components/target";
import { validateClusterArgs } from "../../components/validation";
import { Recorded, RecordingMonitor, awsCalls, awsOutputs, installMocks, isSecretValue, plain, unwrap } from "../mocks";

const ELB = "arn:aws:elasticloadbalancing:us-east-1:123456789012";

/** awsOutputs plus what the load balancer's resources return. */
function outputs(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "aws:lb/loadBalancer:LoadBalancer":
            return { arn: `${ELB}:loadbalancer/app/${String(inputs.name)}/50dc6c495c0c9188`, dnsName: `${String(inputs.name)}-1234567890.us-east-1.elb.amazonaws.com`, zoneId: "Z35SXDOTRQ7X7K" };
        case "aws:lb/listener:Listener":
            return { arn: `${ELB}:listener/app/${name}/50dc6c495c0c9188/f2f7dc8efc522ab2` };
        case "aws:lb/targetGroup:TargetGroup":
            return { arn: `${ELB}:targetgroup/${String(inputs.name)}/73e2d6bc24d8a067` };
        default:
            return awsOutputs(type, name, inputs);
    }
}

const VPC = "vpc-0123456789abcdef0";
const SUBNETS = ["subnet-00000000000000000", "subnet-11111111111111111"];
const NODE_SG = "sg-0123456789abcdef0";
const INSTANCES = ["i-0000000000000000a", "i-0000000000000000b", "i-0000000000000000c"];
const lbArgs: SwarmLoadBalancerArgs = { vpcId: VPC, subnetIds: SUBNETS, nodeSecurityGroupId: NODE_SG, instanceIds: INSTANCES, tags: { team: "web" } };

async function buildLb(name: string, args: SwarmLoadBalancerArgs) {
    const monitor = installMocks(outputs, awsCalls);
    const { SwarmLoadBalancer } = await import("../../components");
    const lb = new SwarmLoadBalancer(name, args);
    await monitor.settled();
    return { monitor, lb };
}

const names = (m: RecordingMonitor) => m.records.map((r) => `${r.type} ${r.name}`).sort();

/** "in tcp 80-80 0.0.0.0/0 -> sg-x": a security-group rule, readable. */
function ruleLine(r: Recorded): string {
    const i = plain<Record<string, string | number | undefined>>(r.inputs);
    const peer = i.referencedSecurityGroupId ?? i.cidrIpv4 ?? i.cidrIpv6;
    return `${r.type.includes("Ingress") ? "in" : "out"} ${i.ipProtocol} ${i.fromPort}-${i.toPort} ${peer} on ${i.securityGroupId} [${r.name}]`;
}
const rulesOf = (m: RecordingMonitor) =>
    [...m.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"), ...m.ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")].map(ruleLine).sort();

/**
 * The ALB's and target groups' AWS names: the resource name, '-' and the first 8 hex digits of
 * the sha256 of their identity lines, worked out by hand (the mocks' project and stack are
 * "project" and "stack"), e.g. printf 'project\nstack\nedge\napplication\ninternet-facing' | sha256sum
 */
const EDGE_ALB = "edge-996e4fd6";
const TARGET_GROUP_NAMES: Record<string, string> = {
    // printf 'project\nstack\nweb-route-api-8080\nvpc-0123456789abcdef0\nHTTP\n8080\ninstance' | sha256sum
    "api-8080": "web-route-api-8080-a0028db1",
    "proxy-8080": "web-route-proxy-8080-64cdfc0c",
    "web-3000": "web-route-web-3000-793533a0",
};

const NOT_FOUND = { type: "fixed-response", fixedResponse: { contentType: "text/plain", messageBody: "Not found", statusCode: "404" } };

describe("mock: SwarmLoadBalancer", function () {
    this.timeout(60000);

    it("HTTP only: exactly the ALB, its group with 80 from anywhere and no egress, and one listener answering 404", async () => {
        const { monitor, lb } = await buildLb("edge", lbArgs);
        assert.deepStrictEqual(names(monitor), [
            "aws:ec2/securityGroup:SecurityGroup edge-sg",
            "aws:lb/listener:Listener edge-http",
            "aws:lb/loadBalancer:LoadBalancer edge",
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule edge-sg-http-0-0-0-0-0",
            "swarm:index:SwarmLoadBalancer edge",
        ]);
        assert.deepStrictEqual(rulesOf(monitor), ["in tcp 80-80 0.0.0.0/0 on edge-sg-id [edge-sg-http-0-0-0-0-0]"]);
        const alb = monitor.named("edge", "aws:lb/loadBalancer:LoadBalancer");
        assert.deepStrictEqual(alb.inputs, {
            name: EDGE_ALB,
            loadBalancerType: "application",
            internal: false,
            ipAddressType: "ipv4",
            subnets: SUBNETS,
            securityGroups: ["edge-sg-id"],
            dropInvalidHeaderFields: true,
            idleTimeout: 60,
            enableDeletionProtection: false,
            tags: { team: "web", Name: "edge" },
        });
        assert.strictEqual(monitor.named("edge-sg").inputs.vpcId, VPC);
        const http = monitor.named("edge-http");
        assert.strictEqual(http.inputs.port, 80);
        assert.strictEqual(http.inputs.protocol, "HTTP");
        assert.strictEqual(http.inputs.loadBalancerArn, `${ELB}:loadbalancer/app/edge-996e4fd6/50dc6c495c0c9188`);
        assert.deepStrictEqual(http.inputs.defaultActions, [NOT_FOUND]);
        for (const r of monitor.records.filter((x) => x.type.startsWith("aws:"))) {
            assert.ok(r.parentUrn.endsWith("swarm:index:SwarmLoadBalancer::edge"), `${r.name} has parent ${r.parentUrn}`);
        }

        const t = lb.target;
        assert.strictEqual(t.scheme, "http");
        assert.strictEqual(await unwrap(pulumi.output(t.listenerArn)), `${ELB}:listener/app/edge-http/50dc6c495c0c9188/f2f7dc8efc522ab2`);
        assert.strictEqual(await unwrap(pulumi.output(t.securityGroupId)), "edge-sg-id");
        assert.strictEqual(t.nodeSecurityGroupId, NODE_SG);
        // A list is keyed by position.
        assert.deepStrictEqual(t.instanceIds, { "0": "i-0000000000000000a", "1": "i-0000000000000000b", "2": "i-0000000000000000c" });
        assert.strictEqual(await unwrap(lb.dnsName), "edge-996e4fd6-1234567890.us-east-1.elb.amazonaws.com");
        assert.strictEqual(await unwrap(lb.listenerArn), `${ELB}:listener/app/edge-http/50dc6c495c0c9188/f2f7dc8efc522ab2`);
    });

    it("HTTPS: 80 and 443 from each block, HTTP redirects (301) to HTTPS, which answers 404 under a TLS 1.3 policy", async () => {
        const cert = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        const { monitor, lb } = await buildLb("edge", {
            ...lbArgs,
            certificateArn: cert,
            ingressCidrBlocks: ["203.0.113.0/24", "2001:db8::/32"],
            idleTimeoutSeconds: 120,
            deletionProtection: true,
        });
        assert.deepStrictEqual(rulesOf(monitor), [
            "in tcp 443-443 2001:db8::/32 on edge-sg-id [edge-sg-https-2001-db8-32]",
            "in tcp 443-443 203.0.113.0/24 on edge-sg-id [edge-sg-https-203-0-113-0-24]",
            "in tcp 80-80 2001:db8::/32 on edge-sg-id [edge-sg-http-2001-db8-32]",
            "in tcp 80-80 203.0.113.0/24 on edge-sg-id [edge-sg-http-203-0-113-0-24]",
        ]);
        assert.deepStrictEqual(
            monitor.ofType("aws:lb/listener:Listener").map((l) => l.name).sort(),
            ["edge-http", "edge-https"],
        );
        assert.deepStrictEqual(monitor.named("edge-http").inputs.defaultActions, [
            { type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } },
        ]);
        const https = monitor.named("edge-https");
        assert.strictEqual(https.inputs.port, 443);
        assert.strictEqual(https.inputs.protocol, "HTTPS");
        assert.strictEqual(https.inputs.certificateArn, cert);
        assert.strictEqual(https.inputs.sslPolicy, "ELBSecurityPolicy-TLS13-1-2-2021-06");
        assert.deepStrictEqual(https.inputs.defaultActions, [NOT_FOUND]);
        const alb = monitor.named("edge", "aws:lb/loadBalancer:LoadBalancer");
        assert.strictEqual(alb.inputs.idleTimeout, 120);
        assert.strictEqual(alb.inputs.enableDeletionProtection, true);
        assert.strictEqual(lb.target.scheme, "https");
        assert.strictEqual(await unwrap(pulumi.output(lb.target.listenerArn)), `${ELB}:listener/app/edge-https/50dc6c495c0c9188/f2f7dc8efc522ab2`);
    });

    it("bad input fails before any resource is registered, naming every field", async () => {
        const monitor = installMocks(outputs, awsCalls);
        const { SwarmLoadBalancer } = await import("../../components");
        assert.throws(
            () =>
                new SwarmLoadBalancer("bad", {
                    ...lbArgs,
                    subnetIds: [SUBNETS[0]],
                    instanceIds: ["web-1"],
                    certificateArn: "my-cert",
                    ingressCidrBlocks: ["10.0.0.1/8", "0.0.0.0/0", "0.0.0.0/0"],
                    idleTimeoutSeconds: 0,
                }),
            {
                name: "SwarmArgumentError",
                message: [
                    '- ingressCidrBlocks[0] has host bits set; write the network, "10.0.0.0/8"; got "10.0.0.1/8"',
                    '- ingressCidrBlocks[2] is listed twice; list each network once; got "0.0.0.0/0"',
                    '- certificateArn must be the ARN of an ACM certificate in the load balancer\'s region, such as "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-..."; got "my-cert"',
                    "- idleTimeoutSeconds must be a whole number of seconds from 1 to 4000 (60 is the default); got 0",
                    '- subnetIds must list public subnets in at least 2 availability zones (an Application Load Balancer needs two); got ["subnet-00000000000000000"]',
                    '- instanceIds[0] must be an instance ID such as "i-0123456789abcdef0"; got "web-1"',
                ].join("\n"),
            },
        );
        assert.throws(() => new SwarmLoadBalancer("bad", { ...lbArgs, sslPolicy: "ELBSecurityPolicy-TLS13-1-3-2021-06" }), {
            message: 'sslPolicy applies only to the HTTPS listener; give certificateArn too, or drop it; got "ELBSecurityPolicy-TLS13-1-3-2021-06"',
        });
        await monitor.settled();
        assert.strictEqual(monitor.records.length, 0);
    });
});

const ROUTES: RoutePlan[] = [
    { key: "api-8080", service: "api", publishedPort: 8080, pathPattern: "/api/*", healthCheckPath: "/healthz", priority: 1000 },
    { key: "proxy-8080", service: "proxy", publishedPort: 8080, host: "admin.example.com", healthCheckPath: "/", priority: 1001 },
    { key: "web-3000", service: "web", publishedPort: 3000, healthCheckPath: "/", priority: 1002 },
];

describe("mock: declareRoutes", function () {
    this.timeout(60000);
    let m: RecordingMonitor;
    let lb: SwarmLoadBalancerType;
    let declared: { urls: pulumi.Output<Record<string, string>>; resources: pulumi.Resource[] };

    before(async () => {
        m = installMocks(outputs, awsCalls);
        const { SwarmLoadBalancer, declareRoutes } = await import("../../components");
        lb = new SwarmLoadBalancer("edge", lbArgs);
        const parent = new pulumi.ComponentResource("test:index:Stack", "web");
        declared = declareRoutes(parent, "web", ROUTES, lb.target);
        await m.settled();
    });

    it("one target group per route, HTTP on its published port, with a health check on its path; none for other ports", () => {
        const groups = m.ofType("aws:lb/targetGroup:TargetGroup");
        assert.deepStrictEqual(groups.map((g) => `${g.name} ${g.inputs.port}`).sort(), [
            "web-route-api-8080 8080",
            "web-route-proxy-8080 8080",
            "web-route-web-3000 3000",
        ]);
        for (const g of groups) {
            const route = ROUTES.find((r) => `web-route-${r.key}` === g.name)!;
            const { name, ...rest } = g.inputs;
            assert.strictEqual(name, TARGET_GROUP_NAMES[route.key]);
            assert.deepStrictEqual(rest, {
                port: route.publishedPort,
                protocol: "HTTP",
                targetType: "instance",
                vpcId: VPC,
                deregistrationDelay: 30,
                healthCheck: {
                    enabled: true,
                    protocol: "HTTP",
                    port: "traffic-port",
                    path: route.healthCheckPath,
                    matcher: "200-399",
                    interval: 15,
                    timeout: 5,
                    healthyThreshold: 2,
                    unhealthyThreshold: 3,
                },
                tags: { team: "web", Name: g.name },
            });
            assert.ok(g.parentUrn.endsWith("test:index:Stack::web"), g.parentUrn);
        }
    });

    it("registers every node in every target group", () => {
        const attachments = m.ofType("aws:lb/targetGroupAttachment:TargetGroupAttachment");
        const expected = ROUTES.flatMap((r) =>
            INSTANCES.map((id, i) => `web-route-${r.key}-${i} ${id}:${r.publishedPort} -> ${ELB}:targetgroup/${TARGET_GROUP_NAMES[r.key]}/73e2d6bc24d8a067`),
        );
        assert.deepStrictEqual(attachments.map((a) => `${a.name} ${a.inputs.targetId}:${a.inputs.port} -> ${a.inputs.targetGroupArn}`).sort(), expected.sort());
    });

    it("one listener rule per route on the load balancer's listener: its priority, its conditions, forwarding to its group", () => {
        const rules = m.ofType("aws:lb/listenerRule:ListenerRule");
        const tgArn = (key: string) => `${ELB}:targetgroup/${TARGET_GROUP_NAMES[key]}/73e2d6bc24d8a067`;
        assert.deepStrictEqual(
            rules.map((r) => [r.name, r.inputs.priority, r.inputs.conditions]).sort(),
            [
                ["web-route-api-8080", 1000, [{ pathPattern: { values: ["/api/*"] } }]],
                ["web-route-proxy-8080", 1001, [{ hostHeader: { values: ["admin.example.com"] } }]],
                ["web-route-web-3000", 1002, [{ pathPattern: { values: ["/*"] } }]],
            ],
        );
        for (const r of rules) {
            const key = r.name.replace(/^web-route-/, "");
            assert.strictEqual(r.inputs.listenerArn, `${ELB}:listener/app/edge-http/50dc6c495c0c9188/f2f7dc8efc522ab2`);
            assert.deepStrictEqual(r.inputs.actions, [{ type: "forward", targetGroupArn: tgArn(key) }]);
            const port = ROUTES.find((x) => x.key === key)!.publishedPort;
            assert.ok(r.dependencies.includes(`web-alb-${port}`) && r.dependencies.includes(`web-alb-${port}-egress`), `${r.name} does not wait for its port's rules`);
        }
    });

    it("the node group admits the ALB's group on exactly the routed ports, and the ALB's group sends only there", () => {
        assert.deepStrictEqual(rulesOf(m), [
            "in tcp 3000-3000 edge-sg-id on sg-0123456789abcdef0 [web-alb-3000]",
            "in tcp 80-80 0.0.0.0/0 on edge-sg-id [edge-sg-http-0-0-0-0-0]",
            "in tcp 8080-8080 edge-sg-id on sg-0123456789abcdef0 [web-alb-8080]",
            "out tcp 3000-3000 sg-0123456789abcdef0 on edge-sg-id [web-alb-3000-egress]",
            "out tcp 8080-8080 sg-0123456789abcdef0 on edge-sg-id [web-alb-8080-egress]",
        ]);
    });

    it("returns every resource it declared and each route's URL", async () => {
        assert.strictEqual(declared.resources.length, 3 + 3 * 3 + 3 + 2 * 2);
        const dns = "edge-996e4fd6-1234567890.us-east-1.elb.amazonaws.com";
        assert.deepStrictEqual(await unwrap(declared.urls), {
            "api-8080": `http://${dns}/api/`,
            "proxy-8080": "http://admin.example.com",
            "web-3000": `http://${dns}`,
        });
    });

    it("checks the routes before declaring anything", async () => {
        const before = m.records.length;
        const { declareRoutes } = await import("../../components");
        const parent = new pulumi.ComponentResource("test:index:Stack", "bad");
        assert.throws(() => declareRoutes(parent, "bad", [{ ...ROUTES[0], publishedPort: 0 }], lb.target), {
            message: "routes[0].publishedPort must be a whole number from 1 to 65535 (the port the swarm publishes the service on); got 0",
        });
        await m.settled();
        assert.deepStrictEqual(m.records.slice(before).map((r) => r.type), ["test:index:Stack"]);
    });
});

describe("pure: route planning", () => {
    const route = (over: Partial<RoutePlan>): RoutePlan => ({ key: "a-80", service: "a", publishedPort: 80, healthCheckPath: "/", priority: 1, ...over });
    const message = (routes: RoutePlan[]): string => {
        try {
            planRouteResources(routes);
        } catch (e) {
            return (e as Error).message;
        }
        throw new Error("expected an error");
    };

    it("plans one rule pair per distinct port, keyed by the port, and a target per route", () => {
        const plan = planRouteResources(ROUTES);
        assert.deepStrictEqual(plan.portRules, [
            { key: "3000", port: 3000, routeKeys: ["web-3000"] },
            { key: "8080", port: 8080, routeKeys: ["api-8080", "proxy-8080"] },
        ]);
        assert.deepStrictEqual(
            plan.targets.map((t) => [t.key, t.port, t.priority, JSON.stringify(t.conditions)]),
            [
                ["api-8080", 8080, 1000, '[{"pathPattern":{"values":["/api/*"]}}]'],
                ["proxy-8080", 8080, 1001, '[{"hostHeader":{"values":["admin.example.com"]}}]'],
                ["web-3000", 3000, 1002, '[{"pathPattern":{"values":["/*"]}}]'],
            ],
        );
        assert.deepStrictEqual(planRouteResources([route({ host: "a.example.com", pathPattern: "/x/*" })]).targets[0].conditions, [
            { hostHeader: { values: ["a.example.com"] } },
            { pathPattern: { values: ["/x/*"] } },
        ]);
        assert.deepStrictEqual(planRouteResources([]), { targets: [], portRules: [] });
    });

    it("refuses duplicate priorities, two routes matching the same host and path, bad ports and priorities, naming the field", () => {
        assert.strictEqual(
            message([route({}), route({ key: "b-80", host: "b.example.com", priority: 1 })]),
            "routes[1].priority is also the priority of routes[0]; each rule on a listener needs its own priority; got 1",
        );
        assert.strictEqual(
            message([route({ host: "A.example.com", pathPattern: "/api/*" }), route({ key: "b-81", publishedPort: 81, host: "a.example.com", pathPattern: "/api/*", priority: 2 })]),
            'routes[1] matches the same host and path as routes[0] (a-80); the one with the higher priority number would never be reached, so give them different hosts or paths; got {"host":"a.example.com","pathPattern":"/api/*"}',
        );
        assert.strictEqual(
            message([route({}), route({ key: "b-80", pathPattern: "/*", priority: 2 })]),
            'routes[1] matches the same host and path as routes[0] (a-80); the one with the higher priority number would never be reached, so give them different hosts or paths; got {"pathPattern":"/*"}',
        );
        assert.strictEqual(
            message([route({ publishedPort: 65536 })]),
            "routes[0].publishedPort must be a whole number from 1 to 65535 (the port the swarm publishes the service on); got 65536",
        );
        assert.strictEqual(
            message([route({ priority: 50001 })]),
            "routes[0].priority must be a whole number from 1 to 50000 (an ALB listener rule priority); got 50001",
        );
        assert.strictEqual(
            message([route({ priority: 0, publishedPort: 0 }), route({ key: "a-80", priority: 2 })]),
            [
                "- routes[0].publishedPort must be a whole number from 1 to 65535 (the port the swarm publishes the service on); got 0",
                "- routes[0].priority must be a whole number from 1 to 50000 (an ALB listener rule priority); got 0",
                '- routes[1].key is also the key of routes[0]; route keys must be unique; got "a-80"',
                '- routes[1] matches the same host and path as routes[0] (a-80); the one with the higher priority number would never be reached, so give them different hosts or paths; got {}',
            ].join("\n"),
        );
        assert.strictEqual(
            message([route({ key: "A_80", healthCheckPath: "healthz", pathPattern: "api" })]),
            [
                "- routes[0].key must be lower-case letters, digits and '-', starting and ending with a letter or digit (it is part of resource names); got \"A_80\"",
                '- routes[0].pathPattern must be a path pattern of at most 128 characters starting with "/", such as "/api/*"; got "api"',
                '- routes[0].healthCheckPath must be a path starting with "/", such as "/healthz"; got "healthz"',
            ].join("\n"),
        );
    });

    it("makes route URLs from the host or the ALB's name and the path up to its wildcard", () => {
        assert.strictEqual(routeUrl("https", "x.elb.amazonaws.com", { pathPattern: "/api/v1/*" }), "https://x.elb.amazonaws.com/api/v1/");
        assert.strictEqual(routeUrl("https", "x.elb.amazonaws.com", { host: "app.example.com", pathPattern: "/*" }), "https://app.example.com");
        assert.strictEqual(routeUrl("http", "x.elb.amazonaws.com", { pathPattern: "/exact" }), "http://x.elb.amazonaws.com/exact");
    });

    it("keeps AWS names within 32 characters, and changes them with what replaces the resource", () => {
        const long = "a-very-long-stack-name-route-some-service-with-a-long-name-65535";
        // 23 characters are kept; the cut ends in '-', which goes (AWS names do not end in one).
        // The hashes by hand: printf 'p\ns\n<long>\nvpc-1\n65535' | sha256sum, and so on.
        assert.strictEqual(shortAwsName(long, ["p", "s", long, "vpc-1", 65535]), "a-very-long-stack-name-072fcc59");
        assert.strictEqual(shortAwsName(long, ["p", "s", long, "vpc-2", 65535]), "a-very-long-stack-name-2f711fb0");
        assert.strictEqual(shortAwsName("prod-route-api-server-8080-extra", ["x"]), "prod-route-api-server-8-2d711642");
        assert.strictEqual(shortAwsName("web_route--x", ["1"]), "web-route-x-6b86b273");
    });
});

describe("mock: SwarmCluster's load balancer, registry and stack target", function () {
    this.timeout(60000);

    async function build(name: string, args: Partial<SwarmClusterArgs>) {
        const monitor = installMocks(outputs, awsCalls);
        const { SwarmCluster } = await import("../../components");
        const cluster = new SwarmCluster(name, { adminCidrBlocks: ["203.0.113.0/24"], ...args });
        await monitor.settled();
        return { monitor, cluster };
    }

    describe("by default (ECR, HTTP load balancer)", () => {
        let m: RecordingMonitor;
        let cluster: SwarmClusterType;
        before(async () => {
            ({ monitor: m, cluster } = await build("prod", { tags: { team: "platform" } }));
        });

        it("puts the ALB over the cluster's subnets, its listener answering 404, sending to no port until a route asks", () => {
            const alb = m.named("prod-alb", "aws:lb/loadBalancer:LoadBalancer");
            assert.deepStrictEqual(alb.inputs.subnets, [0, 1, 2].map((i) => `prod-public-${i}-id`));
            assert.deepStrictEqual(alb.inputs.securityGroups, ["prod-alb-sg-id"]);
            assert.strictEqual(m.named("prod-alb-sg").inputs.vpcId, "prod-vpc-id");
            assert.deepStrictEqual(m.named("prod-alb-http").inputs.defaultActions, [NOT_FOUND]);
            assert.deepStrictEqual(
                rulesOf(m).filter((r) => r.includes("prod-alb")),
                ["in tcp 80-80 0.0.0.0/0 on prod-alb-sg-id [prod-alb-sg-http-0-0-0-0-0]"],
            );
            // Nothing reaches the nodes from the ALB before a stack routes a port.
            assert.deepStrictEqual(rulesOf(m).filter((r) => r.includes(" prod-alb-sg-id on prod-nodes-id")), []);
            assert.deepStrictEqual((alb.inputs.tags as Record<string, string>), { team: "platform", "pulumi-swarm:cluster": "project/stack/prod", Name: "prod-alb" });
        });

        it("gives stacks the first manager over SSH (its key secret), the bootstrap to wait for, ECR and the load balancer", async () => {
            const t = cluster.stackTarget;
            assert.strictEqual(t.clusterName, "prod");
            // Its repositories are named after the cluster's identity: another stack's cluster named
            // "prod" in the same account and region gets its own.
            assert.deepStrictEqual(t.registry, {
                kind: "ecr",
                keepImages: 10,
                tags: { team: "platform", "pulumi-swarm:cluster": "project/stack/prod" },
                repositoryPrefix: "project/stack/prod",
            });
            assert.strictEqual(t.ready.length, 1);
            assert.strictEqual(t.ready[0], cluster.bootstrap);
            assert.strictEqual(t.platform, "linux/amd64", "t3 nodes: stacks build for amd64 wherever they build");
            const manager = pulumi.output(t.manager);
            assert.strictEqual(await pulumi.isSecret(manager), true);
            assert.deepStrictEqual(await unwrap(manager), {
                host: awsOutputs("aws:ec2/eip:Eip", "prod-manager-0-ip", {}).publicIp,
                port: 22,
                user: "ubuntu",
                privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nFAKE\n-----END OPENSSH PRIVATE KEY-----\n",
            });
            const lb = t.loadBalancer as LoadBalancerTarget;
            assert.strictEqual(lb.scheme, "http");
            assert.strictEqual(await unwrap(pulumi.output(lb.listenerArn)), `${ELB}:listener/app/prod-alb-http/50dc6c495c0c9188/f2f7dc8efc522ab2`);
            assert.strictEqual(await unwrap(pulumi.output(lb.nodeSecurityGroupId)), "prod-nodes-id");
            assert.strictEqual(await unwrap(pulumi.output(lb.vpcId)), "prod-vpc-id");
            // By node key: a node added or removed touches only its own registrations.
            assert.deepStrictEqual(await unwrap(pulumi.all(lb.instanceIds)), {
                "manager-0": "prod-manager-0-id",
                "manager-1": "prod-manager-1-id",
                "manager-2": "prod-manager-2-id",
                "worker-0": "prod-worker-0-id",
                "worker-1": "prod-worker-1-id",
            });
            // printf 'project\nstack\nprod-alb\napplication\ninternet-facing' | sha256sum: 37a44595...
            assert.strictEqual(String(m.named("prod-alb", "aws:lb/loadBalancer:LoadBalancer").inputs.name), "prod-alb-37a44595");
            assert.strictEqual(await unwrap(cluster.loadBalancerDnsName), "prod-alb-37a44595-1234567890.us-east-1.elb.amazonaws.com");
        });

        it("installs the ECR credential helper and the token renewal timer on every node", () => {
            for (const i of m.ofType("aws:ec2/instance:Instance")) {
                assert.match(String(i.inputs.userData), /\n  apt-get install -y -q amazon-ecr-credential-helper\n[\s\S]*\ndocker_config root\ndocker_config ubuntu\n[\s\S]*\nsystemctl enable --now pulumi-swarm-renew-registry-auth\.timer\n$/);
            }
        });
    });

    it("HTTPS when given a certificate; the load balancer's settings reach it", async () => {
        const cert = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        const { monitor, cluster } = await build("tls", {
            managerCount: 1,
            workerCount: 0,
            loadBalancer: { certificateArn: cert, ingressCidrBlocks: ["198.51.100.0/24"], idleTimeoutSeconds: 30 },
        });
        assert.deepStrictEqual(monitor.ofType("aws:lb/listener:Listener").map((l) => l.name).sort(), ["tls-alb-http", "tls-alb-https"]);
        assert.strictEqual(monitor.named("tls-alb-https").inputs.certificateArn, cert);
        assert.deepStrictEqual(rulesOf(monitor).filter((r) => r.includes("tls-alb")), [
            "in tcp 443-443 198.51.100.0/24 on tls-alb-sg-id [tls-alb-sg-https-198-51-100-0-24]",
            "in tcp 80-80 198.51.100.0/24 on tls-alb-sg-id [tls-alb-sg-http-198-51-100-0-24]",
        ]);
        assert.strictEqual(monitor.named("tls-alb", "aws:lb/loadBalancer:LoadBalancer").inputs.idleTimeout, 30);
        assert.strictEqual(cluster.stackTarget.loadBalancer?.scheme, "https");
    });

    it("an external registry and no load balancer: no ALB resources, the password secret, no ECR helper", async () => {
        const { monitor, cluster } = await build("ext", {
            managerCount: 1,
            workerCount: 1,
            loadBalancer: { enabled: false },
            registry: { kind: "external", address: "registry.example.com:5000", username: "ci", password: "hunter2" },
        });
        assert.deepStrictEqual(monitor.records.filter((r) => r.type.startsWith("aws:lb/") || r.type === "swarm:index:SwarmLoadBalancer"), []);
        // Nothing to take nodes out of: no policy for it, and the members' scripts do not try.
        assert.deepStrictEqual(monitor.ofType("aws:iam/rolePolicy:RolePolicy"), []);
        for (const r of monitor.ofType("command:remote:Command").filter((c) => c.name.startsWith("ext-swarm-member-"))) {
            assert.doesNotMatch(`${plain<string>(r.inputs.create)}${plain<string>(r.inputs.delete)}`, /lbOut|pulumi-swarm\.instance/);
        }
        assert.deepStrictEqual(monitor.ofType("aws:ec2/securityGroup:SecurityGroup").map((r) => r.name), ["ext-nodes"]);
        assert.strictEqual(cluster.loadBalancer, undefined);
        assert.strictEqual(cluster.stackTarget.loadBalancer, undefined);
        assert.strictEqual(await unwrap(cluster.loadBalancerDnsName), undefined);
        const reg = cluster.stackTarget.registry!;
        assert.strictEqual(reg.kind, "external");
        if (reg.kind === "external") {
            assert.strictEqual(reg.address, "registry.example.com:5000");
            assert.strictEqual(reg.username, "ci");
            assert.strictEqual(await pulumi.isSecret(pulumi.output(reg.password!)), true);
            assert.strictEqual(await unwrap(pulumi.output(reg.password!)), "hunter2");
        }
        for (const i of monitor.ofType("aws:ec2/instance:Instance")) {
            assert.doesNotMatch(String(i.inputs.userData), /ecr/);
        }
        assert.ok(!isSecretValue(monitor.named("ext-manager-0").inputs.userData));
    });

    it("refuses bad load balancer and registry settings before any resource, naming the field", async () => {
        const message = (args: Partial<SwarmClusterArgs>): string => {
            try {
                validateClusterArgs({ adminCidrBlocks: ["203.0.113.0/24"], ...args });
            } catch (e) {
                return (e as Error).message;
            }
            throw new Error("expected an error");
        };
        assert.strictEqual(
            message({ availabilityZoneCount: 1 }),
            "availabilityZoneCount must be at least 2 while the load balancer is enabled (an Application Load Balancer needs subnets in two zones); raise it, or set loadBalancer.enabled to false; got 1",
        );
        assert.strictEqual(validateClusterArgs({ adminCidrBlocks: ["203.0.113.0/24"], availabilityZoneCount: 1, loadBalancer: { enabled: false } }).loadBalancer, false);
        assert.strictEqual(
            message({ vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0"] }),
            'subnetIds must list subnets in at least 2 zones while the load balancer is enabled (an Application Load Balancer needs subnets in two zones); add a subnet, or set loadBalancer.enabled to false; got ["subnet-0123456789abcdef0"]',
        );
        assert.strictEqual(
            message({ loadBalancer: { ingressCidrBlocks: ["0.0.0.0"] } }),
            'loadBalancer.ingressCidrBlocks[0] must be a CIDR block such as "0.0.0.0/0", "203.0.113.0/24" or "2001:db8::/32"; got "0.0.0.0"',
        );
        assert.strictEqual(
            message({ loadBalancer: { enabled: false, certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/x" } }),
            'loadBalancer.certificateArn applies only to an enabled load balancer; drop it, or set loadBalancer.enabled to true; got "(set)"',
        );
        assert.strictEqual(
            message({ registry: { kind: "ecr", keepImages: 0 } }),
            "registry.keepImages must be a whole number from 1 to 1000 (how many images each repository keeps; older ones expire); got 0",
        );
        assert.strictEqual(
            message({ registry: { kind: "external", address: "https://registry.example.com" } }),
            'registry.address must be the registry\'s host[:port], such as "registry.example.com" or "10.0.0.5:5000"; got "https://registry.example.com"',
        );
        assert.strictEqual(
            message({ registry: { kind: "external", address: "r.example.com", password: "x" } }),
            "registry.username must be given with registry.password (or give neither, to pull anonymously); got nothing (the field is missing)",
        );
        assert.strictEqual(
            message({ registry: { kind: "gcr" } as never }),
            'registry.kind must be "ecr" (a repository per built image in this account, pulled with the instance role) or "external" (an existing registry by address); got "gcr"',
        );
        const monitor = installMocks(outputs, awsCalls);
        const { SwarmCluster } = await import("../../components");
        assert.throws(() => new SwarmCluster("bad", { adminCidrBlocks: ["203.0.113.0/24"], registry: { kind: "ecr", keepImages: 1001 } }), /^SwarmArgumentError: registry\.keepImages/);
        await monitor.settled();
        assert.strictEqual(monitor.records.length, 0);
    });
});
