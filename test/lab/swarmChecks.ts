// What several lab suites share: the 1 manager + 2 worker host list over the lab hosts, the
// stacks/web variables for the lab (host-mode ports, the lab's Debian image), and what the
// suites read back from the real swarm (nodes, a host's swarm state, a stack's tasks).
import * as assert from "assert";
import * as path from "path";
import type { SwarmClusterArgs } from "../../components";
import type { SwarmHost } from "../../components/swarmBootstrap";
import { repoRoot } from "../paths";
import { Lab } from "./lab";

/** stacks/web/compose.yaml */
export const WEB_COMPOSE = path.join(repoRoot, "stacks", "web", "compose.yaml");

/** Lab host 0 as "manager-0", the others as "worker-<i-1>", each by its forwarded SSH address and port. */
export function labSwarmHosts(lab: Lab): SwarmHost[] {
    return lab.hosts.map((h, i) => ({
        key: i === 0 ? "manager-0" : `worker-${i - 1}`,
        role: i === 0 ? ("manager" as const) : ("worker" as const),
        sshHost: h.sshHost,
        sshPort: h.sshPort,
        sshUser: lab.user,
        privateAddress: h.privateAddress,
    }));
}

/**
 * stacks/web's variables in the lab: proxy and API on the lab's Debian image (no Docker Hub),
 * ports published in host mode (no routing mesh), 2 API replicas.
 */
export function labWebVariables(image: string, apiVersion: string): Record<string, string> {
    return { PROXY_IMAGE: image, API_BASE_IMAGE: image, PUBLISH_MODE: "host", API_REPLICAS: "2", API_VERSION: apiVersion };
}

/** Runs a command on a lab host; fails the test on a non-zero exit. */
export async function labSh(lab: Lab, host: number, cmd: string): Promise<string> {
    const r = await lab.exec(host, cmd);
    assert.strictEqual(r.code, 0, `${cmd}: ${r.stderr}`);
    return r.stdout;
}

/** `<service> <state>` of every task of the stack that should run, sorted (asked on host 0). */
export async function stackTasks(lab: Lab, stack: string): Promise<string[]> {
    return (await labSh(lab, 0, `docker stack ps ${stack} --filter desired-state=running --format '{{.Name}} {{.CurrentState}}'`))
        .trim()
        .split("\n")
        .map((l) => l.replace(/\.\d+ /, " ").replace(/ (\w+).*$/, " $1"))
        .sort();
}

export interface NodeRow {
    id: string;
    hostname: string;
    status: string;
    availability: string;
    /** "leader", "reachable", "unreachable" or "worker". */
    manager: string;
    addr: string;
}

/** Every node as a manager (host) sees it, sorted by hostname. */
export async function swarmNodes(lab: Lab, host = 0): Promise<NodeRow[]> {
    const r = await lab.exec(
        host,
        "docker node inspect $(docker node ls -q) --format " +
            "'{{.ID}} {{.Description.Hostname}} {{.Status.State}} {{.Spec.Availability}} " +
            "{{if .ManagerStatus}}{{if .ManagerStatus.Leader}}leader{{else}}{{.ManagerStatus.Reachability}}{{end}}{{else}}worker{{end}} " +
            "{{if .ManagerStatus}}{{.ManagerStatus.Addr}}{{else}}{{.Status.Addr}}{{end}}'",
    );
    assert.strictEqual(r.code, 0, r.stderr);
    return r.stdout
        .trim()
        .split("\n")
        .map((l) => {
            const [id, hostname, status, availability, manager, addr] = l.split(" ");
            return { id, hostname, status, availability, manager, addr: addr.replace(/:2377$/, "") };
        })
        .sort((a, b) => a.hostname.localeCompare(b.hostname));
}

/** `docker info`'s `<LocalNodeState> <NodeID>` on a host ("inactive " when in no swarm). */
export async function swarmState(lab: Lab, host: number): Promise<string> {
    return (await lab.exec(host, "docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}}'")).stdout.trim();
}

/**
 * SwarmCluster's arguments for the lab: 3 managers + 2 workers reached as root with the lab's
 * key, short waits (the lab's engines answer at once). Suites add what they vary.
 */
export function labClusterArgs(lab: Lab): SwarmClusterArgs {
    return {
        adminCidrBlocks: ["10.77.0.0/16"],
        sshUser: "root",
        sshPublicKey: "ssh-ed25519 AAAAlab",
        sshPrivateKey: lab.privateKey,
        dockerReadyTimeoutSeconds: 30,
        drainTimeoutSeconds: 30,
        managerCount: 3,
        workerCount: 2,
    };
}
