import * as pulumi from "@pulumi/pulumi";
import { SwarmArgumentError, SwarmArgumentErrors, throwIfAny } from "./errors";
import { SwarmHost, validateSwarmHosts } from "./swarmBootstrap";
import { ExternalRegistryTarget } from "./target";

/** The fields of HostSwarmArgs that validation reads (see hostSwarm.ts for their docs). */
export interface HostSwarmValidationInput {
    readonly hosts: readonly SwarmHost[];
    readonly privateKey?: pulumi.Input<string>;
    readonly registry?: ExternalRegistryTarget;
    readonly dockerReadyTimeoutSeconds?: number;
    readonly drainTimeoutSeconds?: number;
    readonly sshDialErrorLimit?: number;
}

const isKnown = <T>(v: pulumi.Input<T> | undefined): v is T => v !== undefined && !pulumi.Output.isInstance(v) && !(v instanceof Promise);

/**
 * Checks a swarm on hosts you already have before anything is created: the host list as the
 * bootstrap checks it (keys, roles, unique private addresses, 1/3/5/7 managers), then what only
 * hosts given by hand can get wrong: SSH addresses and ports (two entries reaching one machine),
 * users, a private key for every host, the registry and the timeouts. Values that are still
 * Outputs are skipped. All problems are thrown at once.
 */
export function validateHostSwarmArgs(args: HostSwarmValidationInput): void {
    const problems: SwarmArgumentError[] = [];
    try {
        validateSwarmHosts(args.hosts);
    } catch (e) {
        if (e instanceof SwarmArgumentErrors) {
            problems.push(...e.problems);
        } else if (e instanceof SwarmArgumentError) {
            problems.push(e);
        } else {
            throw e;
        }
    }
    const hosts = Array.isArray(args.hosts) ? args.hosts : [];
    const endpoints = new Map<string, string>();
    const sharedKeyMissing = args.privateKey === undefined;
    const keyless: number[] = [];
    hosts.forEach((h, i) => {
        if (isKnown(h.sshHost) && (typeof h.sshHost !== "string" || h.sshHost.trim() === "")) {
            problems.push(new SwarmArgumentError(`hosts[${i}].sshHost`, h.sshHost, 'must be the address SSH reaches the host at, such as "203.0.113.10" or "node-1.example.com"'));
        }
        const port = h.sshPort ?? 22;
        const portKnown = isKnown(port);
        if (portKnown && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
            problems.push(new SwarmArgumentError(`hosts[${i}].sshPort`, port, "must be a whole number from 1 to 65535, the port the host's sshd listens on (leave it out for 22)"));
        }
        if (isKnown(h.sshUser) && (typeof h.sshUser !== "string" || h.sshUser.trim() === "")) {
            problems.push(new SwarmArgumentError(`hosts[${i}].sshUser`, h.sshUser, 'must name the SSH user, root or one with password-less sudo, such as "ubuntu"'));
        } else if (h.sshUser === undefined) {
            problems.push(new SwarmArgumentError(`hosts[${i}].sshUser`, undefined, 'must name the SSH user, root or one with password-less sudo, such as "ubuntu"'));
        }
        if (typeof h.sshHost === "string" && h.sshHost.trim() !== "" && portKnown) {
            const endpoint = `${h.sshHost}:${port}`;
            const other = endpoints.get(endpoint);
            if (other !== undefined) {
                problems.push(
                    new SwarmArgumentError(
                        `hosts[${i}].sshHost and sshPort`,
                        endpoint,
                        `must be unique: host "${other}" is reached at the same address and port, so both entries would be one machine; give each host its own address or port`,
                    ),
                );
            } else {
                endpoints.set(endpoint, h.key);
            }
        }
        if (h.privateKey === undefined) {
            keyless.push(i);
        } else if (isKnown(h.privateKey) && String(h.privateKey).trim() === "") {
            // Only an empty key is echoed: a key's text never goes into a message.
            problems.push(new SwarmArgumentError(`hosts[${i}].privateKey`, "", "must be an SSH private key (OpenSSH or PEM) that this host accepts, or left out to use privateKey"));
        }
    });
    if (sharedKeyMissing && hosts.length > 0 && keyless.length === hosts.length) {
        problems.push(
            new SwarmArgumentError("privateKey", undefined, "must be given (an SSH private key, OpenSSH or PEM, as a secret) unless every host has its own privateKey: the bootstrap connects to each host over SSH with it"),
        );
    } else if (sharedKeyMissing) {
        for (const i of keyless) {
            problems.push(new SwarmArgumentError(`hosts[${i}].privateKey`, undefined, "must be given, since privateKey (the key for every host) is not: the bootstrap connects to this host over SSH with it"));
        }
    } else if (isKnown(args.privateKey) && String(args.privateKey).trim() === "") {
        problems.push(new SwarmArgumentError("privateKey", "", "must be an SSH private key (OpenSSH or PEM) that every host accepts"));
    }
    const reg = args.registry;
    if (reg !== undefined) {
        if (reg.kind !== "external") {
            problems.push(
                new SwarmArgumentError(
                    "registry.kind",
                    reg.kind,
                    'must be "external" (a registry you run, by address): ECR needs an AWS account and nodes with an instance role; use SwarmCluster for ECR',
                ),
            );
        }
        if (typeof reg.address !== "string" || !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(reg.address)) {
            problems.push(new SwarmArgumentError("registry.address", reg.address, 'must be host[:port] of the registry, such as "registry.example.com" or "10.0.0.5:5000"'));
        }
        if (reg.password !== undefined && reg.username === undefined) {
            problems.push(new SwarmArgumentError("registry.username", undefined, "must be given with registry.password (the deploy logs in as this user)"));
        }
    }
    const whole = (field: string, v: number | undefined, min: number, rule: string) => {
        if (v !== undefined && !(Number.isInteger(v) && v >= min)) {
            problems.push(new SwarmArgumentError(field, v, rule));
        }
    };
    whole("dockerReadyTimeoutSeconds", args.dockerReadyTimeoutSeconds, 1, "must be a whole number of seconds, 1 or more (how long each command waits for Docker on its host)");
    whole("drainTimeoutSeconds", args.drainTimeoutSeconds, 0, "must be a whole number of seconds, 0 or more (how long a removed node's tasks get to move)");
    whole("sshDialErrorLimit", args.sshDialErrorLimit, 1, "must be a whole number, 1 or more (failed SSH dials each command accepts)");
    throwIfAny(problems);
}
