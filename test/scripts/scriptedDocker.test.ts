// Pure layer, run: the join and leave scripts executed by sh against a scripted `docker` on a
// sealed host (scriptedHost.ts: fake docker, sudo, id, hostname and sleep; nothing else of
// this machine's can answer for Docker). Each scenario scripts what Docker answers (the swarm
// states a join goes through; how many polls a node's task containers and overlay networks
// take to go); the fake docker logs every call, so the test sees what the script did, in what
// order, and what it said. Every scenario runs twice: as root (docker called directly) and as
// a non-root SSH user (every docker call through `sudo -n`), the two ways a node is reached.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MEMBERSHIP_LOCK } from "../../components/scripts/common";
import { renderMemberDelete, renderRemoverDelete } from "../../components/scripts/membership";
import { QUORUM_CHECK_SECONDS, renderBeforeRestart, renderQuorumCheck } from "../../components/scripts/roll";
import { renderStackDeploy } from "../../components/scripts/stack";
import { renderSwarmJoin, renderSwarmLeave } from "../../components/scripts/swarmJoin";
import { FAKE_HOSTNAME, HostOptions, SYSTEM_PATH, ScriptRun, runOnScriptedHost } from "./scriptedHost";

interface Scenario {
    /** Polls (`docker ps`) after which no task container runs; -1: never. */
    tasksGoAfter: number;
    /** Polls (`docker network ls -q`) after which only the ingress is left; -1: never. */
    networkGoesAfter: number;
    /** Overlay networks `docker network ls` names after the leave. */
    keptAfterLeave: string[];
    /** The node is the swarm's last manager (`pulumi destroy`, after every other node left). */
    lastManager?: boolean;
}

