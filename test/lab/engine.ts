/**
 * The lab's stand-in for the Pulumi engine (3.248) and its providers. The component under test
 * is the same code users run; the engine around it follows the real engine's rules, each rule
 * below naming the source it mirrors:
 *
 * - `up(program, previous, replace)` runs a Pulumi program under a recording mock monitor
 *   (test/mocks.ts) and acts as `pulumi up [--replace <urn>...]` against a previous deployment:
 *   per registration it diffs against the old state and runs a same, create, update or
 *   replacement (create-before-delete, or delete-before-replace with the dependents that must
 *   go first); the first failed step cancels every step not yet started; old resources that
 *   were replaced or are no longer declared are deleted at the end, in reverse-dependency
 *   antichains, and only when nothing failed. The returned deployment is the state Pulumi
 *   would save: unreached resources keep their old state; a replaced resource whose delete
 *   did not run stays in it marked `pendingDelete` (deleted by the next successful run).
 * - `destroy(deployment)` does what `pulumi destroy` does: every delete, in reverse-dependency
 *   antichains, stopping at the first failure.
 *
 * Providers:
 * - `command:remote:Command` (pulumi-command 1.2.1) runs for real over SSH (ssh2) with the
 *   connection, script, stdin and environment it was given; `command:local:Command` runs here
 *   (`/bin/sh -c`) with DOCKER_HOST set to a lab host's engine (the machine where `pulumi up`
 *   runs and builds images).
 * - `aws:ec2/instance:Instance` is a lab host taken from a pool (see `EngineOptions.pool`):
 *   launched on create, stopped and started on an in-place instance-type change, terminated
 *   (dockerd and sshd stopped) on delete. Its private IP is the host's lab address and its
 *   public IP a label (198.51.100.N / 203.0.113.N, never contacted) that the SSH dialer here
 *   maps to the host's forwarded SSH port while the instance runs, as the internet routes a
 *   public IP to an instance. A stop/start gives a new public IP unless an Elastic IP
 *   (`aws:ec2/eip:Eip` with `instance`, or `aws:ec2/eipAssociation:EipAssociation`) is attached.
 *   `lose(state, name, how)` is a machine that dies outside any run, impaired or terminated.
 * - `aws.ec2.getAmi` answers from `LabEngine.amis`, which a test sets per run.
 * - `aws:lb` resources keep `LabEngine.elb` (awsStandIn.ts `ElbModel`) as AWS would be: load
 *   balancers by name, listeners, rules, target groups, and registrations: a target group
 *   attachment's every input is ForceNew, its Create registers and its Delete deregisters
 *   without waiting (terraform-provider-aws elbv2/target_group_attachment.go). The lab's AWS
 *   stand-in answers the nodes' ELB calls from the same model.
 * - Every other AWS resource is mocked as in the mock layer: its changes are in-place updates
 *   (their ForceNew lists are not modelled) and do nothing in the lab.
 *
 * Parallelism: steps run on 4 x os.availableParallelism() workers, the real default of
 * `pulumi up` (4 x GOMAXPROCS, pkg/cmd/pulumi/operations/up.go `defaultParallel`); 8 on the
 * project's 2-core machines.
 */
import * as assert from "assert";
import { spawn } from "child_process";
import * as os from "os";
import { awsCalls, awsOutputs, installMocks, plain, Registration } from "../mocks";
import { ElbModel } from "./awsStandIn";
import { ExecResult, Lab, sshExec } from "./lab";

export interface Deployed {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly id: string;
    readonly custom: boolean;
    readonly parentUrn: string;
    /** Inputs with secrets unwrapped. */
    readonly inputs: Record<string, unknown>;
    readonly outputs: Record<string, unknown>;
    /** URNs of the resources this one depends on (dependsOn and inputs). */
    readonly dependencies: string[];
    /** Per input property, the URNs its value came from. */
    readonly propertyDependencies: Record<string, string[]>;
    readonly ignoreChanges: string[];
    readonly replaceOnChanges: string[];
    /** The lab host an EC2 instance runs on. */
    readonly host?: number;
    /**
     * Replaced (create-before-delete) but its delete has not run because the run failed: Pulumi
     * keeps it in the state with `delete: true` and deletes it at the end of the next good run.
     */
    readonly pendingDelete?: boolean;
}

/** Resources by URN (a resource pending delete is keyed `<urn>#pending-delete`). */
export type Deployment = Map<string, Deployed>;

/**
 * Pulumi's step operations (pkg/resource/deploy/step.go): `create`, `update`, `delete`; a
 * replacement is `create-replacement` plus `delete-replaced` (in that order unless
 * deleteBeforeReplace).
 */
export type StepOp = "create" | "update" | "delete" | "create-replacement" | "delete-replaced";

/**
 * What a run did in the lab, in order of completion: the operations on instances and Elastic
 * IPs, and on commands those that run a script (a command's create without a `create` script,
 * for one, runs nothing and is not listed).
 */
export interface Step {
    readonly name: string;
    readonly type: string;
    readonly op: StepOp;
    /** When it started, in ms from the start of the run. */
    readonly at: number;
    readonly ms: number;
    /** For instances: what happened to the lab host. */
    readonly detail?: string;
    /** Set when the step failed. */
    readonly failed?: boolean;
}

export interface UpResult {
    readonly deployment: Deployment;
    readonly steps: Step[];
    /** Steps that failed and registrations that failed: name and error message, the first failure first. */
    readonly failures: { name: string; message: string }[];
    /** Registrations that arrived after the first failure and were not started (names). */
    readonly cancelled: string[];
    readonly ms: number;
}

export interface EngineOptions {
    /**
     * Lab hosts that EC2 instances may take (default: every lab host). A new instance takes the
     * host `hostFor` names when that host is in the pool and free, else the free host of the
     * pool with the lowest index. A host is free when no instance in the state runs on it.
     */
    pool?: number[];
}

interface Connection {
    host: string;
    port?: number;
    user?: string;
    privateKey?: string;
}

const REMOTE = "command:remote:Command";
const LOCAL = "command:local:Command";
const INSTANCE = "aws:ec2/instance:Instance";
const EIP = "aws:ec2/eip:Eip";
const EIP_ASSOCIATION = "aws:ec2/eipAssociation:EipAssociation";
const LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer";
const LISTENER = "aws:lb/listener:Listener";
const LISTENER_RULE = "aws:lb/listenerRule:ListenerRule";
const TARGET_GROUP = "aws:lb/targetGroup:TargetGroup";
const ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment";
// The SDK's internal promise-leak check (pinned by the exact @pulumi/pulumi version).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { leakedPromises } = require("@pulumi/pulumi/runtime/debuggable") as { leakedPromises: () => unknown };
const PUBLIC_RANGES = ["198.51.100.", "203.0.113."];
const UNKNOWN = Symbol("unknown");

/**
 * Instance inputs the AWS provider marks ForceNew (terraform-provider-aws
 * internal/service/ec2/ec2_instance.go `ResourceInstance` schema, by Pulumi name), plus the
 * nested ForceNew fields checked in `instanceDiff`. `userData`/`userDataBase64` are ForceNew
 * only with `userDataReplaceOnChange` (the schema's `customdiff.ForceNewIf`).
 */
