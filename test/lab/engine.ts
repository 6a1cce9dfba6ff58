/**
 * The lab's stand-in for the Pulumi engine. The component under test is the same code users
 * run; only the engine around it is small:
 *
 * - `up(program, previous)` runs a Pulumi program under a recording mock monitor. Every
 *   `command:remote:Command` is executed for real over SSH (ssh2) with the connection, script
 *   and stdin the component gave it; its real stdout and stderr become its outputs, and a
 *   non-zero exit fails its registration with its stderr. Against a previous deployment it
 *   acts as `pulumi up` does for @pulumi/command: unchanged inputs run nothing; changed
 *   `triggers` replace (the old delete script first, as deleteBeforeReplace asks); other
 *   changes run `update` (or `create` when there is none); resources no longer declared are
 *   deleted at the end, dependents first.
 * - `destroy(deployment)` does what `pulumi destroy` does: every command's delete script, in
 *   reverse dependency order, independent ones in parallel.
 *
 * Every `command:local:Command` runs for real on this machine (`sh -c`, with its stdin and
 * environment), with DOCKER_HOST set to a lab host's engine: that host plays the machine where
 * `pulumi up` runs and builds images. Its exit code and output count as for remote commands.
 *
 * EC2 instances get lab hosts: `hostFor(instanceName)` picks the lab host; the instance's
 * private IP is that host's namespace address and its public IP a label (198.51.100.N, never
 * contacted) that the SSH dialer here maps to the host's forwarded SSH port, as the internet
 * would route a public IP to the instance. Every other AWS resource is mocked as in the mock
 * layer.
 */
import * as assert from "assert";
import { awsCalls, awsOutputs, installMocks, plain, Recorded } from "../mocks";
import { spawn } from "child_process";
import { ExecResult, Lab, sshExec } from "./lab";

export interface Deployed {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    /** Inputs with secrets unwrapped. */
    readonly inputs: Record<string, unknown>;
    readonly outputs: Record<string, unknown>;
    /** URNs of the resources this one depends on. */
    readonly dependencies: string[];
}

/** Resources by URN. */
export type Deployment = Map<string, Deployed>;

/** What a run did to each command, in the order it happened. */
export interface Step {
    readonly name: string;
    readonly op: "create" | "update" | "delete" | "replace-delete";
    readonly ms: number;
}

export interface UpResult {
    readonly deployment: Deployment;
    readonly steps: Step[];
    /** Resource registrations that failed: name and error message. */
    readonly failures: { name: string; message: string }[];
    readonly ms: number;
}

interface Connection {
    host: string;
    port?: number;
    user?: string;
    privateKey?: string;
}

const PUBLIC_PREFIX = "198.51.100.";
const REMOTE = "command:remote:Command";
const LOCAL = "command:local:Command";

/**
 * The lab placement the lab suites use: manager i on host i, worker i on host
 * `firstWorkerHost + i`, whatever the counts, so that scaling one role never moves the other.
 */
export function placeByRole(firstWorkerHost: number): (instanceName: string) => number {
    return (name) => {
        const m = /-(manager|worker)-(\d+)$/.exec(name);
        assert.ok(m, `not a manager or worker instance: ${name}`);
        return m[1] === "manager" ? Number(m[2]) : firstWorkerHost + Number(m[2]);
    };
}

export class LabEngine {
    constructor(
        private readonly lab: Lab,
        /** Which lab host (index) an EC2 instance of this name runs on. */
        private readonly hostFor: (instanceName: string) => number = () => {
            throw new Error("this program declares EC2 instances, but the engine was given no hostFor");
        },
        /** The lab host whose engine local commands use (the build machine's DOCKER_HOST). */
        private readonly builderHost = 0,
    ) {}