const FAKE_DOCKER = `#!/bin/sh
# A scripted docker: state in $FAKE, every call logged.
echo "$*" >> "$FAKE/calls"
count() { n=$(cat "$FAKE/$1" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$FAKE/$1"; echo "$n"; }
case "$*" in
  "info --format {{.Swarm.LocalNodeState}}") if [ -f "$FAKE/left" ]; then echo inactive; else echo active; fi ;;
  "info --format {{.Swarm.ControlAvailable}}") echo false ;;
  "info --format {{.Swarm.ControlAvailable}} {{.Swarm.Managers}}") if [ "$LAST" = 1 ]; then echo "true 1"; else echo "false 0"; fi ;;
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

const USERS = [
    { title: "as root", uid: 0 },
    { title: "as a non-root SSH user, through sudo -n", uid: 1000 },
];

/**
 * Runs on the sealed host and checks who answered: every docker call reached the fake docker,
 * through the fake `sudo -n` exactly when the user is not root.
 */
function runChecked(script: string, fakeDocker: string, opts: HostOptions): ScriptRun {
    const r = runOnScriptedHost(script, fakeDocker, opts);
    const dockerCalls = r.calls.filter((c) => !c.startsWith("sleep "));
    assert.deepStrictEqual(
        r.sudoCalls,
        opts.uid === 0 ? [] : dockerCalls.map((c) => `-n docker ${c}`),
        "every docker call goes to the fake docker, through sudo -n exactly when not root",
    );
    return r;
}

function run(script: string, s: Scenario, uid: number): ScriptRun {
    return runChecked(script, FAKE_DOCKER, {
        uid,
        env: {
            TASKS_GO: String(s.tasksGoAfter),
            NET_GOES: String(s.networkGoesAfter),
            KEPT: s.keptAfterLeave.join(" "),
            LAST: s.lastManager ? "1" : "0",
        },
    });
}

const polls = (calls: string[]) => calls.filter((c) => c === "ps -q --filter label=com.docker.swarm.task.id").length;
const leaveAt = (calls: string[]) => calls.findIndex((c) => c.startsWith("swarm leave"));

for (const { title, uid } of USERS) describe(`leave scripts, run against a scripted docker, ${title}`, () => {
    const leave = renderSwarmLeave("worker-0", 60);

    it("a settled node leaves at once, with no warning", () => {
        const r = run(leave, { tasksGoAfter: 0, networkGoesAfter: 0, keptAfterLeave: [] }, uid);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stderr, "");
        assert.strictEqual(polls(r.calls), 1);
        assert.ok(!r.calls.some((c) => c.startsWith("sleep")), r.calls.join("\n"));
        assert.strictEqual(r.calls[leaveAt(r.calls)], "swarm leave");
    });

    it("waits while a task container runs, then while its overlay network is there, and leaves only after both are gone", () => {
        const r = run(leave, { tasksGoAfter: 2, networkGoesAfter: 2, keptAfterLeave: [] }, uid);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stderr, "");
        // poll 1, 2: a task runs; poll 3: no task, but the network is there (its 1st listing), poll 4: still (2nd); poll 5: gone.
        assert.strictEqual(polls(r.calls), 5);
        const before = r.calls.slice(0, leaveAt(r.calls));
        assert.strictEqual(before.filter((c) => c === "sleep 2").length, 4);
        assert.strictEqual(before.filter((c) => c === "network inspect --format {{.Ingress}} webfrontid").length, 2);
    });

    it("a network that never goes: leaves after the 30 s bound (15 polls 2 s apart) anyway and warns, naming it and the fix", () => {
        const r = run(leave, { tasksGoAfter: 0, networkGoesAfter: -1, keptAfterLeave: ["web_front"] }, uid);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(polls(r.calls), 15);
        assert.ok(leaveAt(r.calls) > 0);
        assert.strictEqual(
            r.stderr,
            "pulumi-swarm: warning: worker-0 (node-under-test) left the swarm, but Docker kept these overlay networks: web_front (moby #42136). Restart Docker on the host ('systemctl restart docker') to clear them before it joins another swarm.\n",
        );
    });

    it("a node already out of the swarm does nothing", () => {
        const r = run(`: > "$FAKE/left"\n${leave}`, { tasksGoAfter: -1, networkGoesAfter: -1, keptAfterLeave: [] }, uid);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(r.calls, ["info --format {{.Swarm.LocalNodeState}}"]);
    });

    it("the last manager (pulumi destroy) leaves with --force at once, ending the swarm (stack removal already waited), and warns of a kept network", () => {
        const r = run(renderSwarmLeave("manager-0", 60), { tasksGoAfter: -1, networkGoesAfter: -1, keptAfterLeave: ["ops_default", "web_front"], lastManager: true }, uid);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(r.calls, [
            "info --format {{.Swarm.LocalNodeState}}",
            "info --format {{.Swarm.ControlAvailable}} {{.Swarm.Managers}}",
            "swarm leave --force",
            "network ls --filter driver=overlay --format {{.Name}}",
        ]);
        assert.match(r.stderr, /Docker kept these overlay networks: ops_default web_front \(moby #42136\)/);
    });
});

/**
 * A scripted docker for the join: `info` answers the states in $STATES one per call (the last
 * one repeats), as "<state> <node id> <manager addresses>"; $MANAGERS are the manager addresses
 * it reports when active. `swarm join` through 10.0.0.10 fails like a Docker join that timed out
 * when $JOIN_TIMES_OUT is 1 (the node is then pending), and like a manager that is gone when
 * $FIRST_GONE is 1 (the node stays inactive); through 10.0.16.5 it succeeds.
 */
const FAKE_DOCKER_JOIN = `#!/bin/sh
echo "$*" >> "$FAKE/calls"
case "$*" in
  "info --format {{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}")
    n=$(cat "$FAKE/n" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$FAKE/n"
    state=$(echo $STATES | cut -d' ' -f"$n")
    [ -n "$state" ] || state=$(echo $STATES | awk '{print $NF}')
    case "$state" in
      active) echo "active w3node $MANAGERS" ;;
      *) echo "$state  " ;;
    esac ;;
  "info --format {{.Swarm.LocalNodeState}}") if [ "$JOIN_TIMES_OUT" = 1 ]; then echo pending; else echo inactive; fi ;;
  "info --format {{range .Swarm.RemoteManagers}}{{.Addr}} {{end}}") echo "10.9.9.9:2377 " ;;
  "swarm join --token SWMTKN-1-test --advertise-addr 10.0.32.7 10.0.0.10:2377")
    if [ "$JOIN_TIMES_OUT" = 1 ]; then
      echo "Error response from daemon: Timeout was reached before node joined." >&2; exit 1
    fi
    if [ "$FIRST_GONE" = 1 ]; then
      echo "Error response from daemon: rpc error: code = Unavailable desc = connection error" >&2; exit 1
    fi ;;
  "swarm join --token SWMTKN-1-test --advertise-addr 10.0.32.7 10.0.16.5:2377") ;;
  "swarm leave --force") ;;
  *) echo "fake docker: unexpected: $*" >&2; exit 9 ;;