const INSTANCE_FORCE_NEW = [
    "ami",
    "associatePublicIpAddress",
    "availabilityZone",
    "cpuCoreCount",
    "cpuThreadsPerCore",
    "cpuOptions",
    "ebsBlockDevices",
    "ebsOptimized",
    "enclaveOptions",
    "ephemeralBlockDevices",
    "hibernation",
    "hostId",
    "ipv6AddressCount",
    "ipv6Addresses",
    "keyName",
    "launchTemplate",
    "networkInterfaces",
    "placementGroup",
    "placementPartitionNumber",
    "privateDnsNameOptions",
    "privateIp",
    "securityGroups",
    "subnetId",
    "tenancy",
];

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

/**
 * Makes a lab host what a newly launched instance is: sshd and a fresh Docker engine with no
 * swarm, container, network or interface left from an earlier life. (A host's network namespace
 * outlives its dockerd: overlay interfaces and sandboxes of a swarm it was in stay, and a later
 * overlay network on the same subnet is refused with "Pool overlaps with other one on this
 * address space".) Images stay, as an AMI's would.
 */
export async function freshHost(lab: Lab, host: number): Promise<void> {
    // A host the engine lost (`LabEngine.lose`) has its link down: up again, with its route.
    const gateway = lab.hosts[host].privateAddress.replace(/\.\d+$/, ".1");
    const net = await lab.exec(host, `ip link set eth0 up && ip route replace default via ${gateway}`);
    if (net.code !== 0) throw new Error(`freshHost(${host}): ${net.stderr.trim()}`);
    await lab.resetDocker(host);
    await lab.stopDocker(host);
    const r = await lab.exec(
        host,
        `for l in $(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
             case $l in lo|eth0) ;; *) ip link delete "$l" 2>/dev/null || true ;; esac
         done
         for m in $(awk '$2 ~ "^/run/docker/netns/" { print $2 }' /proc/mounts); do umount "$m" 2>/dev/null || umount -l "$m"; done
         rm -rf /run/docker/netns /var/lib/docker/network /var/lib/docker/swarm`,
    );
    if (r.code !== 0) throw new Error(`freshHost(${host}): ${r.stderr.trim()}`);
    await lab.startDocker(host);
}

/** A failed command, with the message the provider gives. */
class StepError extends Error {}

/** Thrown into registrations and steps that the first failure cancelled. */
class Cancelled extends Error {}

