// `npm run lab:scenarios`: what a routine `pulumi up` does to a running cluster, shown in the lab
// under the faithful engine (engine.ts). SwarmCluster with 3 managers + 2 workers and stacks/web
// deployed, then one change per scenario:
//   (a) getAmi returns a newer AMI on the second run;
//   (b) managerInstanceType changes;
//   (c) manager-0's instance is replaced (`pulumi up --replace <its URN>`);
//   (d) manager-1's instance is replaced;
//   (e) amiId is set to a newer AMI (the way the README gives to roll the nodes to it);
//   (f) dockerVersion changes (the nodes' user data);
//   (g) manager-0's machine dies (LabEngine.lose, EC2 still listing it), then --replace of it.
// For each: the ordered operations, whether the run failed and how, and afterwards the cluster
// ID on every live node, `docker node ls` on every live manager and the stack's services.
// It reports; it asserts no outcome (the lab suites assert them). SCENARIOS=ce runs only (c), (e).
//
// Hosts: lab-1 is the build machine (local commands' DOCKER_HOST); lab-2..lab-11 are the EC2
// pool (managers first on lab-2..4, workers on lab-5..6, the rest spare for replacements).
import type { SwarmCluster as SwarmClusterType } from "../../components";
import { Deployment, LabEngine, UpResult, freshHost, placeByRole } from "./engine";
import { labWebImage } from "./images";
import { Lab, labUnavailableReason, startLab } from "./lab";
import { WEB_COMPOSE, labClusterArgs, labWebVariables } from "./swarmChecks";
import { until } from "./until";

const AMI_NAME = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*";
const OLD_AMI = "ami-0aaaaaaaaaaaaaaa1";
const NEW_AMI = "ami-0bbbbbbbbbbbbbbb2";
const BUILDER = 0;

interface Change {
    managerInstanceType?: string;
    amiId?: string;
    dockerVersion?: string;
}

function program(lab: Lab, image: string, change: Change) {
    return async () => {
        const { SwarmCluster, SwarmStack } = await import("../../components");
        const cluster: SwarmClusterType = new SwarmCluster("lab", {
            ...labClusterArgs(lab),
            managerInstanceType: change.managerInstanceType,
            amiId: change.amiId,
            dockerVersion: change.dockerVersion,
            registry: { kind: "external", address: lab.registry },
        });
        new SwarmStack("web", {
            target: cluster.stackTarget,
            composeFile: WEB_COMPOSE,
            variables: labWebVariables(image, "1"),
            convergeTimeoutSeconds: 60,
        });
    };
}

function describeRun(r: UpResult): string[] {
    const out = r.steps.map((s, i) => `  ${String(i + 1).padStart(2)}. ${s.op} ${s.name}${s.detail ? ` (${s.detail})` : ""}${s.failed ? " FAILED" : ""}`);
    if (r.failures.length === 0) {
        out.push("  run: succeeded");
    } else {
        out.push(`  run: FAILED (${r.failures.length} failure${r.failures.length > 1 ? "s" : ""})`);
        for (const f of r.failures) {
            // The provider's message holds the whole script; its last lines are what it said.
            const said = f.message.split("\n").filter((l) => l.trim() !== "");
            const head = said[0].length > 160 ? `${said[0].slice(0, 160)}...` : said[0];
            out.push(`    ${f.name}: ${head}`);
            for (const l of said.slice(1).slice(-4)) out.push(`      | ${l}`);
        }
        if (r.cancelled.length > 0) out.push(`  cancelled (never started): ${r.cancelled.join(", ")}`);
    }
    return out;
}

/** Which instance of the state runs on each lab host ("lab-manager-0", or "... (pending delete)"). */
function instancesByHost(d: Deployment): Map<number, string> {
    const m = new Map<number, string>();
    for (const x of d.values()) {
        if (x.type === "aws:ec2/instance:Instance" && x.host !== undefined) m.set(x.host, `${x.name}${x.pendingDelete ? " (replaced, pending delete)" : ""}`);
    }
    return m;
}

async function afterwards(lab: Lab, pool: number[], d: Deployment): Promise<string[]> {
    const out: string[] = [];
    const managers: number[] = [];
    const held = instancesByHost(d);
    for (const h of pool) {
        const name = lab.hosts[h].name;
        const inState = held.get(h);
        const r = await lab.exec(
            h,
            "timeout 10 docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{if .Swarm.Cluster}}{{.Swarm.Cluster.ID}}{{end}}'",
        );
        const label = `  ${name} (${lab.hosts[h].privateAddress}${inState ? `, ${inState}` : ", no instance in the state"})`;
        if (r.code !== 0) {
            // Every pool host runs at the start of a scenario: a stopped engine was terminated.
            if (inState || (await lab.exec(h, "test -s /run/docker.pid")).code !== 0) out.push(`${label}: dockerd stopped (instance terminated)`);
            continue;
        }
        const [state, control, clusterId] = r.stdout.trim().split(" ");
        if (state === "inactive" && !inState) continue;
        out.push(`${label}: swarm ${state}${clusterId ? `, cluster ID ${clusterId}` : ""}${control === "true" ? ", manager" : state === "active" ? ", worker" : ""}`);
        if (control === "true") managers.push(h);
    }
    for (const h of managers) {
        const r = await lab.exec(h, "timeout 20 docker node ls --format '{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}' 2>&1");
        out.push(`  docker node ls on ${lab.hosts[h].name}:`);
        for (const l of r.stdout.trim().split("\n").sort()) out.push(`    ${l}`);
    }
    for (const h of managers) {
        const r = await lab.exec(h, "timeout 20 docker stack services web --format '{{.Name}} {{.Replicas}}' 2>&1");
        out.push(`  stack web on ${lab.hosts[h].name}: ${r.stdout.trim().split("\n").sort().join("; ") || "(no service)"}`);
    }
    if (managers.length === 0) out.push("  no live manager");
    return out;
}