esac
`;

for (const { title, uid } of USERS) describe(`the join script, run against a scripted docker, ${title}`, () => {
    const join = renderSwarmJoin({
        hostKey: "worker-3",
        role: "worker",
        advertiseAddress: "10.0.32.7",
        managerAddresses: ["10.0.0.10", "10.0.16.5"],
        dockerReadyTimeoutSeconds: 60,
    });
    const THIS_SWARM = "10.0.16.5:2377 10.0.0.10:2377 ";
    const runJoin = (states: string, opts: { timesOut?: boolean; firstGone?: boolean; managers?: string; token?: string } = {}) =>
        runChecked(join, FAKE_DOCKER_JOIN, {
            uid,
            env: {
                STATES: states,
                MANAGERS: opts.managers ?? THIS_SWARM,
                JOIN_TIMES_OUT: opts.timesOut ? "1" : "0",
                FIRST_GONE: opts.firstGone ? "1" : "0",
            },
            stdin: opts.token ?? "SWMTKN-1-test\n",
        });
    const joins = (r: ScriptRun) => r.calls.filter((c) => c.startsWith("swarm join")).length;
    const leaves = (r: ScriptRun) => r.calls.filter((c) => c.startsWith("swarm leave")).length;

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
        assert.strictEqual(r.calls.filter((c) => c === "sleep 2").length, 5);
    });

    it("a join pending for good fails after 3 attempts (about 3 minutes), naming the state and the ports, still never force-left", () => {
        const r = runJoin("inactive pending", { timesOut: true });
        assert.strictEqual(r.code, 1);
        assert.strictEqual(r.stdout, "");
        assert.strictEqual(
            r.stderr,
            "Error response from daemon: Timeout was reached before node joined.\npulumi-swarm: node-under-test (10.0.32.7) could not join the swarm through 10.0.0.10:2377, 10.0.16.5:2377 as a worker after 3 attempts (state: pending); check that 2377/tcp, 7946/tcp+udp and 4789/udp are open between the nodes.\n",
        );
        assert.strictEqual(joins(r), 1);
        assert.strictEqual(leaves(r), 0);
        // Each of the 3 attempts waits 60 s for the pending join (30 polls, 2 s apart); between
        // attempts it backs off 2 s, then 4 s: 92 sleeps, 186 s in all before it fails.
        const sleeps = r.calls.filter((c) => c.startsWith("sleep ")).map((c) => Number(c.slice(6)));
        assert.strictEqual(sleeps.length, 92);
        assert.strictEqual(sleeps.reduce((a, b) => a + b, 0), 186);
        assert.deepStrictEqual(sleeps.filter((n) => n !== 2), [4]);
    });

    it("a node in state error is reset (leave --force) and joins again", () => {
        const r = runJoin("error active");
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stdout, '{"nodeId":"w3node"}\n');
        const order = r.calls.filter((c) => c.startsWith("swarm "));
        assert.deepStrictEqual(order, ["swarm leave --force", "swarm join --token SWMTKN-1-test --advertise-addr 10.0.32.7 10.0.0.10:2377"]);
    });

    it("a node active in another swarm is left as it is, with a message naming that swarm's managers", () => {
        const r = runJoin("active", { managers: "10.9.9.9:2377 " });
        assert.strictEqual(r.code, 1);
        assert.match(r.stderr, /is already in another swarm, whose managers are at: 10\.9\.9\.9:2377 \. Nothing was changed\./);
        assert.strictEqual(joins(r) + leaves(r), 0);
    });

    it("the first manager does not answer (it is being replaced): the join goes through the next manager", () => {
        const r = runJoin("inactive active", { firstGone: true });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stdout, '{"nodeId":"w3node"}\n');
        assert.deepStrictEqual(
            r.calls.filter((c) => c.startsWith("swarm ")),
            [
                "swarm join --token SWMTKN-1-test --advertise-addr 10.0.32.7 10.0.0.10:2377",
                "swarm join --token SWMTKN-1-test --advertise-addr 10.0.32.7 10.0.16.5:2377",
            ],
        );
    });

    it("a manager in no swarm whose swarm has no other manager (its only manager replaced) fails with what was lost and the ways out, joining nothing", () => {
        const lone = renderSwarmJoin({ hostKey: "manager-0", role: "manager", advertiseAddress: "10.0.32.7", managerAddresses: ["10.0.32.7"], dockerReadyTimeoutSeconds: 60 });
        const r = runChecked(lone, FAKE_DOCKER_JOIN, { uid, env: { STATES: "inactive", MANAGERS: "", JOIN_TIMES_OUT: "0", FIRST_GONE: "0" }, stdin: "SWMTKN-1-test\n" });
        assert.strictEqual(r.code, 1);
        assert.strictEqual(
            r.stderr,
            "pulumi-swarm: node-under-test (10.0.32.7) is in no swarm, and this swarm has no other manager to join through: its only manager is gone with the swarm's state. Restore it from a backup of /var/lib/docker/swarm, or destroy and re-create the cluster.\n",
        );
        assert.strictEqual(r.calls.filter((c) => c.startsWith("swarm ")).length, 0);
    });

    it("no token on standard input: fails before asking Docker anything", () => {
        const r = runJoin("inactive active", { token: "" });
        assert.strictEqual(r.code, 1);
        assert.strictEqual(r.stderr, "pulumi-swarm: no join token on standard input\n");
        assert.deepStrictEqual(r.calls, []);
    });
});

/**
 * A scripted docker for a member's delete: `node update` of w3node is refused as "update out of
 * sequence" (the node changed between the CLI's read and its write) the first $REFUSALS times.
 */
const FAKE_DOCKER_MEMBER = `#!/bin/sh
echo "$*" >> "$FAKE/calls"
case "$*" in
  "node inspect w3node") echo "[]" ;;
  "node update --availability drain w3node")
    n=$(cat "$FAKE/updates" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$FAKE/updates"
    if [ "$n" -le "$REFUSALS" ]; then
      echo "Error response from daemon: rpc error: code = Unknown desc = update out of sequence" >&2; exit 1
    fi ;;
  "node ps w3node --filter desired-state=running -q") ;;
  "node inspect w3node --format {{.Spec.Role}}") echo worker ;;
  "node inspect w3node --format {{.Description.Hostname}}") echo ip-10-0-3-7 ;;
  "node ps w3node --filter desired-state=running --format {{.Name}}")
    # With SPREAD=1 the node runs both tasks of api, one of web and a global task.
    if [ "\${SPREAD:-0}" = 1 ]; then printf 'api.1\napi.2\nweb.1\nagent.x8b1kq\n'; fi ;;
  "service ls --filter name=api --format {{.Name}} {{.Mode}} {{.Replicas}}") echo "api replicated 2/2" ;;
  "service ls --filter name=web --format {{.Name}} {{.Mode}} {{.Replicas}}") printf 'web replicated 2/2\nweb-admin replicated 1/1\n' ;;
  "service ls --filter name=agent.x8b1kq --format {{.Name}} {{.Mode}} {{.Replicas}}") ;;
  "service ps web --filter desired-state=running --format {{.Node}} {{.CurrentState}}") printf 'ip-10-0-3-7 Running 1 hour ago\nip-10-0-1-5 Running 1 hour ago\n' ;;
  "service ps api --filter desired-state=running --format {{.Node}} {{.CurrentState}}")
    # Both tasks here until the forced update has run for $SPREADING polls; then one elsewhere.
    echo "ip-10-0-3-7 Running 1 hour ago"
    if [ -f "$FAKE/forced" ]; then
      n=$(cat "$FAKE/spread" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$FAKE/spread"
      if [ "$n" -gt "\${SPREADING:-0}" ]; then echo "ip-10-0-1-5 Running 1 second ago"; else echo "ip-10-0-1-5 Starting 1 second ago"; fi
    else
      echo "ip-10-0-3-7 Running 1 hour ago"
    fi ;;
  "service update --force --detach api") touch "$FAKE/forced" ;;
  "service ls --format {{.ID}} {{.Replicas}}") printf 'web 2/2\nbroken 0/1\nglobal 3/3 (max 1 per node)\n' ;;
  "service ls --filter id=web --format {{.Replicas}}") echo "2/2" ;;
  "service ls --filter id=global --format {{.Replicas}}") echo "3/3 (max 1 per node)" ;;
  "service ps global --filter desired-state=running --format {{.CurrentState}} {{.Error}}")
    # With STUCK=1, a task of global waits for a node that can take it.
    printf 'Running 1 hour ago \nRunning 1 hour ago \n'
    if [ "$STUCK" = 1 ]; then echo "Pending 3 seconds ago no suitable node (host-mode port already in use on 1 node)"; else echo "Running 1 hour ago "; fi ;;
  "service ps web --filter desired-state=running --format {{.CurrentState}} {{.Error}}")
    # The moved task of web is not running yet for the first $MOVING polls.
    n=$(cat "$FAKE/polls" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$FAKE/polls"
    echo "Running 1 hour ago "
    if [ "$n" -gt "$MOVING" ]; then echo "Running 1 second ago "; else echo "Preparing 1 second ago "; fi ;;
  *) echo "fake docker: unexpected: $*" >&2; exit 9 ;;
