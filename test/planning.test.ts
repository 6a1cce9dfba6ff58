// Pure layer: placement over zones, the security-group rule table, CIDR planning.
import * as assert from "assert";
import { parseCidr, splitIpv4Cidr } from "../components/cidr";
import { cidrKey, clusterIdentity, ecrRepositoryName, planNodeSecurityRules, planPlacement, planRestartOrder, toleratedManagerFailures } from "../components/planning";
import { architectureOf, amiNameFilter, nodePlatform } from "../components/swarmCluster";

describe("pure: planning", () => {
    it("spreads 5 managers over 3 zones as 2-2-1", () => {
        const zones = planPlacement(5, 0, 3).map((p) => p.zoneIndex);
        assert.deepStrictEqual(zones, [0, 1, 2, 0, 1]);
    });
    it("places workers round-robin by their own index", () => {
        assert.deepStrictEqual(
            planPlacement(3, 4, 3).map((p) => `${p.key}@${p.zoneIndex}`),
            ["manager-0@0", "manager-1@1", "manager-2@2", "worker-0@0", "worker-1@1", "worker-2@2", "worker-3@0"],
        );
    });
    it("keeps every worker in its zone when the manager count changes (no worker replaced)", () => {
        const workers = (m: number) => planPlacement(m, 5, 3).filter((p) => p.role === "worker").map((p) => p.zoneIndex);
        assert.deepStrictEqual(workers(1), workers(3));
        assert.deepStrictEqual(workers(3), workers(5));
    });
    it("counts tolerated manager losses", () => {
        assert.deepStrictEqual([1, 3, 5, 7].map(toleratedManagerFailures), [0, 1, 2, 3]);
    });
    it("plans the exact node rule table", () => {
        const rules = planNodeSecurityRules(["203.0.113.0/24", "2001:db8::/32"], false).map(
            (r) => `${r.direction} ${r.protocol} ${r.fromPort ?? "-"}-${r.toPort ?? "-"} from ${r.source === "self" ? "self" : r.source.cidr} [${r.key}]`,
        );
        assert.deepStrictEqual(rules, [
            "ingress tcp 2377-2377 from self [swarm-2377-tcp]",
            "ingress tcp 7946-7946 from self [swarm-7946-tcp]",
            "ingress udp 7946-7946 from self [swarm-7946-udp]",
            "ingress udp 4789-4789 from self [swarm-4789-udp]",
            "ingress tcp 22-22 from 203.0.113.0/24 [ssh-203-0-113-0-24]",
            "ingress tcp 22-22 from 2001:db8::/32 [ssh-2001-db8-32]",
            "egress -1 --- from 0.0.0.0/0 [egress-all-ipv4]",
        ]);
    });
    it("adds ESP (IP protocol 50) between nodes only for encrypted overlays", () => {
        const esp = planNodeSecurityRules(["203.0.113.0/24"], true).filter((r) => r.protocol === "50");
        assert.deepStrictEqual(esp.map((r) => [r.key, r.source]), [["swarm-esp", "self"]]);
        assert.strictEqual(planNodeSecurityRules(["203.0.113.0/24"], false).filter((r) => r.protocol === "50").length, 0);
    });
    it("never opens a swarm port to a CIDR, whatever the admin list", () => {
        const rules = planNodeSecurityRules(["0.0.0.0/0", "::/0"], true);
        const swarmPorts = [2377, 7946, 4789];
        for (const r of rules.filter((x) => x.direction === "ingress" && x.source !== "self")) {
            assert.ok(!swarmPorts.some((p) => (r.fromPort ?? 0) <= p && p <= (r.toPort ?? 65535)), `${r.key} opens a swarm port`);
            assert.strictEqual(r.fromPort, 22);
        }
    });
    it("makes rule keys from CIDRs", () => assert.strictEqual(cidrKey("2001:DB8::/32"), "2001-db8-32"));
    it("splits a VPC into zone subnets", () => {
        assert.deepStrictEqual(splitIpv4Cidr("10.20.0.0/16", 3, 3), ["10.20.0.0/19", "10.20.32.0/19", "10.20.64.0/19"]);
        assert.deepStrictEqual(splitIpv4Cidr("192.168.4.0/24", 2, 3), ["192.168.4.0/27", "192.168.4.32/27"]);
    });
    it("parses CIDRs to their canonical form", () => {
        assert.deepStrictEqual(parseCidr("10.1.2.3/8"), { family: 4, prefix: 8, canonical: "10.0.0.0/8" });
        assert.deepStrictEqual(parseCidr("2001:db8:0:0:0:0:0:1/128"), { family: 6, prefix: 128, canonical: "2001:db8::1/128" });
        assert.strictEqual(parseCidr("10.0.0.0/33"), undefined);
        assert.strictEqual(parseCidr("1:2:3:4:5:6:7:8:9/64"), undefined);
    });
    it("looks up the AMI of the instance type's architecture", () => {
        assert.deepStrictEqual(["t3.small", "t4g.small", "m7gd.large", "c7gn.xlarge", "g4dn.xlarge", "m7i-flex.large"].map(architectureOf), [
            "x86_64",
            "arm64",
            "arm64",
            "arm64",
            "x86_64",
            "x86_64",
        ]);
        assert.strictEqual(amiNameFilter("arm64"), "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*");
    });
    it("gives stacks the nodes' platform when every node has one architecture, known now", () => {
        assert.strictEqual(nodePlatform("t3.small", "t3.medium"), "linux/amd64");
        assert.strictEqual(nodePlatform("t4g.small", "m7g.large"), "linux/arm64");
        assert.strictEqual(nodePlatform("t3.small", "m7g.large"), undefined, "mixed architectures: no single platform");
        assert.strictEqual(nodePlatform(Promise.resolve("t3.small"), "t3.small"), undefined, "not known until deploy");
    });
});