async function main(): Promise<void> {
    const reason = labUnavailableReason();
    if (reason) {
        console.log(`Lab scenarios skipped: ${reason}`);
        return;
    }
    const lab = await startLab({ hosts: 11, name: "scenarios" });
    try {
        const image = await labWebImage(lab);
        const pool = lab.hosts.map((_, i) => i).filter((i) => i !== BUILDER);
        const place = (name: string) => placeByRole(3)(name) + 1;
        const scenarios: { key: string; title: string; change: Change; amis?: string; replace?: (d: Deployment) => string[]; dies?: string }[] = [
            { key: "a", title: "getAmi returns a newer AMI on the second run", change: {}, amis: NEW_AMI },
            { key: "b", title: "managerInstanceType changes (t3.small -> t3.medium)", change: { managerInstanceType: "t3.medium" } },
            { key: "c", title: "manager-0's instance replaced (pulumi up --replace <its URN>)", change: {}, replace: (d) => urnsOf(d, "lab-manager-0") },
            { key: "d", title: "manager-1's instance replaced (pulumi up --replace <its URN>)", change: {}, replace: (d) => urnsOf(d, "lab-manager-1") },
            { key: "e", title: `amiId set to a newer AMI (${NEW_AMI})`, change: { amiId: NEW_AMI } },
            { key: "f", title: "dockerVersion changes (28.5.2 -> 28.5.3: the nodes' user data)", change: { dockerVersion: "28.5.3" } },
            {
                key: "g",
                title: "manager-0's machine dies (EC2 still lists it, impaired), then pulumi up --replace <its URN>",
                change: {},
                dies: "lab-manager-0",
                replace: (d) => urnsOf(d, "lab-manager-0"),
            },
        ];
        console.log(`Lab scenarios: SwarmCluster 3 managers + 2 workers with stacks/web, then one change each (${new Date().toISOString().slice(0, 10)})`);
        // SCENARIOS=ce runs only (c) and (e).
        const only = process.env.SCENARIOS;
        for (const s of scenarios.filter((x) => !only || only.includes(x.key))) {
            // Every host as a newly launched instance would be.
            await Promise.all(lab.hosts.map((_, i) => freshHost(lab, i)));
            const engine = new LabEngine(lab, place, BUILDER, { pool });
            engine.amis = { [AMI_NAME]: OLD_AMI };
            console.log(`\n(${s.key}) ${s.title}`);
            const first = await engine.up(program(lab, image, {}));
            if (first.failures.length > 0) {
                console.log("  the first run (bootstrap and stack) failed:");
                describeRun(first).forEach((l) => console.log(l));
                continue;
            }
            const clusterBefore = (await lab.exec(1, "docker info --format '{{.Swarm.Cluster.ID}}'")).stdout.trim();
            console.log(`  before: 5 nodes, cluster ID ${clusterBefore}, stack web deployed (${first.ms} ms)`);
            if (s.amis) engine.amis = { [AMI_NAME]: s.amis };
            if (s.dies) {
                const dead = await engine.lose(first.deployment, s.dies, "impaired");
                const live = pool.filter((h) => h !== dead && h <= 3);
                const t = Date.now();
                const down = await until(`${s.dies} seen Down`, 60, async () => {
                    for (const h of live) {
                        const r = await lab.exec(h, "timeout 10 docker node ls --format '{{.Status}}'");
                        if (r.code === 0 && r.stdout.split("\n").includes("Down")) return true;
                    }
                    return false;
                }).catch((e: Error) => e.message);
                console.log(`  ${s.dies}'s machine died (${lab.hosts[dead].name}); ${down === true ? `the swarm saw it Down after ${Date.now() - t} ms` : down}`);
            }
            const r = await engine.up(program(lab, image, s.change), first.deployment, s.replace?.(first.deployment) ?? []);
            console.log(`  the second run (${r.ms} ms), operations in order:`);
            describeRun(r).forEach((l) => console.log(l));
            console.log("  afterwards:");
            (await afterwards(lab, pool, r.deployment)).forEach((l) => console.log(l));
        }
    } finally {
        await lab.teardown();
    }
}

function urnsOf(d: Deployment, name: string): string[] {
    return [...d.values()].filter((x) => x.name === name && x.type === "aws:ec2/instance:Instance").map((x) => x.urn);
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
