/**
 * The mock layer: `pulumi.runtime` runs against a monitor that records every resource the
 * components register (type, name, inputs with their secret markers, dependencies, options)
 * and every invoke (token, arguments, provider), and answers invokes from a table. Unknown
 * invokes throw `Mock not implemented: <token>`.
 *
 * Resource outputs come from `outputsFor`; in preview mode only inputs come back, so every
 * computed output (instance addresses, command stdout) is unknown, as in `pulumi preview`.
 * As the engine does, the outputs a resource names in `additionalSecretOutputs` come back
 * as secrets.
 */
import * as pulumi from "@pulumi/pulumi";

// The SDK's mock monitor and settings are internal modules; their shapes are pinned by the
// exact @pulumi/pulumi version in package.json.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const state = require("@pulumi/pulumi/runtime/state");

export interface Recorded {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    /** Inputs as the engine would get them: secrets are still wrapped. */
    inputs: Record<string, unknown>;
    /** Names of the resources this one depends on (dependsOn and inputs), once settled. */
    dependencies: string[];
    /** The same, as URNs (names repeat across types; URNs do not). */
    readonly dependencyUrns: string[];
    readonly parentUrn: string;
    readonly deleteBeforeReplace: boolean;
    readonly ignoreChanges: string[];
    readonly additionalSecretOutputs: string[];
    readonly customTimeouts?: { create: string; update: string; delete: string };
    /** protect, as sent (a child inherits its parent's). */
    readonly protect: boolean;
    readonly retainOnDelete: boolean;
    readonly replaceOnChanges: string[];
    /** The URN of the resource this one is deleted with ("" for none). */
    readonly deletedWith: string;
    /** Aliases, each as a URN or as the spec's fields that are set. */
    readonly aliases: RecordedAlias[];
    /** The provider reference (`<urn>::<id>`) the resource is registered with; "" for the default provider. */
    readonly provider: string;
    /** Outputs as the engine returns them: those in additionalSecretOutputs are secret. */
    outputs: Record<string, unknown>;
}

export interface RecordedAlias {
    urn?: string;
    name?: string;
    type?: string;
    stack?: string;
    project?: string;
    parentUrn?: string;
    noParent?: boolean;
}

/** One invoke (a data source such as aws.ec2.getAmi), as the engine receives it. */
export interface RecordedInvoke {
    readonly token: string;
    /** Arguments with their secret markers. */
    readonly args: Record<string, unknown>;
    /** The provider reference (`<urn>::<id>`) the invoke goes to; "" for the default provider. */
    readonly provider: string;
}

/** What the engine learns from a registration besides its inputs (test/lab/engine.ts uses it). */
export interface Registration {
    readonly urn: string;
    readonly custom: boolean;
    readonly parentUrn: string;
    /** URNs of every dependency (dependsOn and inputs). */
    readonly dependencies: string[];
    /** Per input property, the URNs its value came from. */
    readonly propertyDependencies: Record<string, string[]>;
    /** The resource option; undefined when the program left it unset. */
    readonly deleteBeforeReplace?: boolean;
    readonly ignoreChanges: string[];
    readonly replaceOnChanges: string[];
}

/**
 * Outputs for one registration. An `id` among them becomes the resource's ID (default
 * `<name>-id`) and is not an output.
 */
export type OutputsFor = (
    type: string,
    name: string,
    inputs: Record<string, unknown>,
    registration: Registration,
) => Record<string, unknown> | Promise<Record<string, unknown>>;
export type CallFor = (token: string, inputs: Record<string, unknown>) => Record<string, unknown> | undefined;

/** Is this value a secret as the engine receives it? */
export function isSecretValue(v: unknown): boolean {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;
}

/** Removes secret wrappers, recursively, to read plain values. */
export function plain<T = unknown>(v: unknown): T {
    if (pulumi.isUnknown(v)) {
        return v as T;
    }
    if (isSecretValue(v)) {
        return plain((v as { value: unknown }).value);
    }
    if (Array.isArray(v)) {
        return v.map((x) => plain(x)) as T;
    }
    if (typeof v === "object" && v !== null) {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) as T;
    }
    return v as T;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function aliasOf(a: any): RecordedAlias {
    if (a.hasUrn()) {
        return { urn: a.getUrn() };
    }
    const spec = a.getSpec();
    const out: RecordedAlias = {};
    if (spec.getName() !== "") out.name = spec.getName();
    if (spec.getType() !== "") out.type = spec.getType();
    if (spec.getStack() !== "") out.stack = spec.getStack();
    if (spec.getProject() !== "") out.project = spec.getProject();
    if (spec.getParenturn() !== "") out.parentUrn = spec.getParenturn();
    if (spec.getNoparent()) out.noParent = true;
    return out;
}

