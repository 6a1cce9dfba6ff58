import { createHash } from "crypto";
import { SwarmArgumentError, throwIfAny } from "./errors";
import { SecurityRule, cidrKey } from "./planning";
import { RoutePlan } from "./target";

/**
 * Pure planning for the load balancer: its own security-group rules, and what each declared
 * route becomes (target group, listener rule, one security-group rule pair per published
 * port). The components only declare what these functions return.
 */

/** The lowest and highest listener rule priorities AWS accepts. */
export const MIN_RULE_PRIORITY = 1;
export const MAX_RULE_PRIORITY = 50000;

/** Target group settings every route gets. */
export const ROUTE_TARGET_GROUP = {
    protocol: "HTTP",
    targetType: "instance",
    /** Seconds a deregistering node keeps its in-flight requests: short, nodes are replaced one at a time. */
    deregistrationDelaySeconds: 30,
    healthCheck: {
        matcher: "200-399",
        intervalSeconds: 15,
        timeoutSeconds: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 3,
    },
} as const;

/** The path pattern of a route that names neither a host nor a path: it matches every request. */
export const MATCH_ALL_PATH = "/*";

/** The ALB's own rules: HTTP (and HTTPS with a certificate) from each CIDR block; no egress here (routes add it per port). */
export function planLoadBalancerSecurityRules(ingressCidrBlocks: readonly string[], https: boolean): SecurityRule[] {
    const rules: SecurityRule[] = [];
    for (const [scheme, port] of [["http", 80], ...(https ? [["https", 443] as const] : [])] as const) {
        for (const cidr of ingressCidrBlocks) {
            rules.push({
                key: `${scheme}-${cidrKey(cidr)}`,
                direction: "ingress",
                description: `${scheme.toUpperCase()} from ${cidr}`,
                protocol: "tcp",
                fromPort: port,
                toPort: port,
                source: { cidr },
            });
        }
    }
    return rules;
}

/** A listener rule condition, in the shape of `aws.lb.ListenerRule`'s `conditions`. */
export type RouteCondition = { readonly hostHeader: { readonly values: string[] } } | { readonly pathPattern: { readonly values: string[] } };

/** What one route becomes: a target group on its port and a listener rule forwarding to it. */
export interface RouteTargetSpec {
    /** The route's key: `<prefix>-route-<key>` names the target group, its attachments and the rule. */
    readonly key: string;
    readonly port: number;
    readonly healthCheckPath: string;
    readonly priority: number;
    /** Host header and/or path pattern; a route with neither matches every request ({@link MATCH_ALL_PATH}). */
    readonly conditions: RouteCondition[];
}

/** One published port the ALB reaches: the node group admits the ALB's group on it, and the ALB's group may send to the node group on it. */
export interface RoutePortRule {
    /** The port as a string: `<prefix>-alb-<key>` (ingress on the node group) and `<prefix>-alb-<key>-egress` (egress on the ALB's group). */
    readonly key: string;
    readonly port: number;
    /** The routes that use this port, by key (sorted). */
    readonly routeKeys: string[];
}

export interface RouteResourcePlan {
    /** In the order given. */
    readonly targets: RouteTargetSpec[];
    /** One per distinct published port, by port number. */
    readonly portRules: RoutePortRule[];
}

/**
 * Checks routes and plans their resources. Refuses (all problems at once): keys that cannot
 * name a resource or repeat, ports outside 1-65535, priorities outside 1-50000 or repeated
 * (each rule on a listener needs its own), and two routes matching the same host and path
 * (the one with the higher number would never be reached).
 * @param field how the caller names the routes in error messages
 */
