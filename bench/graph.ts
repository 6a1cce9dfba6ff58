// One measurement, in its own process so its peak memory is its own: builds the whole
// SwarmCluster graph under mocks and prints a JSON line with the time and peak RSS.
import { awsCalls, awsOutputs, installMocks } from "../test/mocks";

async function main(): Promise<void> {
    const managers = Number(process.argv[2] ?? 3);
    const workers = Number(process.argv[3] ?? 100);
    const monitor = installMocks(awsOutputs, awsCalls);
    const { SwarmCluster } = await import("../components");
    const start = process.hrtime.bigint();
    new SwarmCluster("bench", { adminCidrBlocks: ["203.0.113.0/24"], managerCount: managers, workerCount: workers });
    await monitor.settled();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const rssMB = process.resourceUsage().maxRSS / 1024;
    // After the peak is read: what the graph itself keeps alive, once garbage is collected.
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const liveHeapMB = process.memoryUsage().heapUsed / 1048576;
    console.log(JSON.stringify({ managers, workers, resources: monitor.records.length, ms, peakRssMB: rssMB, liveHeapMB }));
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
