/**
 * A per-second probe for lab day-2 runs: while a `LabEngine.up` replaces or restarts swarm
 * nodes, it samples every second (1) whether a surviving manager answers `docker node ls` with a
 * leader and a majority of managers, and (2) what a load balancer with health checks in front of
 * a service published in host mode would make of it: requests served, requests failed.
 *
 * ```ts
 * const probe = startProbe(lab, {
 *     managers: () => [1, 2, 3],                  // lab host indexes, asked in this order
 *     web: { nodes: () => [4, 5], port: 8080, healthPath: "/healthz", requestPath: "/api/" },
 * });
 * await engine.up(program, previous);
 * const r = await probe.stop();
 * console.log(formatProbe(r));   // "probe: 95 s, 95 samples, quorum held at 95/95; requests 380 served, 0 failed (goal: 0)"
 * formatProbeEvents(r).forEach((l) => console.log(l));   // "  12 s: no quorum (...)", ...
 * ```
 *
 * Where it asks from: one helper process per probe, Node itself (this process's own binary) in
 * the lab's control network namespace (`<stateDir>/ns/ctl.net`, made by lab.sh: the hosts'
 * gateway 10.77.0.1 and the registry's 10.77.0.2), reading one request per line on stdin and
 * answering one line each. From there it reaches every host's private address as a load
 * balancer in the VPC would (the root namespace has no lab address, by the lab's rules), and it
 * spawns no process per request. The same helper asks the managers: `GET /nodes` on a host's
 * Docker Engine API, the call `docker node ls` makes, through the lab's root-namespace socket
 * `lab.dockerHost(i)` (a unix socket: a path reaches it from any network namespace). Every
 * timeout is measured in the helper, so a busy test process delays the counting, never the
 * verdict.
 *
 * Quorum, every second: the hosts `managers()` returns are asked in that order, each with
 * `quorumTimeoutMs` (3 s); the first that answers decides. An error answer (503 "the swarm does
 * not have a leader", "this node is not a swarm manager"), a refused or dropped connection or a
 * timeout is no answer: the next host is asked; no answer from any: no quorum. An answer has
 * quorum when it lists a Leader AND the managers it lists as reachable (the leader included) are
 * a majority of the managers it lists. Why the second half: measured in the lab (Docker 20.10,
 * 3 managers), a leader whose two followers' engines stopped goes on answering `docker node ls`
 * from its own store, listing itself as Leader, for about 16 s (then it hangs); it marks the
 * followers Unreachable at once. "Lists a Leader" alone would call that quorum;
 * `leaderWithoutMajority` counts such samples (they are in `noQuorumSamples`).
 * A sample can take longer than a second (3 s per silent manager): ticks that come while a
 * sample still runs are SKIPPED (`quorumSkipped`; their timeline entries have no verdict), so
 * samples never overlap or pile up; a sample counts at the second it started.
 *
 * Requests, every second, as an Application Load Balancer would route them. The lab has no
 * routing mesh: stacks/web publishes its proxy in host mode there, so a node answers only while
 * it runs a proxy, and the health check is what keeps requests away from one that does not.
 * Each second: a health check of every node `nodes()` returns (`GET <healthPath>`,
 * `healthCheckTimeoutMs`, all in parallel); then `requestsPerSecond` requests (default 4, one
 * every 1/rps s) `GET <requestPath>`, round-robin over the nodes in service, each with
 * `requestTimeoutMs` (3 s). A request is served on a 2xx answer and failed otherwise: another
 * status, a refused connection, a timeout, or no node in service (`noHealthyNode`, which
 * `failed` includes). Requests wait for nothing; a tick's health checks end before the next
 * tick (their timeout is under a second), and a tick that comes while they still run (the test
 * process lagged) is skipped (`webSkipped`).
 *
 * Target health mirrors the target group every route gets, `ROUTE_TARGET_GROUP.healthCheck` in
 * components/routePlanning.ts (imported, not copied): a check passes on a status in its
 * `matcher` ("200-399"); a node in service goes out after `unhealthyThreshold` (3) failed checks
 * in a row and comes (back) in after `healthyThreshold` (2) passed checks in a row; a node that
 * appears in `nodes()` later (a new instance registered) starts "initial" and gets requests only
 * after `healthyThreshold` passes; a node gone from `nodes()` is deregistered at once. Time is
 * compressed: the ALB checks every `intervalSeconds` (15 s) with a 5 s `timeoutSeconds`, the
 * probe every second with a 0.5 s timeout, so a node goes out about 3 s after it stops
 * answering, not 45 s. Nodes listed at the start count as registered long before: their first
 * check alone decides whether they are in service. Unlike an ALB, the probe does not "fail open"
 * (route to every target when none is healthy): such requests fail, under `noHealthyNode`.
 *
 * stop() stops ticking, drops the requests not yet sent, waits for those in flight (at most
 * `requestTimeoutMs`) and counts them, drops a quorum sample still asking (not counted), ends
 * the helper (its stdin closed; killed by its PID if it has not exited 5 s later) and resolves
 * the report; it rejects when the helper died early or the probe itself failed. Nothing of the
 * probe is left: no timer, no process.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
import { ROUTE_TARGET_GROUP } from "../../components/routePlanning";
import { Lab } from "./lab";

export interface ProbeWebOptions {
    /** Lab host indexes of the load balancer's targets (called every second: hosts change during a run). */
    nodes: () => number[];
    /** The port each node publishes (stacks/web's proxy: 8080). */
    port: number;
    /** The target group's health check path (stacks/web: /healthz, the proxy's own answer). */
    healthPath: string;
    /** What the requests ask (stacks/web: /api/, which the proxy passes to the API). */
    requestPath: string;
    /** @default 4 */
    requestsPerSecond?: number;
}