describe("pure: a cluster's identity on AWS", () => {
    it("is the project, the stack and the name: two stacks' clusters of the same name differ", () => {
        assert.strictEqual(clusterIdentity("shop", "prod", "swarm"), "shop/prod/swarm");
        assert.strictEqual(clusterIdentity("shop", "dev", "swarm"), "shop/dev/swarm");
    });
    it("longer than a tag value may be (256), keeps 247 characters and a hash of the whole", () => {
        const long = clusterIdentity("p", "s", "n".repeat(300));
        assert.strictEqual(long.length, 256);
        assert.match(long, /^p\/s\/n{243}-[0-9a-f]{8}$/);
        assert.notStrictEqual(long, clusterIdentity("p", "s", "n".repeat(301)));
    });
    it("names ECR repositories <identity>/<stack>/<service>, each part as ECR accepts it", () => {
        assert.strictEqual(ecrRepositoryName("shop/prod/swarm", "web", "api"), "shop/prod/swarm/web/api");
        // Lowercase; a run of separators becomes its first; none at either end; other characters '-'.
        assert.strictEqual(ecrRepositoryName("My_Shop/Prod--EU/_swarm.", "web", "api"), "my_shop/prod-eu/swarm/web/api");
        assert.strictEqual(ecrRepositoryName("a b/c@d/--", "web", "api"), "a-b/c-d/x/web/api");
        // A target built by hand gives its cluster name alone.
        assert.strictEqual(ecrRepositoryName("prod", "web", "api"), "prod/web/api");
        for (const n of ["shop/prod/swarm/web/api", "my_shop/prod-eu/swarm/web/api"]) {
            assert.match(n, /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/);
        }
    });
    it("an ECR name longer than 256 puts a hash of the identity before the stack and service", () => {
        assert.match(ecrRepositoryName(`p/s/${"n".repeat(260)}`, "web", "api"), /^[0-9a-f]{8}\/web\/api$/);
    });
});

describe("pure: the order of a rolling restart", () => {
    const order = (m: number, w: number, batch: number) =>
        planRestartOrder(planPlacement(m, w, 3), batch).map(
            (t) => `${t.key}${t.after ? ` after ${t.after}` : ""}${t.drainedOn ? ` drained on ${t.drainedOn}` : ""}${t.leadershipOffOf ? `, leadership off ${t.leadershipOffOf}` : ""}`,
        );

    it("managers one at a time, the first manager last; then workers one at a time, drained on the first manager", () => {
        assert.deepStrictEqual(order(3, 2, 1), [
            "manager-1",
            "manager-2 after manager-1 drained on manager-1",
            "manager-0 after manager-2 drained on manager-1, leadership off manager-1",
            "worker-0 after manager-0 drained on manager-0",
            "worker-1 after worker-0 drained on manager-0",
        ]);
    });

    it("workers in batches of maxUnavailableWorkers: each after the worker a batch before it", () => {
        assert.deepStrictEqual(order(1, 5, 2), [
            "manager-0",
            "worker-0 after manager-0 drained on manager-0",
            "worker-1 after manager-0 drained on manager-0",
            "worker-2 after worker-0 drained on manager-0",
            "worker-3 after worker-1 drained on manager-0",
            "worker-4 after worker-2 drained on manager-0",
        ]);
    });

    it("a batch larger than the workers: all of them after the last manager", () => {
        assert.deepStrictEqual(order(1, 2, 5), ["manager-0", "worker-0 after manager-0 drained on manager-0", "worker-1 after manager-0 drained on manager-0"]);
    });
});