esac
`;

for (const { title, uid } of USERS) describe(`a member's delete (drain), run against a scripted docker, ${title}`, () => {
    // The membership lock is the host's file (/tmp/pulumi-swarm-membership.lock); on this machine
    // the script takes it in the scripted host's own folder instead, the one change made to it.
    const rendered = renderMemberDelete({ hostKey: "worker-3", nodeId: "w3node", role: "worker" }, 60);
    assert.ok(rendered.includes(`exec 9>${MEMBERSHIP_LOCK}\n`));
    const drain = rendered.replace(`exec 9>${MEMBERSHIP_LOCK}\n`, 'exec 9>"$FAKE/membership.lock"\n');
    const updates = (r: ScriptRun) => r.calls.filter((c) => c.startsWith("node update")).length;

    it("a drain refused as 'update out of sequence' is tried again, 2 s later, until it is taken", () => {
        const r = runChecked(drain, FAKE_DOCKER_MEMBER, { uid, env: { REFUSALS: "2", MOVING: "0", STUCK: "0" } });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(updates(r), 3);
        const before = r.calls.slice(0, r.calls.indexOf("node ps w3node --filter desired-state=running -q"));
        assert.deepStrictEqual(before.filter((c) => c.startsWith("sleep")), ["sleep 2", "sleep 2"]);
    });

    it("the drain waits until every service that ran all its tasks before runs them all again elsewhere; a service that never did is not waited for", () => {
        const afterDrain = (stuck: boolean) => {
            const r = runChecked(drain, FAKE_DOCKER_MEMBER, { uid, env: { REFUSALS: "0", MOVING: "3", STUCK: stuck ? "1" : "0" } });
            assert.strictEqual(r.code, 0, r.stderr);
            assert.strictEqual(r.stderr, "");
            return r.calls.slice(r.calls.indexOf("node update --availability drain w3node") + 1);
        };
        const web = ["node ps w3node --filter desired-state=running -q", "service ls --filter id=web --format {{.Replicas}}", "service ps web --filter desired-state=running --format {{.CurrentState}} {{.Error}}"];
        const global = ["service ls --filter id=global --format {{.Replicas}}", "service ps global --filter desired-state=running --format {{.CurrentState}} {{.Error}}"];
        const waited = [...web, "sleep 2", ...web, "sleep 2", ...web, "sleep 2", ...web, ...global, "node inspect w3node --format {{.Spec.Role}}"];
        assert.deepStrictEqual(afterDrain(false), waited);
        // A task that no node can take ("no suitable node") is not waited for: the same calls.
        assert.deepStrictEqual(afterDrain(true), waited);
    });

    it("a service short of a task is waited for until the time-out unless the task waits for a node that can take it (the check can fail)", () => {
        const r = runChecked(drain.replace("grep -q '^Pending.*no suitable node'", "false"), FAKE_DOCKER_MEMBER, { uid, env: { REFUSALS: "0", MOVING: "0", STUCK: "1" } });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stderr, "pulumi-swarm: warning: the tasks of worker-3 have not all moved and started elsewhere after 60 s of draining; it leaves anyway and they are rescheduled.\n");
        assert.strictEqual(r.calls.filter((c) => c === "sleep 2").length, 29);
    });

    it("before the drain, a replicated service with all its tasks on the node is redeployed, and the drain waits until one runs elsewhere; a spread service, a single task and a global task are left alone", () => {
        const r = runChecked(drain, FAKE_DOCKER_MEMBER, { uid, env: { REFUSALS: "0", MOVING: "0", STUCK: "0", SPREAD: "1", SPREADING: "2" } });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stderr, "");
        const api = "service ps api --filter desired-state=running --format {{.Node}} {{.CurrentState}}";
        assert.deepStrictEqual(r.calls.slice(r.calls.indexOf("node inspect w3node --format {{.Description.Hostname}}"), r.calls.indexOf("node update --availability drain w3node")), [
            "node inspect w3node --format {{.Description.Hostname}}",
            "node ps w3node --filter desired-state=running --format {{.Name}}",
            "service ls --filter name=agent.x8b1kq --format {{.Name}} {{.Mode}} {{.Replicas}}",
            "service ls --filter name=api --format {{.Name}} {{.Mode}} {{.Replicas}}",
            api,
            "service update --force --detach api",
            api,
            "sleep 2",
            api,
            "sleep 2",
            api,
            "service ls --filter name=web --format {{.Name}} {{.Mode}} {{.Replicas}}",
            "service ps web --filter desired-state=running --format {{.Node}} {{.CurrentState}}",
            "service ls --format {{.ID}} {{.Replicas}}",
        ]);
    });

    it("a service that stays on the node: after the time-out, a warning, and the drain goes on (the wait can fail)", () => {
        const r = runChecked(drain, FAKE_DOCKER_MEMBER, { uid, env: { REFUSALS: "0", MOVING: "0", STUCK: "0", SPREAD: "1", SPREADING: "99" } });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stderr, "pulumi-swarm: warning: api still runs all its tasks on worker-3 after 60 s of redeploying it; they stop together when it drains.\n");
        assert.ok(r.calls.includes("node update --availability drain w3node"));
    });

    it("refused 5 times: the delete fails, and the node is not demoted or left as if drained", () => {
        const r = runChecked(drain, FAKE_DOCKER_MEMBER, { uid, env: { REFUSALS: "99", MOVING: "0", STUCK: "0" } });
        assert.strictEqual(r.code, 1);
        assert.strictEqual(updates(r), 5);
        assert.ok(!r.calls.some((c) => c === "node ps w3node --filter desired-state=running -q" || c.includes("demote")), r.calls.join("\n"));
        assert.match(r.stderr, /update out of sequence/);
    });
});