export interface ProbeOptions {
    /** Lab host indexes of the managers to ask, in order (called every second). */
    managers: () => number[];
    web?: ProbeWebOptions;
    /** Per manager asked. @default 3000 */
    quorumTimeoutMs?: number;
    /** Per health check; under a second, so that a tick's checks end before the next tick. @default 500 */
    healthCheckTimeoutMs?: number;
    /** Per request. @default 3000 */
    requestTimeoutMs?: number;
}

export interface ProbeNodeStats {
    served: number;
    failed: number;
    checksPassed: number;
    checksFailed: number;
}

export interface ProbeEvent {
    /** The second (since the probe started) of the tick the event belongs to. */
    at: number;
    what: string;
}

/** One second of the probe. */
export interface ProbeTick {
    at: number;
    /** The quorum sample that started at this second; undefined when none did (skipped). */
    quorum?: boolean;
    /** Lab host names in service after this second's health checks (web only). */
    inService?: string[];
    /** Requests sent at this second, by outcome (counted when they settle). */
    served: number;
    failed: number;
}

export interface ProbeReport {
    /** Seconds from start to stop (or to now, for a report while running). */
    seconds: number;
    /** Quorum samples completed. */
    samples: number;
    quorumSamples: number;
    noQuorumSamples: number;
    /** Of `noQuorumSamples`: answers that listed a Leader but not a majority of reachable managers. */
    leaderWithoutMajority: number;
    /** The second of the first and of the last sample without quorum. */
    firstNoQuorumAt?: number;
    lastNoQuorumAt?: number;
    /** Ticks at which no quorum sample started because the previous one still ran. */
    quorumSkipped: number;
    /** Per lab host name: how many samples its answer decided. */
    answeredBy: Record<string, number>;
    /** Requests answered 2xx. */
    served: number;
    /** Requests not served: another status, an error, a timeout, or no node in service. */
    failed: number;
    /** Of `failed`: requests that had no node in service to go to. */
    noHealthyNode: number;
    /** Ticks at which no health check round started because the previous one still ran. */
    webSkipped: number;
    /** Why requests failed ("lab-4 ECONNREFUSED", "lab-4 HTTP 502", "no healthy node") and how often. */
    failures: Record<string, number>;
    /** Per lab host name ("lab-4"): requests and health checks. */
    nodes: Record<string, ProbeNodeStats>;
    /** Quorum lost and back, nodes in and out of service, in order (the first 200). */
    events: ProbeEvent[];
    /** Every second (the first hour). */
    ticks: ProbeTick[];
}