/** Marks the named properties of a serialized object secret, as the engine does for additionalSecretOutputs. */
function withSecretOutputs(serialized: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
    const out = { ...serialized };
    for (const k of names) {
        if (k in out && !isSecretValue(out[k])) {
            out[k] = { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: out[k] };
        }
    }
    return out;
}

export class RecordingMonitor extends MockMonitor {
    public readonly records: Recorded[] = [];
    public readonly invokes: RecordedInvoke[] = [];
    private pending = 0;
    private readonly urnToName = new Map<string, string>();
    /** The registration being handed to newResource (the SDK's MockMonitor calls it synchronously). */
    private current: Registration | undefined;

    constructor(outputsFor: OutputsFor, callFor: CallFor, private readonly preview: boolean) {
        super({
            newResource: async (args: pulumi.runtime.MockResourceArgs) => {
                const registration = this.current as Registration;
                this.current = undefined;
                const result: Record<string, unknown> = this.preview ? {} : await outputsFor(args.type, args.name, args.inputs, registration);
                const { id, ...outputs } = result;
                return { id: this.preview ? undefined : typeof id === "string" ? id : `${args.name}-id`, state: { ...args.inputs, ...outputs } };
            },
            call: (args: pulumi.runtime.MockCallArgs) => {
                const result = callFor(args.token, args.inputs);
                if (result === undefined) {
                    throw new Error(`Mock not implemented: ${args.token}`);
                }
                return result;
            },
        });
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async registerResource(req: any, callback: (err: any, resp: any) => void): Promise<void> {
        this.pending++;
        const type: string = req.getType();
        const name: string = req.getName();
        const timeouts = req.getCustomtimeouts?.();
        const record: Recorded = {
            type,
            name,
            urn: "",
            inputs: {},
            dependencies: req.getDependenciesList(),
            dependencyUrns: req.getDependenciesList(),
            parentUrn: req.getParent(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
            ignoreChanges: req.getIgnorechangesList(),
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            customTimeouts: timeouts ? { create: timeouts.getCreate(), update: timeouts.getUpdate(), delete: timeouts.getDelete() } : undefined,
            protect: req.getProtect() ?? false,
            retainOnDelete: req.getRetainondelete() ?? false,
            replaceOnChanges: req.getReplaceonchangesList(),
            deletedWith: req.getDeletedwith(),
            aliases: [...req.getAliasurnsList().map((urn: string) => ({ urn })), ...req.getAliasesList().map(aliasOf)],
            provider: req.getProvider(),
            outputs: {},
        };
        try {
            // Keep secret markers in the record: deserialize without unwrapping.
            record.inputs = pulumi.runtime.deserializeProperties(req.getObject(), true);
            const propertyDependencies: Record<string, string[]> = {};
            // eslint-disable-next-line @typescript-eslint/no-explicit-any
            req.getPropertydependenciesMap().forEach((v: any, k: string) => (propertyDependencies[k] = v.getUrnsList()));
            this.current = {
                // eslint-disable-next-line @typescript-eslint/no-explicit-any
                urn: (this as any).newUrn(req.getParent(), type, name),
                custom: req.getCustom(),
                parentUrn: req.getParent(),
                dependencies: req.getDependenciesList(),
                propertyDependencies,
                deleteBeforeReplace: req.getDeletebeforereplacedefined() ? req.getDeletebeforereplace() : undefined,
                ignoreChanges: req.getIgnorechangesList(),
                replaceOnChanges: req.getReplaceonchangesList(),
            };
            // eslint-disable-next-line @typescript-eslint/no-explicit-any
            await super.registerResource(req, (err: unknown, resp: any) => {
                if (resp) {
                    if (record.additionalSecretOutputs.length > 0) {
                        // The response's own Struct class: the protobuf module the SDK loaded.
                        const struct = resp.getObject();
                        resp.setObject(struct.constructor.fromJavaScript(withSecretOutputs(struct.toJavaScript(), record.additionalSecretOutputs)));
                    }
                    (record as { urn: string }).urn = resp.getUrn();
                    record.outputs = pulumi.runtime.deserializeProperties(resp.getObject() as never, true);
                    this.urnToName.set(resp.getUrn(), name);
                    this.records.push(record);
                }
                callback(err, resp);
            });
        } finally {
            this.pending--;
        }
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    async invoke(req: any, callback: (err: any, resp: any) => void): Promise<void> {
        this.invokes.push({ token: req.getTok(), args: pulumi.runtime.deserializeProperties(req.getArgs(), true), provider: req.getProvider() });
        await super.invoke(req, callback);
    }

    /** The invokes of this token, in the order they were made. */
    invokesOf(token: string): RecordedInvoke[] {
        return this.invokes.filter((i) => i.token === token);
    }

    /** Waits until no registration is in flight and none has started for a few turns. */
    async settled(): Promise<void> {
        let quiet = 0;
        let seen = -1;
        while (quiet < 20) {
            // While a registration is in flight (a real command may take seconds), poll gently.
            await new Promise((r) => (this.pending > 0 ? setTimeout(r, 20) : setImmediate(r)));
            if (this.pending === 0 && this.records.length === seen) {
                quiet++;
            } else {
                quiet = 0;
                seen = this.records.length;
            }
        }
        for (const r of this.records) {
            r.dependencies = r.dependencyUrns.map((u) => this.urnToName.get(u) ?? u);
        }
    }

    /** The resource of this name (and type, when names repeat across types). */
    named(name: string, type?: string): Recorded {
        const r = this.records.find((x) => x.name === name && (type === undefined || x.type === type));
        if (!r) {
            throw new Error(`no resource named ${name}${type ? ` of type ${type}` : ""}; have: ${this.records.map((x) => x.name).join(", ")}`);
        }
        return r;
    }

    ofType(type: string): Recorded[] {
        return this.records.filter((r) => r.type === type);
    }
}

/** Installs a recording monitor as the Pulumi runtime's monitor. */
export function installMocks(outputsFor: OutputsFor, callFor: CallFor, opts: { preview?: boolean; project?: string; stack?: string } = {}): RecordingMonitor {
    const monitor = new RecordingMonitor(outputsFor, callFor, opts.preview ?? false);
    settings.setMockOptions(monitor, opts.project ?? "project", opts.stack ?? "stack", opts.preview ?? false);
    const store = state.getStore();
    store.supportsSecrets = true;
    store.supportsResourceReferences = true;
    store.supportsOutputValues = false;
    store.supportsDeletedWith = true;
    store.supportsAliasSpecs = true;
    store.supportsTransforms = false;
    return monitor;
}

/** The value of an Output (never resolves for an unknown one: use only where it is known). */
export function unwrap<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply((v) => resolve(v)));
}

/** AWS-shaped fake outputs for the cluster's resources, deterministic per name. */
export function awsOutputs(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    const n = [...name].reduce((a, c) => (a * 31 + c.charCodeAt(0)) % 250, 7) + 1;
    switch (type) {
        case "aws:ec2/instance:Instance":
            return { publicIp: `198.51.100.${n}`, privateIp: `10.0.${n % 8}.${n}`, arn: `arn:aws:ec2:::instance/${name}` };
        case "aws:ec2/eip:Eip":
            return { publicIp: `203.0.113.${n}`, allocationId: `eipalloc-${name}` };
        case "aws:ec2/keyPair:KeyPair":
            return { keyName: name };
        case "aws:iam/role:Role":
            return { name, arn: `arn:aws:iam::123456789012:role/${name}` };
        case "aws:iam/instanceProfile:InstanceProfile":
            return { name, arn: `arn:aws:iam::123456789012:instance-profile/${name}` };
        case "tls:index/privateKey:PrivateKey":
            return {
                privateKeyOpenssh: "-----BEGIN OPENSSH PRIVATE KEY-----\nFAKE\n-----END OPENSSH PRIVATE KEY-----\n",
                publicKeyOpenssh: "ssh-ed25519 AAAAFAKE",
            };
        case "command:remote:Command":
            if (name.endsWith("-init")) {
                return {
                    stdout: JSON.stringify({
                        clusterId: "clusterabc123",
                        nodeId: "leader0node",
                        workerToken: "SWMTKN-1-fakeworker",
                        managerToken: "SWMTKN-1-fakemanager",
                    }),
                    stderr: "",
                };
            }
            if (/-join-/.test(name)) {
                return { stdout: JSON.stringify({ nodeId: name.replace(/.*-join-/, "").replace(/-/g, "") + "node" }), stderr: "" };
            }
            if (name.endsWith("-deploy")) {
                return { stdout: JSON.stringify({ stack: name.replace(/-deploy$/, ""), services: [] }), stderr: "" };
            }
            return { stdout: "", stderr: "" };
        case "command:local:Command": {
            // An image build prints the pushed image by digest; its first line names the ref.
            const ref = /^# pulumi-swarm: build and push (\S+):[^:/\s]+$/m.exec(String(inputs.create ?? ""));
            const digest = [...name].map((c) => c.charCodeAt(0).toString(16)).join("").padEnd(64, "0").slice(0, 64);
            return { stdout: ref ? `${ref[1]}@sha256:${digest}\n` : "", stderr: "" };
        }
        // The load balancer's resources, as test/cluster/loadBalancer.test.ts has them.
        case "aws:lb/loadBalancer:LoadBalancer":
            return {
                arn: `arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/${String(inputs.name)}/50dc6c495c0c9188`,
                dnsName: `${String(inputs.name)}-1234567890.us-east-1.elb.amazonaws.com`,
                zoneId: "Z35SXDOTRQ7X7K",
            };
        case "aws:lb/listener:Listener":
            return { arn: `arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/${name}/50dc6c495c0c9188/f2f7dc8efc522ab2` };
        case "aws:lb/targetGroup:TargetGroup":
            return { arn: `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${String(inputs.name)}/73e2d6bc24d8a067` };
        case "aws:ecr/repository:Repository":
            return {
                name: inputs.name,
                registryId: "123456789012",
                repositoryUrl: `123456789012.dkr.ecr.us-east-1.amazonaws.com/${String(inputs.name)}`,
                arn: `arn:aws:ecr:us-east-1:123456789012:repository/${String(inputs.name)}`,
            };
        default:
            return {};
    }
}

/** How test/programRunner.ts prints an output that is unknown (under preview). */
export const UNKNOWN_OUTPUT = "<unknown until applied>";

export const AWS_ZONES = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"];

/** Canonical's AWS account, which owns the official Ubuntu AMIs (written here, not imported). */
export const CANONICAL = "099720109477";

/**
 * The images the fake getAmi chooses from: Canonical's Ubuntu 24.04 server images for both
 * architectures (an older and a newer build of each), and look-alikes a wrong query would
 * pick: Ubuntu 22.04, the gp2 (hvm-ssd) 24.04 build, a Pro image and an image of the same
 * name in another account, each newer than the right one.
 */
export const AMI_CATALOGUE: readonly { id: string; ownerId: string; name: string; architecture: string; virtualizationType: string; creationDate: string }[] = [
    { id: "ami-0a0a0a0a0a0a0a0a0", ownerId: CANONICAL, name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250115", architecture: "x86_64", virtualizationType: "hvm", creationDate: "2025-01-15T00:00:00.000Z" },
    { id: "ami-0123456789abcdef0", ownerId: CANONICAL, name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250610", architecture: "x86_64", virtualizationType: "hvm", creationDate: "2025-06-10T00:00:00.000Z" },
    { id: "ami-0b0b0b0b0b0b0b0b0", ownerId: CANONICAL, name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20250115", architecture: "arm64", virtualizationType: "hvm", creationDate: "2025-01-15T00:00:00.000Z" },
    { id: "ami-0fedcba9876543210", ownerId: CANONICAL, name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20250610", architecture: "arm64", virtualizationType: "hvm", creationDate: "2025-06-10T00:00:00.000Z" },
    { id: "ami-0c0c0c0c0c0c0c0c0", ownerId: CANONICAL, name: "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20250701", architecture: "x86_64", virtualizationType: "hvm", creationDate: "2025-07-01T00:00:00.000Z" },
    { id: "ami-0d0d0d0d0d0d0d0d0", ownerId: CANONICAL, name: "ubuntu/images/hvm-ssd/ubuntu-noble-24.04-amd64-server-20250701", architecture: "x86_64", virtualizationType: "hvm", creationDate: "2025-07-01T00:00:00.000Z" },
    { id: "ami-0e0e0e0e0e0e0e0e0", ownerId: CANONICAL, name: "ubuntu-pro-server/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-pro-server-20250701", architecture: "x86_64", virtualizationType: "hvm", creationDate: "2025-07-01T00:00:00.000Z" },
    { id: "ami-0f0f0f0f0f0f0f0f0", ownerId: "111122223333", name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250801", architecture: "x86_64", virtualizationType: "hvm", creationDate: "2025-08-01T00:00:00.000Z" },
];

/** An EC2 filter value: '*' is any run of characters, '?' one character. */
function globMatches(pattern: string, value: string): boolean {
    const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
    return new RegExp(`^${re}$`).test(value);
}

/**
 * getAmi as EC2 answers it over AMI_CATALOGUE: owners (account IDs) and filters (name,
 * architecture, virtualization-type; values are globs, any value of a filter and every
 * filter must match), then the newest when mostRecent, else an error unless one matches.
 */
function getAmi(inputs: Record<string, unknown>): Record<string, unknown> {
    const owners = (inputs.owners as string[] | undefined) ?? [];
    const filters = (inputs.filters as { name: string; values: string[] }[] | undefined) ?? [];
    const field: Record<string, "name" | "architecture" | "virtualizationType"> = { name: "name", architecture: "architecture", "virtualization-type": "virtualizationType" };
    for (const f of filters) {
        if (!(f.name in field)) {
            throw new Error(`Mock not implemented: getAmi filter ${f.name}`);
        }
    }
    const found = AMI_CATALOGUE.filter(
        (a) => (owners.length === 0 || owners.includes(a.ownerId)) && filters.every((f) => f.values.some((v) => globMatches(v, a[field[f.name]]))),
    ).sort((a, b) => b.creationDate.localeCompare(a.creationDate));
    if (found.length === 0) {
        throw new Error("Your query returned no results. Please change your search criteria and try again.");
    }
    if (found.length > 1 && inputs.mostRecent !== true) {
        throw new Error("Your query returned more than one result. Please try more specific search criteria, or set `most_recent` attribute to true.");
    }
    const ami = found[0];
    return { ...ami, imageId: ami.id, mostRecent: inputs.mostRecent ?? false };
}

/** The lookup of a cluster's instances in EC2 (by its tag): whether the cluster runs already. */
export const GET_INSTANCES = "aws:ec2/getInstances:getInstances";

/** An instance EC2 holds in the account and region, whichever stack made it. */
export interface HeldInstance {
    readonly id: string;
    readonly privateIp: string;
    readonly publicIp: string;
    readonly tags: Record<string, string>;
}

/**
 * EC2's answer to `getInstances` over the instances it holds: every `instanceTags` pair must
 * match, and every `tag:<key>` filter one of its values (EC2 API Reference, "Filter": a
 * filter's values are ORed, the filters ANDed). Other filters are refused.
 */
export function ec2Lookup(held: readonly HeldInstance[], inputs: Record<string, unknown>): Record<string, unknown> {
    const want = (inputs.instanceTags as Record<string, string> | undefined) ?? {};
    const filters = (inputs.filters as { name: string; values: string[] }[] | undefined) ?? [];
    for (const f of filters) {
        if (!f.name.startsWith("tag:")) throw new Error(`ec2Lookup: only tag filters are modelled; got ${f.name}`);
    }
    const found = held.filter(
        (i) => Object.entries(want).every(([k, v]) => i.tags[k] === v) && filters.every((f) => f.values.includes(i.tags[f.name.slice("tag:".length)])),
    );
    return { ids: found.map((i) => i.id), privateIps: found.map((i) => i.privateIp), publicIps: found.map((i) => i.publicIp), ipv6Addresses: [], id: "us-east-1" };
}

export function awsCalls(token: string, inputs: Record<string, unknown> = {}): Record<string, unknown> | undefined {
    switch (token) {
        case "aws:index/getAvailabilityZones:getAvailabilityZones":
            return { names: AWS_ZONES, zoneIds: AWS_ZONES.map((z) => z + "-id"), id: "us-east-1" };
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/test", userId: "AIDATEST", id: "123456789012" };
        case "aws:index/getRegion:getRegion":
            return { region: "us-east-1", name: "us-east-1", id: "us-east-1", description: "US East (N. Virginia)", endpoint: "ec2.us-east-1.amazonaws.com" };
        case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws", id: "aws" };
        case "aws:ec2/getAmi:getAmi":
            return getAmi(inputs);
        case GET_INSTANCES:
            // EC2 holds no instance of the cluster: a new one (tests of a running cluster answer
            // with their instances, see the cluster tests' `running`).
            return { ids: [], privateIps: [], publicIps: [], ipv6Addresses: [], id: "us-east-1" };
        case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                userName: "AWS",
                password: "ecr-token-not-a-real-one",
                proxyEndpoint: "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
                authorizationToken: "QVdTOmVjci10b2tlbg==",
                expiresAt: "2026-11-23T00:00:00Z",
                id: "123456789012",
            };
        default:
            return undefined;
    }
}
