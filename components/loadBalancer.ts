import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { SecurityRule } from "./planning";
import { ROUTE_TARGET_GROUP, planLoadBalancerSecurityRules, planRouteResources, routeUrl, shortAwsName } from "./routePlanning";
import { LoadBalancerTarget, RoutePlan } from "./target";
import { LOAD_BALANCER_DEFAULTS, validateLoadBalancerArgs } from "./validation";

export interface SwarmLoadBalancerArgs {
    /** The VPC of the nodes and the subnets. */
    readonly vpcId: pulumi.Input<string>;
    /** Public subnets in at least 2 availability zones (an ALB needs two): usually the cluster's subnets. */
    readonly subnetIds: pulumi.Input<string>[];
    /** The nodes' security group: routes make it admit the load balancer's group on their published ports, and on nothing else. */
    readonly nodeSecurityGroupId: pulumi.Input<string>;
    /**
     * Every node's instance ID: each route's target group registers them all (the swarm's routing
     * mesh answers on every node). Give them by node key (what SwarmCluster does): a node
     * added or removed then touches only its own registrations. A list is keyed by position, so
     * removing a node from its middle moves the others' registrations, and a registration's
     * replacement deregisters the instance at the end of the run even when another key now
     * holds it: give a list only for a fixed set of nodes.
     */
    readonly instanceIds: pulumi.Input<string>[] | Readonly<Record<string, pulumi.Input<string>>>;
    /**
     * An ACM certificate for HTTPS. When given, an HTTPS listener on 443 takes the routes and
     * HTTP on 80 only redirects (301) to HTTPS. Whether it is given decides the listeners; its
     * value may be an Output (give the certificate's validated ARN, e.g. `CertificateValidation.certificateArn`).
     * @default no certificate: routes are served over plain HTTP on 80
     */
    readonly certificateArn?: pulumi.Input<string>;
    /** The HTTPS listener's security policy (only with `certificateArn`). @default "ELBSecurityPolicy-TLS13-1-2-2021-06" (TLS 1.3 and 1.2) */
    readonly sslPolicy?: pulumi.Input<string>;
    /**
     * Networks allowed to reach the load balancer on 80 (and 443 with a certificate). The ALB is
     * IPv4-only, so IPv6 blocks only matter once you make it dual-stack.
     * @default ["0.0.0.0/0"]: a public web entry point (the nodes themselves stay closed)
     */
    readonly ingressCidrBlocks?: string[];
    /** Seconds a connection may stay idle. @default 60 */
    readonly idleTimeoutSeconds?: pulumi.Input<number>;
    /** AWS deletion protection on the load balancer. @default false, so that `pulumi destroy` removes it cleanly */
    readonly deletionProtection?: pulumi.Input<boolean>;
    /** Extra tags for every resource that takes tags (each also gets `Name`: its resource name). @default {} */
    readonly tags?: Record<string, string>;
}

/**
 * The AWS name of the load balancer `SwarmLoadBalancer(name)` makes: 32 characters at most, so a
 * short hash of the project, stack and name instead of Pulumi's random suffix. It is fixed, so
 * the nodes' scripts find the load balancer by it without waiting for it to exist.
 */
export function loadBalancerAwsName(name: string): string {
    return shortAwsName(name, [pulumi.getProject(), pulumi.getStack(), name, "application", "internet-facing"]);
}

/**
 * An internet-facing Application Load Balancer for a swarm: its own security group (HTTP from
 * `ingressCidrBlocks`, HTTPS too with a certificate, and no egress until routes add it), and
 * one listener taking routes whose default answer is a plain 404 (with HTTPS, the HTTP listener
 * redirects to it). Routes are added with {@link declareRoutes} from the stacks that declare them.
 *
 * Children: `<name>` (the ALB), `<name>-sg` and its rules `<name>-sg-http-<cidr>` /
 * `<name>-sg-https-<cidr>`, listeners `<name>-http` and `<name>-https`.
 */
export class SwarmLoadBalancer extends pulumi.ComponentResource {
    public readonly arn: pulumi.Output<string>;
    public readonly dnsName: pulumi.Output<string>;
    /** The ALB's Route 53 hosted zone, for alias records. */
    public readonly zoneId: pulumi.Output<string>;
    public readonly securityGroupId: pulumi.Output<string>;
    /** The listener routes attach to: HTTPS with a certificate, else HTTP. */
    public readonly listenerArn: pulumi.Output<string>;
    /** What `declareRoutes` (and so a SwarmStack) needs. */
    public readonly target: LoadBalancerTarget;

