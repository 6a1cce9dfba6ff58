// Pure layer: the rules of the lab's day-2 probe (test/lab/probe.ts): its health-check matcher,
// the target group thresholds it mirrors, and its quorum verdict on a `GET /nodes` answer.
import * as assert from "assert";
import { ROUTE_TARGET_GROUP } from "../components/routePlanning";
import { PROBE_TARGET_HEALTH, matcherAccepts, quorumOf } from "./lab/probe";

describe("pure: the lab probe's rules", () => {
    it("mirrors the routes' target group: matcher 200-399, out after 3 failed checks, in after 2 passed", () => {
        assert.deepStrictEqual(PROBE_TARGET_HEALTH, { matcher: "200-399", healthyThreshold: 2, unhealthyThreshold: 3 });
        assert.strictEqual(PROBE_TARGET_HEALTH.matcher, ROUTE_TARGET_GROUP.healthCheck.matcher);
    });
    it("accepts a status by a matcher's ranges and codes", () => {
        assert.deepStrictEqual([199, 200, 302, 399, 400, 502].map((s) => matcherAccepts("200-399", s)), [false, true, true, true, false, false]);
        assert.deepStrictEqual([200, 204, 302].map((s) => matcherAccepts("200,302", s)), [true, false, true]);
    });
    it("quorum: a Leader with a majority of the listed managers reachable; workers do not count", () => {
        const m = (leader: boolean, reachability: string) => ({ ManagerStatus: { Leader: leader, Reachability: reachability } });
        const worker = {};
        const verdict = (nodes: object[]) => quorumOf(nodes).quorum;
        assert.strictEqual(verdict([m(true, "reachable"), m(false, "reachable"), m(false, "reachable"), worker, worker]), true);
        assert.strictEqual(verdict([m(true, "reachable"), m(false, "unreachable"), m(false, "reachable")]), true);
        // Measured: the leader whose two followers stopped still lists itself as Leader.
        assert.deepStrictEqual(quorumOf([m(true, "reachable"), m(false, "unreachable"), m(false, "unreachable")]), { quorum: false, leader: true, reachable: 1, managers: 3 });
        // A replacement manager joined, the old one not yet removed: 3 of 4 is a majority, 2 of 4 is not.
        assert.strictEqual(verdict([m(true, "reachable"), m(false, "reachable"), m(false, "reachable"), m(false, "unreachable")]), true);
        assert.strictEqual(verdict([m(true, "reachable"), m(false, "reachable"), m(false, "unreachable"), m(false, "unreachable")]), false);
        assert.strictEqual(verdict([m(false, "reachable"), m(false, "reachable"), m(false, "reachable")]), false);
        assert.strictEqual(verdict([worker]), false);
    });
});
