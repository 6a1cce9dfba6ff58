// Pure layer, run: the leave scripts executed by sh against a scripted `docker` (and a `sleep`
// that returns at once) in PATH. Each scenario says how many polls the node's task containers
// and overlay networks take to go; the fake docker logs every call, so the test sees when the
// leave ran and what the script said.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LEAVE_SETTLE_SECONDS, POLL_SECONDS } from "../../components/scripts/common";
import { renderSwarmDestroy } from "../../components/scripts/swarmInit";
import { renderSwarmLeave } from "../../components/scripts/swarmJoin";

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

function run(script: string, s: Scenario): { code: number; stderr: string; calls: string[] } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-swarm-leave-"));
    try {
        const binDir = path.join(dir, "bin");
        fs.mkdirSync(binDir);
        fs.writeFileSync(path.join(binDir, "docker"), FAKE_DOCKER, { mode: 0o755 });
        fs.writeFileSync(path.join(binDir, "sleep"), "#!/bin/sh\necho \"sleep $*\" >> \"$FAKE/calls\"\n", { mode: 0o755 });
        const r = spawnSync("sh", ["-c", script], {
            encoding: "utf8",
            env: {
                PATH: `${binDir}:/usr/bin:/bin`,
                FAKE: dir,
                TASKS_GO: String(s.tasksGoAfter),
                NET_GOES: String(s.networkGoesAfter),
                KEPT: s.keptAfterLeave.join(" "),
            },
        });
        const calls = fs.existsSync(path.join(dir, "calls")) ? fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n") : [];
        return { code: r.status ?? 1, stderr: r.stderr, calls };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
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