    /** Runs a script here as @pulumi/command's local.Command would; fails with its stderr. */
    async runLocal(name: string, script: string, stdin?: string, environment?: Record<string, string>): Promise<ExecResult> {
        const r = await new Promise<ExecResult>((resolve, reject) => {
            const child = spawn("/bin/sh", ["-c", script], {
                env: { ...process.env, ...(environment ?? {}), DOCKER_HOST: this.lab.dockerHost(this.builderHost) },
                stdio: ["pipe", "pipe", "pipe"],
            });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => (stdout += d));
            child.stderr.on("data", (d) => (stderr += d));
            child.on("error", reject);
            child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
            child.stdin.end(stdin ?? "");
        });
        if (r.code !== 0) {
            throw new Error(`${name}: exit ${r.code}: ${r.stderr.trim()}`);
        }
        return r;
    }

    private runAny(type: string, name: string, conn: Connection, script: string, stdin?: string, environment?: Record<string, string>) {
        return type === LOCAL ? this.runLocal(name, script, stdin, environment) : this.run(name, conn, script, stdin);
    }

    /** Runs a script over SSH as @pulumi/command would; fails with its stderr. */
    async run(name: string, conn: Connection, script: string, stdin?: string): Promise<ExecResult> {
        let port = conn.port ?? 22;
        let host = conn.host;
        let hostKey: string;
        if (host.startsWith(PUBLIC_PREFIX)) {
            const h = this.lab.hosts[Number(host.slice(PUBLIC_PREFIX.length)) - 1];
            assert.ok(h, `${name}: no lab host behind ${host}`);
            assert.strictEqual(port, 22, `${name}: an EC2 host is reached on port 22`);
            host = h.sshHost;
            port = h.sshPort;
            hostKey = h.hostKey;
        } else {
            const h = this.lab.hosts.find((x) => x.sshHost === host && x.sshPort === port);
            assert.ok(h, `${name}: no lab host at ${host}:${port}`);
            hostKey = h.hostKey;
        }
        const r = await sshExec({ host, port, user: conn.user ?? "root", privateKey: conn.privateKey ?? "" }, hostKey, script, stdin);
        if (r.code !== 0) {
            throw new Error(`${name}: exit ${r.code}: ${r.stderr.trim()}`);
        }
        return r;
    }

    /**
     * @param replace names of commands to replace even if their inputs are unchanged, as
     *   `pulumi up --replace <urn>` does (delete first: the component asks deleteBeforeReplace)
     */
    async up(program: () => unknown, previous?: Deployment, replace: string[] = []): Promise<UpResult> {
        const start = Date.now();
        const steps: Step[] = [];
        const failures: { name: string; message: string }[] = [];
        const step = async <T>(name: string, op: Step["op"], f: () => Promise<T>): Promise<T> => {
            const t = Date.now();
            try {
                return await f();
            } finally {
                steps.push({ name, op, ms: Date.now() - t });
            }
        };

        const byTypeAndName = new Map([...(previous?.values() ?? [])].map((r) => [`${r.type}::${r.name}`, r]));
        const outputsFor = async (type: string, name: string, rawInputs: Record<string, unknown>): Promise<Record<string, unknown>> => {
            const inputs = plain<Record<string, unknown>>(rawInputs);
            if (type === "aws:ec2/instance:Instance") {
                const i = this.hostFor(name);
                const h = this.lab.hosts[i];
                assert.ok(h, `instance ${name} is mapped to lab host ${i}, which does not exist`);
                return { publicIp: `${PUBLIC_PREFIX}${i + 1}`, privateIp: h.privateAddress };
            }
            if (type !== REMOTE && type !== LOCAL) {
                return awsOutputs(type, name, inputs);
            }
            try {
                const before = byTypeAndName.get(`${type}::${name}`);
                const conn = inputs.connection as Connection;
                const stdin = inputs.stdin as string | undefined;
                const env = inputs.environment as Record<string, string> | undefined;
                const forced = replace.includes(name);
                if (before && !forced && JSON.stringify(before.inputs) === JSON.stringify(inputs)) {
                    return before.outputs;
                }
                if (before) {
                    if (forced || JSON.stringify(before.inputs.triggers) !== JSON.stringify(inputs.triggers)) {
                        if (before.inputs.delete) {
                            await step(name, "replace-delete", () =>
                                this.runAny(type, name, before.inputs.connection as Connection, before.inputs.delete as string),
                            );
                        }
                    } else {
                        const script = (inputs.update ?? inputs.create) as string | undefined;
                        const r = script ? await step(name, "update", () => this.runAny(type, name, conn, script, stdin, env)) : undefined;
                        return { stdout: r?.stdout ?? "", stderr: r?.stderr ?? "" };
                    }
                }
                const create = inputs.create as string | undefined;
                const r = create ? await step(name, "create", () => this.runAny(type, name, conn, create, stdin, env)) : undefined;
                return { stdout: r?.stdout ?? "", stderr: r?.stderr ?? "" };
            } catch (e) {
                failures.push({ name, message: (e as Error).message });
                throw e;
            }
        };

        // A failed registration rejects promises nobody awaits; collect them instead of
        // letting the test runner treat them as crashes.
        const listeners = process.listeners("unhandledRejection");
        process.removeAllListeners("unhandledRejection");
        const unhandled = (reason: unknown) => {
            const message = reason instanceof Error ? reason.message : String(reason);
            if (!failures.some((f) => message.includes(f.message) || f.message.includes(message))) {
                failures.push({ name: "(program)", message });
            }
        };
        process.on("unhandledRejection", unhandled);
        const monitor = installMocks(outputsFor, awsCalls, { project: "pulumi-swarm", stack: "lab" });
        let settledMs = 0;
        try {
            try {
                await program();
            } catch (e) {
                failures.push({ name: "(program)", message: (e as Error).message });
            }
            await monitor.settled();
            settledMs = Date.now() - start;
            // Let late rejections arrive (not counted in the run's time).
            await new Promise((r) => setTimeout(r, 50));
        } finally {
            process.removeListener("unhandledRejection", unhandled);
            listeners.forEach((l) => process.on("unhandledRejection", l as NodeJS.UnhandledRejectionListener));
        }

        const deployment: Deployment = new Map();
        for (const r of monitor.records as Recorded[]) {
            deployment.set(r.urn, {
                urn: r.urn,
                type: r.type,
                name: r.name,
                inputs: plain(r.inputs),
                outputs: plain(r.outputs),
                dependencies: r.dependencyUrns,
            });
        }
        // A command whose update failed stays in the state as it was (as in Pulumi).
        for (const f of failures) {
            const before = byTypeAndName.get(`${REMOTE}::${f.name}`) ?? byTypeAndName.get(`${LOCAL}::${f.name}`);
            if (before && !deployment.has(before.urn)) {
                deployment.set(before.urn, before);
            }
        }
        // Resources no longer declared are deleted last, dependents first (as `pulumi up` does);
        // when the run failed, nothing is deleted (neither would Pulumi continue).
        let deletesMs = 0;
        if (previous && failures.length === 0) {
            const gone = new Map([...previous].filter(([urn]) => !deployment.has(urn)));
            const t = Date.now();
            await this.deleteAll(gone, steps);
            deletesMs = Date.now() - t;
        }
        return { deployment, steps, failures, ms: settledMs + deletesMs };
    }

    /** `pulumi destroy`: every delete script, dependents first, independent ones in parallel. */
    async destroy(deployment: Deployment): Promise<Step[]> {
        const steps: Step[] = [];
        await this.deleteAll(deployment, steps);
        return steps;
    }

    private async deleteAll(set: Deployment, steps: Step[]): Promise<void> {
        const left = new Map(set);
        while (left.size > 0) {
            // Ready: nothing still left depends on it.
            const ready = [...left.values()].filter((r) => ![...left.values()].some((o) => o.dependencies.includes(r.urn)));
            assert.ok(ready.length > 0, `dependency cycle among ${[...left.keys()].join(", ")}`);
            await Promise.all(
                ready.map(async (r) => {
                    if ((r.type === REMOTE || r.type === LOCAL) && r.inputs.delete) {
                        const t = Date.now();
                        try {
                            await this.runAny(r.type, r.name, r.inputs.connection as Connection, r.inputs.delete as string);
                        } finally {
                            steps.push({ name: r.name, op: "delete", ms: Date.now() - t });
                        }
                    }
                }),
            );
            ready.forEach((r) => left.delete(r.urn));
        }
    }
}