export interface Probe {
    /** The report so far (the probe goes on). */
    report(): ProbeReport;
    /** A target's health as the probe's checks found it (undefined: not a target, or stopped). */
    targetState(host: number): "initial" | "healthy" | "unhealthy" | undefined;
    /** Stops the probe, leaving no timer or process, and resolves the final report. */
    stop(): Promise<ProbeReport>;
}

const TICK_MS = 1000;
const MAX_EVENTS = 200;
const MAX_TICKS = 3600;
const HELPER_EXIT_MS = 5000;
const GONE = "probe helper gone";

/** The target group health settings the probe mirrors (see the file's comment). */
export const PROBE_TARGET_HEALTH = {
    matcher: ROUTE_TARGET_GROUP.healthCheck.matcher,
    healthyThreshold: ROUTE_TARGET_GROUP.healthCheck.healthyThreshold,
    unhealthyThreshold: ROUTE_TARGET_GROUP.healthCheck.unhealthyThreshold,
} as const;

/** Whether an HTTP status is within a target group matcher such as "200-399" or "200,302". */
export function matcherAccepts(matcher: string, status: number): boolean {
    return matcher.split(",").some((part) => {
        const [lo, hi] = part.trim().split("-").map(Number);
        return hi === undefined ? status === lo : status >= lo && status <= hi;
    });
}

/**
 * The verdict on one `GET /nodes` answer: quorum when it lists a Leader and the managers it lists
 * as reachable (the Leader included) are a majority of the managers it lists.
 */
export function quorumOf(nodes: { ManagerStatus?: { Leader?: boolean; Reachability?: string } }[]): {
    quorum: boolean;
    leader: boolean;
    reachable: number;
    managers: number;
} {
    const managers = nodes.filter((n) => n.ManagerStatus);
    const leader = managers.some((n) => n.ManagerStatus?.Leader === true);
    const reachable = managers.filter((n) => n.ManagerStatus?.Leader === true || n.ManagerStatus?.Reachability === "reachable").length;
    return { quorum: leader && reachable * 2 > managers.length, leader, reachable, managers: managers.length };
}

// The helper, run as `node -e` in the control netns. One JSON request per stdin line:
// { id, timeoutMs, path, body?, socketPath } or { id, timeoutMs, path, body?, host, port };
// one JSON answer per stdout line: { id, ms, status, body? } or { id, ms, error }. A fresh
// connection per request (agent: false), as a load balancer's health check opens one. It exits
// when its stdin closes (stop(), or this process dying).
const HELPER = `
"use strict";
const http = require("http");
const rl = require("readline").createInterface({ input: process.stdin });
const say = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
rl.on("line", (line) => {
    const q = JSON.parse(line);
    const t0 = Date.now();
    let done = false;
    let req;
    const finish = (r) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (req) req.destroy();
        say(Object.assign({ id: q.id, ms: Date.now() - t0 }, r));
    };
    const timer = setTimeout(() => finish({ error: "timeout" }), q.timeoutMs);
    const to = q.socketPath ? { socketPath: q.socketPath } : { host: q.host, port: q.port };
    try {
        req = http.get(Object.assign(to, { path: q.path, agent: false, headers: { Connection: "close" } }), (res) => {
            const chunks = [];
            res.on("data", (d) => { if (q.body) chunks.push(d); });
            res.on("end", () => finish({ status: res.statusCode, body: q.body ? Buffer.concat(chunks).toString() : undefined }));
            res.on("error", (e) => finish({ error: e.code || e.message }));
        });
        req.on("error", (e) => finish({ error: e.code || e.message }));
    } catch (e) {
        finish({ error: "bad request: " + e.message });
    }
});
rl.on("close", () => process.exit(0));
`;

interface HelperAnswer {
    ms: number;
    status?: number;
    body?: string;
    error?: string;
}

type HelperQuery = { path: string; timeoutMs: number; body?: boolean } & ({ socketPath: string } | { host: string; port: number });

/** The helper process in the lab's control netns, and the answers it owes. */
class Helper {
    private readonly child: ChildProcess;
    private readonly pending = new Map<number, (a: HelperAnswer) => void>();
    private nextId = 1;
    private readonly exited: Promise<void>;
    private stderr = "";
    private ending = false;
    /** Why the helper ended before end() asked it to, if it did. */
    died: string | undefined;

