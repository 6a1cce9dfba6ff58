/**
 * The lab's stand-in for the two AWS endpoints a node's scripts call
 * (components/scripts/loadBalancerTargets.ts): the instance metadata service (IMDSv2) and the
 * ELBv2 Query API, with the load balancers, target groups and registered targets that the lab
 * engine's resources made (`ElbModel`, kept by engine.ts as the AWS provider would change AWS).
 *
 * ```ts
 * const aws = await startAwsStandIn(lab, engine);   // answers at AWS_STAND_IN (lab.sh's sshd SetEnv)
 * ... engine.up(...) ...
 * aws.calls;       // every ELB call the nodes made, in order ("DeregisterTargets i-... lab-web-route-...")
 * await aws.stop();
 * ```
 *
 * Where it answers: one helper process, Node in the lab's control network namespace, listening
 * on AWS_STAND_IN (the hosts' gateway, 10.77.0.1). Each host's sshd sets
 * `AWS_EC2_METADATA_SERVICE_ENDPOINT` and `AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2` to it
 * for every session (lab.sh `SetEnv`): the scripts' own overrides, unset on EC2. The helper
 * passes each request to this process (one JSON line each way), which answers from the engine's
 * state. With no stand-in running, nothing listens there: a script's call is refused at once,
 * and it warns and goes on.
 *
 * What it checks, as AWS would: IMDSv2 wants the token from `PUT /latest/api/token` on every
 * metadata read (401 otherwise); an ELB call must be a POST signed with SigV4 for the
 * `elasticloadbalancing` service in the region the metadata gave, with the role's access key
 * and its session token header (`X-Amz-Security-Token`); the signature itself is not computed
 * here (the lab has no AWS secret to check it against: real AWS is the only proof of that).
 * Instance identity comes from the request's source address: the instance whose private IP it is.
 *
 * What the ELB model does (the ELB user guide's rules): DeregisterTargets puts a target in
 * `draining` for the group's deregistration delay, after which it is gone; the ALB sends a
 * draining target no new requests. The lab shortens the delay to DRAIN_MS (AWS: the target
 * group's 30 s; its state reads `draining` for the whole delay even when the target had no
 * request in flight), as the probe compresses the health checks' 15 s interval to 1 s: the
 * probe's requests end within 3 s. A registered target's health is what the probe's health
 * checks found (`ElbModel.health`), "healthy" when no probe runs. Registering a registered
 * target, or deregistering one that is not, succeeds and changes nothing: a group holds one
 * registration per instance, whichever attachment made it.
 */
import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import * as readline from "readline";
import { Lab } from "./lab";

/** Where the stand-in listens: the control bridge's address (lab.sh $PREFIX.1) and a port; lab.sh's sshd SetEnv names it. */
export const AWS_STAND_IN = { host: "10.77.0.1", port: 9180 } as const;
export const REGION = "us-east-1";
const ROLE = "lab-node-role";
const ACCESS_KEY = "ASIALABSTANDIN000001";
const SESSION_TOKEN = "lab-session-token";
/** A deregistered target drains this long in the lab (see the file's comment). */
export const DRAIN_MS = 3000;

/** DescribeTargetHealth's states; `unused` is a target EC2 has stopped or terminated (reason Target.InvalidState). */
export type TargetState = "initial" | "healthy" | "unhealthy" | "unused" | "draining";

interface TargetGroupState {
    readonly arn: string;
    readonly name: string;
    readonly port: number;
    /** Instance ID -> registered port and, when deregistered, when its draining ends. */
    readonly targets: Map<string, { port: number; drainingUntil?: number }>;
}

/** The ELBv2 state the lab engine's resources made, changed by the engine (provider calls) and by the nodes (API calls). */
export class ElbModel {
    /** ALB AWS name -> ARN. */
    readonly loadBalancers = new Map<string, string>();
    /** Listener ARN -> its load balancer's ARN. */
    readonly listeners = new Map<string, string>();
    /** Listener rule URN-less key (the rule's ARN) -> { listener, target group }. */
    readonly rules = new Map<string, { listenerArn: string; targetGroupArn: string }>();
    readonly targetGroups = new Map<string, TargetGroupState>();
    /** A registered target's health (the probe's verdict); "healthy" when not set. */
    health: (instanceId: string) => TargetState | undefined = () => undefined;

