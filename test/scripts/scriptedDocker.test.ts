// Pure layer, run: the join and leave scripts executed by sh against a scripted `docker` (and
// a `sleep` that returns at once) in PATH. Each scenario scripts what Docker answers (the
// swarm states a join goes through; how many polls a node's task containers and overlay
// networks take to go); the fake docker logs every call, so the test sees what the script
// did, in what order, and what it said.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LEAVE_SETTLE_SECONDS, POLL_SECONDS } from "../../components/scripts/common";
import { renderSwarmDestroy } from "../../components/scripts/swarmInit";
import { JOIN_ATTEMPTS, JOIN_SETTLE_SECONDS, renderSwarmJoin, renderSwarmLeave } from "../../components/scripts/swarmJoin";

interface Scenario {
    /** Polls (`docker ps`) after which no task container runs; -1: never. */
    tasksGoAfter: number;
    /** Polls (`docker network ls -q`) after which only the ingress is left; -1: never. */
    networkGoesAfter: number;
    /** Overlay networks `docker network ls` names after the leave. */
    keptAfterLeave: string[];
}

const FAKE_DOCKER = `#!/bin/sh
# A scripted docker: state in $FAKE, every call logged.
echo "$*" >> "$FAKE/calls"
count() { n=$(cat "$FAKE/$1" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$FAKE/$1"; echo "$n"; }
case "$*" in
  "info --format {{.Swarm.LocalNodeState}}") if [ -f "$FAKE/left" ]; then echo inactive; else echo active; fi ;;
  "info --format {{.Swarm.ControlAvailable}}") echo false ;;
  "ps -q --filter label=com.docker.swarm.task.id")
    n=$(count ps); if [ "$TASKS_GO" -lt 0 ] || [ "$n" -le "$TASKS_GO" ]; then echo 3f2a9c; fi ;;
  "network ls -q --filter driver=overlay")
    n=$(count nets); echo ingressid
    if [ "$NET_GOES" -lt 0 ] || [ "$n" -le "$NET_GOES" ]; then echo webfrontid; fi ;;
  "network inspect --format {{.Ingress}} ingressid") echo true ;;
  "network inspect --format {{.Ingress}} webfrontid") echo false ;;
  "swarm leave"|"swarm leave --force") touch "$FAKE/left" ;;
  "network ls --filter driver=overlay --format {{.Name}}") for k in $KEPT; do echo "$k"; done ;;
  *) echo "fake docker: unexpected: $*" >&2; exit 9 ;;
esac
`;

interface Run {
    code: number;
    stdout: string;
    stderr: string;
    calls: string[];
}