function deepEqual(a: unknown, b: unknown): boolean {
    if (a === UNKNOWN || b === UNKNOWN) return false;
    return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** The value at a dotted property path (`a.b`, `a[0]`). */
function pathParts(path: string): string[] {
    return path.replace(/\[(\d+|\*)\]/g, ".$1").replace(/\["([^"]+)"\]/g, ".$1").split(".").filter((x) => x !== "");
}

function getPath(obj: unknown, parts: string[]): unknown {
    let v = obj;
    for (const p of parts) {
        if (v === null || typeof v !== "object") return undefined;
        v = (v as Record<string, unknown>)[p];
    }
    return v;
}

function setPath(obj: Record<string, unknown>, parts: string[], value: unknown): Record<string, unknown> {
    const copy = structuredClone(obj);
    let v: Record<string, unknown> = copy;
    for (const p of parts.slice(0, -1)) {
        if (v[p] === null || typeof v[p] !== "object") v[p] = {};
        v = v[p] as Record<string, unknown>;
    }
    if (value === undefined) delete v[parts[parts.length - 1]];
    else v[parts[parts.length - 1]] = value;
    return copy;
}

/**
 * `ignoreChanges`: each ignored path takes its old value before the diff
 * (step_generator.go `processIgnoreChanges`; pulumi-go-provider infer/resource.go `diff` does
 * the same for the provider's own diff).
 */
function applyIgnoreChanges(inputs: Record<string, unknown>, old: Record<string, unknown>, ignore: string[]): Record<string, unknown> {
    let out = inputs;
    for (const path of ignore) {
        const parts = pathParts(path);
        if (parts.length > 0) out = setPath(out, parts, getPath(old, parts));
    }
    return out;
}

interface Diff {
    changed: string[];
    replace: boolean;
    /** For instances: the change needs a stop and start (in place). */
    stopStart?: boolean;
}

/** The diff of one resource's inputs: which top-level inputs changed and whether that replaces it. */
function diffInputs(type: string, olds: Record<string, unknown>, news: Record<string, unknown>, replaceOnChanges: string[]): Diff {
    const keys = [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter((k) => !k.startsWith("__"));
    const changed = keys.filter((k) => !deepEqual(olds[k], news[k]));
    let replace = false;
    let stopStart = false;
    if (type === REMOTE || type === LOCAL) {
        // Only `triggers` replace a command: pulumi-command common/inputs.go tags Triggers
        // `provider:"replaceOnChanges"`, which pulumi-go-provider infer/resource.go `diff` turns
        // into UpdateReplace (`forceReplace`); everything else, `connection` included, is an update.
        replace = changed.includes("triggers");
    } else if (type === INSTANCE) {
        // terraform-provider-aws ec2_instance.go: ForceNew fields replace; `user_data` only with
        // user_data_replace_on_change (`customdiff.ForceNewIf`); root_block_device's encrypted
        // and kms_key_id are ForceNew. `instance_type` and user data are changed in place by
        // `resourceInstanceUpdate`: stop the instance, modify it, start it.
        const userDataReplaces = news.userDataReplaceOnChange === true;
        replace =
            changed.some((k) => INSTANCE_FORCE_NEW.includes(k)) ||
            (userDataReplaces && changed.some((k) => k === "userData" || k === "userDataBase64")) ||
            ["encrypted", "kmsKeyId"].some((k) => !deepEqual(getPath(olds.rootBlockDevice, [k]), getPath(news.rootBlockDevice, [k])));
        stopStart = changed.some((k) => k === "instanceType" || k === "userData" || k === "userDataBase64");
    } else if (type === ATTACHMENT) {
        // terraform-provider-aws elbv2/target_group_attachment.go: every attribute is ForceNew
        // (the resource has no Update): a new target ID registers the new instance and, at the
        // end of the run, deregisters the old one.
        replace = changed.length > 0;
    }
    // `replaceOnChanges`: a change under one of these paths replaces, whatever the provider says
    // (step_generator.go `applyReplaceOnChanges`). Paths are matched on their first segment.
    if (replaceOnChanges.some((p) => p === "*" || changed.includes(pathParts(p)[0]))) replace = true;
    return { changed, replace, stopStart };
}

/** A counting semaphore: the step executor's workers (step_executor.go `newStepExecutor`). */
class Workers {
    private free: number;
    private readonly waiting: (() => void)[] = [];
    constructor(n: number) {
        this.free = n;
    }
    async acquire(): Promise<void> {
        if (this.free > 0) {
            this.free--;
            return;
        }
        await new Promise<void>((r) => this.waiting.push(r));
    }
    release(): void {
        const next = this.waiting.shift();
        if (next) next();
        else this.free++;
    }
}


/** What a command ran with: its inputs and the outputs passed in PULUMI_COMMAND_STDOUT/STDERR. */
interface CommandRun {
    inputs: Record<string, unknown>;
    /** The previous outputs (update: the old state's; delete: the state's own; create: none). */
    previous?: Record<string, unknown>;
}

export class LabEngine {
    /**
     * The AMI table `aws.ec2.getAmi` answers from: by the value of its `name` filter, or `*` for
     * any; set it before a run to "publish" a newer AMI. Default: `*` -> ami-0123456789abcdef0.
     */
    public amis: Record<string, string> = { "*": "ami-0123456789abcdef0" };

    private readonly pool: number[];
    /** Public IP -> lab host, while the instance (or Elastic IP) holding it runs. */
    private readonly routes = new Map<string, number>();
    /** Instance ID -> Elastic IP attached to it. */
    private readonly eips = new Map<string, string>();
    /** Hosts this engine terminated: wiped (a fresh engine, as a new instance has) when taken again. */
    private readonly terminated = new Set<number>();
    /** Instances whose machine died (`lose`), still in the Pulumi state. */
    private readonly lost = new Map<string, "impaired" | "terminated">();
    private publicCounter = 0;
    private idCounter = 0;
    private readonly acceptEnv = new Map<number, RegExp[]>();
    /**
     * The load balancers, target groups and targets the run's `aws:lb` resources made, as the
     * AWS provider changes them (the lab's AWS stand-in answers the nodes' ELB calls from it).
     */
    public readonly elb = new ElbModel();
    /** Lab host -> the ID of the instance running on it. */
    private readonly instanceOnHost = new Map<number, string>();

    constructor(
        private readonly lab: Lab,
        /** Which lab host (index) a new EC2 instance of this name prefers. */
        private readonly hostFor?: (instanceName: string) => number,
        /** The lab host whose engine local commands use (the build machine's DOCKER_HOST). */
        private readonly builderHost = 0,
        options: EngineOptions = {},
    ) {
        this.pool = options.pool ?? lab.hosts.map((_, i) => i);
    }

    /** The running instance whose private IP this is (the metadata service's caller), if any. */
    instanceAt(privateIp: string): string | undefined {
        const host = this.lab.hosts.findIndex((h) => h.privateAddress === privateIp);
        return host < 0 ? undefined : this.instanceOnHost.get(host);
    }

    /** The lab host a running instance is on, if any. */
    hostOfInstance(instanceId: string): number | undefined {
        for (const [h, id] of this.instanceOnHost) if (id === instanceId) return h;
        return undefined;
    }

    /**
     * What a created or updated `aws:lb` resource changes in AWS's load balancing state: an ALB by
     * its name, a listener's ALB, a rule's target group, a group, and a registration (the
     * attachment's Create calls RegisterTargets, target_group_attachment.go).
     */
    private elbCreated(d: { urn: string; type: string; name: string }, inputs: Record<string, unknown>, outputs: Record<string, unknown>): void {
        if (d.type === LOAD_BALANCER) this.elb.loadBalancers.set(String(inputs.name), String(outputs.arn));
        else if (d.type === LISTENER) this.elb.listeners.set(String(outputs.arn), String(inputs.loadBalancerArn));
        else if (d.type === LISTENER_RULE) {
            const forward = (inputs.actions as { type: string; targetGroupArn?: string }[] | undefined)?.find((a) => a.type === "forward");
            if (forward?.targetGroupArn) this.elb.rules.set(d.urn, { listenerArn: String(inputs.listenerArn), targetGroupArn: forward.targetGroupArn });
        } else if (d.type === TARGET_GROUP) this.elb.addTargetGroup(String(outputs.arn), d.name, Number(inputs.port));
        else if (d.type === ATTACHMENT) this.elb.register(String(inputs.targetGroupArn), String(inputs.targetId), inputs.port === undefined ? undefined : Number(inputs.port));
    }

    /** A deleted `aws:lb` resource: the attachment's Delete calls DeregisterTargets and does not wait (target_group_attachment.go `resourceAttachmentDelete`). */
    private elbDeleted(d: Deployed): void {
        if (d.type === ATTACHMENT) this.elb.deregister(String(d.inputs.targetGroupArn), String(d.inputs.targetId));
        else if (d.type === LISTENER_RULE) this.elb.rules.delete(d.urn);
        else if (d.type === TARGET_GROUP) this.elb.targetGroups.delete(String(d.outputs.arn));
        else if (d.type === LISTENER) this.elb.listeners.delete(String(d.outputs.arn));
        else if (d.type === LOAD_BALANCER) this.elb.loadBalancers.delete(String(d.inputs.name));
    }

    /** Which lab host answers at this public IP now, if any. */
    hostAt(publicIp: string): number | undefined {
        return this.routes.get(publicIp);
    }

    private newPublicIp(): string {
        const n = this.publicCounter++;
        return `${PUBLIC_RANGES[Math.floor(n / 254) % PUBLIC_RANGES.length]}${(n % 254) + 1}`;
    }

    private newId(prefix: string): string {
        return `${prefix}-${(++this.idCounter).toString(16).padStart(17, "0")}`;
    }

    // ---- pulumi-command ---------------------------------------------------------------------

    /** Which environment variables the host's sshd accepts (its AcceptEnv), read once per host. */
    private async acceptedEnv(host: number): Promise<RegExp[]> {
        let patterns = this.acceptEnv.get(host);
        if (!patterns) {
            const r = await this.lab.exec(host, "sshd -T 2>/dev/null | awk 'tolower($1) == \"acceptenv\" { for (i = 2; i <= NF; i++) print $i }'");
            patterns = r.stdout
                .split(/\s+/)
                .filter((p) => p !== "")
                .map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`));
            this.acceptEnv.set(host, patterns);
        }
        return patterns;
    }

    /** Resolves a remote connection to the lab host behind it, or fails as a dial would. */
    private hostBehind(name: string, conn: Connection): { host: number; port: number; sshHost: string } {
        const port = conn.port ?? 22;
        if (PUBLIC_RANGES.some((r) => conn.host.startsWith(r))) {
            const h = this.routes.get(conn.host);
            if (h === undefined) {
                // Nothing answers at an address no running instance holds: the provider's dial
                // fails (it would retry for minutes first; the lab fails at once).
                throw new StepError(`${name}: Error dialing ${conn.host}:${port}: no running lab instance holds this public address`);
            }
            assert.strictEqual(port, 22, `${name}: an EC2 host is reached on port 22`);
            return { host: h, port: this.lab.hosts[h].sshPort, sshHost: this.lab.hosts[h].sshHost };
        }
        const h = this.lab.hosts.findIndex((x) => x.sshHost === conn.host && x.sshPort === port);
        if (h < 0) throw new StepError(`${name}: Error dialing ${conn.host}:${port}: no lab host there`);
        return { host: h, port, sshHost: conn.host };
    }

    /**
     * One command run as pulumi-command's `CommandOutputs.run` does (remote/commandOutputs.go,
     * local/commandOutputs.go): `environment`, then PULUMI_COMMAND_STDOUT/STDERR from the
     * previous outputs when `addPreviousOutputInEnv` is not false and they are non-empty; stdin
     * when non-empty; on a non-zero exit the error holds the script and the combined output;
     * stdout and stderr lose one trailing newline.
     */
    private async runCommand(type: string, name: string, script: string, run: CommandRun): Promise<{ stdout: string; stderr: string }> {
        const inputs = run.inputs;
        const env: Record<string, string> = { ...((inputs.environment as Record<string, string> | undefined) ?? {}) };
        const previousEnv: Record<string, string> = {};
        if (inputs.addPreviousOutputInEnv !== false && run.previous) {
            if (run.previous.stdout) previousEnv.PULUMI_COMMAND_STDOUT = String(run.previous.stdout);
            if (run.previous.stderr) previousEnv.PULUMI_COMMAND_STDERR = String(run.previous.stderr);
        }
        const stdin = inputs.stdin as string | undefined;
        let r: ExecResult & { combined: string };
        if (type === LOCAL) {
            r = await this.runHere(script, stdin, { ...env, ...previousEnv });
            if (r.code !== 0) {
                throw new StepError(`${name}: exit status ${r.code}: running ${JSON.stringify(script)}:\n${r.combined}`);
            }
        } else {
            const conn = inputs.connection as Connection;
            const target = this.hostBehind(name, conn);
            // session.Setenv for each `environment` entry: an entry the server refuses fails the
            // command (remote/commandOutputs.go `run`, `logAndWrapSetenvErr` with diag.Error);
            // refused PULUMI_COMMAND_* only warn. The lab's sshd accepts what an Ubuntu EC2
            // host's does (AcceptEnv LANG LC_*): the engine reads it from `sshd -T`.
            const accepted = await this.acceptedEnv(target.host);
            const ok = (k: string) => accepted.some((re) => re.test(k));
            const refused = Object.keys(env).find((k) => !ok(k));
            if (refused !== undefined) {
                throw new StepError(`${name}: could not set environment variable ${JSON.stringify(refused)}: ssh: setenv failed`);
            }
            const sent = { ...env, ...Object.fromEntries(Object.entries(previousEnv).filter(([k]) => ok(k))) };
            const hostKey = this.lab.hosts[target.host].hostKey;
            try {
                r = await sshExec(
                    { host: target.sshHost, port: target.port, user: conn.user ?? "root", privateKey: conn.privateKey ?? "" },
                    hostKey,
                    script,
                    stdin,
                    sent,
                );
            } catch (e) {
                throw new StepError(`${name}: ${(e as Error).message}`);
            }
            if (r.code !== 0) {
                throw new StepError(`${name}: Process exited with status ${r.code}: running ${JSON.stringify(script)}:\n${r.combined}`);
            }
        }
        return { stdout: r.stdout.replace(/\n$/, ""), stderr: r.stderr.replace(/\n$/, "") };
    }

    /** Runs a script here as @pulumi/command's local.Command does (`/bin/sh -c`, the process environment plus its own). */
    private runHere(script: string, stdin: string | undefined, environment: Record<string, string>): Promise<ExecResult & { combined: string }> {
        return new Promise((resolve, reject) => {
            const child = spawn("/bin/sh", ["-c", script], {
                env: { ...process.env, DOCKER_HOST: this.lab.dockerHost(this.builderHost), ...environment },
                stdio: ["pipe", "pipe", "pipe"],
            });
            let stdout = "";
            let stderr = "";
            let combined = "";
            child.stdout.on("data", (d) => ((stdout += d), (combined += d)));
            child.stderr.on("data", (d) => ((stderr += d), (combined += d)));
            child.stdin.on("error", () => undefined);
            child.on("error", reject);
            child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr, combined }));
            child.stdin.end(stdin ?? "");
        });
    }

    /** pulumi-command `Command.Create` (remote/commandController.go): runs `create` when set. */
    private async commandCreate(type: string, name: string, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
        const create = inputs.create as string | undefined;
        if (create === undefined) return { stdout: "", stderr: "" };
        return this.runCommand(type, name, create, { inputs });
    }

    /**
     * pulumi-command `Command.Update` (remote/commandController.go): the new state starts from the
     * old outputs; runs `update`, or else `create`; with neither the old stdout/stderr stay.
     */
    private async commandUpdate(type: string, name: string, old: Deployed, inputs: Record<string, unknown>): Promise<Record<string, unknown>> {
        const script = (inputs.update ?? inputs.create) as string | undefined;
        const kept = { stdout: old.outputs.stdout ?? "", stderr: old.outputs.stderr ?? "" };
        if (script === undefined) return kept;
        return this.runCommand(type, name, script, { inputs, previous: kept });
    }

    /**
     * pulumi-command `Command.Delete` (remote/commandController.go): runs the `delete` stored in
     * the state, with the state's connection, stdin and environment, and its outputs as
     * PULUMI_COMMAND_STDOUT/STDERR.
     */
    private async commandDelete(old: Deployed): Promise<void> {
        const del = old.inputs.delete as string | undefined;
        if (del === undefined) return;
        await this.runCommand(old.type, old.name, del, { inputs: old.inputs, previous: old.outputs });
    }

    // ---- EC2 ----------------------------------------------------------------------------------

    private async launch(name: string, inUse: Set<number>, claimed: Set<number>): Promise<{ host: number; detail: string; outputs: Record<string, unknown> }> {
        const free = this.pool.filter((h) => !inUse.has(h));
        let preferred: number | undefined;
        try {
            preferred = this.hostFor?.(name);
        } catch {
            preferred = undefined;
        }
        const host = preferred !== undefined && free.includes(preferred) ? preferred : free[0];
        if (host === undefined) {
            throw new StepError(`${name}: creating EC2 Instance: InsufficientInstanceCapacity: no free lab host in the pool (${this.pool.join(", ")})`);
        }
        claimed.add(host);
        if (this.terminated.has(host)) {
            // A new instance is a fresh machine: no swarm state, no containers.
            await freshHost(this.lab, host);
            this.terminated.delete(host);
        } else {
            await this.lab.startSshd(host);
            await this.lab.startDocker(host);
        }
        const id = this.newId("i");
        const publicIp = this.newPublicIp();
        this.routes.set(publicIp, host);
        this.instanceOnHost.set(host, id);
        const h = this.lab.hosts[host];
        return {
            host,
            detail: `${h.name} ${h.privateAddress} ${publicIp}`,
            outputs: { id, publicIp, privateIp: h.privateAddress, instanceState: "running", arn: `arn:aws:ec2:us-east-1:123456789012:instance/${id}` },
        };
    }

    /** Stop, modify, start (ec2_instance.go `resourceInstanceUpdate`): the private IP stays; the public one changes unless an Elastic IP is attached. */
    private async stopStart(old: Deployed): Promise<{ detail: string; publicIp: string }> {
        const host = old.host as number;
        const id = old.id;
        const before = String(old.outputs.publicIp);
        await this.lab.stopDocker(host);
        await this.lab.stopSshd(host);
        for (const [ip, h] of this.routes) if (h === host) this.routes.delete(ip);
        await this.lab.startSshd(host);
        await this.lab.startDocker(host);
        const eip = this.eips.get(id);
        const publicIp = eip ?? this.newPublicIp();
        this.routes.set(publicIp, host);
        return { detail: `${this.lab.hosts[host].name} stopped and started, public ${before} -> ${publicIp}`, publicIp };
    }

    private async terminate(old: Deployed): Promise<string> {
        const host = old.host as number;
        await this.lab.stopDocker(host);
        await this.lab.stopSshd(host);
        for (const [ip, h] of this.routes) if (h === host) this.routes.delete(ip);
        this.eips.delete(old.id);
        this.instanceOnHost.delete(host);
        this.terminated.add(host);
        return `${this.lab.hosts[host].name} terminated${this.lost.get(old.id) === "terminated" ? " (EC2 had already terminated it)" : ""}`;
    }

    /**
     * A machine that dies outside any run. Everything on it stops at once (here every process
     * of the host but its init, tini and its one child, and containerd, which no one reaches
     * from outside), and nothing answers at its private address (its link goes down: a dial
     * fails after ARP gives up, where on AWS it would time out). Then, as EC2 has it:
     * - `impaired` (a failed host that AWS has not retired yet: status checks fail): the
     *   instance is still listed as running, with its addresses and Elastic IP, and its
     *   public address reaches nothing; the ALB finds it unhealthy.
     * - `terminated` (AWS retired it, a Spot interruption, someone in the console): its public
     *   address routes nowhere, an Elastic IP comes off it (EC2 disassociates an address from
     *   a terminated instance), DescribeInstances no longer lists it (the lookups ask only for
     *   running and stopped instances), and the ALB has it `unused` (Target.InvalidState).
     * The Pulumi state still holds it, as it would until the next run; that run's delete of it
     * succeeds, as TerminateInstances does on an impaired or terminated instance
     * (terraform-provider-aws ec2_instance.go `resourceInstanceDelete` waits for the state
     * "terminated"). Returns its lab host.
     */
    async lose(d: Deployment, instanceName: string, how: "impaired" | "terminated"): Promise<number> {
        const inst = [...d.values()].find((x) => x.type === INSTANCE && x.name === instanceName && !x.pendingDelete);
        assert.ok(inst && inst.host !== undefined, `lose: no running instance ${instanceName}`);
        const host = inst.host;
        const r = await this.lab.exec(
            host,
            `self=$$
             for p in $(ls /proc | grep -E '^[0-9]+$'); do
                 { [ "$p" = 1 ] || [ "$p" = "$self" ]; } && continue
                 comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
                 # containerd, and the host's PID 1's one child (tini exits with it), stay.
                 [ "$comm" = containerd ] && continue
                 [ "$comm" = sleep ] && [ "$(cut -d' ' -f4 "/proc/$p/stat" 2>/dev/null)" = 1 ] && continue
                 kill -9 "$p" 2>/dev/null || true
             done
             ip link set eth0 down`,
        );
        if (r.code !== 0) throw new Error(`lose(${instanceName}): ${r.stderr.trim()}`);
        this.lost.set(inst.id, how);
        if (how === "terminated") {
            for (const [ip, h] of this.routes) if (h === host) this.routes.delete(ip);
            this.eips.delete(inst.id);
            this.instanceOnHost.delete(host);
        }
        return host;
    }

    /** How EC2 lost this instance (`lose`), if it did. */
    lostAs(instanceId: string): "impaired" | "terminated" | undefined {
        return this.lost.get(instanceId);
    }

    private associate(instanceId: string, publicIp: string, instances: Deployed[]): void {
        const inst = instances.find((d) => d.type === INSTANCE && d.id === instanceId && !d.pendingDelete);
        if (!inst || inst.host === undefined) return;
        this.eips.set(instanceId, publicIp);
        this.routes.set(publicIp, inst.host);
    }

    // ---- the engine ---------------------------------------------------------------------------

    /**
     * `pulumi up` against `previous`.
     * @param replace names or URNs to replace even if unchanged (`pulumi up --replace <urn>`):
     *   the diff then says replace (step_generator.go `diff` / `isTargetedReplace`), and the
     *   resource's own deleteBeforeReplace decides the order.
     */
    async up(program: () => unknown, previous?: Deployment, replace: string[] = []): Promise<UpResult> {
        const start = Date.now();
        const steps: Step[] = [];
        const failures: { name: string; message: string }[] = [];
        const cancelledNames: string[] = [];
        const workers = new Workers(4 * os.availableParallelism());
        let cancelled = false;

        const olds = new Map<string, Deployed>();
        const pendingFromBefore: Deployed[] = [];
        for (const d of previous?.values() ?? []) {
            if (d.pendingDelete) pendingFromBefore.push(d);
            else olds.set(d.urn, d);
        }
        const news = new Map<string, Deployed>();
        /** URNs the run has registered (calculateDependentReplacements' `impossibleDependents`). */
        const seen = new Set<string>();
        /** Old states deleted during the run (delete-before-replace and its dependents). */
        const deletedEarly = new Set<Deployed>();
        /** Old states replaced create-before-delete: deleted at the end. */
        const replacedOlds: Deployed[] = [];
        /** Hosts claimed by launches of this run (claimed synchronously, before any await). */
        const claimed = new Set<number>();
        const hostsInUse = () => {
            const s = new Set<number>(claimed);
            for (const d of [...olds.values(), ...pendingFromBefore, ...news.values()]) {
                if (d.type === INSTANCE && d.host !== undefined && !deletedEarly.has(d)) s.add(d.host);
            }
            return s;
        };

        const record = (d: Deployed, op: StepOp, t: number, detail?: string, failed?: boolean) =>
            steps.push({ name: d.name, type: d.type, op, at: t - start, ms: Date.now() - t, ...(detail ? { detail } : {}), ...(failed ? { failed } : {}) });
        const acts = (type: string) => type === REMOTE || type === LOCAL || type === INSTANCE || type === EIP || type === EIP_ASSOCIATION;

        /**
         * A chain of steps on one worker, in order (step_executor.go `executeChain`): before each
         * step, a cancelled deployment stops the chain; a failed step cancels the deployment
         * (`cancelDueToError`, without --continue-on-error).
         */
        const chain = async <T>(links: (() => Promise<T>)[]): Promise<T> => {
            await workers.acquire();
            try {
                let last: T | undefined;
                for (const link of links) {
                    if (cancelled) throw new Cancelled("cancelled: an earlier step failed");
                    try {
                        last = await link();
                    } catch (e) {
                        if (!(e instanceof Cancelled)) cancelled = true;
                        throw e;
                    }
                }
                return last as T;
            } finally {
                workers.release();
            }
        };

        /**
         * One provider operation, recorded as a step when it acts in the lab: a command's only
         * when it has a script to run.
         */
        const op = async (d: Deployed, kind: StepOp, f: () => Promise<string | undefined>, hasScript?: boolean) => {
            const t = Date.now();
            const isCommand = d.type === REMOTE || d.type === LOCAL;
            const script = kind.startsWith("create") ? d.inputs.create : d.inputs.delete;
            const shown = acts(d.type) && (!isCommand || (hasScript ?? script !== undefined));
            try {
                const detail = await f();
                if (shown) record(d, kind, t, detail);
            } catch (e) {
                if (shown) record(d, kind, t, undefined, true);
                failures.push({ name: d.name, message: (e as Error).message });
                throw e;
            }
        };

        const deleteOld = async (d: Deployed): Promise<string | undefined> => {
            if (d.type === REMOTE || d.type === LOCAL) {
                await this.commandDelete(d);
                return undefined;
            }
            if (d.type === INSTANCE && d.host !== undefined) return this.terminate(d);
            this.elbDeleted(d);
            if (d.type === EIP || d.type === EIP_ASSOCIATION) {
                const ip = String(d.outputs.publicIp ?? "");
                for (const [id, x] of this.eips) if (x === ip) this.eips.delete(id);
                this.routes.delete(ip);
            }
            return undefined;
        };

        /** Create (or create-replacement): the provider's Create. */
        const createNew = async (d: Deployed, inputs: Record<string, unknown>): Promise<{ outputs: Record<string, unknown>; host?: number; detail?: string }> => {
            if (d.type === REMOTE || d.type === LOCAL) return { outputs: await this.commandCreate(d.type, d.name, inputs) };
            if (d.type === INSTANCE) {
                const l = await this.launch(d.name, hostsInUse(), claimed);
                return { outputs: { ...awsOutputs(d.type, d.name, inputs), ...l.outputs }, host: l.host, detail: l.detail };
            }
            if (d.type === EIP || d.type === EIP_ASSOCIATION) {
                const allocationId = d.type === EIP ? this.newId("eipalloc") : String(inputs.allocationId);
                const eip = d.type === EIP ? { publicIp: this.newPublicIp(), allocationId } : undefined;
                const publicIp = eip?.publicIp ?? [...news.values(), ...olds.values()].find((x) => x.type === EIP && x.outputs.allocationId === allocationId)?.outputs.publicIp;
                const instanceId = (d.type === EIP ? inputs.instance : inputs.instanceId) as string | undefined;
                if (instanceId && publicIp) this.associate(instanceId, String(publicIp), [...news.values(), ...olds.values()]);
                return { outputs: { id: d.type === EIP ? allocationId : this.newId("eipassoc"), ...(eip ?? {}), publicIp } };
            }
            const outputs = awsOutputs(d.type, d.name, inputs);
            this.elbCreated(d, inputs, outputs);
            return { outputs };
        };

        const isForced = (urn: string, name: string) => replace.includes(urn) || replace.includes(name);

        const outputsFor = async (type: string, name: string, rawInputs: Record<string, unknown>, reg: Registration): Promise<Record<string, unknown>> => {
            const goalInputs = plain<Record<string, unknown>>(rawInputs);
            seen.add(reg.urn);
            const base = {
                urn: reg.urn,
                type,
                name,
                custom: reg.custom,
                parentUrn: reg.parentUrn,
                dependencies: reg.dependencies,
                propertyDependencies: reg.propertyDependencies,
                ignoreChanges: reg.ignoreChanges,
                replaceOnChanges: reg.replaceOnChanges,
            };
            if (cancelled) {
                // The step executor was cancelled: this registration's step never starts.
                cancelledNames.push(name);
                throw new Cancelled(`${name}: not started: the deployment was cancelled by an earlier failure`);
            }
            if (!reg.custom) {
                // Components have no provider: nothing to do.
                news.set(reg.urn, { ...base, id: "", inputs: goalInputs, outputs: {} });
                return {};
            }
            const old = olds.get(reg.urn);
            const stateOf = (inputs: Record<string, unknown>, outputs: Record<string, unknown>, host?: number): Deployed => {
                const { id, ...rest } = outputs;
                return { ...base, id: typeof id === "string" ? id : `${name}-id`, inputs, outputs: rest, ...(host !== undefined ? { host } : {}) };
            };
            // What the program reads back: the resource's state, whose properties are the inputs
            // the provider was given (with ignoreChanges applied, so an ignored input keeps its old
            // value, as in the saved state after a SameStep or UpdateStep, step.go) and then its
            // outputs. The mock monitor lays these over the program's raw inputs.
            const outputsOf = (d: Deployed) => ({ id: d.id, ...d.inputs, ...d.outputs });

            // Case "recreating" (step_generator.go `generateSteps`): deleted earlier in this run
            // as a dependent of a delete-before-replace; now it can only be a replacement.
            if (old && deletedEarly.has(old)) {
                const pending: Deployed = { ...base, id: "", inputs: goalInputs, outputs: {} };
                return chain([
                    async () => {
                        let made: Awaited<ReturnType<typeof createNew>> | undefined;
                        await op(pending, "create-replacement", async () => ((made = await createNew(pending, goalInputs)), made.detail));
                        const d = stateOf(goalInputs, made!.outputs, made!.host);
                        news.set(reg.urn, d);
                        return outputsOf(d);
                    },
                ]);
            }
            if (!old) {
                const pending: Deployed = { ...base, id: "", inputs: goalInputs, outputs: {} };
                return chain([
                    async () => {
                        let made: Awaited<ReturnType<typeof createNew>> | undefined;
                        await op(pending, "create", async () => ((made = await createNew(pending, goalInputs)), made.detail));
                        const d = stateOf(goalInputs, made!.outputs, made!.host);
                        news.set(reg.urn, d);
                        return outputsOf(d);
                    },
                ]);
            }

            const inputs = applyIgnoreChanges(goalInputs, old.inputs, reg.ignoreChanges);
            const forced = isForced(reg.urn, name);
            const diff = diffInputs(type, old.inputs, inputs, reg.replaceOnChanges);
            if (!forced && diff.changed.length === 0) {
                // A same step: nothing runs; the old outputs come back (step.go `SameStep`).
                return chain([
                    async () => {
                        const d: Deployed = { ...old, ...base, inputs, outputs: old.outputs };
                        news.set(reg.urn, d);
                        return outputsOf(d);
                    },
                ]);
            }
            if (!forced && !diff.replace) {
                // An in-place update (step_generator.go `continueStepsFromDiff`, "it's an update").
                return chain([
                    async () => {
                        let outputs: Record<string, unknown> = old.outputs;
                        await op(
                            old,
                            "update",
                            async () => {
                                if (type === REMOTE || type === LOCAL) {
                                    outputs = await this.commandUpdate(type, name, old, inputs);
                                    return undefined;
                                }
                                if (type === INSTANCE && diff.stopStart && old.host !== undefined) {
                                    const s = await this.stopStart(old);
                                    outputs = { ...old.outputs, publicIp: s.publicIp };
                                    return s.detail;
                                }
                                outputs = type === INSTANCE ? old.outputs : { ...old.outputs, ...awsOutputs(type, name, inputs) };
                                this.elbCreated(old, inputs, outputs);
                                return undefined;
                            },
                            (inputs.update ?? inputs.create) !== undefined,
                        );
                        const d: Deployed = { ...old, ...base, inputs, outputs };
                        news.set(reg.urn, d);
                        return outputsOf(d);
                    },
                ]);
            }

            // A replacement. A diff's replacement creates from the goal's inputs, without
            // ignoreChanges: it re-runs Check on `goal.Properties` (continueStepsFromDiff, "we need
            // to recompute the default values"). A `--replace` target keeps the inputs with
            // ignoreChanges applied ("if we're performing a targeted replace, we already have the
            // correct inputs", isTargetedReplace): the replaced machine keeps an ignored AMI.
            const replacementInputs = forced ? inputs : goalInputs;
            const pending: Deployed = { ...base, id: "", inputs: replacementInputs, outputs: {} };
            const createLink = async () => {
                let made: Awaited<ReturnType<typeof createNew>> | undefined;
                await op(pending, "create-replacement", async () => ((made = await createNew(pending, replacementInputs)), made.detail));
                const d = stateOf(replacementInputs, made!.outputs, made!.host);
                news.set(reg.urn, d);
                return outputsOf(d);
            };
            // deleteBeforeReplace: the resource option, else the provider's answer (none of the
            // providers modelled here asks for it) (continueStepsFromDiff).
            if (reg.deleteBeforeReplace === true) {
                // Delete the dependents that would be replaced, last first, then the resource, then
                // create it, as one chain (continueStepsFromDiff, deleteBeforeReplace branch).
                const dependents = this.dependentReplacements(old, olds, seen);
                const links: (() => Promise<Record<string, unknown>>)[] = [];
                for (const dep of [...dependents].reverse()) {
                    if (deletedEarly.has(dep)) continue;
                    deletedEarly.add(dep);
                    links.push(async () => {
                        await op(dep, "delete-replaced", () => deleteOld(dep));
                        return {};
                    });
                }
                deletedEarly.add(old);
                links.push(async () => {
                    await op(old, "delete-replaced", () => deleteOld(old));
                    return {};
                });
                links.push(createLink);
                return chain(links);
            }
            // Create-before-delete: create now; the old one is deleted at the end of the run.
            replacedOlds.push(old);
            return chain([createLink]);
        };

        // A failed registration rejects promises nobody awaits; collect them instead of
        // letting the test runner treat them as crashes.
        const listeners = process.listeners("unhandledRejection");
        process.removeAllListeners("unhandledRejection");
        const unhandled = (reason: unknown) => {
            if (reason instanceof Cancelled) return;
            const message = reason instanceof Error ? reason.message : String(reason);
            if (/not started: the deployment was cancelled/.test(message)) return;
            if (!failures.some((f) => message.includes(f.message) || f.message.includes(message))) {
                failures.push({ name: "(program)", message });
                cancelled = true;
            }
        };
        process.on("unhandledRejection", unhandled);
        const callFor = (token: string, args: Record<string, unknown>) =>
            token === "aws:ec2/getAmi:getAmi"
                ? this.getAmi(args)
                : token === "aws:ec2/getInstances:getInstances"
                  ? this.getInstances(args, [...olds.values(), ...pendingFromBefore])
                  : awsCalls(token);
        const monitor = installMocks(outputsFor, callFor, { project: "pulumi-swarm", stack: "lab" });
        try {
            try {
                await program();
            } catch (e) {
                failures.push({ name: "(program)", message: (e as Error).message });
                cancelled = true;
            }
            await monitor.settled();
            // Let late rejections arrive: Node reports an unhandled rejection once the microtasks
            // of the turn that made it have run, so one more turn of the event loop is enough
            // (settled() has already waited through many).
            await new Promise((r) => setImmediate(r));
        } finally {
            process.removeListener("unhandledRejection", unhandled);
            listeners.forEach((l) => process.on("unhandledRejection", l as NodeJS.UnhandledRejectionListener));
        }

        // The end-of-run deletes (deployment_executor.go `performPostSteps`), reached only when
        // the program finished and no step failed (a failure cancels the executor's context and
        // `Execute` returns before performPostSteps): replaced resources, resources of earlier
        // runs pending delete, and resources no longer declared (step_generator.go
        // `GenerateDeletes`), scheduled by `ScheduleDeletes`.
        const deleted = new Set<Deployed>(deletedEarly);
        if (!cancelled && failures.length === 0) {
            const condemned = [
                ...pendingFromBefore,
                ...replacedOlds,
                ...[...olds.values()].filter((d) => !seen.has(d.urn) && !deletedEarly.has(d)),
            ];
            try {
                await this.deleteInAntichains(condemned, [...(previous?.values() ?? [])], async (d) => {
                    await chain([() => op(d, replacedOlds.includes(d) || d.pendingDelete ? "delete-replaced" : "delete", () => deleteOld(d))]);
                    deleted.add(d);
                });
            } catch {
                // The failed delete is in `failures` (op): the run fails, and the state keeps what
                // was not deleted, a replaced resource pending delete, which the next run deletes
                // again (deployment_executor.go: a failed step fails the update; the snapshot
                // keeps the resource's pending-delete state).
            }
        }

        // The state Pulumi saves: news; olds not touched (unreached or failed); replaced olds
        // whose delete did not run, marked pending delete.
        const deployment: Deployment = new Map();
        for (const d of previous?.values() ?? []) {
            if (deleted.has(d)) continue;
            if (d.pendingDelete) {
                deployment.set(`${d.urn}#pending-delete`, d);
            } else if (replacedOlds.includes(d)) {
                if (news.has(d.urn)) deployment.set(`${d.urn}#pending-delete`, { ...d, pendingDelete: true });
                else deployment.set(d.urn, d);
            } else if (!news.has(d.urn)) {
                deployment.set(d.urn, d);
            }
        }
        for (const [urn, d] of news) deployment.set(urn, d);
        // The registrations that failed or were cancelled never settle; a real program's process
        // ends with the run. Forget them, or the SDK's exit check reports them as leaked
        // promises and sets the exit code of the whole test process to 1.
        leakedPromises();
        return { deployment, steps, failures, cancelled: cancelledNames, ms: Date.now() - start };
    }

    /**
     * `aws.ec2.getInstances` (DescribeInstances by tag): the instances EC2 holds are those of the
     * deployment the run starts from, pending deletes included (the lab's EC2 model has no
     * instance outside the state it is given); `instanceTags` must all match, and every
     * `tag:<key>` filter, one of its values (EC2 API Reference, "Filter": the values of a filter
     * are ORed, the filters ANDed; terraform-provider-aws website/docs/d/instances.html.markdown
     * shows a `tag:Name` filter); only running or stopped instances are asked for (terminated
     * ones are never in the state).
     */
    private getInstances(args: Record<string, unknown>, existing: Deployed[]): Record<string, unknown> {
        const want = (args.instanceTags as Record<string, string> | undefined) ?? {};
        const filters = (args.filters as { name: string; values: string[] }[] | undefined) ?? [];
        const states = (args.instanceStateNames as string[] | undefined) ?? [];
        if (!states.includes("running") || !states.includes("stopped")) {
            throw new Error(`getInstances: the lab answers only a lookup of running and stopped instances; got ${JSON.stringify(states)}`);
        }
        const other = filters.find((f) => !f.name.startsWith("tag:"));
        if (other !== undefined) {
            throw new Error(`getInstances: the lab answers only tag filters; got ${JSON.stringify(other)}`);
        }
        const found = existing.filter((d) => {
            if (d.type !== INSTANCE || this.lost.get(d.id) === "terminated") return false;
            const tags = (d.inputs.tags as Record<string, string> | undefined) ?? {};
            return Object.entries(want).every(([k, v]) => tags[k] === v) && filters.every((f) => f.values.includes(tags[f.name.slice("tag:".length)]));
        });
        return {
            ids: found.map((d) => d.id),
            privateIps: found.map((d) => String(d.outputs.privateIp)),
            // An instance with an Elastic IP reports it as its public address (EC2 releases the
            // address it had: "Elastic IP addresses", AWS EC2 User Guide).
            publicIps: found.map((d) => this.eips.get(d.id) ?? String(d.outputs.publicIp ?? "")),
            id: "us-east-1",
        };
    }

    /** `aws.ec2.getAmi` from `amis`: by the `name` filter's first value, else `*`. */
    private getAmi(args: Record<string, unknown>): Record<string, unknown> {
        const filters = (args.filters as { name: string; values: string[] }[] | undefined) ?? [];
        const nameFilter = filters.find((f) => f.name === "name")?.values[0];
        const id = (nameFilter !== undefined ? this.amis[nameFilter] : undefined) ?? this.amis["*"];
        if (id === undefined) throw new Error(`getAmi: the lab's AMI table has no image for ${nameFilter ?? "(no name filter)"}`);
        return { id, imageId: id, name: nameFilter ?? "", architecture: /arm64/.test(nameFilter ?? "") ? "arm64" : "x86_64" };
    }

    /**
     * step_generator.go `calculateDependentReplacements`: the old resource's transitive
     * dependents (old graph, without resources this run already registered, without parent
     * links), kept when one of their *property* dependencies is in the replace set and setting
     * those properties to unknown makes their own diff a replace. A `dependsOn` link alone has
     * no property behind it and never does. Returned in dependency order.
     */
    private dependentReplacements(root: Deployed, olds: Map<string, Deployed>, registered: Set<string>): Deployed[] {
        const replaceSet = new Set([root.urn]);
        const out: Deployed[] = [];
        const all = [...olds.values()];
        // DependingOn: every resource that directly or indirectly depends on root, dependencies
        // before dependents (graph.DependencyGraph `DependingOn` walks the state in its order,
        // which Pulumi keeps topological; this state's order is not, so sort).
        const depending = new Set<string>([root.urn]);
        const candidates: Deployed[] = [];
        for (let added = true; added; ) {
            added = false;
            for (const d of all) {
                if (depending.has(d.urn) || registered.has(d.urn)) continue;
                if (d.dependencies.some((u) => depending.has(u))) {
                    depending.add(d.urn);
                    candidates.push(d);
                    added = true;
                }
            }
        }
        const placed = new Set<string>([root.urn]);
        const ordered: Deployed[] = [];
        while (ordered.length < candidates.length) {
            const next = candidates.filter((d) => !placed.has(d.urn) && !d.dependencies.some((u) => depending.has(u) && !placed.has(u)));
            assert.ok(next.length > 0, `dependency cycle among the dependents of ${root.urn}`);
            next.forEach((d) => (placed.add(d.urn), ordered.push(d)));
        }
        for (const d of ordered) {
            if (!d.custom) continue;
            let hit = false;
            const forDiff: Record<string, unknown> = {};
            for (const [k, v] of Object.entries(d.inputs)) {
                const deps = d.propertyDependencies[k] ?? [];
                if (deps.some((u) => replaceSet.has(u))) {
                    hit = true;
                    forDiff[k] = UNKNOWN;
                } else {
                    forDiff[k] = v;
                }
            }
            if (!hit) continue;
            const diff = diffInputs(d.type, d.inputs, applyIgnoreChanges(forDiff, d.inputs, d.ignoreChanges), d.replaceOnChanges);
            if (diff.replace) {
                out.push(d);
                replaceSet.add(d.urn);
            }
        }
        return out;
    }

    /**
     * step_generator.go `ScheduleDeletes` with deployment_executor.go `performPostSteps`:
     * antichains of the condemned resources (a resource waits for every condemned resource that
     * depends on it, through dependencies or as its child), one antichain at a time, in
     * parallel within it; once a delete fails nothing more starts.
     */
    private async deleteInAntichains(condemned: Deployed[], graph: Deployed[], del: (d: Deployed) => Promise<void>): Promise<void> {
        void graph;
        let left = [...condemned];
        const dependsOn = (a: Deployed, b: Deployed) => a !== b && (a.dependencies.includes(b.urn) || a.parentUrn === b.urn);
        const rounds: Deployed[][] = [];
        while (left.length > 0) {
            // Resources none of whose condemned dependencies remain: the first antichain is the
            // bottom of the graph; reversed below.
            const round = left.filter((r) => !left.some((o) => dependsOn(r, o)));
            assert.ok(round.length > 0, `dependency cycle among ${left.map((r) => r.urn).join(", ")}`);
            rounds.push(round);
            left = left.filter((r) => !round.includes(r));
        }
        rounds.reverse();
        let failure: unknown;
        for (const round of rounds) {
            const results = await Promise.allSettled(round.map((d) => del(d)));
            const bad = results.find((r) => r.status === "rejected");
            if (bad) {
                failure = (bad as PromiseRejectedResult).reason;
                break;
            }
        }
        if (failure) throw failure;
    }

    /** `pulumi destroy`: every delete in reverse-dependency antichains; the first failure stops it (and is thrown). */
    async destroy(deployment: Deployment): Promise<Step[]> {
        const steps: Step[] = [];
        const workers = new Workers(4 * os.availableParallelism());
        let cancelled = false;
        const start = Date.now();
        await this.deleteInAntichains([...deployment.values()], [...deployment.values()], async (d) => {
            await workers.acquire();
            try {
                if (cancelled) return;
                const t = Date.now();
                try {
                    let detail: string | undefined;
                    if (d.type === REMOTE || d.type === LOCAL) await this.commandDelete(d);
                    else if (d.type === INSTANCE && d.host !== undefined) detail = await this.terminate(d);
                    else this.elbDeleted(d);
                    const isCommand = d.type === REMOTE || d.type === LOCAL;
                    if ([REMOTE, LOCAL, INSTANCE, EIP, EIP_ASSOCIATION].includes(d.type) && (!isCommand || d.inputs.delete !== undefined)) {
                        steps.push({ name: d.name, type: d.type, op: "delete", at: t - start, ms: Date.now() - t, ...(detail ? { detail } : {}) });
                    }
                } catch (e) {
                    cancelled = true;
                    steps.push({ name: d.name, type: d.type, op: "delete", at: t - start, ms: Date.now() - t, failed: true });
                    throw e;
                }
            } finally {
                workers.release();
            }
        });
        return steps;
    }
}