    addTargetGroup(arn: string, name: string, port: number): void {
        if (!this.targetGroups.has(arn)) this.targetGroups.set(arn, { arn, name, port, targets: new Map() });
    }

    /** RegisterTargets (and the attachment's Create, target_group_attachment.go `resourceAttachmentCreate`). */
    register(groupArn: string, instanceId: string, port?: number): void {
        const g = this.targetGroups.get(groupArn);
        if (!g) throw new Error(`TargetGroupNotFound: ${groupArn}`);
        g.targets.set(instanceId, { port: port ?? g.port });
    }

    /** DeregisterTargets (and the attachment's Delete): draining, then gone. Not registered: nothing changes. */
    deregister(groupArn: string, instanceId: string): void {
        const t = this.targetGroups.get(groupArn)?.targets.get(instanceId);
        if (t && t.drainingUntil === undefined) t.drainingUntil = Date.now() + DRAIN_MS;
    }

    /** The group's targets now, draining ones past their delay dropped. */
    targetsOf(groupArn: string): { id: string; port: number; state: TargetState }[] {
        const g = this.targetGroups.get(groupArn);
        if (!g) return [];
        const now = Date.now();
        for (const [id, t] of g.targets) if (t.drainingUntil !== undefined && t.drainingUntil <= now) g.targets.delete(id);
        return [...g.targets].map(([id, t]) => ({ id, port: t.port, state: t.drainingUntil !== undefined ? "draining" : (this.health(id) ?? "healthy") }));
    }

    /** Instances the ALB may send new requests to (registered in some group, not draining), whatever their health. */
    registeredInstances(): string[] {
        const ids = new Set<string>();
        for (const g of this.targetGroups.values()) for (const t of this.targetsOf(g.arn)) if (t.state !== "draining") ids.add(t.id);
        return [...ids].sort();
    }

    /** The target groups a load balancer forwards to (through its listeners' rules). */
    groupsOf(loadBalancerArn: string): string[] {
        const listeners = new Set([...this.listeners].filter(([, lb]) => lb === loadBalancerArn).map(([l]) => l));
        return [...new Set([...this.rules.values()].filter((r) => listeners.has(r.listenerArn)).map((r) => r.targetGroupArn))].filter((g) => this.targetGroups.has(g));
    }
}

/** What the stand-in needs from the engine: its ELB model, and which instance has a private address. */
export interface AwsStandInEngine {
    readonly elb: ElbModel;
    instanceAt(privateIp: string): string | undefined;
}

export interface AwsStandIn {
    /** The ELB calls the nodes made, in order: "<Action> <instance or name> <group name>". */
    readonly calls: string[];
    /** Requests refused (bad token, unsigned, wrong service), with why. */
    readonly refused: string[];
    stop(): Promise<void>;
}

// The relay, run as `node -e` in the control netns: an HTTP server whose every request goes to
// the parent as one JSON line { id, method, url, headers, body, remote } and whose answer comes
// back as one line { id, status, body }. It exits when its stdin closes.
const RELAY = `
"use strict";
const http = require("http");
const pending = new Map();
let next = 1;
const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (d) => chunks.push(d));
    req.on("end", () => {
        const id = next++;
        pending.set(id, res);
        process.stdout.write(JSON.stringify({ id, method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString(), remote: req.socket.remoteAddress }) + "\\n");
    });
});
server.listen(Number(process.argv[2]), process.argv[1], () => process.stdout.write(JSON.stringify({ listening: true }) + "\\n"));
require("readline").createInterface({ input: process.stdin }).on("line", (line) => {
    const a = JSON.parse(line);
    const res = pending.get(a.id);
    pending.delete(a.id);
    if (res) { res.writeHead(a.status, { "Content-Type": a.type }); res.end(a.body); }
}).on("close", () => process.exit(0));
`;