    constructor(ctlNetns: string) {
        this.child = spawn("nsenter", [`--net=${ctlNetns}`, "--", process.execPath, "-e", HELPER], { stdio: ["pipe", "pipe", "pipe"] });
        this.child.stdin!.on("error", () => undefined); // EPIPE once it died: reported by `died`
        this.child.stderr!.on("data", (d: Buffer) => {
            if (this.stderr.length < 4000) this.stderr += d.toString();
        });
        readline.createInterface({ input: this.child.stdout! }).on("line", (line) => {
            let a: HelperAnswer & { id: number };
            try {
                a = JSON.parse(line) as HelperAnswer & { id: number };
            } catch {
                return;
            }
            const resolve = this.pending.get(a.id);
            this.pending.delete(a.id);
            resolve?.(a);
        });
        this.exited = new Promise<void>((resolve) => {
            this.child.on("error", (e) => {
                this.died ??= `could not start: ${e.message}`;
                resolve();
            });
            this.child.on("exit", (code, signal) => {
                if (!this.ending) this.died ??= `exited (${signal ?? code}): ${this.stderr.trim() || "no output"}`;
                resolve();
            });
        }).then(() => {
            for (const resolve of this.pending.values()) resolve({ ms: 0, error: GONE });
            this.pending.clear();
        });
    }

    /** Never rejects: a helper that is gone answers { error: GONE }. */
    ask(q: HelperQuery): Promise<HelperAnswer> {
        if (this.died || this.ending) return Promise.resolve({ ms: 0, error: GONE });
        const id = this.nextId++;
        return new Promise((resolve) => {
            this.pending.set(id, resolve);
            this.child.stdin!.write(`${JSON.stringify({ id, ...q })}\n`);
        });
    }

    /** Closes its stdin (it exits); kills it by its PID if it is still there 5 s later. */
    async end(): Promise<void> {
        this.ending = true;
        this.child.stdin!.end();
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), HELPER_EXIT_MS);
        });
        const tooLate = await Promise.race([this.exited.then(() => false), late]);
        clearTimeout(timer);
        if (tooLate && this.child.pid !== undefined) {
            process.kill(this.child.pid, "SIGKILL");
            await this.exited;
        }
    }
}

interface Target {
    host: number;
    name: string;
    /** "initial": registered, has not yet passed healthyThreshold checks; gets no requests. */
    state: "initial" | "healthy" | "unhealthy";
    passes: number;
    fails: number;
    /** Registered at the probe's start: its first check decides. */
    preexisting: boolean;
    checking: boolean;
}

