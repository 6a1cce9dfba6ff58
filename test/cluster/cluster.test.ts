// Mock layer: the real SwarmCluster builds its resource graph against a recording monitor;
// the tests assert exact resources, rules, names, dependencies, options and secrecy.
import * as assert from "assert";
import { createHash } from "crypto";
import { renderSingleManagerGuard } from "../../components/scripts/guard";
import { renderQuorumCheck } from "../../components/scripts/roll";
import * as pulumi from "@pulumi/pulumi";
import type { SwarmCluster as SwarmClusterType, SwarmClusterArgs } from "../../components";
import { AWS_ZONES, GET_INSTANCES, HeldInstance, Recorded, RecordingMonitor, awsCalls, awsOutputs, ec2Lookup, installMocks, isSecretValue, plain, unwrap } from "../mocks";

/**
 * Builds the cluster under the mocks. `running`: the managers EC2 answers the cluster's lookup
 * with, by instance ID and private address (a run on a running cluster); none by default (a new
 * cluster). `ec2`: the instances EC2 holds instead, answered as EC2 filters them. `stack`: the
 * Pulumi stack's name (the mocks' "stack" by default).
 */
async function build(
    name: string,
    args: SwarmClusterArgs,
    opts: { preview?: boolean; stack?: string; running?: { ids: string[]; privateIps: string[]; publicIps: string[] }; ec2?: HeldInstance[] } = {},
    resourceOpts: (m: RecordingMonitor) => Promise<pulumi.ComponentResourceOptions> = async () => ({}),
) {
    const calls = (token: string, inputs: Record<string, unknown>) =>
        token === GET_INSTANCES && opts.ec2
            ? ec2Lookup(opts.ec2, inputs)
            : token === GET_INSTANCES && opts.running
              ? { ...awsCalls(token, inputs), ...opts.running }
              : awsCalls(token, inputs);
    const monitor = installMocks(awsOutputs, calls, opts);
    const { SwarmCluster } = await import("../../components");
    const cluster = new SwarmCluster(name, args, await resourceOpts(monitor));
    await monitor.settled();
    return { monitor, cluster };
}

function countByType(m: RecordingMonitor): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of m.records) {
        out[r.type] = (out[r.type] ?? 0) + 1;
    }
    return out;
}

/**
 * The resources every cluster with a new VPC over 3 zones and one admin CIDR has, with the
 * default load balancer (HTTP only, from 0.0.0.0/0): 1 more security group, 1 more ingress
 * rule, the ALB and its HTTP listener.
 */
const base = {
    "swarm:index:SwarmCluster": 1,
    "swarm:index:SwarmBootstrap": 1,
    "swarm:index:SwarmLoadBalancer": 1,
    "aws:lb/loadBalancer:LoadBalancer": 1,
    "aws:lb/listener:Listener": 1,
    "aws:ec2/vpc:Vpc": 1,
    "aws:ec2/internetGateway:InternetGateway": 1,
    "aws:ec2/routeTable:RouteTable": 1,
    "aws:ec2/route:Route": 1,
    "aws:ec2/subnet:Subnet": 3,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": 3,
    "aws:ec2/securityGroup:SecurityGroup": 2,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": 6,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": 1,
    "aws:iam/role:Role": 1,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 2,
    "aws:iam/rolePolicy:RolePolicy": 1,
    "aws:iam/instanceProfile:InstanceProfile": 1,
    "tls:index/privateKey:PrivateKey": 1,
    "aws:ec2/keyPair:KeyPair": 1,
};

const admin = ["203.0.113.0/24"];

describe("mock: SwarmCluster resource counts", function () {
    this.timeout(60000);
    // (managers, workers) -> instances and remote commands: 1 init, a join per node, a member
    // and a remover per node but a lone manager (they run on another manager); and around each
    // node's restart, a ready per node, and a drain, a hand-off before it and (with the load
    // balancer) a back after the ready per node but the chain's first manager.
    const cases: [number, number, number][] = [
        [1, 0, 2 + 1],
        [3, 2, 16 + 5 + 3 * 4],
        [5, 10, 46 + 15 + 3 * 14],
    ];
    for (const [managers, workers, commands] of cases) {
        it(`(${managers} managers, ${workers} workers): exact resources`, async () => {
            const { monitor } = await build(`c${managers}x${workers}`, { adminCidrBlocks: admin, managerCount: managers, workerCount: workers });
            assert.deepStrictEqual(countByType(monitor), {
                ...base,
                "aws:ec2/instance:Instance": managers + workers,
                "aws:ec2/eip:Eip": managers,
                "command:remote:Command": commands,
                // A lone manager's guard (its replacement would lose the swarm).
                ...(managers === 1 ? { "command:local:Command": 1 } : {}),
            });
            const instances = monitor.ofType("aws:ec2/instance:Instance").map((r) => r.name).sort();
            const expected = [
                ...Array.from({ length: managers }, (_, i) => `c${managers}x${workers}-manager-${i}`),
                ...Array.from({ length: workers }, (_, i) => `c${managers}x${workers}-worker-${i}`),
            ].sort();
            assert.deepStrictEqual(instances, expected);
        });
    }
});

