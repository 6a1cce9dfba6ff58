// One measurement, in its own process so its peak memory is its own: builds the whole
// SwarmCluster graph under the SDK's own mocks (pulumi.runtime.setMocks, nothing recorded
// beyond a count) and prints a JSON line with the time and peak RSS.
import * as pulumi from "@pulumi/pulumi";
import { awsCalls, awsOutputs } from "../test/mocks";

async function main(): Promise<void> {
    const managers = Number(process.argv[2] ?? 3);
    const workers = Number(process.argv[3] ?? 100);
    let registered = 0;
    let pending = 0;
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                pending++;
                try {
                    registered++;
                    return { id: `${args.name}-id`, state: { ...args.inputs, ...awsOutputs(args.type, args.name, args.inputs) } };
                } finally {
                    pending--;
                }
            },
            call: (args) => {
                const r = awsCalls(args.token, args.inputs);
                if (!r) {
                    throw new Error(`Mock not implemented: ${args.token}`);
                }
                return r;
            },
        },
        "project",
        "stack",
        false,
    );
    const { SwarmCluster } = await import("../components");
    const start = process.hrtime.bigint();
    new SwarmCluster("bench", { adminCidrBlocks: ["203.0.113.0/24"], managerCount: managers, workerCount: workers });
    // Done when no registration has happened for 20 turns of the event loop.
    let quiet = 0;
    let seen = -1;
    let last = start;
    while (quiet < 20) {
        await new Promise((r) => setImmediate(r));
        if (pending === 0 && registered === seen) {
            quiet++;
        } else {
            quiet = 0;
            seen = registered;
            last = process.hrtime.bigint();
        }
    }
    const ms = Number(last - start) / 1e6;
    const rssMB = process.resourceUsage().maxRSS / 1024;
    // After the peak is read: what the graph itself keeps alive, once garbage is collected.
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const liveHeapMB = process.memoryUsage().heapUsed / 1048576;
    console.log(JSON.stringify({ managers, workers, resources: registered, ms, peakRssMB: rssMB, liveHeapMB }));
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