/**
 * A scripted docker for a roll's drain on a manager: every `node ls` fails as a manager without
 * quorum answers (NOQUORUM=1), or lists a manager that is Unreachable.
 */
const FAKE_DOCKER_ROLL = `#!/bin/sh
echo "$*" >> "$FAKE/calls"
if [ "$NOQUORUM" = 1 ]; then
  case "$*" in
    "node ls"*) echo "Error response from daemon: rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online." >&2; exit 1 ;;
  esac
fi
case "$*" in
  "node ls --filter role=manager --format {{.ManagerStatus}}")
    if [ "\${MINORITY:-0}" = 1 ]; then printf 'Leader\nUnreachable\nUnreachable\n'; else printf 'Leader\nReachable\nUnreachable\n'; fi ;;
  "node ls") echo "ID   HOSTNAME   STATUS   AVAILABILITY   MANAGER STATUS" ;;
  *) echo "fake docker: unexpected: $*" >&2; exit 9 ;;
esac
`;

for (const { title, uid } of USERS) describe(`a roll's drain, run against a scripted docker, ${title}`, () => {
    const drain = renderBeforeRestart({ hostKey: "worker-1", role: "worker", change: "instance type t3.large", readyTimeoutSeconds: 4, drainTimeoutSeconds: 4 });

    it("quorum lost: after its bounded wait it fails with the recovery (docker swarm init --force-new-cluster and Docker's page), and drains nothing", () => {
        const r = runChecked(drain, FAKE_DOCKER_ROLL, { uid, env: { NOQUORUM: "1" } });
        assert.strictEqual(r.code, 1);
        assert.strictEqual(
            r.stderr,
            "pulumi-swarm: before worker-1 restarts, the swarm has lost its quorum: too few managers are online to elect a leader, and no change can be made to it. " +
                "No other node is touched. Start the managers that are down; if they are lost for good, run 'docker swarm init --force-new-cluster' on a surviving manager " +
                "(it keeps the swarm's services, secrets and configs, as a swarm of one manager; see https://docs.docker.com/engine/swarm/admin_guide/#recover-from-losing-the-quorum), " +
                "then run pulumi up again.\n",
        );
        assert.deepStrictEqual(r.calls, [
            "node ls --filter role=manager --format {{.ManagerStatus}}",
            "sleep 2",
            "node ls --filter role=manager --format {{.ManagerStatus}}",
            "node ls",
        ]);
    });

    it("a manager Unreachable, quorum kept: it fails with the not-whole message and the node list, and drains nothing", () => {
        const r = runChecked(drain, FAKE_DOCKER_ROLL, { uid, env: { NOQUORUM: "0" } });
        assert.strictEqual(r.code, 1);
        assert.strictEqual(
            r.stderr,
            "pulumi-swarm: before worker-1 restarts, the swarm is not whole after 4 s: it needs a leader, every manager Reachable and worker-1 Ready. " +
                "No other node is touched until it is; see 'docker node ls' below, fix the node, and run pulumi up again.\n" +
                "ID   HOSTNAME   STATUS   AVAILABILITY   MANAGER STATUS\n",
        );
        assert.ok(!r.calls.some((c) => c.startsWith("node update")), r.calls.join("\n"));
    });
});

