// Runs the repo's program (index.ts) under mocks, in its own process: Pulumi reads config
// from the PULUMI_CONFIG environment variable when the SDK loads. Prints one JSON line: the
// resources by type (PREVIEW=1: as `pulumi preview` builds them, outputs unknown), every resource with its dependencies (names) and a few plain inputs,
// and the program's stack outputs (each with whether it is a secret).
import * as pulumi from "@pulumi/pulumi";
import { GET_INSTANCES, UNKNOWN_OUTPUT, awsCalls, awsOutputs, installMocks, plain } from "./mocks";

/** Inputs the program tests read (of scripts, only the delete: what teardown runs). */
const INPUTS = ["instanceType", "subnetId", "availabilityZone", "port", "priority", "listenerArn", "targetGroupArn", "targetId", "certificateArn", "name", "delete", "tags", "policy"];

export interface RunnerRecord {
    type: string;
    name: string;
    /** What it depends on, as "<type> <name>" (names repeat across types, e.g. a route's rule and its target group). */
    dependencies: string[];
    inputs: Record<string, unknown>;
}

export interface RunnerOutput {
    value: unknown;
    secret: boolean;
}

async function main(): Promise<void> {
    const preview = process.env.PREVIEW === "1";
    // RUNNING=1: EC2 answers the cluster's lookup with an instance (a run on a running cluster).
    const calls = (token: string, inputs: Record<string, unknown>) =>
        token === GET_INSTANCES && process.env.RUNNING === "1" ? { ...awsCalls(token, inputs), ids: ["i-0123456789abcdef0"] } : awsCalls(token, inputs);
    const monitor = installMocks(awsOutputs, calls, { project: "pulumi-swarm", stack: process.env.STACK ?? "dev", preview });
    let program: Record<string, unknown>;
    try {
        program = (await import("../index")) as Record<string, unknown>;
    } catch (e) {
        // A component constructed before the error registers asynchronously: wait for every
        // registration to land before counting, or the count reads 0 whatever was built.
        await monitor.settled();
        console.log(JSON.stringify({ error: (e as Error).message, registered: monitor.records.length }));
        return;
    }
    await monitor.settled();
    const counts: Record<string, number> = {};
    for (const r of monitor.records) {
        counts[r.type] = (counts[r.type] ?? 0) + 1;
    }
    const instanceTypes = monitor.ofType("aws:ec2/instance:Instance").map((r) => `${r.name}=${String(r.inputs.instanceType)}`);
    const byUrn = new Map(monitor.records.map((r) => [r.urn, `${r.type} ${r.name}`]));
    const records: RunnerRecord[] = monitor.records.map((r) => ({
        type: r.type,
        name: r.name,
        dependencies: r.dependencyUrns.map((u) => byUrn.get(u) ?? u),
        inputs: Object.fromEntries(INPUTS.filter((k) => r.inputs[k] !== undefined).map((k) => [k, plain(r.inputs[k])])),
    }));
    const outputs: Record<string, RunnerOutput> = {};
    for (const [k, v] of Object.entries(program)) {
        if (pulumi.Output.isInstance(v)) {
            const secret = await pulumi.isSecret(v);
            // Under preview most outputs are unknown, and apply never runs on an unknown value.
            const known = await (v as unknown as { isKnown: Promise<boolean> }).isKnown;
            outputs[k] = { value: known ? await new Promise((resolve) => v.apply((x) => resolve(x ?? null))) : UNKNOWN_OUTPUT, secret };
        }
    }
    console.log(JSON.stringify({ counts, instanceTypes, names: monitor.records.map((r) => r.name), records, outputs }));
}

void main();