export function planRouteResources(routes: readonly RoutePlan[], field = "routes"): RouteResourcePlan {
    const problems: SwarmArgumentError[] = [];
    const seenKey = new Map<string, number>();
    const seenPriority = new Map<number, number>();
    const seenMatch = new Map<string, number>();
    routes.forEach((r, i) => {
        const at = `${field}[${i}]`;
        if (typeof r.key !== "string" || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(r.key)) {
            problems.push(
                new SwarmArgumentError(`${at}.key`, r.key, "must be lower-case letters, digits and '-', starting and ending with a letter or digit (it is part of resource names)"),
            );
        } else if (seenKey.has(r.key)) {
            problems.push(new SwarmArgumentError(`${at}.key`, r.key, `is also the key of ${field}[${seenKey.get(r.key)}]; route keys must be unique`));
        } else {
            seenKey.set(r.key, i);
        }
        if (!(Number.isInteger(r.publishedPort) && r.publishedPort >= 1 && r.publishedPort <= 65535)) {
            problems.push(new SwarmArgumentError(`${at}.publishedPort`, r.publishedPort, "must be a whole number from 1 to 65535 (the port the swarm publishes the service on)"));
        }
        if (!(Number.isInteger(r.priority) && r.priority >= MIN_RULE_PRIORITY && r.priority <= MAX_RULE_PRIORITY)) {
            problems.push(
                new SwarmArgumentError(`${at}.priority`, r.priority, `must be a whole number from ${MIN_RULE_PRIORITY} to ${MAX_RULE_PRIORITY} (an ALB listener rule priority)`),
            );
        } else if (seenPriority.has(r.priority)) {
            problems.push(
                new SwarmArgumentError(
                    `${at}.priority`,
                    r.priority,
                    `is also the priority of ${field}[${seenPriority.get(r.priority)}]; each rule on a listener needs its own priority`,
                ),
            );
        } else {
            seenPriority.set(r.priority, i);
        }
        if (r.host !== undefined && !/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(r.host)) {
            problems.push(new SwarmArgumentError(`${at}.host`, r.host, 'must be a host name such as "app.example.com" or "*.example.com"'));
        }
        if (r.pathPattern !== undefined && (typeof r.pathPattern !== "string" || !r.pathPattern.startsWith("/") || r.pathPattern.length > 128)) {
            problems.push(new SwarmArgumentError(`${at}.pathPattern`, r.pathPattern, 'must be a path pattern of at most 128 characters starting with "/", such as "/api/*"'));
        }
        if (typeof r.healthCheckPath !== "string" || !r.healthCheckPath.startsWith("/") || r.healthCheckPath.length > 1024) {
            problems.push(new SwarmArgumentError(`${at}.healthCheckPath`, r.healthCheckPath, 'must be a path starting with "/", such as "/healthz"'));
        }
        const match = `${r.host?.toLowerCase() ?? "*"} ${r.pathPattern ?? MATCH_ALL_PATH}`;
        if (seenMatch.has(match)) {
            const j = seenMatch.get(match)!;
            problems.push(
                new SwarmArgumentError(
                    at,
                    { host: r.host, pathPattern: r.pathPattern },
                    `matches the same host and path as ${field}[${j}] (${routes[j].key}); the one with the higher priority number would never be reached, so give them different hosts or paths`,
                ),
            );
        } else {
            seenMatch.set(match, i);
        }
    });
    throwIfAny(problems);

    const targets = routes.map((r) => ({
        key: r.key,
        port: r.publishedPort,
        healthCheckPath: r.healthCheckPath,
        priority: r.priority,
        conditions: routeConditions(r),
    }));
    const byPort = new Map<number, string[]>();
    for (const r of routes) {
        byPort.set(r.publishedPort, [...(byPort.get(r.publishedPort) ?? []), r.key]);
    }
    const portRules = [...byPort.entries()]
        .sort(([a], [b]) => a - b)
        .map(([port, keys]) => ({ key: String(port), port, routeKeys: keys.sort() }));
    return { targets, portRules };
}

/** A route's listener rule conditions: host header, then path pattern; a match-all path when it has neither. */
export function routeConditions(r: Pick<RoutePlan, "host" | "pathPattern">): RouteCondition[] {
    const conditions: RouteCondition[] = [];
    if (r.host !== undefined) {
        conditions.push({ hostHeader: { values: [r.host] } });
    }
    if (r.pathPattern !== undefined) {
        conditions.push({ pathPattern: { values: [r.pathPattern] } });
    }
    // AWS wants at least one condition per rule: "/*" matches every path.
    return conditions.length > 0 ? conditions : [{ pathPattern: { values: [MATCH_ALL_PATH] } }];
}

/**
 * The URL of a route: `<scheme>://<host, or the ALB's DNS name><path up to its first wildcard>`
 * ("/api/*" -> "/api/"; no path -> nothing after the host).
 */
export function routeUrl(scheme: "http" | "https", dnsName: string, r: Pick<RoutePlan, "host" | "pathPattern">): string {
    const path = r.pathPattern === undefined ? "" : r.pathPattern.split(/[*?]/)[0];
    return `${scheme}://${r.host ?? dnsName}${path === "/" ? "" : path}`;
}

/**
 * A name for an AWS resource whose names are short (load balancers and target groups: 32
 * characters of letters, digits and '-', unique per account and region): the start of `base`,
 * then '-' and 8 hex digits of a hash of `identity`. Give `identity` everything that, when it
 * changes, replaces the resource (and whatever makes it unique, such as the Pulumi project and
 * stack): a replacement then gets a new name, so the new resource can be created before the
 * old one is deleted without the two names colliding.
 */
export function shortAwsName(base: string, identity: readonly (string | number)[], maxLength = 32): string {
    const hash = createHash("sha256").update(identity.map(String).join("\n")).digest("hex").slice(0, 8);
    const clean = base
        .replace(/[^A-Za-z0-9-]+/g, "-")
        .replace(/-+/g, "-")
        .replace(/^-+/, "")
        .slice(0, maxLength - hash.length - 1)
        .replace(/-+$/, "");
    return clean === "" ? hash : `${clean}-${hash}`;
}

/** The ELBv2 calls a node's scripts make to take it out of the load balancer (components/scripts/loadBalancerTargets.ts). */
export const NODE_LOAD_BALANCER_READS = ["elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"] as const;

/**
 * The node role's policy for those calls: the reads (which take no resource), and
 * DeregisterTargets and RegisterTargets only on target groups tagged with this cluster (every
 * route's target group carries the cluster's tag, `tagKey`), so a node can take nodes of its
 * own cluster out of its load balancer and back, and nothing else.
 */
export function planNodeLoadBalancerPolicy(tagKey: string, clusterName: string): object {
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "ReadTargetHealth", Effect: "Allow", Action: [...NODE_LOAD_BALANCER_READS], Resource: "*" },
            {
                Sid: "MoveOwnNodes",
                Effect: "Allow",
                Action: ["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"],
                Resource: "arn:aws:elasticloadbalancing:*:*:targetgroup/*",
                Condition: { StringEquals: { [`aws:ResourceTag/${tagKey}`]: clusterName } },
            },
        ],
    };
}
