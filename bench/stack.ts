// Stack deploy time in the lab: SwarmStack (the rendered deploy script and its convergence wait,
// over real SSH through the lab engine) beside the bare way: `docker stack deploy` of the same
// file over SSH, then a poll loop on `docker stack services` until every service shows all its
// replicas. Same swarm (1 manager + 2 workers), same file, same process; the stack is removed
// between runs. The file: 3 services, 6 tasks, one config, host-mode ports (no routing mesh here).
import { Deployment, LabEngine } from "../test/lab/engine";
import { Lab, labUnavailableReason, sshExec, startLab } from "../test/lab/lab";

function composeFile(image: string): string {
    return [
        "services:",
        "  web:",
        `    image: ${image}`,
        '    command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]',
        "    ports: [{target: 8080, published: 8080, mode: host}]",
        "    configs: [{source: motd, target: /etc/motd}]",
        "    deploy: {replicas: 2}",
        "  worker:",
        `    image: ${image}`,
        '    command: ["sleep", "100000"]',
        "    deploy: {replicas: 3}",
        "  cron:",
        `    image: ${image}`,
        '    command: ["sleep", "100000"]',
        "    deploy: {mode: global, placement: {constraints: [node.role == manager]}}",
        "configs:",
        "  motd: {file: ./motd}",
        "",
    ].join("\n");
}

async function ssh(lab: Lab, cmd: string, stdin?: string): Promise<string> {
    const h = lab.hosts[0];
    const r = await sshExec({ host: h.sshHost, port: h.sshPort, user: lab.user, privateKey: lab.privateKey }, h.hostKey, cmd, stdin);
    if (r.code !== 0) {
        throw new Error(`${cmd}: ${r.stderr}`);
    }
    return r.stdout;
}

/** The bare way: write the files, deploy, poll `docker stack services` every second. */
async function bare(lab: Lab, text: string): Promise<number> {
    const t = Date.now();
    await ssh(
        lab,
        [
            "set -e",
            "d=$(mktemp -d)",
            "cat >\"$d/compose.yaml\"",
            "echo hello >\"$d/motd\"",
            "cd \"$d\" && docker stack deploy -c compose.yaml --resolve-image never bare >/dev/null",
            "until [ -z \"$(docker stack services bare --format '{{.Replicas}}' | awk -F'[/ ]' '$1 != $2')\" ]; do sleep 1; done",
            "rm -rf \"$d\"",
        ].join("\n"),
        text,
    );
    return Date.now() - t;
}

async function component(engine: LabEngine, lab: Lab, text: string): Promise<{ ms: number; deployment: Deployment }> {
    const r = await engine.up(async () => {
        const { SwarmStack } = await import("../components/swarmStack");
        new SwarmStack("comp", {
            target: { clusterName: "bench", manager: lab.connection(0), ready: [] },
            composeContent: text,
            configs: { motd: "hello\n" },
            resolveImage: "never",
        });
    });
    if (r.failures.length > 0) {
        throw new Error(JSON.stringify(r.failures));
    }
    return { ms: r.ms, deployment: r.deployment };
}

export async function stackBench(): Promise<void> {
    const reason = labUnavailableReason();
    if (reason) {
        console.log(`Lab stack benchmark skipped: ${reason}`);
        return;
    }
    const lab = await startLab({ hosts: 3, name: "benchstack" });
    try {
        const addr = lab.hosts[0].privateAddress;
        await ssh(lab, `docker swarm init --advertise-addr ${addr} >/dev/null`);
        const token = (await ssh(lab, "docker swarm join-token -q worker")).trim();
        for (const i of [1, 2]) {
            const r = await lab.ssh(i, `docker swarm join --token ${token} ${addr}:2377`);
            if (r.code !== 0) {
                throw new Error(r.stderr);
            }
        }
        const engine = new LabEngine(lab);
        // The component's file declares the config with no file (its content is an arg).
        const plainText = composeFile(lab.image);
        const componentText = plainText.replace("  motd: {file: ./motd}", "  motd: {}");
        // Pairs, one of each way back to back, so that a slow spell of the machine hits both;
        // the figure is the median of the pairs' ratios (and the medians of each way beside it).
        const runs = 7;
        const c: number[] = [];
        const b: number[] = [];
        for (let k = 0; k < runs; k++) {
            b.push(await bare(lab, plainText));
            await ssh(lab, "docker stack rm bare >/dev/null; while [ -n \"$(docker network ls -q --filter label=com.docker.stack.namespace=bare)\" ]; do sleep 0.5; done");
            const r = await component(engine, lab, componentText);
            c.push(r.ms);
            await engine.destroy(r.deployment);
        }
        const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
        const ratios = c.map((ms, k) => ms / b[k]).sort((x, y) => x - y);
        console.log(`Lab stack deploy until converged (3 services, 6 tasks, ${runs} pairs of runs):`);
        console.log(`  component median ${median(c)} ms, bare stack deploy + poll loop median ${median(b)} ms`);
        console.log(
            `  ratio component/bare: median of pairs ${median(ratios).toFixed(2)} (range ${ratios[0].toFixed(2)}-${ratios[ratios.length - 1].toFixed(2)}; goal: at most 1.3)`,
        );
        console.log(`  all runs: component ${c.join(", ")} ms; bare ${b.join(", ")} ms`);

        // A stack that cannot converge fails once its timeout is out and its first deploy is
        // removed again. The lab stack test checks the failure and its message; its time is here.
        const t = Date.now();
        const broken = await engine.up(async () => {
            const { SwarmStack } = await import("../components/swarmStack");
            new SwarmStack("broken", {
                target: { clusterName: "bench", manager: lab.connection(0), ready: [] },
                composeContent: `services:\n  app:\n    image: ${lab.registry}/no/such-image:1\n`,
                resolveImage: "never",
                convergeTimeoutSeconds: 15,
            });
        });
        const brokenMs = Date.now() - t;
        if (!broken.failures.some((f) => f.name === "broken-deploy")) {
            throw new Error(`the stack with no image did not fail: ${JSON.stringify(broken.failures)}`);
        }
        console.log(`A stack that cannot converge (convergeTimeoutSeconds 15): failed after ${brokenMs} ms (goal: under 35000 ms, the timeout and the removal of its first deploy)`);
    } finally {
        await lab.teardown();
    }
}
