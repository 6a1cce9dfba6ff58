// Lab layer: the lab engine (engine.ts) against the rules of the real Pulumi engine (3.248) and
// pulumi-command (1.2.1) it claims to follow. Each program is a few remote.Commands on lab hosts
// that append to a log file on the host (/tmp/conform.log); the log's order is what ran.
import * as assert from "assert";
import type * as commandType from "@pulumi/command";
import type * as pulumiType from "@pulumi/pulumi";
import { Deployed, Deployment, LabEngine, UpResult } from "./engine";
import { Lab, labOrSkip, startLab } from "./lab";

const LOG = "/tmp/conform.log";

describe("lab: the engine follows Pulumi's and pulumi-command's rules", function () {
    this.timeout(60000);
    let lab: Lab;
    let engine: LabEngine;
    let command: typeof commandType;

    before(async function () {
        labOrSkip(this);
        lab = await startLab({ hosts: 2, name: "conform" });
        engine = new LabEngine(lab);
    });

    after(async () => {
        if (lab) await lab.teardown();
    });

    beforeEach(async () => {
        await Promise.all(lab.hosts.map((_, i) => lab.exec(i, `rm -f ${LOG}`)));
    });

    /** A program: `body` declares the commands once @pulumi/command is loaded under the engine's mocks. */
    const program = (body: () => void) => async () => {
        command = await import("@pulumi/command");
        body();
    };

    /** A remote command on host `h` whose scripts append `<what> <name> ...` to the host's log. */
    function cmd(
        name: string,
        args: Partial<commandType.remote.CommandArgs> & { create?: pulumiType.Input<string> },
        opts: pulumiType.CustomResourceOptions = {},
        h = 0,
    ): commandType.remote.Command {
        return new command.remote.Command(name, { connection: lab.connection(h), addPreviousOutputInEnv: false, ...args }, opts);
    }
    const append = (line: string) => `echo "${line}" >> ${LOG}`;

    async function log(h = 0): Promise<string[]> {
        return (await lab.exec(h, `cat ${LOG} 2>/dev/null`)).stdout.split("\n").filter((l) => l !== "");
    }

    function ok(r: UpResult): Deployment {
        assert.deepStrictEqual(r.failures, []);
        return r.deployment;
    }

    function named(d: Deployment, name: string): Deployed {
        const r = [...d.values()].find((x) => x.name === name && !x.pendingDelete);
        assert.ok(r, `no ${name} in the state`);
        return r;
    }

    const ops = (r: UpResult) => r.steps.map((s) => `${s.op} ${s.name}`);

    it("create-before-delete: a changed trigger creates the new command, then updates its dependent, and deletes the old one at the end of the run", async () => {
        const v = (n: number) =>
            program(() => {
                const a = cmd("a", { create: `${append(`create a ${n}`)}; echo a${n}`, delete: append(`delete a ${n}`), triggers: [n] });
                cmd("b", { create: a.stdout.apply((s) => append(`create b ${s}`)) });
            });
        const first = ok(await engine.up(v(1)));
        await lab.exec(0, `rm -f ${LOG}`);
        const r = await engine.up(v(2), first);
        ok(r);
        assert.deepStrictEqual(await log(), ["create a 2", "create b a2", "delete a 1"]);
        assert.deepStrictEqual(ops(r), ["create-replacement a", "update b", "delete-replaced a"]);
        assert.strictEqual(named(r.deployment, "a").outputs.stdout, "a2");
    });

    it("deleteBeforeReplace: the old command is deleted before the new one is created, then the dependent is updated", async () => {
        const v = (n: number) =>
            program(() => {
                const a = cmd(
                    "a",
                    { create: `${append(`create a ${n}`)}; echo a${n}`, delete: append(`delete a ${n}`), triggers: [n] },
                    { deleteBeforeReplace: true },
                );
                cmd("b", { create: a.stdout.apply((s) => append(`create b ${s}`)) });
            });
        const first = ok(await engine.up(v(1)));
        await lab.exec(0, `rm -f ${LOG}`);
        const r = await engine.up(v(2), first);
        ok(r);
        assert.deepStrictEqual(await log(), ["delete a 1", "create a 2", "create b a2"]);
        assert.deepStrictEqual(ops(r), ["delete-replaced a", "create-replacement a", "update b"]);
    });

    it("deleteBeforeReplace deletes first only a dependent whose replace-causing input (triggers) takes the replaced command's output; dependsOn alone or another input does not", async () => {
        const v = (n: number) =>
            program(() => {
                const a = cmd(
                    "a",
                    { create: `${append(`create a ${n}`)}; echo a${n}`, delete: append(`delete a ${n}`), triggers: [n] },
                    { deleteBeforeReplace: true },
                );
                // Property dependency through triggers: its diff with an unknown trigger is a replace.
                cmd("bytrigger", { create: append("create bytrigger"), delete: append("delete bytrigger"), triggers: [a.stdout] });
                // Property dependency through create only: an unknown create is an update.
                cmd("bycreate", { create: a.stdout.apply((s) => append(`create bycreate ${s}`)), delete: append("delete bycreate") });
                // dependsOn only: no property depends on a.
                cmd("bydependson", { create: append("create bydependson"), delete: append("delete bydependson"), triggers: ["fixed"] }, { dependsOn: [a] });
            });
        const first = ok(await engine.up(v(1)));
        await lab.exec(0, `rm -f ${LOG}`);
        const r = await engine.up(v(2), first);
        ok(r);
        const lines = await log();
        assert.deepStrictEqual(lines.slice(0, 3), ["delete bytrigger", "delete a 1", "create a 2"]);
        assert.deepStrictEqual(lines.slice(3).sort(), ["create bycreate a2", "create bytrigger"]);
        assert.deepStrictEqual(ops(r).slice(0, 3), ["delete-replaced bytrigger", "delete-replaced a", "create-replacement a"]);
        assert.deepStrictEqual(ops(r).slice(3).sort(), ["create-replacement bytrigger", "update bycreate"]);
    });

    it("the first failure cancels every step not yet started; unreached resources keep their old state and no end-of-run delete runs", async () => {
        const first = ok(
            await engine.up(
                program(() => {
                    const f = cmd("f", { create: `${append("create f 1")}; echo f1` });
                    cmd("afterf", { create: f.stdout.apply((s) => `${append(`create afterf ${s}`)}; echo x`) });
                    cmd("gone", { create: append("create gone"), delete: append("delete gone") });
                }),
            ),
        );
        await lab.exec(0, `rm -f ${LOG}`);
        const r = await engine.up(
            program(() => {
                const f = cmd("f", { create: `${append("create f 2")}; echo f2; exit 3` });
                cmd("afterf", { create: f.stdout.apply((s) => `${append(`create afterf ${s}`)}; echo x`) });
                // Started before f fails (its sleep outlasts f): it completes.
                const slow = cmd("slow", { create: `sleep 1; ${append("create slow")}; echo s` });
                // Registered after the failure (it waits for slow's output): never started.
                cmd("late", { create: slow.stdout.apply((s) => append(`create late ${s}`)) });
            }),
            first,
        );
        assert.strictEqual(r.failures.length, 1, JSON.stringify(r.failures));
        assert.strictEqual(r.failures[0].name, "f");
        assert.match(r.failures[0].message, /^f: Process exited with status 3: running ".*":\nf2\n$/s);
        assert.deepStrictEqual(r.cancelled, ["late"]);
        assert.deepStrictEqual((await log()).sort(), ["create f 2", "create slow"]);
        // f's failed update and afterf, never reached, keep their old state; gone was not deleted.
        assert.strictEqual(named(r.deployment, "f").outputs.stdout, "f1");
        assert.deepStrictEqual(named(r.deployment, "f").inputs, named(first, "f").inputs);
        assert.deepStrictEqual(named(r.deployment, "afterf"), named(first, "afterf"));
        assert.deepStrictEqual(named(r.deployment, "gone"), named(first, "gone"));
        assert.strictEqual(named(r.deployment, "slow").outputs.stdout, "s");
        assert.ok(![...r.deployment.values()].some((x) => x.name === "late"));
    });

    it("a failed end-of-run delete fails the run: the replaced command stays in the state pending delete, and the next run deletes it again (and fails again)", async () => {
        const v = (n: number) => program(() => void cmd("a", { create: append(`create a ${n}`), delete: `${append(`delete a ${n}`)}; exit 4`, triggers: [n] }));
        const first = ok(await engine.up(v(1)));
        await lab.exec(0, `rm -f ${LOG}`);
        const r = await engine.up(v(2), first);
        assert.deepStrictEqual(ops(r), ["create-replacement a", "delete-replaced a"]);
        assert.deepStrictEqual(r.failures.map((f) => f.name), ["a"]);
        const pending = [...r.deployment.values()].filter((x) => x.name === "a" && x.pendingDelete);
        assert.deepStrictEqual(pending.map((x) => x.inputs.triggers), [[1]]);
        assert.deepStrictEqual(named(r.deployment, "a").inputs.triggers, [2]);
        const again = await engine.up(v(2), r.deployment);
        assert.deepStrictEqual(ops(again), ["delete-replaced a"]);
        assert.deepStrictEqual(again.failures.map((f) => f.name), ["a"]);
        assert.deepStrictEqual(await log(), ["create a 2", "delete a 1", "delete a 1"]);
    });

    it("an update without an update script runs create again (with the new inputs); with no script at all it keeps the previous stdout and stderr", async () => {
        const first = ok(
            await engine.up(
                program(() => {
                    cmd("a", { create: `${append("create a 1")}; echo out1; echo err1 >&2` });
                    cmd("z", { create: `${append("create z")}; echo zout; echo zerr >&2`, delete: append("delete z 1") });
                }),
            ),
        );
        await lab.exec(0, `rm -f ${LOG}`);
        const r = await engine.up(
            program(() => {
                cmd("a", { create: `${append("create a 2")}; echo out2; echo err2 >&2` });
                cmd("z", { delete: append("delete z 2") });
            }),
            first,
        );
        ok(r);
        // z's update has no script to run: it is not among the steps that ran something.
        assert.deepStrictEqual(ops(r), ["update a"]);
        assert.deepStrictEqual(await log(), ["create a 2"]);
        assert.deepStrictEqual([named(r.deployment, "a").outputs.stdout, named(r.deployment, "a").outputs.stderr], ["out2", "err2"]);
        assert.deepStrictEqual([named(r.deployment, "z").outputs.stdout, named(r.deployment, "z").outputs.stderr], ["zout", "zerr"]);
    });

    it("a connection change is an in-place update: create runs again on the new host, and nothing runs on the old one", async () => {
        const on = (h: number) => program(() => void cmd("a", { create: append(`create a on ${h}`), delete: append(`delete a on ${h}`) }, {}, h));
        const first = ok(await engine.up(on(0)));
        await lab.exec(0, `rm -f ${LOG}`);
        const r = await engine.up(on(1), first);
        ok(r);
        assert.deepStrictEqual(ops(r), ["update a"]);
        assert.deepStrictEqual(await log(0), []);
        assert.deepStrictEqual(await log(1), ["create a on 1"]);
    });

    it("--replace replaces an unchanged command create-before-delete (without deleteBeforeReplace) and delete-before-create with it", async () => {
        const p = program(() => {
            cmd("cbd", { create: append("create cbd"), delete: append("delete cbd") });
            cmd("dbr", { create: append("create dbr"), delete: append("delete dbr") }, { deleteBeforeReplace: true });
        });
        const first = ok(await engine.up(p));
        await lab.exec(0, `rm -f ${LOG}`);
        const r = await engine.up(p, first, [named(first, "cbd").urn, named(first, "dbr").urn]);
        ok(r);
        const lines = await log();
        assert.ok(lines.indexOf("create cbd") < lines.indexOf("delete cbd"), lines.join(", "));
        assert.ok(lines.indexOf("delete dbr") < lines.indexOf("create dbr"), lines.join(", "));
        assert.strictEqual(lines.length, 4);
        assert.strictEqual(lines[3], "delete cbd");
    });

    it("ignoreChanges: a replacement that a diff causes creates from the program's inputs; a --replace target keeps the ignored input's old value", async () => {
        const p = (v: string, t: string) => program(() => void cmd("k", { create: append(`create k ${v}`), triggers: [t] }, { ignoreChanges: ["create"] }));
        const first = ok(await engine.up(p("v1", "t1")));
        const second = ok(await engine.up(p("v2", "t2"), first));
        const third = ok(await engine.up(p("v3", "t2"), second, [named(second, "k").urn]));
        assert.deepStrictEqual(await log(), ["create k v1", "create k v2", "create k v2"]);
        assert.match(String(named(third, "k").inputs.create), /create k v2/);
    });

    it("a delete runs the delete script stored in the state, with the stored stdin and environment (sshd accepts LC_*), and a refused environment name fails the command", async () => {
        const v = (n: number) =>
            program(() => {
                cmd("a", {
                    create: `read x; ${append(`create a $x $LC_CONFORM`)}`,
                    delete: `read x; ${append(`delete${n} a $x $LC_CONFORM`)}`,
                    stdin: `in${n}\n`,
                    environment: { LC_CONFORM: `env${n}` },
                    triggers: [n],
                });
            });
        const first = ok(await engine.up(v(1)));
        const r = await engine.up(v(2), first);
        ok(r);
        assert.deepStrictEqual(await log(), ["create a in1 env1", "create a in2 env2", "delete1 a in1 env1"]);
        const refused = await engine.up(program(() => void cmd("b", { create: append("create b"), environment: { CONFORM_OTHER: "x" } })));
        assert.deepStrictEqual(refused.failures, [{ name: "b", message: 'b: could not set environment variable "CONFORM_OTHER": ssh: setenv failed' }]);
    });

    it("destroy deletes in reverse-dependency antichains: a leaf waits for nothing, a resource waits for all its dependents, the root goes last", async () => {
        const d = ok(
            await engine.up(
                program(() => {
                    const a = cmd("a", { delete: append("delete a") });
                    const b = cmd("b", { delete: append("delete b") }, { dependsOn: [a] });
                    cmd("c", { delete: `sleep 0.5; ${append("delete c")}` }, { dependsOn: [b] });
                    cmd("d", { delete: append("delete d") }, { dependsOn: [a] });
                }),
            ),
        );
        await engine.destroy(d);
        // Antichains [c], [b, d], [a]: d, though nothing depends on it, is not deleted before
        // c's antichain is done (c takes 0.5 s); b waits for c; a waits for both.
        const lines = await log();
        assert.strictEqual(lines[0], "delete c");
        assert.deepStrictEqual(lines.slice(1, 3).sort(), ["delete b", "delete d"]);
        assert.strictEqual(lines[3], "delete a");
    });

    it("target group attachments (terraform-provider-aws target_group_attachment.go): every input replaces; Create registers, Delete deregisters at the end of the run; one registration per instance and group, whatever holds it", async () => {
        const aws = await import("@pulumi/aws");
        const lbProgram = (attachments: Record<string, string>) => async () => {
            const tg = new aws.lb.TargetGroup("tg", { name: "conform-tg", port: 8080, protocol: "HTTP", targetType: "instance", vpcId: "vpc-1" });
            for (const [name, instance] of Object.entries(attachments)) new aws.lb.TargetGroupAttachment(name, { targetGroupArn: tg.arn, targetId: instance, port: 8080 });
        };
        // By position: the second node goes, so position 0 now holds i-2. The replacement of
        // att-0 registers i-2 (already registered), then deletes deregister i-1 (att-0's old
        // target) and i-2 (att-1's): the group ends empty though att-0 names i-2. Why the
        // component keys its attachments by node.
        let d = ok(await engine.up(lbProgram({ "att-0": "i-1", "att-1": "i-2" })));
        assert.deepStrictEqual(engine.elb.registeredInstances(), ["i-1", "i-2"]);
        d = ok(await engine.up(lbProgram({ "att-0": "i-2" }), d));
        assert.deepStrictEqual(engine.elb.registeredInstances(), []);
        assert.deepStrictEqual(String(named(d, "att-0").inputs.targetId), "i-2");
        await engine.destroy(d);
        // By key: only the leaving node's registration goes.
        d = ok(await engine.up(lbProgram({ "att-a": "i-1", "att-b": "i-2" })));
        assert.deepStrictEqual(engine.elb.registeredInstances(), ["i-1", "i-2"]);
        d = ok(await engine.up(lbProgram({ "att-b": "i-2" }), d));
        assert.deepStrictEqual(engine.elb.registeredInstances(), ["i-2"]);
        await engine.destroy(d);
        assert.deepStrictEqual(engine.elb.registeredInstances(), []);
    });
});
