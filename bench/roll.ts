// A new AMI rolled through 3 managers + 2 workers in the lab: the SwarmCluster component (the
// lab engine's `pulumi up` with `amiId` changed, every remote.Command over real SSH) beside the
// floor: the fewest raw commands over SSH that do the same roll safely by hand, one node after
// another, new machine first (as the component's create-before-delete does): the new host
// joins through a running manager; the old node is drained, demoted if a manager (then its
// host waits until it is no longer one), leaves, and is removed. No services run: both
// measure the swarm's own work, not task rescheduling.
//
// Hosts: lab-1 is left idle (the engine's build machine); lab-2..lab-6 hold the cluster and
// lab-7..lab-11 the new machines. Both runs start from freshly started engines.
import { LabEngine, UpResult, freshHost, placeByRole } from "../test/lab/engine";
import { Lab, labUnavailableReason, startLab } from "../test/lab/lab";
import { benchClusterArgs, commandSpan, ssh } from "./lab";

const BUILDER = 0;
const OLD = [1, 2, 3, 4, 5];
const NEW = [6, 7, 8, 9, 10];
const AMI_NAME = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*";

/** The floor's swarm before its roll (not timed): managers on OLD[0..2], workers on OLD[3..4]. */
async function floorSwarm(lab: Lab): Promise<{ manager: string; worker: string }> {
    const addr = lab.hosts[OLD[0]].privateAddress;
    await ssh(lab, OLD[0], `docker swarm init --advertise-addr ${addr}`);
    const [worker, manager] = await Promise.all([ssh(lab, OLD[0], "docker swarm join-token -q worker"), ssh(lab, OLD[0], "docker swarm join-token -q manager")]);
    for (const i of OLD.slice(1)) {
        await ssh(lab, i, `docker swarm join --token ${i <= OLD[2] ? manager : worker} --advertise-addr ${lab.hosts[i].privateAddress} ${addr}:2377`);
    }
    return { manager, worker };
}

/** The floor: each node in turn, its new machine joins, then the old node goes. */
async function floorRoll(lab: Lab, tokens: { manager: string; worker: string }): Promise<number> {
    const t = Date.now();
    for (let k = 0; k < OLD.length; k++) {
        const [oldHost, newHost] = [OLD[k], NEW[k]];
        const isManager = k < 3;
        // A manager that stays in the swarm through this step: a new one once there is one.
        const via = k === 0 ? OLD[1] : NEW[0];
        const viaAddr = lab.hosts[via].privateAddress;
        await ssh(lab, newHost, `docker swarm join --token ${isManager ? tokens.manager : tokens.worker} --advertise-addr ${lab.hosts[newHost].privateAddress} ${viaAddr}:2377`);
        const oldId = await ssh(lab, oldHost, "docker info --format '{{.Swarm.NodeID}}'");
        await ssh(lab, via, `docker node update --availability drain ${oldId}`);
        if (isManager) {
            await ssh(lab, via, `docker node demote ${oldId}`);
            await ssh(lab, oldHost, "while [ \"$(docker info --format '{{.Swarm.ControlAvailable}}')\" = true ]; do sleep 0.5; done");
        }
        await ssh(lab, oldHost, "docker swarm leave");
        await ssh(lab, via, `docker node rm --force ${oldId}`);
    }
    return Date.now() - t;
}

function program(lab: Lab, amiId?: string) {
    return async () => {
        const { SwarmCluster } = await import("../components");
        new SwarmCluster("bench", {
            ...benchClusterArgs(lab, 2),
            amiId,
            loadBalancer: { enabled: false },
            registry: { kind: "external", address: lab.registry },
        });
    };
}

function ok(r: UpResult): UpResult {
    if (r.failures.length > 0) throw new Error(JSON.stringify(r.failures));
    return r;
}

/** Waits (up to 20 s) until the swarm lists exactly 5 nodes, all Ready. */
async function nodesReady(lab: Lab, manager: number): Promise<void> {
    let rows: string[] = [];
    for (let i = 0; i < 20; i++) {
        rows = (await ssh(lab, manager, "docker node ls --format '{{.Hostname}} {{.Status}}'")).split("\n");
        if (rows.length === 5 && rows.every((r) => r.endsWith(" Ready"))) return;
        await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`after the roll: ${rows.join(", ")}`);
}

export async function rollBench(): Promise<void> {
    const reason = labUnavailableReason();
    if (reason) {
        console.log(`Lab AMI roll benchmark skipped: ${reason}`);
        return;
    }
    const lab = await startLab({ hosts: 11, name: "rollbench" });
    try {
        const runs = 3;
        const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
        const fresh = () => Promise.all(lab.hosts.map((_, i) => freshHost(lab, i)));
        const floor: number[] = [];
        const commands: number[] = [];
        const whole: number[] = [];
        console.log(`Lab AMI roll, 3 managers + 2 workers, no services (real dockerd + sshd per host, ${runs} runs each, median):`);
        for (let k = 0; k < runs; k++) {
            await fresh();
            floor.push(await floorRoll(lab, await floorSwarm(lab)));
            await nodesReady(lab, NEW[0]);

            await fresh();
            const engine = new LabEngine(lab, (n) => placeByRole(3)(n) + 1, BUILDER, { pool: [...OLD, ...NEW] });
            engine.amis = { [AMI_NAME]: "ami-0aaaaaaaaaaaaaaa1" };
            const first = ok(await engine.up(program(lab)));
            const r = ok(await engine.up(program(lab, "ami-0bbbbbbbbbbbbbbb2"), first.deployment));
            // From the first command to the last, old machines' deletes included: what the floor
            // does (the run also launches and terminates the instances, which the floor does not).
            commands.push(commandSpan(r));
            whole.push(r.ms);
            await nodesReady(lab, NEW[0]);
        }
        const c = median(commands);
        const f = median(floor);
        console.log(`  component, first command to last: ${c} ms (${(c / 5 / 1000).toFixed(1)} s per node); the whole run ${median(whole)} ms`);
        console.log(`  floor, by hand: ${f} ms (${(f / 5 / 1000).toFixed(1)} s per node)`);
        console.log(`  ratio ${(c / f).toFixed(2)} (goal: at most 1.5)`);
    } finally {
        await lab.teardown();
    }
}
