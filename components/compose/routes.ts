import { createHash } from "crypto";
import { RoutePlan } from "../target";
import { ComposeError } from "./errors";
import { ComposeModel } from "./parse";

/**
 * Load balancer routes are declared, never hand-edited. A service is routed through the ALB
 * when its service labels (`deploy.labels`) carry any `pulumi-swarm.route.*` label:
 *
 * | label                             | meaning                                         | default                                  |
 * |-----------------------------------|-------------------------------------------------|------------------------------------------|
 * | `pulumi-swarm.route.port`         | the published port the ALB sends traffic to     | the service's only published TCP port    |
 * | `pulumi-swarm.route.host`         | Host header to match, e.g. `app.example.com`    | any host                                 |
 * | `pulumi-swarm.route.path`         | path pattern to match, e.g. `/api/*`            | any path                                 |
 * | `pulumi-swarm.route.health-path`  | the target group's health-check path            | `/`                                      |
 * | `pulumi-swarm.route.priority`     | listener rule priority (1-50000, unique)        | the stack's base + rank by specificity   |
 *
 * The stack's args can declare the same routes (`routes:`), for files you do not edit.
 * Unlabelled ports are never exposed through the ALB.
 */

export const ROUTE_LABEL_PREFIX = "pulumi-swarm.route.";
const KNOWN = ["port", "host", "path", "health-path", "priority"];

/** A route given in the stack's args instead of labels. */
export interface RouteArgs {
    readonly service: string;
    /** @default the service's only published TCP port */
    readonly port?: number;
    readonly host?: string;
    readonly path?: string;
    /** @default "/" */
    readonly healthCheckPath?: string;
    /** @default the stack's base priority + rank */
    readonly priority?: number;
}

/**
 * The stack's first default priority: spread stacks over 1000-40900 in steps of 100 by a hash
 * of the stack name, so that two stacks on one listener do not collide unless they hash alike
 * (then set `routePriorityBase` on one of them).
 */
export function defaultPriorityBase(stackName: string): number {
    const h = createHash("sha256").update(stackName).digest().readUInt32BE(0);
    return 1000 + (h % 400) * 100;
}

/**
 * Plans a stack's routes from its labels and args. Rules are ranked most specific first
 * (host and path, then path, then host, then neither; longer paths first) so that a catch-all
 * never shadows a narrower route of the same stack.
 */
