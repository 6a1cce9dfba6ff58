// Lab layer: the lab engine's EC2 model (engine.ts). Each aws:ec2/instance:Instance is a lab host
// from a pool; what the AWS provider does to an instance on `pulumi up` happens to that host.
import * as assert from "assert";
import type * as awsType from "@pulumi/aws";
import type * as commandType from "@pulumi/command";
import { Deployed, Deployment, LabEngine, UpResult } from "./engine";
import { Lab, labOrSkip, startLab } from "./lab";

describe("lab: the engine's EC2 model (instances are lab hosts)", function () {
    this.timeout(120000);
    let lab: Lab;
    let engine: LabEngine;

    before(async function () {
        labOrSkip(this);
        lab = await startLab({ hosts: 3, name: "ectwo" });
    });

    after(async () => {
        if (lab) await lab.teardown();
    });

    beforeEach(async () => {
        await Promise.all(lab.hosts.map((_, i) => lab.resetDocker(i)));
        engine = new LabEngine(lab);
    });

    interface NodeArgs {
        ami?: string;
        instanceType?: string;
        userData?: string;
        userDataReplaceOnChange?: boolean;
        eip?: boolean;
    }
    const seen: { ami?: string } = {};

    /** One instance (its AMI from getAmi unless given), and a command on it that prints the host's name and dockerd PID. */
    const program =
        (a: NodeArgs = {}, opts: { ignoreChanges?: string[]; replaceOnChanges?: string[] } = {}) =>
        async () => {
            const aws: typeof awsType = await import("@pulumi/aws");
            const command: typeof commandType = await import("@pulumi/command");
            const ami =
                a.ami ??
                (await aws.ec2.getAmi({ mostRecent: true, owners: ["099720109477"], filters: [{ name: "name", values: ["ubuntu/images/*-amd64-server-*"] }] })).id;
            seen.ami = ami;
            const node = new aws.ec2.Instance(
                "node",
                {
                    ami,
                    instanceType: a.instanceType ?? "t3.small",
                    subnetId: "subnet-1",
                    keyName: "key",
                    userData: a.userData ?? "#cloud-config\n",
                    userDataReplaceOnChange: a.userDataReplaceOnChange,
                },
                opts,
            );
            const publicIp = a.eip ? new aws.ec2.Eip("node-ip", { instance: node.id, domain: "vpc" }).publicIp : node.publicIp;
            new command.remote.Command("on-node", {
                connection: { host: publicIp, user: "root", privateKey: lab.privateKey },
                create: "echo $(hostname) $(cat /run/docker.pid)",
                addPreviousOutputInEnv: false,
            });
        };

    function ok(r: UpResult): Deployment {
        assert.deepStrictEqual(r.failures, []);
        return r.deployment;
    }
    /** The operations of a run that must not fail. */
    const okOps = (r: UpResult) => (ok(r), ops(r));
    function named(d: Deployment, name: string): Deployed {
        const r = [...d.values()].find((x) => x.name === name && !x.pendingDelete);
        assert.ok(r, `no ${name} in the state`);
        return r;
    }
    const ops = (r: UpResult) => r.steps.map((s) => `${s.op} ${s.name}`);
    const dockerdAnswers = async (h: number) => (await lab.exec(h, "docker info --format '{{.ID}}'")).code === 0;
    const sshAnswers = async (h: number) => {
        try {
            return (await lab.ssh(h, "true")).code === 0;
        } catch {
            return false;
        }
    };

    it("a force-new change (ami) gives a new host with new private and public addresses, created first; the old host is terminated at the end of the run", async () => {
        const first = ok(await engine.up(program({ ami: "ami-1" })));
        const before = named(first, "node");
        const r = await engine.up(program({ ami: "ami-2" }), first);
        const after = named(ok(r), "node");
        assert.deepStrictEqual(ops(r), ["create-replacement node", "update on-node", "delete-replaced node"]);
        assert.notStrictEqual(after.host, before.host);
        assert.notStrictEqual(after.outputs.privateIp, before.outputs.privateIp);
        assert.notStrictEqual(after.outputs.publicIp, before.outputs.publicIp);
        assert.strictEqual(after.outputs.privateIp, lab.hosts[after.host!].privateAddress);
        // The command ran again, over the new public address, on the new host.
        assert.match(String(named(r.deployment, "on-node").outputs.stdout), new RegExp(`^${lab.hosts[after.host!].name} \\d+$`));
        // The old host is gone: no engine, no sshd, no route to its public address.
        assert.strictEqual(await dockerdAnswers(before.host!), false);
        assert.strictEqual(await sshAnswers(before.host!), false);
        assert.strictEqual(engine.hostAt(String(before.outputs.publicIp)), undefined);
        assert.strictEqual(await dockerdAnswers(after.host!), true);
    });

    it("an instance-type change stops and starts the same host: a new dockerd, the private address kept, a new public address", async () => {
        const first = ok(await engine.up(program({ instanceType: "t3.small" })));
        const before = named(first, "node");
        const [, pidBefore] = String(named(first, "on-node").outputs.stdout).split(" ");
        const r = await engine.up(program({ instanceType: "t3.large" }), first);
        const after = named(ok(r), "node");
        assert.deepStrictEqual(ops(r), ["update node", "update on-node"]);
        assert.strictEqual(after.host, before.host);
        assert.strictEqual(after.outputs.privateIp, before.outputs.privateIp);
        assert.notStrictEqual(after.outputs.publicIp, before.outputs.publicIp);
        const [host, pidAfter] = String(named(r.deployment, "on-node").outputs.stdout).split(" ");
        assert.strictEqual(host, lab.hosts[before.host!].name);
        assert.notStrictEqual(pidAfter, pidBefore);
        assert.strictEqual(engine.hostAt(String(before.outputs.publicIp)), undefined);
    });

    it("with an Elastic IP attached, an instance-type stop/start keeps the public address", async () => {
        const first = ok(await engine.up(program({ instanceType: "t3.small", eip: true })));
        const eip = String(named(first, "node-ip").outputs.publicIp);
        const r = await engine.up(program({ instanceType: "t3.large", eip: true }), first);
        ok(r);
        assert.deepStrictEqual(ops(r), ["update node"]);
        assert.strictEqual(named(r.deployment, "node").outputs.publicIp, eip);
        assert.strictEqual(engine.hostAt(eip), named(r.deployment, "node").host);
    });

    it("a changed AMI table changes what getAmi returns, and the instance is replaced on the next run", async () => {
        engine.amis = { "ubuntu/images/*-amd64-server-*": "ami-old" };
        const first = ok(await engine.up(program()));
        assert.strictEqual(seen.ami, "ami-old");
        assert.strictEqual(named(first, "node").inputs.ami, "ami-old");
        engine.amis = { "ubuntu/images/*-amd64-server-*": "ami-new" };
        const r = await engine.up(program(), first);
        assert.strictEqual(seen.ami, "ami-new");
        assert.deepStrictEqual(okOps(r), ["create-replacement node", "update on-node", "delete-replaced node"]);
    });

    it("ignoreChanges keeps an instance whose ami changed; replaceOnChanges replaces it on an instance-type change", async () => {
        const first = ok(await engine.up(program({ ami: "ami-1" }, { ignoreChanges: ["ami"] })));
        const same = await engine.up(program({ ami: "ami-2" }, { ignoreChanges: ["ami"] }), first);
        assert.deepStrictEqual(okOps(same), []);
        assert.strictEqual(named(same.deployment, "node").inputs.ami, "ami-1");
        const r = await engine.up(program({ ami: "ami-1", instanceType: "t3.large" }, { replaceOnChanges: ["instanceType"] }), same.deployment);
        assert.deepStrictEqual(okOps(r), ["create-replacement node", "update on-node", "delete-replaced node"]);
    });

    /** The program, and EC2's list of the running and stopped instances (DescribeInstances) as the run starts. */
    const listed: { ids?: string[] } = {};
    const withLookup = () => async () => {
        await program()();
        const aws: typeof awsType = await import("@pulumi/aws");
        listed.ids = (await aws.ec2.getInstances({ instanceStateNames: ["running", "stopped"] })).ids;
    };
    /**
     * Which of sshd (22) and a manager's port (2377) give another lab host a TCP connection to
     * this host's private address within 3 s.
     */
    const portsAnswering = async (h: number) => {
        const other = (h + 1) % lab.hosts.length;
        const answers = async (port: number) => (await lab.exec(other, `timeout 3 bash -c 'exec 3<>/dev/tcp/${lab.hosts[h].privateAddress}/${port}'`)).code === 0;
        return (await Promise.all([22, 2377].map(async (p) => ((await answers(p)) ? [p] : [])))).flat();
    };

    for (const how of ["impaired", "terminated"] as const) {
        it(`a machine that dies, ${how}: nothing on its host answers; EC2 ${how === "impaired" ? "still lists" : "no longer lists"} it; --replace gives a new host and the dead instance's delete succeeds; the host, taken again, is a fresh machine`, async () => {
            const first = ok(await engine.up(withLookup()));
            const before = named(first, "node");
            // The lookup answers from what EC2 holds as a run starts: the instance, on the run after its own.
            assert.deepStrictEqual(okOps(await engine.up(withLookup(), first)), []);
            assert.deepStrictEqual(listed.ids, [before.id]);
            // sshd and a manager's port answer on it, before.
            await lab.exec(before.host!, "docker swarm init >/dev/null 2>&1 || true");
            assert.deepStrictEqual(await portsAnswering(before.host!), [22, 2377]);
            const dead = await engine.lose(first, "node", how);
            assert.strictEqual(dead, before.host);
            assert.strictEqual(await dockerdAnswers(dead), false);
            assert.deepStrictEqual(await portsAnswering(dead), []);
            assert.strictEqual(engine.hostAt(String(before.outputs.publicIp)), how === "impaired" ? dead : undefined);
            const r = await engine.up(withLookup(), first, ["node"]);
            assert.deepStrictEqual(okOps(r), ["create-replacement node", "update on-node", "delete-replaced node"]);
            assert.deepStrictEqual(listed.ids, how === "impaired" ? [before.id] : []);
            assert.match(r.steps.find((s) => s.op === "delete-replaced")!.detail ?? "", how === "terminated" ? /EC2 had already terminated it/ : /terminated$/);
            const after = named(r.deployment, "node");
            assert.notStrictEqual(after.host, dead);
            // The dead host is free again: the next replacement takes it (the pool's first free
            // host), as a fresh machine that runs the command.
            const again = await engine.up(program(), r.deployment, ["node"]);
            assert.strictEqual(named(ok(again), "node").host, dead);
            assert.match(String(named(again.deployment, "on-node").outputs.stdout), new RegExp(`^${lab.hosts[dead].name} \\d+$`));
        });
    }

    it("a user-data change stops and starts the instance in place, unless userDataReplaceOnChange asks for a replacement", async () => {
        const first = ok(await engine.up(program({ userData: "#cloud-config\n# 1\n" })));
        const inPlace = await engine.up(program({ userData: "#cloud-config\n# 2\n" }), first);
        assert.deepStrictEqual(okOps((inPlace)), ["update node", "update on-node"]);
        assert.strictEqual(named(inPlace.deployment, "node").host, named(first, "node").host);
        const replaced = await engine.up(program({ userData: "#cloud-config\n# 3\n", userDataReplaceOnChange: true }), inPlace.deployment);
        assert.deepStrictEqual(okOps(replaced), ["create-replacement node", "update on-node", "delete-replaced node"]);
    });
});