    constructor(name: string, args: SwarmLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate first: bad input registers nothing, not even this component.
        validateLoadBalancerArgs(args);
        super("swarm:index:SwarmLoadBalancer", name, {}, opts);
        const d = LOAD_BALANCER_DEFAULTS;
        const tagsFor = (resourceName: string) => ({ ...(args.tags ?? {}), Name: resourceName });
        const https = args.certificateArn !== undefined;

        const sgName = `${name}-sg`;
        const sg = new aws.ec2.SecurityGroup(
            sgName,
            {
                vpcId: args.vpcId,
                description: `pulumi-swarm ${name}: load balancer (egress only to the nodes, on routed ports)`,
                tags: tagsFor(sgName),
            },
            { parent: this },
        );
        for (const rule of planLoadBalancerSecurityRules(args.ingressCidrBlocks ?? d.ingressCidrBlocks, https)) {
            this.declareRule(sgName, sg, rule, tagsFor);
        }

        // The ALB's AWS name: 32 characters at most, so a short hash instead of Pulumi's suffix.
        // Nothing the component sets can force a replacement, so the name stays fixed.
        const alb = new aws.lb.LoadBalancer(
            name,
            {
                name: loadBalancerAwsName(name),
                loadBalancerType: "application",
                internal: false,
                ipAddressType: "ipv4",
                subnets: args.subnetIds,
                securityGroups: [sg.id],
                dropInvalidHeaderFields: true,
                idleTimeout: args.idleTimeoutSeconds ?? d.idleTimeoutSeconds,
                enableDeletionProtection: args.deletionProtection ?? d.deletionProtection,
                tags: tagsFor(name),
            },
            { parent: this },
        );

        const notFound = [{ type: "fixed-response", fixedResponse: { contentType: "text/plain", messageBody: "Not found", statusCode: "404" } }];
        const http = new aws.lb.Listener(
            `${name}-http`,
            {
                loadBalancerArn: alb.arn,
                port: 80,
                protocol: "HTTP",
                defaultActions: https ? [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }] : notFound,
                tags: tagsFor(`${name}-http`),
            },
            { parent: this },
        );
        let listener = http;
        if (https) {
            listener = new aws.lb.Listener(
                `${name}-https`,
                {
                    loadBalancerArn: alb.arn,
                    port: 443,
                    protocol: "HTTPS",
                    certificateArn: args.certificateArn,
                    sslPolicy: args.sslPolicy ?? d.sslPolicy,
                    defaultActions: notFound,
                    tags: tagsFor(`${name}-https`),
                },
                { parent: this },
            );
        }

        this.arn = alb.arn;
        this.dnsName = alb.dnsName;
        this.zoneId = alb.zoneId;
        this.securityGroupId = sg.id;
        this.listenerArn = listener.arn;
        this.target = {
            vpcId: args.vpcId,
            listenerArn: listener.arn,
            scheme: https ? "https" : "http",
            dnsName: alb.dnsName,
            securityGroupId: sg.id,
            nodeSecurityGroupId: args.nodeSecurityGroupId,
            instanceIds: Array.isArray(args.instanceIds) ? Object.fromEntries(args.instanceIds.map((id, i) => [String(i), id])) : args.instanceIds,
            tags: args.tags,
        };
        this.registerOutputs({
            arn: this.arn,
            dnsName: this.dnsName,
            zoneId: this.zoneId,
            securityGroupId: this.securityGroupId,
            listenerArn: this.listenerArn,
        });
    }

    private declareRule(
        ruleNamePrefix: string,
        sg: aws.ec2.SecurityGroup,
        rule: SecurityRule,
        tagsFor: (n: string) => Record<string, string>,
    ): pulumi.Resource {
        const ruleName = `${ruleNamePrefix}-${rule.key}`;
        if (rule.source === "self" || rule.direction !== "ingress") {
            throw new Error(`load balancer rule ${rule.key}: only ingress from CIDR blocks is planned here`);
        }
        return new aws.vpc.SecurityGroupIngressRule(
            ruleName,
            {
                securityGroupId: sg.id,
                description: rule.description,
                ipProtocol: rule.protocol,
                fromPort: rule.fromPort,
                toPort: rule.toPort,
                ...(rule.source.cidr.includes(":") ? { cidrIpv6: rule.source.cidr } : { cidrIpv4: rule.source.cidr }),
                tags: tagsFor(ruleName),
            },
            { parent: this },
        );
    }
}