export function planRoutes(model: ComposeModel, opts: { routes?: readonly RouteArgs[]; priorityBase: number; at?: string }): RoutePlan[] {
    const problems: ComposeError[] = [];
    const declared: (RouteArgs & { at: string })[] = [];
    for (const s of model.services) {
        const labels = Object.entries(s.deployLabels).filter(([k]) => k.startsWith(ROUTE_LABEL_PREFIX));
        if (labels.length === 0) {
            continue;
        }
        const at = `services.${s.name}.deploy.labels`;
        const get = (k: string) => s.deployLabels[ROUTE_LABEL_PREFIX + k];
        for (const [k] of labels) {
            if (!KNOWN.includes(k.slice(ROUTE_LABEL_PREFIX.length))) {
                problems.push(new ComposeError(model.file, `${at}.${k}`, `is not a route label; use ${KNOWN.map((x) => ROUTE_LABEL_PREFIX + x).join(", ")}`));
            }
        }
        const num = (k: string): number | undefined => {
            const v = get(k);
            if (v === undefined) {
                return undefined;
            }
            if (!/^\d+$/.test(v)) {
                problems.push(new ComposeError(model.file, `${at}.${ROUTE_LABEL_PREFIX}${k}`, `must be a whole number; got ${JSON.stringify(v)}`));
                return undefined;
            }
            return Number(v);
        };
        declared.push({ service: s.name, port: num("port"), host: get("host"), path: get("path"), healthCheckPath: get("health-path"), priority: num("priority"), at });
    }
    (opts.routes ?? []).forEach((r, i) => declared.push({ ...r, at: `${opts.at ?? "routes"}[${i}]` }));

    const plans: (Omit<RoutePlan, "priority" | "key"> & { priority?: number; at: string })[] = [];
    for (const r of declared) {
        const fail = (key: string, message: string) => problems.push(new ComposeError(model.file, `${r.at}${key}`, message));
        const svc = model.services.find((s) => s.name === r.service);
        if (!svc) {
            fail(".service", `names service ${JSON.stringify(r.service)}, which the file does not define`);
            continue;
        }
        const tcp = svc.ports.filter((p) => p.protocol === "tcp" && p.published !== undefined);
        let port = r.port;
        if (port === undefined) {
            if (tcp.length !== 1) {
                fail(
                    "",
                    `routes service ${svc.name}, which publishes ${tcp.length === 0 ? "no TCP port" : `${tcp.length} TCP ports (${tcp.map((p) => p.published).join(", ")})`}; ` +
                        `${tcp.length === 0 ? "publish one (ports: [\"8080:80\"])" : `say which with ${ROUTE_LABEL_PREFIX}port`}`,
                );
                continue;
            }
            port = tcp[0].published!;
        } else if (!tcp.some((p) => p.published === port)) {
            fail("", `routes port ${port} of service ${svc.name}, which does not publish it over TCP (it publishes ${tcp.map((p) => p.published).join(", ") || "none"}); publish it or fix the port`);
            continue;
        }
        if (r.host !== undefined && !/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(r.host)) {
            fail("", `host ${JSON.stringify(r.host)} is not a host name such as app.example.com or *.example.com`);
            continue;
        }
        if (r.path !== undefined && !/^\/[A-Za-z0-9_\-.~/*?&=%+]*$/.test(r.path)) {
            fail("", `path ${JSON.stringify(r.path)} is not a path pattern such as /api/*`);
            continue;
        }
        const health = r.healthCheckPath ?? "/";
        if (!/^\/[A-Za-z0-9_\-.~/?&=%+]*$/.test(health)) {
            fail("", `health-check path ${JSON.stringify(health)} must start with / (e.g. /healthz)`);
            continue;
        }
        if (r.priority !== undefined && !(Number.isInteger(r.priority) && r.priority >= 1 && r.priority <= 50000)) {
            fail("", `priority ${r.priority} must be a whole number within 1-50000`);
            continue;
        }
        plans.push({ service: svc.name, publishedPort: port, host: r.host, pathPattern: r.path, healthCheckPath: health, priority: r.priority, at: r.at });
    }

    const rank = (p: { host?: string; pathPattern?: string }) =>
        (p.host !== undefined && p.pathPattern !== undefined ? 0 : p.pathPattern !== undefined ? 1 : p.host !== undefined ? 2 : 3) * 10000 -
        (p.pathPattern?.length ?? 0);
    const ordered = [...plans].sort((a, b) => rank(a) - rank(b) || a.service.localeCompare(b.service) || a.publishedPort - b.publishedPort);
    const keys = new Map<string, number>();
    const result: RoutePlan[] = ordered.map((p, i) => {
        const base = `${p.service}-${p.publishedPort}`;
        const n = (keys.get(base) ?? 0) + 1;
        keys.set(base, n);
        return {
            key: n === 1 ? base : `${base}-${n}`,
            service: p.service,
            publishedPort: p.publishedPort,
            ...(p.host !== undefined ? { host: p.host } : {}),
            ...(p.pathPattern !== undefined ? { pathPattern: p.pathPattern } : {}),
            healthCheckPath: p.healthCheckPath,
            priority: p.priority ?? opts.priorityBase + i,
        };
    });
    const seenPriority = new Map<number, string>();
    const seenMatch = new Map<string, string>();
    for (const r of result) {
        const prev = seenPriority.get(r.priority);
        if (prev) {
            problems.push(new ComposeError(model.file, `route ${r.key}`, `has priority ${r.priority}, as route ${prev} does; priorities must be unique on the listener`));
        }
        seenPriority.set(r.priority, r.key);
        const match = `${r.host ?? "*"} ${r.pathPattern ?? "*"}`;
        const same = seenMatch.get(match);
        if (same) {
            problems.push(new ComposeError(model.file, `route ${r.key}`, `matches the same host and path as route ${same}; one of them would never be reached, so give them different hosts or paths`));
        }
        seenMatch.set(match, r.key);
    }
    if (problems.length > 0) {
        throw problems.length === 1 ? problems[0] : new Error(`${problems.length} problems in routes of ${model.file}:\n` + problems.map((p) => "- " + p.message).join("\n"));
    }
    return result;
}