/** Runs `script` under sh with `fakeDocker` as `docker` and a logging no-op `sleep` in PATH. */
function runScripted(script: string, fakeDocker: string, env: Record<string, string>, stdin = ""): Run {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-swarm-scripted-"));
    try {
        const binDir = path.join(dir, "bin");
        fs.mkdirSync(binDir);
        fs.writeFileSync(path.join(binDir, "docker"), fakeDocker, { mode: 0o755 });
        fs.writeFileSync(path.join(binDir, "sleep"), '#!/bin/sh\necho "sleep $*" >> "$FAKE/calls"\n', { mode: 0o755 });
        const r = spawnSync("sh", ["-c", script], { encoding: "utf8", input: stdin, env: { PATH: `${binDir}:/usr/bin:/bin`, FAKE: dir, ...env } });
        const calls = fs.existsSync(path.join(dir, "calls")) ? fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n") : [];
        return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, calls };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

function run(script: string, s: Scenario): Run {
    return runScripted(script, FAKE_DOCKER, {
        TASKS_GO: String(s.tasksGoAfter),
        NET_GOES: String(s.networkGoesAfter),
        KEPT: s.keptAfterLeave.join(" "),
    });
}

const polls = (calls: string[]) => calls.filter((c) => c === "ps -q --filter label=com.docker.swarm.task.id").length;
const leaveAt = (calls: string[]) => calls.findIndex((c) => c.startsWith("swarm leave"));
const MAX_POLLS = Math.ceil(LEAVE_SETTLE_SECONDS / POLL_SECONDS);

describe("leave scripts, run against a scripted docker", () => {
    const leave = renderSwarmLeave("worker-0", 60);

    it("a settled node leaves at once, with no warning", () => {
        const r = run(leave, { tasksGoAfter: 0, networkGoesAfter: 0, keptAfterLeave: [] });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stderr, "");
        assert.strictEqual(polls(r.calls), 1);
        assert.ok(!r.calls.some((c) => c.startsWith("sleep")), r.calls.join("\n"));
        assert.strictEqual(r.calls[leaveAt(r.calls)], "swarm leave");
    });

    it("waits while a task container runs, then while its overlay network is there, and leaves only after both are gone", () => {
        const r = run(leave, { tasksGoAfter: 2, networkGoesAfter: 2, keptAfterLeave: [] });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stderr, "");
        // poll 1, 2: a task runs; poll 3: no task, but the network is there (its 1st listing), poll 4: still (2nd); poll 5: gone.
        assert.strictEqual(polls(r.calls), 5);
        const before = r.calls.slice(0, leaveAt(r.calls));
        assert.strictEqual(before.filter((c) => c === `sleep ${POLL_SECONDS}`).length, 4);
        assert.strictEqual(before.filter((c) => c === "network inspect --format {{.Ingress}} webfrontid").length, 2);
    });

    it("a network that never goes: leaves after the bound anyway and warns, naming it and the fix", () => {
        const r = run(leave, { tasksGoAfter: 0, networkGoesAfter: -1, keptAfterLeave: ["web_front"] });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(polls(r.calls), MAX_POLLS);
        assert.ok(leaveAt(r.calls) > 0);
        assert.strictEqual(
            r.stderr,
            "pulumi-swarm: warning: worker-0 ($(hostname)) left the swarm, but Docker kept these overlay networks: web_front (moby #42136). Restart Docker on the host ('systemctl restart docker') to clear them before it joins another swarm.\n".replace(
                "$(hostname)",
                os.hostname(),
            ),
        );
    });

    it("a node already out of the swarm does nothing", () => {
        const r = run(`: > "$FAKE/left"\n${leave}`, { tasksGoAfter: -1, networkGoesAfter: -1, keptAfterLeave: [] });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(r.calls, ["info --format {{.Swarm.LocalNodeState}}"]);
    });

    it("the first manager's destroy leaves at once (stack removal already waited) and warns of a kept network", () => {
        const r = run(renderSwarmDestroy("manager-0"), { tasksGoAfter: -1, networkGoesAfter: -1, keptAfterLeave: ["ops_default", "web_front"] });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(r.calls, ["info --format {{.Swarm.LocalNodeState}}", "swarm leave --force", "network ls --filter driver=overlay --format {{.Name}}"]);
        assert.match(r.stderr, /Docker kept these overlay networks: ops_default web_front \(moby #42136\)/);
    });
});

/**
 * A scripted docker for the join: `info` answers the states in $STATES one per call (the last
 * one repeats), as "<state> <node id> <manager ids>"; $MANAGERS are the managers it reports
 * when active. `swarm join` fails like a Docker join that timed out when $JOIN_TIMES_OUT is 1.
 */
const FAKE_DOCKER_JOIN = `#!/bin/sh
echo "$*" >> "$FAKE/calls"
case "$*" in
  "info --format {{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{range .Swarm.RemoteManagers}}{{.NodeID}} {{end}}")
    n=$(cat "$FAKE/n" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$FAKE/n"
    state=$(echo $STATES | cut -d' ' -f"$n")
    [ -n "$state" ] || state=$(echo $STATES | awk '{print $NF}')
    case "$state" in
      active) echo "active w3node $MANAGERS" ;;
      *) echo "$state  " ;;
    esac ;;
  "info --format {{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}") echo "10.9.9.9:2377 " ;;
  "swarm join --token SWMTKN-1-test --advertise-addr 10.0.32.7 10.0.0.10:2377")
    if [ "$JOIN_TIMES_OUT" = 1 ]; then
      echo "Error response from daemon: Timeout was reached before node joined." >&2; exit 1
    fi ;;
  "swarm leave --force") ;;
  *) echo "fake docker: unexpected: $*" >&2; exit 9 ;;
esac
`;

describe("the join script, run against a scripted docker", () => {
    const join = renderSwarmJoin({
        hostKey: "worker-3",
        role: "worker",
        advertiseAddress: "10.0.32.7",
        managerAddress: "10.0.0.10",
        managerNodeId: "k2x9q1leader",
        dockerReadyTimeoutSeconds: 60,
    });
    const THIS_SWARM = "k2x9q1leader m1node ";
    const runJoin = (states: string, opts: { timesOut?: boolean; managers?: string; token?: string } = {}) =>
        runScripted(
            join,
            FAKE_DOCKER_JOIN,
            { STATES: states, MANAGERS: opts.managers ?? THIS_SWARM, JOIN_TIMES_OUT: opts.timesOut ? "1" : "0" },
            opts.token ?? "SWMTKN-1-test\n",
        );
    const joins = (r: Run) => r.calls.filter((c) => c.startsWith("swarm join")).length;
    const leaves = (r: Run) => r.calls.filter((c) => c.startsWith("swarm leave")).length;

    it("an inactive node joins once and prints its node ID", () => {
        const r = runJoin("inactive active");
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stdout, '{"nodeId":"w3node"}\n');
        assert.strictEqual(joins(r), 1);
        assert.strictEqual(leaves(r), 0);
    });

    it("a node already in this swarm changes nothing and prints its node ID", () => {
        const r = runJoin("active");
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stdout, '{"nodeId":"w3node"}\n');
        assert.strictEqual(joins(r) + leaves(r), 0);
    });

    it("a join that times out and goes on in the background (pending) is waited for, not repeated and never force-left", () => {
        const r = runJoin("inactive pending pending pending pending pending active", { timesOut: true });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stdout, '{"nodeId":"w3node"}\n');
        assert.strictEqual(joins(r), 1);
        assert.strictEqual(leaves(r), 0);
        assert.strictEqual(r.calls.filter((c) => c === `sleep ${POLL_SECONDS}`).length, 5);
    });

    it("a join pending for good fails after its attempts, naming the state and the ports, still never force-left", () => {
        const r = runJoin("inactive pending", { timesOut: true });
        assert.strictEqual(r.code, 1);
        assert.strictEqual(r.stdout, "");
        assert.strictEqual(
            r.stderr,
            `Error response from daemon: Timeout was reached before node joined.\npulumi-swarm: ${os.hostname()} (10.0.32.7) could not join the swarm at 10.0.0.10:2377 as a worker after ${JOIN_ATTEMPTS} attempts (state: pending); check that 2377/tcp, 7946/tcp+udp and 4789/udp are open between the nodes.\n`,
        );
        assert.strictEqual(joins(r), 1);
        assert.strictEqual(leaves(r), 0);
        // Each attempt waits JOIN_SETTLE_SECONDS for the pending join (polls of POLL_SECONDS);
        // between attempts it backs off 2 s, then 4 s: about 3 minutes in all before it fails.
        const settle = Math.ceil(JOIN_SETTLE_SECONDS / POLL_SECONDS);
        const sleeps = r.calls.filter((c) => c.startsWith("sleep ")).map((c) => Number(c.slice(6)));
        assert.strictEqual(sleeps.length, JOIN_ATTEMPTS * settle + JOIN_ATTEMPTS - 1);
        assert.strictEqual(sleeps.reduce((a, b) => a + b, 0), JOIN_ATTEMPTS * settle * POLL_SECONDS + 2 + 4);
    });

    it("a node in state error is reset (leave --force) and joins again", () => {
        const r = runJoin("error active");
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stdout, '{"nodeId":"w3node"}\n');
        const order = r.calls.filter((c) => c.startsWith("swarm "));
        assert.deepStrictEqual(order, ["swarm leave --force", "swarm join --token SWMTKN-1-test --advertise-addr 10.0.32.7 10.0.0.10:2377"]);
    });

    it("a node active in another swarm is left as it is, with a message naming that swarm's managers", () => {
        const r = runJoin("active", { managers: "other1 " });
        assert.strictEqual(r.code, 1);
        assert.match(r.stderr, /is already in another swarm, whose managers are at: 10\.9\.9\.9:2377 \. Nothing was changed\./);
        assert.strictEqual(joins(r) + leaves(r), 0);
    });

    it("no token on standard input: fails before asking Docker anything", () => {
        const r = runJoin("inactive active", { token: "" });
        assert.strictEqual(r.code, 1);
        assert.strictEqual(r.stderr, "pulumi-swarm: no join token on standard input\n");
        assert.deepStrictEqual(r.calls, []);
    });
});