describe("the scripted host is sealed: a rendered script reaches no real sudo or docker", () => {
    // A decoy folder that stands for a machine with password-less sudo: its `sudo` behaves
    // like the real one, looking `docker` up in its own secure path (`secure/`), whatever PATH
    // says; its `docker`s are sentinels that only record that they ran.
    let decoy: string;
    const ran = () => (fs.existsSync(path.join(decoy, "ran")) ? fs.readFileSync(path.join(decoy, "ran"), "utf8").trim().split("\n") : []);
    const leave = renderSwarmLeave("worker-0", 60);

    beforeEach(() => {
        decoy = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-swarm-decoy-"));
        fs.mkdirSync(path.join(decoy, "secure"));
        const sentinel = (what: string) => `#!/bin/sh\necho "${what} $*" >> ${decoy}/ran\necho inactive\n`;
        fs.writeFileSync(path.join(decoy, "sudo"), `#!/bin/sh\necho "sudo $*" >> ${decoy}/ran\n[ "$1" = -n ] && shift\ncmd=$1; shift\nexec ${decoy}/secure/"$cmd" "$@"\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(decoy, "docker"), sentinel("path docker"), { mode: 0o755 });
        fs.writeFileSync(path.join(decoy, "secure", "docker"), sentinel("secure-path docker"), { mode: 0o755 });
    });
    afterEach(() => fs.rmSync(decoy, { recursive: true, force: true }));

    it("the decoy works: outside the harness, a non-root script's `sudo -n docker` runs the secure-path sentinel", () => {
        const r = spawnSync("/bin/sh", ["-c", "sudo -n docker info"], { encoding: "utf8", env: { PATH: `${decoy}:${SYSTEM_PATH}` } });
        assert.strictEqual(r.status, 0, r.stderr);
        assert.deepStrictEqual(ran(), ["sudo -n docker info", "secure-path docker info"]);
    });

    for (const { title, uid } of USERS) {
        it(`${title}, with the decoy's sudo and docker in PATH, only the fakes are called and the fake docker logs every call`, () => {
            const r = runOnScriptedHost(leave, FAKE_DOCKER, {
                uid,
                extraPath: [decoy],
                env: { TASKS_GO: "0", NET_GOES: "0", KEPT: "", LAST: "0" },
            });
            assert.strictEqual(r.code, 0, r.stderr);
            assert.deepStrictEqual(ran(), [], "no sentinel ran");
            const expected = [
                "info --format {{.Swarm.LocalNodeState}}",
                "info --format {{.Swarm.ControlAvailable}} {{.Swarm.Managers}}",
                "info --format {{.Swarm.ControlAvailable}}",
                "ps -q --filter label=com.docker.swarm.task.id",
                "network ls -q --filter driver=overlay",
                "network inspect --format {{.Ingress}} ingressid",
                "swarm leave",
                "network ls --filter driver=overlay --format {{.Name}}",
            ];
            assert.deepStrictEqual(r.calls, expected);
            assert.deepStrictEqual(r.sudoCalls, uid === 0 ? [] : expected.map((c) => `-n docker ${c}`));
        });
    }

    it(`messages name the fake host (${FAKE_HOSTNAME}), never this machine`, () => {
        const r = runOnScriptedHost(leave, FAKE_DOCKER, { uid: 1000, env: { TASKS_GO: "0", NET_GOES: "-1", KEPT: "web_front" } });
        assert.match(r.stderr, /^pulumi-swarm: warning: worker-0 \(node-under-test\) left the swarm/);
    });
});