/** Starts sampling at once (the first sample at 0 s), then every second until stop(). */
export function startProbe(lab: Lab, opts: ProbeOptions): Probe {
    const ctlNetns = path.join(lab.stateDir, "ns", "ctl.net");
    if (!fs.existsSync(ctlNetns)) throw new Error(`startProbe: no control netns at ${ctlNetns}: is the lab running?`);
    const quorumTimeoutMs = opts.quorumTimeoutMs ?? 3000;
    const healthCheckTimeoutMs = opts.healthCheckTimeoutMs ?? 500;
    const requestTimeoutMs = opts.requestTimeoutMs ?? 3000;
    if (healthCheckTimeoutMs >= TICK_MS) {
        throw new Error(`startProbe: healthCheckTimeoutMs must be under ${TICK_MS} (an ALB's timeout is under its interval); got ${healthCheckTimeoutMs}`);
    }
    const web = opts.web;
    const rps = web?.requestsPerSecond ?? 4;
    if (!Number.isInteger(rps) || rps < 1 || rps > 50) throw new Error(`startProbe: requestsPerSecond must be an integer 1..50; got ${rps}`);

    const helper = new Helper(ctlNetns);
    const t0 = Date.now();
    const r: ProbeReport = {
        seconds: 0,
        samples: 0,
        quorumSamples: 0,
        noQuorumSamples: 0,
        leaderWithoutMajority: 0,
        quorumSkipped: 0,
        answeredBy: {},
        served: 0,
        failed: 0,
        noHealthyNode: 0,
        webSkipped: 0,
        failures: {},
        nodes: {},
        events: [],
        ticks: [],
    };
    let stopped = false;
    let stoppedAt: number | undefined;
    let tickTimer: NodeJS.Timeout | undefined;
    let nextTick = 0;
    let quorumBusy = false;
    let webBusy = false;
    let lastQuorum: boolean | undefined;
    let roundRobin = 0;
    /** A fault of the probe itself (a bad host index, say): stop() rejects with it. */
    let broken: string | undefined;
    const sendTimers = new Set<NodeJS.Timeout>();
    /** Health check rounds and requests not yet settled (settled promises: they never reject). */
    const inFlight = new Set<Promise<void>>();
    let quorumInFlight: Promise<void> = Promise.resolve();
    const targets = new Map<number, Target>();
    const noTick: ProbeTick = { at: -1, served: 0, failed: 0 };

    const hostName = (h: number) => lab.hosts[h]?.name ?? `host-${h}`;
    const event = (at: number, what: string) => {
        if (r.events.length < MAX_EVENTS) r.events.push({ at, what });
    };
    const nodeStats = (name: string) => (r.nodes[name] ??= { served: 0, failed: 0, checksPassed: 0, checksFailed: 0 });
    const tickAt = (at: number): ProbeTick => r.ticks[at] ?? noTick;
    const settle = (p: Promise<void>) =>
        p.catch((e: unknown) => {
            broken ??= e instanceof Error ? e.message : String(e);
        });
    const track = (p: Promise<void>) => {
        const settled = settle(p);
        inFlight.add(settled);
        void settled.finally(() => inFlight.delete(settled));
    };
    const reason = (a: HelperAnswer) => {
        if (a.error) return a.error;
        let msg = "";
        try {
            msg = (JSON.parse(a.body ?? "") as { message?: string }).message ?? "";
        } catch {
            // not the engine's JSON error
        }
        return `HTTP ${a.status}${msg ? ` ${msg.length > 80 ? `${msg.slice(0, 80)}...` : msg}` : ""}`;
    };

    async function quorumSample(at: number): Promise<void> {
        const began = Date.now();
        const said: string[] = [];
        let verdict: ReturnType<typeof quorumOf> | undefined;
        let answeredBy = "";
        for (const h of opts.managers()) {
            const socketPath = lab.dockerHost(h).replace(/^unix:\/\//, "");
            const a = await helper.ask({ socketPath, path: "/nodes", timeoutMs: quorumTimeoutMs, body: true });
            if (stopped) return; // dropped: stop() waits for no sample
            if (a.status === 200) {
                try {
                    verdict = quorumOf(JSON.parse(a.body ?? "") as Parameters<typeof quorumOf>[0]);
                    answeredBy = hostName(h);
                    break;
                } catch {
                    said.push(`${hostName(h)}: an answer that is not a node list`);
                    continue;
                }
            }
            said.push(`${hostName(h)}: ${reason(a)}`);
        }
        const quorum = verdict?.quorum === true;
        const took = Date.now() - began;
        const slow = took > TICK_MS ? `; the sample took ${(took / 1000).toFixed(1)} s` : "";
        r.samples++;
        if (answeredBy) r.answeredBy[answeredBy] = (r.answeredBy[answeredBy] ?? 0) + 1;
        tickAt(at).quorum = quorum;
        if (quorum) {
            r.quorumSamples++;
            if (lastQuorum === false) event(at, `quorum back (${answeredBy}: a Leader, ${verdict!.reachable}/${verdict!.managers} managers reachable${slow})`);
        } else {
            r.noQuorumSamples++;
            if (verdict?.leader) r.leaderWithoutMajority++;
            r.firstNoQuorumAt ??= at;
            r.lastNoQuorumAt = at;
            if (lastQuorum !== false) {
                const why = verdict
                    ? `${answeredBy}: ${verdict.leader ? "a Leader" : "no Leader"}, ${verdict.reachable}/${verdict.managers} managers reachable`
                    : said.join("; ") || "no manager to ask";
                event(at, `no quorum (${why}${slow})`);
            }
        }
        lastQuorum = quorum;
    }

    function setState(t: Target, state: Target["state"], at: number, why: string) {
        if (t.state === state) return;
        t.state = state;
        event(at, `${t.name} ${state === "healthy" ? "healthy (in service)" : "unhealthy (out of service)"}: ${why}`);
    }

    async function healthCheck(t: Target, at: number): Promise<void> {
        const { matcher, healthyThreshold, unhealthyThreshold } = PROBE_TARGET_HEALTH;
        t.checking = true;
        try {
            const a = await helper.ask({ host: lab.hosts[t.host].privateAddress, port: web!.port, path: web!.healthPath, timeoutMs: healthCheckTimeoutMs });
            if (stopped || targets.get(t.host) !== t) return;
            const passed = a.status !== undefined && matcherAccepts(matcher, a.status);
            const s = nodeStats(t.name);
            if (passed) {
                s.checksPassed++;
                t.passes++;
                t.fails = 0;
            } else {
                s.checksFailed++;
                t.fails++;
                t.passes = 0;
            }
            if (t.preexisting) {
                t.preexisting = false;
                setState(t, passed ? "healthy" : "unhealthy", at, `its first check ${passed ? "passed" : `failed (${reason(a)})`}`);
            } else if (passed && t.state !== "healthy" && t.passes >= healthyThreshold) {
                setState(t, "healthy", at, `${t.passes} checks passed in a row`);
            } else if (!passed && t.state !== "unhealthy" && t.fails >= unhealthyThreshold) {
                setState(t, "unhealthy", at, `${t.fails} checks failed in a row (${reason(a)})`);
            }
        } finally {
            t.checking = false;
        }
    }

    function fail(at: number, key: string, node?: string) {
        r.failed++;
        tickAt(at).failed++;
        r.failures[key] = (r.failures[key] ?? 0) + 1;
        if (node) nodeStats(node).failed++;
    }

    async function request(at: number): Promise<void> {
        const inService = [...targets.values()].filter((t) => t.state === "healthy").sort((a, b) => a.host - b.host);
        if (inService.length === 0) {
            r.noHealthyNode++;
            fail(at, "no healthy node");
            return;
        }
        const t = inService[roundRobin++ % inService.length];
        const a = await helper.ask({ host: lab.hosts[t.host].privateAddress, port: web!.port, path: web!.requestPath, timeoutMs: requestTimeoutMs });
        if (a.error === GONE && stopped) return; // stop() ended the helper under it (after its wait): not counted
        if (a.status !== undefined && a.status >= 200 && a.status <= 299) {
            r.served++;
            tickAt(at).served++;
            nodeStats(t.name).served++;
        } else {
            fail(at, `${t.name} ${reason(a)}`, t.name);
        }
    }

    async function webTick(at: number): Promise<void> {
        const now = new Set(web!.nodes());
        for (const [h, t] of targets) {
            if (!now.has(h)) {
                targets.delete(h);
                event(at, `${t.name} deregistered`);
            }
        }
        for (const h of now) {
            if (targets.has(h)) continue;
            const preexisting = at === 0;
            targets.set(h, { host: h, name: hostName(h), state: preexisting ? "unhealthy" : "initial", passes: 0, fails: 0, preexisting, checking: false });
            if (!preexisting) event(at, `${hostName(h)} registered (initial: in service once ${PROBE_TARGET_HEALTH.healthyThreshold} checks pass)`);
        }
        // A node whose previous check still runs (this process lagged) is not checked twice.
        await Promise.all([...targets.values()].filter((t) => !t.checking).map((t) => healthCheck(t, at)));
        if (stopped) return;
        tickAt(at).inService = [...targets.values()].filter((t) => t.state === "healthy").map((t) => t.name).sort();
        track(request(at));
        for (let k = 1; k < rps; k++) {
            const timer = setTimeout(() => {
                sendTimers.delete(timer);
                if (!stopped) track(request(at));
            }, (k * TICK_MS) / rps);
            sendTimers.add(timer);
        }
    }

    function tick() {
        tickTimer = undefined;
        if (stopped) return;
        // The tick due now; ticks the event loop slept through are skipped, not made up.
        const due = Math.max(nextTick, Math.floor((Date.now() - t0) / TICK_MS));
        for (let at = nextTick; at <= due; at++) if (at < MAX_TICKS) r.ticks[at] = { at, served: 0, failed: 0 };
        const missed = due - nextTick;
        nextTick = due + 1;
        r.quorumSkipped += missed;
        if (quorumBusy) {
            r.quorumSkipped++;
        } else {
            quorumBusy = true;
            quorumInFlight = settle(quorumSample(due)).finally(() => (quorumBusy = false));
        }
        if (web) {
            r.webSkipped += missed;
            if (webBusy) {
                r.webSkipped++;
            } else {
                webBusy = true;
                track(webTick(due).finally(() => (webBusy = false)));
            }
        }
        tickTimer = setTimeout(tick, Math.max(0, t0 + nextTick * TICK_MS - Date.now()));
    }

    const snapshot = (): ProbeReport => ({
        ...r,
        seconds: Math.round(((stoppedAt ?? Date.now()) - t0) / 100) / 10,
        failures: { ...r.failures },
        answeredBy: { ...r.answeredBy },
        nodes: Object.fromEntries(Object.entries(r.nodes).map(([k, v]) => [k, { ...v }])),
        events: [...r.events],
        ticks: r.ticks.map((t) => ({ ...t, ...(t.inService ? { inService: [...t.inService] } : {}) })),
    });

    tick();
    let stopping: Promise<ProbeReport> | undefined;
    return {
        report: snapshot,
        targetState: (host) => (stopped ? undefined : targets.get(host)?.state),
        stop: () =>
            (stopping ??= (async () => {
                stopped = true;
                stoppedAt = Date.now();
                if (tickTimer) clearTimeout(tickTimer);
                for (const t of sendTimers) clearTimeout(t);
                sendTimers.clear();
                const died = helper.died;
                // Requests and checks in flight end within their timeouts, counted; a quorum
                // sample still asking is dropped when the helper ends under it.
                let timer: NodeJS.Timeout | undefined;
                await Promise.race([
                    Promise.all([...inFlight]),
                    new Promise((resolve) => {
                        timer = setTimeout(resolve, requestTimeoutMs + 1000);
                    }),
                ]);
                clearTimeout(timer);
                await helper.end();
                await Promise.all([...inFlight, quorumInFlight]);
                if (died ?? helper.died) throw new Error(`the probe's helper process ${died ?? helper.died}`);
                if (broken) throw new Error(`the probe failed: ${broken}`);
                return snapshot();
            })()),
    };
}

/** One line: samples and quorum, requests served and failed, and why they failed. */
export function formatProbe(r: ProbeReport): string {
    const skipped = r.quorumSkipped > 0 ? ` (${r.quorumSkipped} ticks skipped while a sample ran)` : "";
    const lost =
        r.noQuorumSamples > 0
            ? ` (no quorum in ${r.noQuorumSamples}, from ${r.firstNoQuorumAt} s to ${r.lastNoQuorumAt} s${r.leaderWithoutMajority > 0 ? `; ${r.leaderWithoutMajority} of them listed a Leader without a majority` : ""})`
            : "";
    let line = `probe: ${r.seconds} s, ${r.samples} samples${skipped}, quorum held at ${r.quorumSamples}/${r.samples}${lost}`;
    if (r.served + r.failed === 0 && Object.keys(r.nodes).length === 0) return `${line}; requests not probed`;
    line += `; requests ${r.served} served, ${r.failed} failed (goal: 0)`;
    const why = Object.entries(r.failures)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${n} ${k}`);
    if (why.length > 0) line += `: ${why.slice(0, 4).join(", ")}${why.length > 4 ? `, ... (${why.length - 4} more reasons)` : ""}`;
    if (r.webSkipped > 0) line += ` (${r.webSkipped} health check ticks skipped)`;
    return line;
}

/** The report's events, one line each ("  12 s: no quorum (...)"), for a test's log. */
export function formatProbeEvents(r: ProbeReport): string[] {
    return r.events.map((e) => `${String(e.at).padStart(4)} s: ${e.what}`);
}
