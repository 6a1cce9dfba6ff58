// `npm run bench`: prints measured figures beside their goals. It asserts nothing; the
// figures are what to read (and what the README quotes).
import { spawnSync } from "child_process";
import * as path from "path";
import { labBench } from "./lab";
import { rollBench } from "./roll";
import { stackBench } from "./stack";

interface GraphFigure {
    managers: number;
    workers: number;
    resources: number;
    ms: number;
    peakRssMB: number;
    liveHeapMB: number;
}

function graph(managers: number, workers: number): GraphFigure {
    const r = spawnSync(process.execPath, ["--expose-gc", path.join(__dirname, "graph.js"), String(managers), String(workers)], { encoding: "utf8" });
    if (r.status !== 0) {
        throw new Error(`graph benchmark failed: ${r.stderr}`);
    }
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as GraphFigure;
}

const runs = 5;
console.log(`Resource graph under mocks: SwarmCluster with 3 managers + 100 workers, ${runs} runs, each in a fresh process`);
const figures = Array.from({ length: runs }, () => graph(3, 100));
const ms = figures.map((f) => f.ms).sort((a, b) => a - b);
const rss = figures.map((f) => f.peakRssMB).sort((a, b) => a - b);
const median = (xs: number[]) => xs[Math.floor(xs.length / 2)];
console.log(`  resources registered: ${figures[0].resources}`);
console.log(`  build time: median ${median(ms).toFixed(0)} ms, max ${ms[ms.length - 1].toFixed(0)} ms (goal: under 2000 ms)`);
console.log(`  peak RSS:   median ${median(rss).toFixed(0)} MB, max ${rss[rss.length - 1].toFixed(0)} MB (goal: under 300 MB)`);
const live = figures.map((f) => f.liveHeapMB).sort((a, b) => a - b);
console.log(`  live heap after GC: median ${median(live).toFixed(0)} MB (what the graph keeps; the rest of the peak is garbage not yet collected)`);
const small = graph(3, 2);
console.log(`  for scale, 3 managers + 2 workers: ${small.resources} resources, ${small.ms.toFixed(0)} ms, ${small.peakRssMB.toFixed(0)} MB`);

labBench()
    .then(() => rollBench())
    .then(() => stackBench())
    .catch((e) => {
        console.error(e);
        process.exit(1);
    });