/**
 * A scripted docker for a first stack deploy that fails: `stack deploy` creates the stack's
 * service and network, then fails; `stack rm` removes the service but not the network (a
 * task's container still holds it, as Docker answers then); `network rm` removes it.
 */
const FAKE_DOCKER_STACK = `#!/bin/sh
echo "$*" >> "$FAKE/calls"
case "$*" in
  "info --format {{.Swarm.ControlAvailable}}") echo true ;;
  "service ls --filter label=com.docker.stack.namespace=web -q")
    if [ -f "$FAKE/deployed" ] && [ ! -f "$FAKE/removed" ]; then echo svc1; fi ;;
  "network ls --filter label=com.docker.stack.namespace=web -q")
    if [ -f "$FAKE/deployed" ] && [ ! -f "$FAKE/netgone" ]; then echo net1; fi ;;
  "secret ls --filter label=com.docker.stack.namespace=web -q"|"config ls --filter label=com.docker.stack.namespace=web -q") ;;
  "stack deploy --compose-file "*" --with-registry-auth --prune --resolve-image always web")
    : > "$FAKE/deployed"; echo "image not found" >&2; exit 1 ;;
  "stack rm web")
    : > "$FAKE/removed"; echo "Removing service web_app"; echo "Failed to remove network net1: network is in use" >&2; exit 1 ;;
  "network rm net1") : > "$FAKE/netgone" ;;
  *) echo "fake docker: unexpected: $*" >&2; exit 9 ;;
esac
`;

for (const { title, uid } of USERS) describe(`the stack deploy's failed first deploy, run against a scripted docker, ${title}`, () => {
    it("takes its stack away again and waits until the network a task still held is gone too", () => {
        const script = renderStackDeploy({ stackName: "web", contentHash: "a".repeat(64), resolveImage: "always", convergeTimeoutSeconds: 300, removeTimeoutSeconds: 180 });
        const bundle = `compose.yaml ${Buffer.from("services:\n  app:\n    image: nginx\n").toString("base64")}\n`;
        const r = runChecked(script, FAKE_DOCKER_STACK, { uid, stdin: bundle });
        assert.strictEqual(r.code, 1);
        const calls = r.calls.map((c) => c.replace(/--compose-file \S+/, "--compose-file <dir>/compose.yaml"));
        const left = [
            "service ls --filter label=com.docker.stack.namespace=web -q",
            "network ls --filter label=com.docker.stack.namespace=web -q",
            "secret ls --filter label=com.docker.stack.namespace=web -q",
            "config ls --filter label=com.docker.stack.namespace=web -q",
        ];
        assert.deepStrictEqual(calls, [
            "info --format {{.Swarm.ControlAvailable}}",
            "service ls --filter label=com.docker.stack.namespace=web -q",
            "stack deploy --compose-file <dir>/compose.yaml --with-registry-auth --prune --resolve-image always web",
            ...left,
            "stack rm web",
            ...left,
            "network ls --filter label=com.docker.stack.namespace=web -q",
            "network rm net1",
            "config ls --filter label=com.docker.stack.namespace=web -q",
            "secret ls --filter label=com.docker.stack.namespace=web -q",
            "sleep 1",
            ...left,
        ]);
        assert.strictEqual(
            r.stderr,
            "image not found\npulumi-swarm: removing stack web, which this failed first deploy created\nRemoving service web_app\nFailed to remove network net1: network is in use\n",
        );
    });
});