/**
 * Declares the ALB side of routes, as children of `parent`:
 * - per route, `<name>-route-<key>`: a target group (HTTP on the route's published port, every
 *   node registered as `<name>-route-<key>-<i>`, a health check on the route's path) and a
 *   listener rule with the route's priority and host/path conditions;
 * - per distinct published port, `<name>-alb-<port>`: the node group admits the ALB's group on
 *   that port, and `<name>-alb-<port>-egress`: the ALB's group may send to the node group on it.
 *
 * Checks the routes first (SwarmArgumentError naming the route field) and declares nothing
 * when they are wrong. Returns each route's URL by key, and every resource declared.
 */
export function declareRoutes(
    parent: pulumi.Resource,
    name: string,
    routes: readonly RoutePlan[],
    target: LoadBalancerTarget,
): { urls: pulumi.Output<Record<string, string>>; resources: pulumi.Resource[] } {
    const plan = planRouteResources(routes);
    const tagsFor = (resourceName: string) => ({ ...(target.tags ?? {}), Name: resourceName });
    const tg = ROUTE_TARGET_GROUP;
    const resources: pulumi.Resource[] = [];

    const portRules = new Map<number, pulumi.Resource[]>();
    for (const p of plan.portRules) {
        const ingressName = `${name}-alb-${p.key}`;
        const egressName = `${name}-alb-${p.key}-egress`;
        const common = { ipProtocol: "tcp", fromPort: p.port, toPort: p.port };
        const ingress = new aws.vpc.SecurityGroupIngressRule(
            ingressName,
            {
                ...common,
                securityGroupId: target.nodeSecurityGroupId,
                referencedSecurityGroupId: target.securityGroupId,
                description: `Load balancer to swarm-published port ${p.port}`,
                tags: tagsFor(ingressName),
            },
            { parent },
        );
        const egress = new aws.vpc.SecurityGroupEgressRule(
            egressName,
            {
                ...common,
                securityGroupId: target.securityGroupId,
                referencedSecurityGroupId: target.nodeSecurityGroupId,
                description: `To the nodes' swarm-published port ${p.port}`,
                tags: tagsFor(egressName),
            },
            { parent },
        );
        resources.push(ingress, egress);
        portRules.set(p.port, [ingress, egress]);
    }

    for (const t of plan.targets) {
        const resourceName = `${name}-route-${t.key}`;
        // Target group names are 32 characters, unique per account and region. The hash covers
        // every input that replaces a target group, so a replacement gets a new name and can be
        // created before the old one is deleted (the listener rule moves over in between).
        const awsName = pulumi
            .output(target.vpcId)
            .apply((vpcId) =>
                shortAwsName(resourceName, [pulumi.getProject(), pulumi.getStack(), resourceName, vpcId, tg.protocol, t.port, tg.targetType]),
            );
        const group = new aws.lb.TargetGroup(
            resourceName,
            {
                name: awsName,
                port: t.port,
                protocol: tg.protocol,
                targetType: tg.targetType,
                vpcId: target.vpcId,
                deregistrationDelay: tg.deregistrationDelaySeconds,
                healthCheck: {
                    enabled: true,
                    protocol: "HTTP",
                    port: "traffic-port",
                    path: t.healthCheckPath,
                    matcher: tg.healthCheck.matcher,
                    interval: tg.healthCheck.intervalSeconds,
                    timeout: tg.healthCheck.timeoutSeconds,
                    healthyThreshold: tg.healthCheck.healthyThreshold,
                    unhealthyThreshold: tg.healthCheck.unhealthyThreshold,
                },
                tags: tagsFor(resourceName),
            },
            { parent },
        );
        resources.push(group);
        // One attachment per node key. Its name was `<route>-<position>` before nodes were keyed:
        // the alias adopts such an attachment in place (same position, same instance) instead
        // of replacing it, which would register the instance again and then deregister it.
        Object.entries(target.instanceIds).forEach(([key, instanceId], i) => {
            const aliases = key === String(i) ? [] : [{ name: `${resourceName}-${i}` }];
            resources.push(
                new aws.lb.TargetGroupAttachment(`${resourceName}-${key}`, { targetGroupArn: group.arn, targetId: instanceId, port: t.port }, { parent, aliases }),
            );
        });
        resources.push(
            new aws.lb.ListenerRule(
                resourceName,
                {
                    listenerArn: target.listenerArn,
                    priority: t.priority,
                    actions: [{ type: "forward", targetGroupArn: group.arn }],
                    conditions: t.conditions,
                    tags: tagsFor(resourceName),
                },
                // Traffic is let through to the nodes before the rule sends any.
                { parent, dependsOn: portRules.get(t.port) },
            ),
        );
    }

    const urls = pulumi
        .output(target.dnsName)
        .apply((dnsName) => Object.fromEntries(routes.map((r) => [r.key, routeUrl(target.scheme, dnsName, r)])));
    return { urls, resources };
}