describe("mock: SwarmCluster (3 managers, 2 workers)", function () {
    this.timeout(60000);
    let m: RecordingMonitor;
    let cluster: SwarmClusterType;
    const N = "prod";
    const cmd = (n: string) => m.named(`${N}-swarm-${n}`);
    const script = (r: Recorded, key: "create" | "delete") => plain<string>(r.inputs[key]);

    before(async () => {
        ({ monitor: m, cluster } = await build(N, {
            adminCidrBlocks: ["203.0.113.0/24", "2001:db8::/32"],
            managerCount: 3,
            workerCount: 2,
            tags: { team: "platform" },
        }));
    });

    it("names every child <name>-<role>[-<i>], parents it under the component, and tags it with that name", () => {
        for (const r of m.records.filter((x) => !x.type.startsWith("swarm:index:SwarmCluster"))) {
            assert.ok(r.name.startsWith(`${N}-`), r.name);
            assert.ok(
                r.parentUrn.includes("swarm:index:SwarmCluster") || r.parentUrn.includes("SwarmBootstrap") || r.parentUrn.endsWith(`SwarmLoadBalancer::${N}-alb`),
                `${r.name} has parent ${r.parentUrn}`,
            );
            const tags = r.inputs.tags as Record<string, string> | undefined;
            if (tags) {
                assert.strictEqual(tags.Name, r.name);
                assert.strictEqual(tags.team, "platform");
                // The cluster's identity: the mocks' project and stack, and its name.
                assert.strictEqual(tags["pulumi-swarm:cluster"], `project/stack/${N}`);
            }
        }
    });

    it("spreads managers over the looked-up zones: one in each of 3", () => {
        const subnetZone = new Map(
            m.ofType("aws:ec2/subnet:Subnet").map((s) => [`${s.name}-id`, s.inputs.availabilityZone as string]),
        );
        const zonesOf = (prefix: string) =>
            m
                .ofType("aws:ec2/instance:Instance")
                .filter((i) => i.name.startsWith(prefix))
                .sort((a, b) => a.name.localeCompare(b.name))
                .map((i) => subnetZone.get(i.inputs.subnetId as string));
        assert.deepStrictEqual(zonesOf(`${N}-manager-`), AWS_ZONES.slice(0, 3));
        assert.deepStrictEqual(zonesOf(`${N}-worker-`), [AWS_ZONES[0], AWS_ZONES[1]]);
    });

    it("has exactly the node security-group rules, swarm ports only from the group itself", () => {
        const sgId = `${N}-nodes-id`;
        const rules = [
            ...m.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
            ...m.ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"),
        ]
            .filter((r) => r.name.startsWith(`${N}-nodes-`))
            .map((r) => {
                const i = r.inputs as Record<string, string | number | undefined>;
                assert.strictEqual(i.securityGroupId, sgId);
                const from = i.referencedSecurityGroupId === sgId ? "self" : (i.cidrIpv4 ?? i.cidrIpv6);
                return `${r.type.includes("Ingress") ? "in" : "out"} ${i.ipProtocol} ${i.fromPort ?? "*"}-${i.toPort ?? "*"} ${from}`;
            })
            .sort();
        assert.deepStrictEqual(rules, [
            "in tcp 22-22 2001:db8::/32",
            "in tcp 22-22 203.0.113.0/24",
            "in tcp 2377-2377 self",
            "in tcp 7946-7946 self",
            "in udp 4789-4789 self",
            "in udp 7946-7946 self",
            "out -1 *-* 0.0.0.0/0",
        ]);
    });

    it("never opens a swarm port (2377, 7946, 4789) to a CIDR", () => {
        for (const r of m.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")) {
            const i = r.inputs as Record<string, number | string | undefined>;
            if (i.cidrIpv4 !== undefined || i.cidrIpv6 !== undefined) {
                for (const port of [2377, 7946, 4789]) {
                    assert.ok(!(Number(i.fromPort) <= port && port <= Number(i.toPort)), `${r.name} opens ${port}`);
                }
                assert.notStrictEqual(i.ipProtocol, "-1", `${r.name} opens every protocol`);
            }
        }
    });

    it("requires IMDSv2 and an encrypted gp3 root volume on every instance", () => {
        const instances = m.ofType("aws:ec2/instance:Instance");
        assert.strictEqual(instances.length, 5);
        for (const i of instances) {
            assert.deepStrictEqual(i.inputs.metadataOptions, { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 });
            assert.deepStrictEqual(i.inputs.rootBlockDevice, { volumeType: "gp3", volumeSize: 30, encrypted: true, deleteOnTermination: true });
            assert.deepStrictEqual(i.inputs.vpcSecurityGroupIds, [`${N}-nodes-id`]);
            assert.strictEqual(i.inputs.ami, "ami-0123456789abcdef0");
            assert.strictEqual(i.inputs.iamInstanceProfile, `${N}-node`);
            // A change of user data must not stop and start every node at once, nor a newer
            // looked-up AMI replace every node.
            // A looked-up AMI is kept; user data is not ignored: a change of it replaces the node.
            assert.deepStrictEqual(i.ignoreChanges, ["ami"]);
            assert.strictEqual(i.inputs.userDataReplaceOnChange, true);
            assert.match(String(i.inputs.userData), /^#!\/bin\/bash\n# pulumi-swarm node setup \(ubuntu-24\.04\): Docker Engine 28\.5\.2, pinned\./);
        }
        assert.deepStrictEqual(
            instances.map((i) => (i.inputs.tags as Record<string, string>)["pulumi-swarm:role"]).sort(),
            ["manager", "manager", "manager", "worker", "worker"],
        );
    });

    it("gives the nodes a role with ECR read and SSM, through an instance profile", () => {
        const role = m.named(`${N}-node`);
        assert.match(String(role.inputs.assumeRolePolicy), /"Service":"ec2.amazonaws.com"/);
        assert.deepStrictEqual(
            m.ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").map((a) => a.inputs.policyArn).sort(),
            ["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"],
        );
    });

    it("lets a node take nodes of this cluster, and only those, out of the load balancer and back: the reads, and Deregister/RegisterTargets on groups tagged with the cluster", () => {
        const policy = m.named(`${N}-node-elb`, "aws:iam/rolePolicy:RolePolicy");
        assert.strictEqual(policy.inputs.role, `${N}-node-id`);
        assert.deepStrictEqual(JSON.parse(String(policy.inputs.policy)), {
            Version: "2012-10-17",
            Statement: [
                {
                    Sid: "ReadTargetHealth",
                    Effect: "Allow",
                    Action: ["elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth"],
                    Resource: "*",
                },
                {
                    Sid: "MoveOwnNodes",
                    Effect: "Allow",
                    Action: ["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"],
                    Resource: "arn:aws:elasticloadbalancing:*:*:targetgroup/*",
                    Condition: { StringEquals: { "aws:ResourceTag/pulumi-swarm:cluster": `project/stack/${N}` } },
                },
            ],
        });
    });

    it("each member labels its node with its instance ID and takes a leaving or replaced node out of the ALB (found by its AWS name) before the drain", () => {
        const albName = String(m.named(`${N}-alb`, "aws:lb/loadBalancer:LoadBalancer").inputs.name);
        for (const key of ["manager-0", "manager-1", "worker-0"]) {
            const member = cmd(`member-${key}`);
            const create = script(member, "create");
            const del = script(member, "delete");
            assert.match(create, new RegExp(`--label-add pulumi-swarm\\.instance=${N}-${key}-id `));
            for (const s of [create, del]) assert.ok(s.includes(`\nlbName=${albName}\n`), `${key}: ${albName}`);
            // Out of the load balancer, then drained.
            assert.ok(create.indexOf('lbOut "$inst"') > 0 && create.indexOf('lbOut "$inst"') < create.indexOf('nodeUpdate --availability drain "$other"'), key);
            assert.ok(del.indexOf(`lbOut ${N}-${key}-id ${key}`) > 0 && del.indexOf(`lbOut ${N}-${key}-id ${key}`) < del.indexOf("nodeUpdate --availability drain"), key);
        }
    });

    it("generates an ed25519 key and registers its public half as the EC2 key pair", () => {
        assert.strictEqual(m.named(`${N}-ssh`).inputs.algorithm, "ED25519");
        assert.strictEqual(m.ofType("aws:ec2/keyPair:KeyPair")[0].inputs.publicKey, "ssh-ed25519 AAAAFAKE");
    });

    it("inits on the first manager, at its private address, after the firewall rules, never logging its output; once, as the swarm's birth", () => {
        const init = cmd("init");
        assert.match(script(init, "create"), /dkr swarm init --advertise-addr 10\.\d+\.\d+\.\d+ --listen-addr 10\.\d+\.\d+\.\d+:2377/);
        assert.strictEqual(init.inputs.logging, "none");
        assert.deepStrictEqual(init.additionalSecretOutputs.filter((o) => o !== "connection").sort(), ["stderr", "stdout"]);
        // Another first manager (new address, new machine) never runs it again, and it has no delete:
        // the first manager's join leaves, and the last manager ends the swarm.
        assert.deepStrictEqual([...init.ignoreChanges].sort(), ["connection", "create"]);
        assert.deepStrictEqual(plain(init.inputs.triggers), [N]);
        assert.strictEqual(init.inputs.delete, undefined);
        assert.ok(!init.deleteBeforeReplace);
        const rules = m.records.filter((r) => r.type.startsWith("aws:vpc/securityGroup") && r.name.startsWith(`${N}-nodes-`)).map((r) => r.name);
        assert.strictEqual(rules.length, 7);
        for (const rule of rules) {
            assert.ok(init.dependencies.includes(rule), `init does not wait for ${rule}`);
        }
        assert.ok(init.dependencies.includes(`${N}-manager-0`));
    });

    it("each join carries the right token and joins through the other managers in order; workers join in parallel, managers one at a time", async () => {
        const privateIp = (key: string) => awsOutputs("aws:ec2/instance:Instance", `${N}-${key}`, {}).privateIp as string;
        const managers = ["manager-0", "manager-1", "manager-2"];
        for (const key of [...managers, "worker-0", "worker-1"]) {
            const join = cmd(`join-${key}`);
            const role = key.startsWith("manager") ? "manager" : "worker";
            assert.ok(isSecretValue(join.inputs.stdin), `${key}: stdin is not a secret`);
            assert.strictEqual(plain(join.inputs.stdin), `SWMTKN-1-fake${role}\n`);
            const create = script(join, "create");
            const through = managers.filter((k) => k !== key).map(privateIp);
            assert.ok(create.includes(`      for manager in ${through.join(" ")}; do\n`), `${key} does not join through ${through.join(", ")}`);
            assert.ok(create.includes(`  case " $info " in ${managers.map((k) => `*" ${privateIp(k)}:2377 "*`).join("|")}) return 0 ;; esac\n`));
            assert.ok(create.includes(`joins the swarm as a ${role}`));
            assert.ok(!create.includes("SWMTKN"), `${key}: the token is in the command text`);
            // Its script runs when its node joins (created or replaced), never again because other
            // managers' addresses changed.
            assert.deepStrictEqual(join.ignoreChanges, ["create"], key);
            const commandDeps = join.dependencies.filter((d) => m.records.find((r) => r.name === d)?.type === "command:remote:Command");
            // Workers: the init, the first manager's join (so that it leaves after them) and their own
            // remover (no chain: they join in parallel). Managers: the previous manager's join
            // instead (Raft adds one manager at a time).
            const expected: Record<string, string[]> = {
                "manager-0": [`${N}-swarm-init`, `${N}-swarm-remove-manager-0`],
                "manager-1": [`${N}-swarm-init`, `${N}-swarm-join-manager-0`, `${N}-swarm-remove-manager-1`],
                "manager-2": [`${N}-swarm-init`, `${N}-swarm-join-manager-1`, `${N}-swarm-remove-manager-2`],
                "worker-0": [`${N}-swarm-init`, `${N}-swarm-join-manager-0`, `${N}-swarm-remove-worker-0`],
                "worker-1": [`${N}-swarm-init`, `${N}-swarm-join-manager-0`, `${N}-swarm-remove-worker-1`],
            };
            assert.deepStrictEqual(commandDeps.sort(), expected[key]);
            // Create before delete: a replaced host's new machine joins before the old one leaves.
            assert.ok(!join.deleteBeforeReplace, `${key}: deleteBeforeReplace`);
            // A manager is reached at its Elastic IP, a worker at its instance's public IP.
            const conn = plain<{ host: string; user: string }>(join.inputs.connection);
            const publicIp = role === "manager" ? awsOutputs("aws:ec2/eip:Eip", `${N}-${key}-ip`, {}).publicIp : awsOutputs("aws:ec2/instance:Instance", `${N}-${key}`, {}).publicIp;
            assert.strictEqual(conn.host, publicIp);
            assert.strictEqual(conn.user, "ubuntu");
            // Which node this is: key, role, private address and instance ID; not the SSH address.
            assert.deepStrictEqual(plain(join.inputs.triggers), [key, role, privateIp(key), `${N}-${key}-id`]);
        }
        assert.deepStrictEqual(await unwrap(cluster.bootstrap.nodeIds), {
            "manager-0": "manager0node",
            "manager-1": "manager1node",
            "manager-2": "manager2node",
            "worker-0": "worker0node",
            "worker-1": "worker1node",
        });
    });

    it("on delete, a node is drained, demoted and its demotion recorded (member), then removed (remover), in that dependency order, on another manager; its machine, which goes with it, never leaves (the join has no delete)", () => {
        for (const key of ["manager-0", "manager-1", "worker-0"]) {
            const member = cmd(`member-${key}`);
            const join = cmd(`join-${key}`);
            const remover = cmd(`remove-${key}`);
            const nodeId = key.replace("-", "") + "node";
            assert.match(script(member, "delete"), new RegExp(`\nnodeUpdate --availability drain ${nodeId}\n`));
            assert.match(script(member, "delete"), new RegExp(`dkr node demote ${nodeId}`));
            if (key.startsWith("manager")) {
                assert.match(script(member, "delete"), new RegExp(`dkr node demote ${nodeId} [^]*\n  until dkr node ls -q --filter role=worker \\| grep -qx ${nodeId}; do\n`));
            }
            // A dead machine could not answer a leave; the managers remove its node instead.
            assert.strictEqual(join.inputs.delete, undefined, key);
            assert.match(script(remover, "delete"), /if \[ "\$availability" = Drain \]; then\n[^]*?until dkr node rm --force "\$id"/);
            assert.match(script(remover, "delete"), new RegExp(`--filter node\\.label=pulumi-swarm\\.host=${key} `));
            // Pulumi deletes dependents first: member -> join -> remover.
            assert.ok(member.dependencies.includes(join.name));
            assert.ok(join.dependencies.includes(remover.name));
            // Membership changes run on another manager, under its lock: the first manager, or
            // for the first manager itself the second one (after it has joined).
            const side = key === "manager-0" ? "manager-1" : "manager-0";
            const sideHost = plain<{ host: string }>(cmd(`join-${side}`).inputs.connection).host;
            assert.strictEqual(plain<{ host: string }>(member.inputs.connection).host, sideHost);
            assert.strictEqual(plain<{ host: string }>(remover.inputs.connection).host, sideHost);
            assert.ok(member.dependencies.includes(`${N}-swarm-join-${side}`));
            assert.match(script(member, "delete"), /flock 9/);
            assert.match(script(remover, "delete"), /flock 9/);
            // The create takes the lock only to retire another node of its key (a replaced machine).
            assert.match(script(member, "create"), /\n\[ -n "\$others" \] \|\| exit 0\nexec 9>\/tmp\/pulumi-swarm-membership\.lock\nflock 9\n/);
        }
        // The first manager's member goes last: the other managers' members depend on it.
        for (const key of ["manager-1", "manager-2"]) {
            assert.ok(cmd(`member-${key}`).dependencies.includes(`${N}-swarm-member-manager-0`), key);
        }
        assert.ok(!cmd("member-worker-0").dependencies.includes(`${N}-swarm-member-manager-0`));
        assert.match(script(cmd("member-manager-1"), "create"), /--role manager manager1node/);
        assert.match(script(cmd("member-worker-0"), "create"), /--role worker worker0node/);
    });

    it("a new cluster (EC2 holds none of its instances) launches every instance at once: no chain between them", () => {
        for (const k of ["manager-0", "manager-1", "manager-2", "worker-0", "worker-1"]) {
            assert.deepStrictEqual(m.named(`${N}-${k}`).dependencies.filter((d) => /-(ready|drain|guard)$|-(manager|worker)-\d+$/.test(d)), [], k);
        }
        const lookup = m.invokes.filter((i) => i.token === GET_INSTANCES);
        assert.deepStrictEqual(
            lookup.map((i) => i.args),
            [
                {
                    // The cluster's identity, or its name alone (the tag's value before identities).
                    filters: [
                        { name: "tag:pulumi-swarm:cluster", values: [`project/stack/${N}`, N] },
                        { name: "tag:pulumi-swarm:role", values: ["manager"] },
                    ],
                    instanceStateNames: ["pending", "running", "stopping", "stopped"],
                },
            ],
        );
        // Nothing is running: no quorum check, and no join goes through any address but the hosts' own.
        assert.throws(() => m.named(`${N}-quorum`));
        for (const key of ["manager-0", "manager-1", "worker-0"]) {
            assert.doesNotMatch(script(cmd(`join-${key}`), "create"), /10\.0\.99\./, key);
        }
    });

    it("a running cluster chains the nodes for a rolling restart: managers (the first one last), then workers; each instance after the previous node's ready and its own drain", async () => {
        const privateIp = (key: string) => awsOutputs("aws:ec2/instance:Instance", `${N}-${key}`, {}).privateIp as string;
        const { monitor: running } = await build(N, {
            adminCidrBlocks: ["203.0.113.0/24", "2001:db8::/32"],
            managerCount: 3,
            workerCount: 2,
            tags: { team: "platform" },
        }, {
            running: {
                ids: ["i-0123456789abcdef0", "i-0123456789abcdef1", "i-0123456789abcdef2"],
                privateIps: ["10.0.99.2", privateIp("manager-1"), "10.0.99.1"],
                publicIps: ["203.0.113.2", "", "203.0.113.1"],
            },
        });
        const m = running;
        const deps = (n: string) => m.named(`${N}-${n}`).dependencies.filter((d) => /-(ready|drain|handoff|back)$|-(manager|worker)-\d+$/.test(d)).sort();
        // What each instance waits for: the node before it back (its ready, and then its back
        // in the load balancer, for every node but the chain's first) and its own drain.
        assert.deepStrictEqual(deps("manager-1"), []);
        assert.deepStrictEqual(deps("manager-2"), [`${N}-manager-1-ready`, `${N}-manager-2-drain`]);
        assert.deepStrictEqual(deps("manager-0"), [`${N}-manager-0-drain`, `${N}-manager-2-back`]);
        assert.deepStrictEqual(deps("worker-0"), [`${N}-manager-0-back`, `${N}-worker-0-drain`]);
        assert.deepStrictEqual(deps("worker-1"), [`${N}-worker-0-back`, `${N}-worker-1-drain`]);
        assert.throws(() => m.named(`${N}-manager-1-drain`));
        assert.throws(() => m.named(`${N}-manager-1-handoff`));
        assert.throws(() => m.named(`${N}-manager-1-back`));
        // The hand-off: before the drain, where the drain runs, after the node before is back.
        // The back: after the ready, where the ready runs. Both run only on update, when the
        // instance type changes, and are replaced (running nothing) with the machines they use.
        // (and on manager-0, whose Elastic IP they connect to).
        assert.deepStrictEqual(deps("worker-1-drain"), [`${N}-manager-0`, `${N}-worker-0-back`, `${N}-worker-1-handoff`]);
        assert.deepStrictEqual(deps("worker-1-handoff"), [`${N}-manager-0`, `${N}-worker-0-back`]);
        assert.deepStrictEqual(deps("worker-0-back"), [`${N}-manager-0`, `${N}-worker-0`, `${N}-worker-0-ready`]);
        const handoff = m.named(`${N}-worker-1-handoff`);
        const back = m.named(`${N}-worker-1-back`);
        assert.deepStrictEqual([handoff.inputs.create, handoff.inputs.delete, back.inputs.create, back.inputs.delete], [undefined, undefined, undefined, undefined]);
        assert.deepStrictEqual(plain(handoff.inputs.triggers), [`${N}-manager-0-id`]);
        assert.deepStrictEqual(plain(back.inputs.triggers), [`${N}-worker-1-id`, `${N}-manager-0-id`]);
        const albName = String(m.named(`${N}-alb`, "aws:lb/loadBalancer:LoadBalancer").inputs.name);
        assert.match(
            plain<string>(handoff.inputs.update),
            new RegExp(`^# pulumi-swarm: before worker-1 restarts \\(instance type t3\\.medium\\): spread out the services that run only there, then take it out of the load balancer\n[^]*\nlbName=${albName}\n[^]*\nspreadOut "\\$node" 300 worker-1\n[^]*\n\\[ -z "\\$inst" \\] \\|\\| lbOut "\\$inst" worker-1\n$`),
        );
        assert.match(plain<string>(back.inputs.update), /^# pulumi-swarm: after worker-1 restarted \(instance type t3\.medium\): back in the load balancer\n[^]*\n\[ -z "\$inst" \] \|\| lbIn "\$inst" worker-1\n$/);
        // A drain: on a manager earlier in the chain (its Elastic IP), after the node before;
        // replaced (running nothing) with that manager; it runs only on update, when the
        // instance type changes. The managers' drains run on manager-1, the workers' on manager-0.
        const ip = (k: string) => plain<string>(m.named(`${N}-${k}-ip`).outputs.publicIp);
        const host = (r: Recorded) => plain<{ host: string }>(r.inputs.connection).host;
        const drain = (k: string) => m.named(`${N}-${k}-drain`);
        const ready = (k: string) => m.named(`${N}-${k}-ready`);
        assert.match(ip("manager-0"), /^203\.0\.113\.\d+$/);
        assert.deepStrictEqual(plain(drain("worker-1").inputs.triggers), [`${N}-manager-0-id`]);
        assert.deepStrictEqual(plain(drain("manager-0").inputs.triggers), [`${N}-manager-1-id`]);
        assert.strictEqual(host(drain("worker-1")), ip("manager-0"));
        assert.strictEqual(host(drain("manager-0")), ip("manager-1"));
        assert.strictEqual(host(drain("manager-2")), ip("manager-1"));
        assert.deepStrictEqual([drain("worker-1").inputs.create, drain("worker-1").inputs.delete], [undefined, undefined]);
        assert.match(plain<string>(drain("worker-1").inputs.update), /^# pulumi-swarm: before worker-1 restarts \(instance type t3\.medium\): wait until the swarm is whole, then drain worker-1\n/);
        assert.match(plain<string>(drain("manager-0").inputs.update), /^# pulumi-swarm: before manager-0 restarts \(instance type t3\.small\): wait until the swarm is whole, hand its leadership over if it leads, then drain manager-0\n/);
        assert.ok(drain("worker-1").dependencies.includes(`${N}-worker-0-back`));
        // A ready: a manager's on itself, a worker's on the first manager; replaced with them.
        assert.deepStrictEqual(plain(ready("manager-1").inputs.triggers), [`${N}-manager-1-id`]);
        assert.deepStrictEqual(plain(ready("worker-0").inputs.triggers), [`${N}-worker-0-id`, `${N}-manager-0-id`]);
        assert.strictEqual(host(ready("manager-1")), ip("manager-1"));
        assert.strictEqual(host(ready("worker-0")), ip("manager-0"));
        assert.ok(ready("worker-0").dependencies.includes(`${N}-worker-0`));
        assert.deepStrictEqual([ready("worker-0").inputs.create, ready("worker-0").inputs.delete], [undefined, undefined]);
        assert.match(plain<string>(ready("manager-2").inputs.update), /^# pulumi-swarm: after manager-2 restarted \(instance type t3\.small, drain time-out 300 s\): wait until it is back and the swarm whole, then make it active\n/);
        // The last manager's moves the leadership off the chain's first, for the next roll.
        assert.match(plain<string>(ready("manager-0").inputs.update), /then make it active; then hand manager-1's leadership over, if it leads, so the next roll starts on a follower\n/);
        // Before the chain's first instance: the quorum check, on the running manager with the
        // lowest private address that has a public one (manager-1's, first, has none here);
        // replaced, running nothing, when another is asked; it runs only on update, when the
        // settings its script names change.
        const quorum = m.named(`${N}-quorum`);
        assert.strictEqual(quorum.type, "command:remote:Command");
        assert.ok(m.named(`${N}-manager-1`).dependencies.includes(`${N}-quorum`));
        assert.ok(!m.named(`${N}-manager-2`).dependencies.includes(`${N}-quorum`));
        assert.strictEqual(host(quorum), "203.0.113.1");
        assert.deepStrictEqual(plain(quorum.inputs.triggers), ["203.0.113.1"]);
        assert.deepStrictEqual([quorum.inputs.create, quorum.inputs.delete], [undefined, undefined]);
        const userData = plain<string>(m.named(`${N}-manager-0`).inputs.userData);
        const digest = createHash("sha256").update(userData).digest("hex").slice(0, 12);
        assert.strictEqual(plain<string>(quorum.inputs.update), renderQuorumCheck(`manager t3.small, worker t3.medium, ami looked-up, user data ${digest}`, 600));
        // The running managers that the hosts no longer name (machines this run replaces) are
        // joined through first, in address order; one the hosts name stays in its place.
        const managers = ["manager-0", "manager-1", "manager-2"];
        for (const key of [...managers, "worker-0"]) {
            const create = plain<string>(m.named(`${N}-swarm-join-${key}`).inputs.create);
            const through = ["10.0.99.1", "10.0.99.2", ...managers.filter((k) => k !== key).map(privateIp)];
            assert.ok(create.includes(`      for manager in ${through.join(" ")}; do\n`), `${key} does not join through ${through.join(", ")}`);
            assert.ok(create.includes(`  case " $info " in ${[...managers.map(privateIp), "10.0.99.1", "10.0.99.2"].map((a) => `*" ${a}:2377 "*`).join("|")}) return 0 ;; esac\n`), key);
        }
    });

    it("another stack's cluster of the same name (one program, an environment per stack, one account and region) is not this one: this stack's first up is a new cluster's", async () => {
        // The "prod" stack's cluster as EC2 holds it: its instances, with the tags it gave them.
        const args: SwarmClusterArgs = { adminCidrBlocks: ["203.0.113.0/24"], managerCount: 3, workerCount: 2 };
        const { monitor: prod } = await build(N, args, { stack: "prod" });
        const held: HeldInstance[] = prod.ofType("aws:ec2/instance:Instance").map((r, n) => ({
            id: `i-0prod${n}`,
            privateIp: `10.0.77.${n}`,
            publicIp: `203.0.113.7${n}`,
            tags: plain<Record<string, string>>(r.inputs.tags),
        }));
        assert.strictEqual(held.filter((i) => i.tags["pulumi-swarm:role"] === "manager").length, 3);
        const { monitor: m } = await build(N, args, { ec2: held });
        // No chain, no quorum check on the other stack's manager, no join through its addresses.
        for (const k of ["manager-0", "manager-1", "manager-2", "worker-0", "worker-1"]) {
            assert.deepStrictEqual(m.named(`${N}-${k}`).dependencies.filter((d) => /-(ready|drain|guard|quorum)$|-(manager|worker)-\d+$/.test(d)), [], k);
        }
        assert.throws(() => m.named(`${N}-quorum`));
        for (const k of ["manager-0", "manager-1", "worker-0"]) {
            assert.doesNotMatch(plain<string>(m.named(`${N}-swarm-join-${k}`).inputs.create), /10\.0\.77\./, k);
        }
        // And its own instances, held as well, are found: it then rolls.
        const own = m.ofType("aws:ec2/instance:Instance").map((r, n) => ({ id: `i-0own${n}`, privateIp: `10.0.55.${n}`, publicIp: `203.0.113.5${n}`, tags: plain<Record<string, string>>(r.inputs.tags) }));
        const { monitor: again } = await build(N, args, { ec2: [...held, ...own] });
        assert.ok(again.named(`${N}-manager-1`).dependencies.includes(`${N}-quorum`));
        assert.match(plain<string>(again.named(`${N}-swarm-join-worker-0`).inputs.create), /\n {6}for manager in 10\.0\.55\.0 10\.0\.55\.1 10\.0\.55\.2 /);
    });

    it("managers tagged before identities (the cluster's name alone) are this cluster's: the run that brings the identity still rolls, and joins through them", async () => {
        const legacy = (n: number): HeldInstance => ({
            id: `i-0legacy${n}`,
            privateIp: `10.0.88.${n}`,
            publicIp: `203.0.113.8${n}`,
            tags: { Name: `${N}-manager-${n}`, "pulumi-swarm:cluster": N, "pulumi-swarm:role": "manager" },
        });
        // A worker of the cluster, and a manager of another cluster: not asked for.
        const worker: HeldInstance = { id: "i-0w", privateIp: "10.0.88.9", publicIp: "203.0.113.89", tags: { "pulumi-swarm:cluster": N, "pulumi-swarm:role": "worker" } };
        const stranger: HeldInstance = { id: "i-0s", privateIp: "10.0.66.1", publicIp: "203.0.113.66", tags: { "pulumi-swarm:cluster": "other", "pulumi-swarm:role": "manager" } };
        const { monitor: m } = await build(N, { adminCidrBlocks: ["203.0.113.0/24"], managerCount: 3, workerCount: 2 }, { ec2: [legacy(1), worker, stranger, legacy(2)] });
        assert.ok(m.named(`${N}-manager-1`).dependencies.includes(`${N}-quorum`));
        assert.ok(m.named(`${N}-manager-2`).dependencies.includes(`${N}-manager-1-ready`));
        assert.strictEqual(plain<{ host: string }>(m.named(`${N}-quorum`).inputs.connection).host, "203.0.113.81");
        assert.match(plain<string>(m.named(`${N}-swarm-join-worker-0`).inputs.create), /\n {6}for manager in 10\.0\.88\.1 10\.0\.88\.2 /);
    });

    it("keeps the private key, the join tokens and every SSH connection secret", async () => {
        assert.strictEqual(await pulumi.isSecret(cluster.privateKey), true);
        assert.strictEqual(await pulumi.isSecret(cluster.workerJoinToken), true);
        assert.strictEqual(await pulumi.isSecret(cluster.managerJoinToken), true);
        assert.strictEqual(await unwrap(cluster.workerJoinToken), "SWMTKN-1-fakeworker");
        for (const c of m.ofType("command:remote:Command")) {
            assert.ok(isSecretValue(c.inputs.connection), `${c.name}: connection (with the private key) is not a secret`);
        }
        // The init prints the tokens: its stdout comes back secret (additionalSecretOutputs, as the
        // engine applies it), and only what is not a secret is unwrapped from it.
        assert.ok(isSecretValue(cmd("init").outputs.stdout), "the init's stdout is not a secret");
        assert.strictEqual(await pulumi.isSecret(cluster.bootstrap.clusterId), false);
        assert.strictEqual(await unwrap(cluster.bootstrap.clusterId), "clusterabc123");
        assert.strictEqual(await pulumi.isSecret(cluster.bootstrap.leaderNodeId), false);
        assert.strictEqual(await unwrap(cluster.bootstrap.leaderNodeId), "manager0node");
    });

    it("outputs the addresses and a ready-to-paste docker context command", async () => {
        // manager-0's Elastic IP: it stays through a stop and start.
        const ip = awsOutputs("aws:ec2/eip:Eip", `${N}-manager-0-ip`, {}).publicIp;
        assert.strictEqual(await unwrap(cluster.dockerHost), `ssh://ubuntu@${ip}`);
        assert.deepStrictEqual(
            await unwrap(cluster.managerPublicIps),
            [0, 1, 2].map((i) => awsOutputs("aws:ec2/eip:Eip", `${N}-manager-${i}-ip`, {}).publicIp),
        );
        assert.strictEqual(await unwrap(cluster.dockerContextCommand), `docker context create ${N} --docker host=ssh://ubuntu@${ip} && docker context use ${N}`);
        assert.strictEqual((await unwrap(cluster.managerPrivateIps)).length, 3);
        assert.strictEqual((await unwrap(cluster.workerPublicIps)).length, 2);
        assert.strictEqual(await unwrap(cluster.nodeSecurityGroupId), `${N}-nodes-id`);
        assert.deepStrictEqual(await unwrap(cluster.subnetIds), [0, 1, 2].map((i) => `${N}-public-${i}-id`));
    });
});

describe("mock: SwarmCluster options", function () {
    this.timeout(60000);

    it("a lone manager waits for its guard, a local command whose script fails a run that would replace it; with 3 managers there is none", async () => {
        const { monitor } = await build("one", { adminCidrBlocks: admin, managerCount: 1, workerCount: 1, amiId: "ami-0aaaaaaaaaaaaaaaa" });
        const guard = monitor.named("one-manager-0-guard");
        assert.strictEqual(guard.type, "command:local:Command");
        assert.ok(monitor.named("one-manager-0").dependencies.includes("one-manager-0-guard"));
        const subnet = plain<string>(monitor.named("one-manager-0").inputs.subnetId);
        // The mock names the key pair after its resource.
        const data = plain<string>(monitor.named("one-manager-0").inputs.userData);
        const print = `ami=ami-0aaaaaaaaaaaaaaaa subnet=${subnet} key=one-ssh userdata=${createHash("sha256").update(data).digest("hex").slice(0, 12)}`;
        assert.strictEqual(plain<string>(guard.inputs.create), renderSingleManagerGuard({ hostKey: "manager-0", fingerprint: print, allowed: false }));
        assert.deepStrictEqual([guard.inputs.update, guard.inputs.delete], [undefined, undefined]);
        const allowed = await build("ok", { adminCidrBlocks: admin, managerCount: 1, workerCount: 0, allowSingleManagerReplacement: true });
        assert.match(plain<string>(allowed.monitor.named("ok-manager-0-guard").inputs.create), /^# pulumi-swarm: manager-0 is the swarm's only manager: allowSingleManagerReplacement accepts its replacement\nset -eu\nnow='ami=looked-up subnet=/);
        const three = await build("three", { adminCidrBlocks: admin, managerCount: 3, workerCount: 0 });
        assert.deepStrictEqual(three.monitor.ofType("command:local:Command"), []);
    });

    it("opens ESP between nodes when encryptedOverlay is on", async () => {
        const { monitor } = await build("enc", { adminCidrBlocks: admin, managerCount: 1, workerCount: 1, encryptedOverlay: true });
        const esp = monitor.named("enc-nodes-swarm-esp");
        assert.strictEqual(esp.inputs.ipProtocol, "50");
        assert.strictEqual(esp.inputs.referencedSecurityGroupId, "enc-nodes-id");
        assert.strictEqual(esp.inputs.cidrIpv4, undefined);
    });

    it("uses an existing VPC and subnets, creating no network", async () => {
        const { monitor, cluster } = await build("byo", {
            adminCidrBlocks: admin,
            vpcId: "vpc-0123456789abcdef0",
            subnetIds: ["subnet-00000000000000000", "subnet-11111111111111111", "subnet-22222222222222222"],
        });
        assert.strictEqual(monitor.ofType("aws:ec2/vpc:Vpc").length, 0);
        assert.strictEqual(monitor.ofType("aws:ec2/subnet:Subnet").length, 0);
        assert.strictEqual(monitor.named("byo-nodes").inputs.vpcId, "vpc-0123456789abcdef0");
        assert.deepStrictEqual(
            ["manager-0", "manager-1", "manager-2"].map((k) => monitor.named(`byo-${k}`).inputs.subnetId),
            ["subnet-00000000000000000", "subnet-11111111111111111", "subnet-22222222222222222"],
        );
        assert.strictEqual(await unwrap(cluster.vpcId), "vpc-0123456789abcdef0");
    });

    it("uses the user's key pair, keeping the private key secret, and generates none", async () => {
        const { monitor, cluster } = await build("own", {
            adminCidrBlocks: admin,
            managerCount: 1,
            workerCount: 0,
            sshPublicKey: "ssh-ed25519 AAAAOWN",
            sshPrivateKey: "PRIVATE-OWN",
        });
        assert.strictEqual(monitor.ofType("tls:index/privateKey:PrivateKey").length, 0);
        assert.strictEqual(monitor.named("own-ssh").inputs.publicKey, "ssh-ed25519 AAAAOWN");
        assert.strictEqual(await pulumi.isSecret(cluster.privateKey), true);
        assert.strictEqual(plain<{ privateKey: string }>(monitor.named("own-swarm-init").inputs.connection).privateKey, "PRIVATE-OWN");
    });

    it("bad input fails before any resource is registered", async () => {
        const monitor = installMocks(awsOutputs, awsCalls);
        const { SwarmCluster } = await import("../../components");
        assert.throws(() => new SwarmCluster("bad", { adminCidrBlocks: ["0.0.0.0/0"], managerCount: 2 }), /managerCount must be 1, 3, 5 or 7/);
        await monitor.settled();
        assert.strictEqual(monitor.records.length, 0);
    });
});

describe("mock: SwarmCluster under preview (addresses unknown)", function () {
    this.timeout(60000);
    it("still builds the whole graph", async () => {
        const { monitor, cluster } = await build("pv", { adminCidrBlocks: admin, managerCount: 3, workerCount: 2 }, { preview: true });
        assert.deepStrictEqual(countByType(monitor), { ...base, "aws:ec2/instance:Instance": 5, "aws:ec2/eip:Eip": 3, "command:remote:Command": 33 });
        // Nothing that depends on an instance address or a command's output is known.
        const join = monitor.named("pv-swarm-join-worker-0");
        assert.strictEqual(pulumi.isUnknown(join.inputs.create), true);
        assert.strictEqual(pulumi.isUnknown(join.inputs.connection), true);
        assert.strictEqual(pulumi.isUnknown(monitor.named("pv-swarm-init").inputs.create), true);
        void cluster;
    });
});

const GET_AMI = "aws:ec2/getAmi:getAmi";
/** getAmi's arguments for Canonical's Ubuntu 24.04 server image of one architecture. */
const ubuntuAmiArgs = (deb: "amd64" | "arm64", ec2: "x86_64" | "arm64") => ({
    filters: [
        { name: "name", values: [`ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${deb}-server-*`] },
        { name: "architecture", values: [ec2] },
        { name: "virtualization-type", values: ["hvm"] },
    ],
    mostRecent: true,
    owners: ["099720109477"],
});

describe("mock: SwarmCluster's AMI lookup (getAmi, answered as EC2 would from a catalogue with look-alikes)", function () {
    this.timeout(60000);

    it("asks for Canonical's newest Ubuntu 24.04 image of each instance type's architecture: amd64 for t3, arm64 for Graviton t4g", async () => {
        const { monitor } = await build("ami", { adminCidrBlocks: admin, managerCount: 1, workerCount: 1, managerInstanceType: "t3.small", workerInstanceType: "t4g.small" });
        const calls = monitor.invokesOf(GET_AMI).map((i) => i.args);
        assert.deepStrictEqual(
            calls.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
            [ubuntuAmiArgs("amd64", "x86_64"), ubuntuAmiArgs("arm64", "arm64")],
        );
        // The newest gp3 noble image of each architecture in Canonical's account.
        assert.strictEqual(monitor.named("ami-manager-0").inputs.ami, "ami-0123456789abcdef0");
        assert.strictEqual(monitor.named("ami-worker-0").inputs.ami, "ami-0fedcba9876543210");
    });

    it("a Graviton type for both roles: arm64 only, for managers too", async () => {
        const { monitor } = await build("arm", { adminCidrBlocks: admin, managerCount: 1, workerCount: 1, managerInstanceType: "m7g.large", workerInstanceType: "c7gn.xlarge" });
        assert.deepStrictEqual(monitor.invokesOf(GET_AMI).map((i) => i.args), [ubuntuAmiArgs("arm64", "arm64"), ubuntuAmiArgs("arm64", "arm64")]);
        assert.deepStrictEqual(monitor.ofType("aws:ec2/instance:Instance").map((i) => i.inputs.ami), ["ami-0fedcba9876543210", "ami-0fedcba9876543210"]);
    });

    it("with amiId, looks nothing up and runs that image", async () => {
        const { monitor } = await build("own", { adminCidrBlocks: admin, managerCount: 1, workerCount: 1, amiId: "ami-0aaaaaaaaaaaaaaaa" });
        assert.deepStrictEqual(monitor.invokesOf(GET_AMI), []);
        assert.deepStrictEqual(monitor.ofType("aws:ec2/instance:Instance").map((i) => i.inputs.ami), ["ami-0aaaaaaaaaaaaaaaa", "ami-0aaaaaaaaaaaaaaaa"]);
    });

    it("a looked-up AMI is ignored after creation (a newer image replaces no node); an explicit amiId is not, nor is user data (dockerVersion)", async () => {
        const auto = await build("drift", { adminCidrBlocks: admin, managerCount: 1, workerCount: 1 });
        assert.deepStrictEqual(
            auto.monitor.ofType("aws:ec2/instance:Instance").map((i) => [i.name, i.ignoreChanges]).sort(),
            [
                ["drift-manager-0", ["ami"]],
                ["drift-worker-0", ["ami"]],
            ],
        );
        const own = await build("pinned", { adminCidrBlocks: admin, managerCount: 1, workerCount: 1, amiId: "ami-0aaaaaaaaaaaaaaaa" });
        assert.deepStrictEqual(
            own.monitor.ofType("aws:ec2/instance:Instance").map((i) => [i.name, i.ignoreChanges]).sort(),
            [
                ["pinned-manager-0", []],
                ["pinned-worker-0", []],
            ],
        );
    });

    it("outputs the drift: the AMI each node runs, and the AMI a new node of each role would get now", async () => {
        const { cluster } = await build("amis", { adminCidrBlocks: admin, managerCount: 1, workerCount: 1, workerInstanceType: "t4g.small" });
        assert.deepStrictEqual(await unwrap(cluster.nodeAmis), { "manager-0": "ami-0123456789abcdef0", "worker-0": "ami-0fedcba9876543210" });
        assert.deepStrictEqual(await unwrap(cluster.newNodeAmis), { manager: "ami-0123456789abcdef0", worker: "ami-0fedcba9876543210" });
        const own = await build("amis-own", { adminCidrBlocks: admin, managerCount: 1, workerCount: 1, amiId: "ami-0aaaaaaaaaaaaaaaa" });
        assert.deepStrictEqual(await unwrap(own.cluster.newNodeAmis), { manager: "ami-0aaaaaaaaaaaaaaaa", worker: "ami-0aaaaaaaaaaaaaaaa" });
    });
});

describe("mock: SwarmBootstrap with a load balancer", function () {
    it("refuses a host without its instance ID (machineId), naming the field and the fix, before anything is registered", async () => {
        const monitor = installMocks(awsOutputs, awsCalls);
        const { SwarmBootstrap } = await import("../../components/swarmBootstrap");
        const host = (key: string, role: "manager" | "worker", machineId?: string) => ({ key, role, sshHost: "198.51.100.7", sshUser: "ubuntu", privateAddress: `10.0.0.${key.length}${role.length}`, machineId });
        assert.throws(
            () =>
                new SwarmBootstrap("lb", {
                    hosts: [host("manager-0", "manager", "i-0123456789abcdef0"), host("worker-0", "worker")],
                    privateKey: "KEY",
                    loadBalancerName: "prod-alb-1a2b3c4d",
                }),
            {
                name: "SwarmArgumentError",
                message:
                    "hosts[1].machineId must be the host's EC2 instance ID when loadBalancerName is given: a leaving node is deregistered from the load balancer by it; give machineId or leave loadBalancerName out; got nothing (the field is missing)",
            },
        );
        assert.deepStrictEqual(monitor.records, []);
    });
});

describe("mock: SwarmCluster's resource options, as the engine gets them", function () {
    this.timeout(60000);

    it("every command is replaced when its triggers change; nothing is protected, retained or deleted with another resource, so every delete script runs", async () => {
        const { monitor } = await build("opt", { adminCidrBlocks: admin, managerCount: 1, workerCount: 1 });
        const commands = monitor.ofType("command:remote:Command");
        // init, 2 joins, member and remover of the worker, 2 readies, the worker's drain, hand-off and back.
        assert.strictEqual(commands.length, 10);
        for (const c of commands) {
            // The command provider's own option: a change of triggers re-runs create (after delete).
            assert.deepStrictEqual(c.replaceOnChanges, ["triggers[*]"], c.name);
        }
        for (const r of monitor.records) {
            assert.deepStrictEqual([r.protect, r.retainOnDelete, r.deletedWith], [false, false, ""], `${r.type} ${r.name}`);
            assert.strictEqual(r.provider, "", `${r.type} ${r.name}: not the default provider`);
        }
        // A manager's Elastic IP is replaced with its instance, never moved to the new one (the old
        // node's deletes must still reach the old machine).
        assert.deepStrictEqual(
            monitor.records.filter((r) => r.replaceOnChanges.length > 0 && !r.type.startsWith("command:")).map((r) => [r.name, r.replaceOnChanges]),
            [["opt-manager-0-ip", ["instance"]]],
        );
        assert.deepStrictEqual(plain(monitor.named("opt-manager-0-ip").inputs), {
            domain: "vpc",
            instance: "opt-manager-0-id",
            tags: { Name: "opt-manager-0-ip", "pulumi-swarm:cluster": "project/stack/opt" },
        });
        // Child names are the contract: no child carries an alias of ours. The two below are the
        // AWS package's own (the types' former names).
        const lbUrn = "urn:pulumi:stack::project::swarm:index:SwarmCluster$swarm:index:SwarmLoadBalancer::opt-alb";
        assert.deepStrictEqual(
            monitor.records.filter((r) => r.aliases.length > 0).map((r) => [r.name, r.aliases]),
            [
                ["opt-alb", [{ type: "aws:elasticloadbalancingv2/loadBalancer:LoadBalancer", parentUrn: lbUrn }]],
                ["opt-alb-http", [{ type: "aws:elasticloadbalancingv2/listener:Listener", parentUrn: lbUrn }]],
            ],
        );
    });

    it("the user's AWS provider and protect reach every child and every lookup (each has its parent)", async () => {
        const { monitor } = await build("eu", { adminCidrBlocks: admin, managerCount: 1, workerCount: 1, workerInstanceType: "t4g.small" }, {}, async () => {
            const aws = await import("@pulumi/aws");
            return { providers: { aws: new aws.Provider("eu-west-1", { region: "eu-west-1" }) }, protect: true };
        });
        const provider = "urn:pulumi:stack::project::pulumi:providers:aws::eu-west-1::eu-west-1-id";
        const children = monitor.records.filter((r) => !r.type.startsWith("pulumi:providers:"));
        // the base 31, 2 instances, the manager's Elastic IP, 5 bootstrap commands, and a ready
        // for each node and a drain, a hand-off and a back for the worker, and the lone manager's guard
        assert.strictEqual(children.length, 45);
        for (const r of children) {
            assert.strictEqual(r.protect, true, `${r.type} ${r.name} is not protected`);
            assert.strictEqual(r.provider, r.type.startsWith("aws:") ? provider : "", `${r.type} ${r.name}`);
        }
        assert.deepStrictEqual(
            monitor.invokes.map((i) => `${i.token} ${i.provider}`).sort(),
            [GET_AMI, GET_AMI, "aws:index/getAvailabilityZones:getAvailabilityZones", GET_INSTANCES].map((t) => `${t} ${provider}`).sort(),
        );
    });
});