interface Relayed {
    id: number;
    method: string;
    url: string;
    headers: Record<string, string>;
    body: string;
    remote: string;
}

const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function xmlAnswer(action: string, result: string): string {
    return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">\n  <${action}Result>${result}</${action}Result>\n  <ResponseMetadata><RequestId>lab</RequestId></ResponseMetadata>\n</${action}Response>\n`;
}

function xmlError(code: string, message: string): string {
    return `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>lab</RequestId></ErrorResponse>\n`;
}

/** Answers one request: IMDSv2 or the ELBv2 Query API. Exported for the pure tests of its rules. */
export function answer(engine: AwsStandInEngine, q: Omit<Relayed, "id">, log: { calls: string[]; refused: string[] }, tokens: Set<string>): { status: number; type: string; body: string } {
    const text = (status: number, body: string) => ({ status, type: "text/plain", body });
    const xml = (status: number, body: string) => ({ status, type: "text/xml", body });
    const refuse = (status: number, why: string, body: string) => {
        log.refused.push(why);
        return xml(status, body);
    };
    if (q.url === "/latest/api/token") {
        if (q.method !== "PUT" || !q.headers["x-aws-ec2-metadata-token-ttl-seconds"]) return text(400, "");
        const token = `lab-imds-${tokens.size + 1}`;
        tokens.add(token);
        return text(200, token);
    }
    if (q.url.startsWith("/latest/meta-data/")) {
        if (!tokens.has(q.headers["x-aws-ec2-metadata-token"] ?? "")) {
            log.refused.push(`IMDS ${q.url} without a token`);
            return text(401, "");
        }
        const instance = engine.instanceAt(q.remote.replace(/^::ffff:/, ""));
        const what = q.url.slice("/latest/meta-data/".length);
        if (instance === undefined) return text(404, "");
        if (what === "placement/region") return text(200, REGION);
        if (what === "instance-id") return text(200, instance);
        if (what === "iam/security-credentials/") return text(200, ROLE);
        if (what === `iam/security-credentials/${ROLE}`) {
            return text(
                200,
                JSON.stringify(
                    { Code: "Success", Type: "AWS-HMAC", AccessKeyId: ACCESS_KEY, SecretAccessKey: "lab/secret+key", Token: SESSION_TOKEN, Expiration: "2099-01-01T00:00:00Z" },
                    null,
                    2,
                ),
            );
        }
        return text(404, "");
    }
    // The ELBv2 Query API: a signed POST to /.
    const auth = q.headers.authorization ?? "";
    const signed = new RegExp(`^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/\\d{8}/${REGION}/elasticloadbalancing/aws4_request, SignedHeaders=[^,]*x-amz-security-token[^,]*, Signature=[0-9a-f]{64}$`);
    if (q.method !== "POST" || !signed.test(auth) || q.headers["x-amz-security-token"] !== SESSION_TOKEN) {
        return refuse(403, `ELB ${q.method} ${q.url}: not signed for elasticloadbalancing in ${REGION} with the role's key and session token (${auth || "no Authorization"})`, xmlError("InvalidClientTokenId", "The security token included in the request is invalid."));
    }
    const form = new URLSearchParams(q.body);
    const action = form.get("Action") ?? "";
    if (form.get("Version") !== "2015-12-01") return refuse(400, `ELB ${action}: Version ${form.get("Version")}`, xmlError("InvalidAction", "version"));
    const elb = engine.elb;
    const groupName = (arn: string) => elb.targetGroups.get(arn)?.name ?? arn;
    switch (action) {
        case "DescribeLoadBalancers": {
            const name = form.get("Names.member.1") ?? "";
            const arn = elb.loadBalancers.get(name);
            log.calls.push(`DescribeLoadBalancers ${name}`);
            if (!arn) return xml(400, xmlError("LoadBalancerNotFound", `One or more load balancers not found: ${name}`));
            return xml(200, xmlAnswer(action, `\n    <LoadBalancers>\n      <member>\n        <LoadBalancerArn>${arn}</LoadBalancerArn>\n        <LoadBalancerName>${name}</LoadBalancerName>\n      </member>\n    </LoadBalancers>\n  `));
        }
        case "DescribeTargetGroups": {
            const lb = form.get("LoadBalancerArn") ?? "";
            const members = elb.groupsOf(lb).map((g) => `<member><TargetGroupArn>${g}</TargetGroupArn><TargetGroupName>${groupName(g)}</TargetGroupName></member>`);
            return xml(200, xmlAnswer(action, `<TargetGroups>${members.join("")}</TargetGroups>`));
        }
        case "DescribeTargetHealth": {
            // As AWS answers it: each target with its TargetHealth and an AdministrativeOverride,
            // whose own State the scripts must not read as the target's (API_TargetHealthDescription).
            const g = form.get("TargetGroupArn") ?? "";
            if (!elb.targetGroups.has(g)) return xml(400, xmlError("TargetGroupNotFound", `Target groups '${g}' not found`));
            const members = elb.targetsOf(g).map(
                (t) =>
                    `\n      <member>\n        <Target>\n          <Id>${t.id}</Id>\n          <Port>${t.port}</Port>\n        </Target>\n        <HealthCheckPort>${t.port}</HealthCheckPort>\n        <TargetHealth>\n          <State>${t.state}</State>\n        </TargetHealth>\n        <AdministrativeOverride>\n          <State>no_override</State>\n          <Reason>AdministrativeOverride.NoOverride</Reason>\n        </AdministrativeOverride>\n      </member>`,
            );
            return xml(200, xmlAnswer(action, `\n    <TargetHealthDescriptions>${members.join("")}\n    </TargetHealthDescriptions>\n  `));
        }
        case "DeregisterTargets":
        case "RegisterTargets": {
            const g = form.get("TargetGroupArn") ?? "";
            const id = form.get("Targets.member.1.Id") ?? "";
            if (!elb.targetGroups.has(g)) return xml(400, xmlError("TargetGroupNotFound", `Target groups '${g}' not found`));
            log.calls.push(`${action} ${id} ${groupName(g)}`);
            if (action === "DeregisterTargets") elb.deregister(g, id);
            else elb.register(g, id, form.get("Targets.member.1.Port") ? Number(form.get("Targets.member.1.Port")) : undefined);
            return xml(200, xmlAnswer(action, ""));
        }
        default:
            return refuse(400, `ELB ${action}: not an action the scripts make`, xmlError("InvalidAction", action));
    }
}

