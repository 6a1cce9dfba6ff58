// Pure layer: every argument error, with its exact message, raised before any resource.
import * as assert from "assert";
import { ClusterArgsToValidate, validateClusterArgs } from "../components/validation";
import { validateSwarmHosts, SwarmHost } from "../components/swarmBootstrap";

const ok: ClusterArgsToValidate = { adminCidrBlocks: ["203.0.113.0/24"] };

function message(args: ClusterArgsToValidate): string {
    try {
        validateClusterArgs(args);
    } catch (e) {
        return (e as Error).message;
    }
    throw new Error("expected an error");
}

describe("pure: cluster argument validation", () => {
    it("accepts the minimal arguments and fills in the defaults", () => {
        assert.deepStrictEqual(validateClusterArgs(ok), {
            managerCount: 3,
            maxUnavailableWorkers: 1,
            workerCount: 2,
            zoneCount: 3,
            adminCidrBlocks: ["203.0.113.0/24"],
            os: "ubuntu-24.04",
            newNetwork: { vpcCidrBlock: "10.0.0.0/16", subnetCidrs: ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"] },
            loadBalancer: true,
            registry: "ecr",
        });
    });

    for (const n of [1, 3, 5, 7]) {
        it(`accepts managerCount ${n}`, () => assert.strictEqual(validateClusterArgs({ ...ok, managerCount: n }).managerCount, n));
    }
    for (const n of [0, 2, 4, 9, 2.5]) {
        it(`refuses managerCount ${n}, explaining Raft quorum`, () => {
            assert.strictEqual(
                message({ ...ok, managerCount: n }),
                "managerCount must be 1, 3, 5 or 7: Raft needs a majority of managers for any change, so an even count " +
                    "tolerates no more lost managers than one fewer (4 tolerates 1, like 3), and more than 7 slows every write. " +
                    `Use 3 (tolerates 1 lost manager) or 5 (tolerates 2); got ${n}`,
            );
        });
    }

    it("refuses a negative workerCount", () => {
        assert.strictEqual(
            message({ ...ok, workerCount: -1 }),
            "workerCount must be a whole number, 0 or more (with 0, services run on the managers); got -1",
        );
    });
    it("refuses a maxUnavailableWorkers that is not a whole number of 1 or more", () => {
        for (const v of [0, 1.5]) {
            assert.strictEqual(
                message({ ...ok, maxUnavailableWorkers: v }),
                `maxUnavailableWorkers must be a whole number, 1 or more: how many workers a rolling change (an instance-type change) restarts at once; got ${v}`,
            );
        }
    });
    it("accepts workerCount 0", () => assert.strictEqual(validateClusterArgs({ ...ok, workerCount: 0 }).workerCount, 0));

    it("requires adminCidrBlocks", () => {
        const expected =
            'adminCidrBlocks is required and must list the networks allowed to reach SSH (22/tcp) on the nodes, e.g. ["203.0.113.7/32"] ' +
            "for your own address; there is no open default; got ";
        assert.strictEqual(message({}), expected + "nothing (the field is missing)");
        assert.strictEqual(message({ adminCidrBlocks: [] }), expected + "[]");
    });
    it("refuses a malformed CIDR block", () => {
        assert.strictEqual(
            message({ adminCidrBlocks: ["203.0.113.0/24", "office"] }),
            'adminCidrBlocks[1] must be a CIDR block such as "203.0.113.0/24" or "2001:db8::/32"; got "office"',
        );
        assert.strictEqual(
            message({ adminCidrBlocks: ["300.1.1.1/32"] }),
            'adminCidrBlocks[0] must be a CIDR block such as "203.0.113.0/24" or "2001:db8::/32"; got "300.1.1.1/32"',
        );
    });
    it("suggests /32 for a bare address", () => {
        assert.strictEqual(
            message({ adminCidrBlocks: ["203.0.113.7"] }),
            'adminCidrBlocks[0] must be a CIDR block such as "203.0.113.0/24" or "2001:db8::/32"; for that one address write "203.0.113.7/32"; got "203.0.113.7"',
        );
    });
    it("refuses host bits and names the network", () => {
        assert.strictEqual(
            message({ adminCidrBlocks: ["203.0.113.7/24"] }),
            'adminCidrBlocks[0] has host bits set; write the network, "203.0.113.0/24"; got "203.0.113.7/24"',
        );
        assert.strictEqual(
            message({ adminCidrBlocks: ["2001:db8::1/64"] }),
            'adminCidrBlocks[0] has host bits set; write the network, "2001:db8::/64"; got "2001:db8::1/64"',
        );
    });
    it("accepts IPv6 networks", () => {
        assert.deepStrictEqual(validateClusterArgs({ adminCidrBlocks: ["2001:db8::/32"] }).adminCidrBlocks, ["2001:db8::/32"]);
    });
    for (const open of ["0.0.0.0/0", "::/0"]) {
        it(`refuses ${open} without the opt-in, and accepts it with allowSshFromAnywhere`, () => {
            assert.strictEqual(
                message({ adminCidrBlocks: [open] }),
                `adminCidrBlocks[0] would open SSH to the whole internet; list your own networks instead, or set allowSshFromAnywhere: true if that is really meant; got "${open}"`,
            );
            assert.deepStrictEqual(validateClusterArgs({ adminCidrBlocks: [open], allowSshFromAnywhere: true }).adminCidrBlocks, [open]);
        });
    }
    it("refuses a CIDR block listed twice", () => {
        assert.strictEqual(
            message({ adminCidrBlocks: ["10.1.0.0/16", "10.1.0.0/16"] }),
            'adminCidrBlocks[1] is listed twice; list each network once; got "10.1.0.0/16"',
        );
    });

    it("refuses subnetIds without vpcId, and vpcId without subnetIds", () => {
        assert.strictEqual(
            message({ ...ok, subnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"] }),
            "vpcId must be given with subnetIds: the VPC those subnets belong to (or give neither, and a VPC is created); got nothing (the field is missing)",
        );
        assert.strictEqual(
            message({ ...ok, vpcId: "vpc-0123456789abcdef0" }),
            "subnetIds must be given with vpcId: list that VPC's subnets for the nodes, one per availability zone (or give neither, and a VPC is created); got nothing (the field is missing)",
        );
    });
    it("refuses fewer subnets than zones asked for", () => {
        assert.strictEqual(
            message({ ...ok, vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"], availabilityZoneCount: 3 }),
            'subnetIds must list at least availabilityZoneCount (3) subnets, one in each zone; add subnets or lower availabilityZoneCount; got ["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]',
        );
    });
    it("uses as many zones as subnets given when availabilityZoneCount is left out", () => {
        const s = validateClusterArgs({ ...ok, vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"] });
        assert.strictEqual(s.zoneCount, 2);
        assert.strictEqual(s.newNetwork, undefined);
    });
    it("refuses an availabilityZoneCount out of range", () => {
        assert.strictEqual(
            message({ ...ok, availabilityZoneCount: 0 }),
            "availabilityZoneCount must be a whole number from 1 to 6; 3 spreads managers so that one lost zone keeps quorum; got 0",
        );
    });
    it("refuses an unknown OS", () => {
        assert.strictEqual(message({ ...ok, os: "debian-12" }), 'os must be one of: "ubuntu-24.04"; got "debian-12"');
    });
    it("refuses malformed IDs, instance types, sizes and versions that are known now", () => {
        assert.strictEqual(message({ ...ok, amiId: "ubuntu" }), 'amiId must be an AMI ID such as "ami-0123456789abcdef0"; got "ubuntu"');
        assert.strictEqual(message({ ...ok, workerInstanceType: "big" }), 'workerInstanceType must be an EC2 instance type such as "t3.medium"; got "big"');
        assert.strictEqual(
            message({ ...ok, rootVolumeSizeGiB: 4 }),
            "rootVolumeSizeGiB must be a whole number of GiB from 8 to 16384 (images and logs live there; 30 is the default); got 4",
        );
        assert.strictEqual(message({ ...ok, dockerVersion: "27" }), 'dockerVersion must be a Docker Engine release such as "28.5.2"; got "27"');
        assert.strictEqual(
            message({ ...ok, vpcCidrBlock: "10.0.0.0/8" }),
            'vpcCidrBlock must be an IPv4 network from /16 to /24 written with its host bits clear, such as "10.0.0.0/16"; got "10.0.0.0/8"',
        );
    });
    it("refuses half a key pair", () => {
        assert.strictEqual(
            message({ ...ok, sshPublicKey: "ssh-ed25519 AAAA" }),
            "sshPrivateKey must be given together with its pair (sshPublicKey with sshPrivateKey), or neither, and a key is generated; got nothing (the field is missing)",
        );
    });
    it("reports every problem at once", () => {
        const m = message({ managerCount: 2, workerCount: -1 });
        assert.deepStrictEqual(
            m.split("\n").map((l) => l.split(" ")[1]),
            ["managerCount", "workerCount", "adminCidrBlocks"],
        );
    });
});

describe("pure: host list validation (the bootstrap's input)", () => {
    const host = (key: string, role: "manager" | "worker", privateAddress = `10.0.0.${key.length}`): SwarmHost => ({
        key,
        role,
        sshHost: "127.0.0.1",
        sshUser: "root",
        privateAddress,
    });
    const err = (hosts: SwarmHost[]) => {
        try {
            validateSwarmHosts(hosts);
        } catch (e) {
            return (e as Error).message;
        }
        throw new Error("expected an error");
    };
    it("accepts one manager and two workers", () => {
        assert.doesNotThrow(() => validateSwarmHosts([host("m0", "manager", "10.0.0.1"), host("w0", "worker", "10.0.0.2"), host("w1", "worker", "10.0.0.3")]));
    });
    it("refuses an even number of managers", () => {
        assert.strictEqual(
            err([host("m0", "manager", "10.0.0.1"), host("m1", "manager", "10.0.0.2")]),
            "hosts (managers) must hold 1, 3, 5 or 7 managers: Raft needs a majority of managers for any change, so an even count tolerates no more lost managers than one fewer; make one manager a worker or add one; got 2",
        );
    });
    it("refuses duplicate keys and addresses", () => {
        assert.strictEqual(
            err([host("m0", "manager", "10.0.0.1"), host("w0", "worker", "10.0.0.1"), host("w0", "worker", "10.0.0.3")]),
            [
                '- hosts[1].privateAddress must be unique; host "m0" has it too; got "10.0.0.1"',
                '- hosts[2].key must be unique; another host has this key; got "w0"',
            ].join("\n"),
        );
    });
    it("refuses a key that cannot name a resource", () => {
        assert.strictEqual(err([host("Manager 0", "manager")]), 'hosts[0].key must be 1-40 lower-case letters, digits or "-", such as "worker-0"; got "Manager 0"');
    });
});