for (const { title, uid } of USERS) describe(`the check before a rolling change, run against a scripted docker, ${title}`, () => {
    const check = renderQuorumCheck("manager t3.medium, worker t3.large, ami looked-up, user data 0123456789ab", 600);

    const statuses = "node ls --filter role=manager --format {{.ManagerStatus}}";
    const recovery =
        "Start the managers that are down; if they are lost for good, run 'docker swarm init --force-new-cluster' on a surviving manager " +
        "(it keeps the swarm's services, secrets and configs, as a swarm of one manager; see https://docs.docker.com/engine/swarm/admin_guide/#recover-from-losing-the-quorum), " +
        "then run pulumi up again.\n";

    it("a swarm with a majority of its managers reachable: it passes at once", () => {
        const r = runChecked(check, FAKE_DOCKER_ROLL, { uid, env: { NOQUORUM: "0" } });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(r.calls, [statuses]);
    });

    it("a leader that reaches no majority (its followers just stopped): after its bounded wait it fails with the recovery and the node list", () => {
        const r = runChecked(check, FAKE_DOCKER_ROLL, { uid, env: { NOQUORUM: "0", MINORITY: "1" } });
        assert.strictEqual(r.code, 1);
        assert.strictEqual(
            r.stderr,
            "pulumi-swarm: before any node changes, the swarm has lost its quorum: fewer than half of its managers are reachable (see 'docker node ls' below), and no change can be made to it. " +
                "No node is touched. " + recovery + "ID   HOSTNAME   STATUS   AVAILABILITY   MANAGER STATUS\n",
        );
        assert.strictEqual(r.calls.filter((c) => c === statuses).length, 15);
    });

    it("the wait is the swarm's readiness time-out when it is shorter", () => {
        const short = renderQuorumCheck("manager t3.medium, worker t3.large, ami looked-up, user data 0123456789ab", 10);
        const r = runChecked(short, FAKE_DOCKER_ROLL, { uid, env: { NOQUORUM: "1" } });
        assert.strictEqual(r.code, 1);
        assert.deepStrictEqual(r.calls.filter((c) => c === statuses).length, 5);
    });

    it("no leader: after its bounded wait it fails with the recovery, before any node is touched", () => {
        const r = runChecked(check, FAKE_DOCKER_ROLL, { uid, env: { NOQUORUM: "1" } });
        assert.strictEqual(r.code, 1);
        assert.strictEqual(
            r.stderr,
            "pulumi-swarm: before any node changes, the swarm has lost its quorum: too few managers are online to elect a leader, and no change can be made to it. " +
                "No node is touched. " + recovery,
        );
        // Polled every 2 s for QUORUM_CHECK_SECONDS (15 times), then asked once more for the reason.
        assert.strictEqual(QUORUM_CHECK_SECONDS, 30);
        assert.deepStrictEqual(r.calls.filter((c) => c === statuses).length, 15);
        assert.deepStrictEqual(r.calls.filter((c) => c === "node ls").length, 1);
        assert.deepStrictEqual(r.calls.filter((c) => c === "sleep 2").length, 14);
    });
});

for (const { title, uid } of USERS) describe(`the remover's delete, run against a scripted docker, ${title}`, () => {
    const rendered = renderRemoverDelete("manager-0");
    assert.ok(rendered.includes(`exec 9>${MEMBERSHIP_LOCK}\n`));
    const remover = rendered.replace(`exec 9>${MEMBERSHIP_LOCK}\n`, 'exec 9>"$FAKE/membership.lock"\n');
    // An engine that says it is a manager, whose `node ls` fails with $NODE_LS_ERROR.
    const docker = `#!/bin/sh
echo "$*" >> "$FAKE/calls"
case "$*" in
  "info --format {{.Swarm.ControlAvailable}}") echo true ;;
  "node ls"*) echo "$NODE_LS_ERROR" >&2; exit 1 ;;
  *) echo "fake docker: unexpected: $*" >&2; exit 9 ;;
esac
`;
    const runWith = (error: string) => runChecked(remover, docker, { uid, env: { NODE_LS_ERROR: error } });

    it("on a retired manager (demoted and removed before it heard of it: it says it is a manager, with no control socket) it removes nothing and succeeds", () => {
        const r = runWith('Error response from daemon: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing dial unix /var/run/docker/swarm/control.sock: connect: no such file or directory"');
        assert.strictEqual(r.code, 0, r.stderr);
        assert.ok(!r.calls.some((c) => c.startsWith("node rm")), r.calls.join("\n"));
    });

    it("on a manager that fails otherwise (Raft's DeadlineExceeded) it fails, so that the run says so", () => {
        const r = runWith("Error response from daemon: rpc error: code = DeadlineExceeded desc = context deadline exceeded");
        assert.strictEqual(r.code, 1);
    });
});