/** Starts the stand-in (its helper listening) for this lab and engine. */
export async function startAwsStandIn(lab: Lab, engine: AwsStandInEngine): Promise<AwsStandIn> {
    const ctlNetns = path.join(lab.stateDir, "ns", "ctl.net");
    const child: ChildProcess = spawn("nsenter", [`--net=${ctlNetns}`, "--", process.execPath, "-e", RELAY, AWS_STAND_IN.host, String(AWS_STAND_IN.port)], {
        stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
        if (stderr.length < 4000) stderr += d.toString();
    });
    child.stdin!.on("error", () => undefined);
    const log = { calls: [] as string[], refused: [] as string[] };
    const tokens = new Set<string>();
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    await new Promise<void>((resolve, reject) => {
        const rl = readline.createInterface({ input: child.stdout! });
        rl.on("line", (line) => {
            const m = JSON.parse(line) as Relayed & { listening?: boolean };
            if (m.listening) {
                resolve();
                return;
            }
            let a: { status: number; type: string; body: string };
            try {
                a = answer(engine, m, log, tokens);
            } catch (e) {
                a = { status: 500, type: "text/plain", body: (e as Error).message };
            }
            child.stdin!.write(`${JSON.stringify({ id: m.id, ...a })}\n`);
        });
        void exited.then(() => reject(new Error(`the AWS stand-in's helper exited: ${stderr.trim() || "no output"}`)));
    });
    return {
        calls: log.calls,
        refused: log.refused,
        async stop() {
            child.stdin!.end();
            const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
            await exited;
            clearTimeout(timer);
        },
    };
}
