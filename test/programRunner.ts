// Runs the repo's program (index.ts) under mocks, in its own process: Pulumi reads config
// from the PULUMI_CONFIG environment variable when the SDK loads. Prints one JSON line.
import { awsCalls, awsOutputs, installMocks } from "./mocks";

async function main(): Promise<void> {
    const monitor = installMocks(awsOutputs, awsCalls, { project: "pulumi-swarm", stack: process.env.STACK ?? "dev" });
    try {
        await import("../index");
    } catch (e) {
        console.log(JSON.stringify({ error: (e as Error).message }));
        return;
    }
    await monitor.settled();
    const counts: Record<string, number> = {};
    for (const r of monitor.records) {
        counts[r.type] = (counts[r.type] ?? 0) + 1;
    }
    const instanceTypes = monitor.ofType("aws:ec2/instance:Instance").map((r) => `${r.name}=${String(r.inputs.instanceType)}`);
    console.log(JSON.stringify({ counts, instanceTypes, names: monitor.records.map((r) => r.name) }));
}

void main();
