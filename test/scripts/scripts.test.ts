// Pure layer: every script that runs on a host, rendered from fixed values, compared to a
// golden file byte for byte, and checked by shellcheck. Regenerate the golden files only
// on purpose: UPDATE_GOLDEN=1 npm test -- --grep "host scripts"
import * as assert from "assert";
import { createHash } from "crypto";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderCloudInit, dockerAptVersion } from "../../components/scripts/cloudInit";
import {
    renderMemberCreate,
    renderMemberDelete,
    renderRemoverDelete,
} from "../../components/scripts/membership";
import { renderSingleManagerGuard } from "../../components/scripts/guard";
import { renderAfterRestart, renderBack, renderBeforeRestart, renderHandOff, renderQuorumCheck } from "../../components/scripts/roll";
import { ECR_REGISTRY_PATTERN, renderRegistryAuthRenewal, renderRegistryAuthRenewalUnits } from "../../components/scripts/registryAuth";
import { parseSwarmInitOutput, renderSwarmInit } from "../../components/scripts/swarmInit";
import { parseSwarmJoinOutput, renderSwarmJoin, renderSwarmLeave } from "../../components/scripts/swarmJoin";
import { shellQuote } from "../../components/shell";
import { goldenScriptTests } from "../golden";
import { shellcheck } from "../shellcheck";


const GUARD_PRINT = "ami=ami-0bbbbbbbbbbbbbbbb subnet=subnet-1 key=lab-ssh-1 userdata=0123456789ab";

const cases: { file: string; shell: "sh" | "bash"; render: () => string }[] = [
    {
        file: "cloud-init.sh",
        shell: "bash",
        render: () => renderCloudInit({ os: "ubuntu-24.04", dockerVersion: "28.5.2", sshUser: "ubuntu", ecrCredentialHelper: true }),
    },
    {
        file: "swarm-init.sh",
        shell: "sh",
        render: () => renderSwarmInit({ clusterName: "prod", hostKey: "manager-0", advertiseAddress: "10.0.0.10", dockerReadyTimeoutSeconds: 600 }),
    },
    {
        file: "swarm-join-worker.sh",
        shell: "sh",
        render: () =>
            renderSwarmJoin({
                hostKey: "worker-3",
                role: "worker",
                advertiseAddress: "10.0.32.7",
                managerAddresses: ["10.0.0.10", "10.0.16.5", "10.0.32.4"],
                dockerReadyTimeoutSeconds: 600,
            }),
    },
    {
        file: "swarm-join-manager.sh",
        shell: "sh",
        render: () =>
            renderSwarmJoin({
                hostKey: "manager-1",
                role: "manager",
                advertiseAddress: "10.0.16.5",
                managerAddresses: ["10.0.0.10", "10.0.16.5", "10.0.32.4"],
                dockerReadyTimeoutSeconds: 60,
            }),
    },
    { file: "swarm-leave.sh", shell: "sh", render: () => renderSwarmLeave("worker-3", 120) },
    { file: "member-create-worker.sh", shell: "sh", render: () => renderMemberCreate({ hostKey: "worker-3", nodeId: "w3node", role: "worker" }, 300) },
    { file: "member-create-manager.sh", shell: "sh", render: () => renderMemberCreate({ hostKey: "manager-1", nodeId: "m1node", role: "manager" }, 300) },
    { file: "member-delete-manager.sh", shell: "sh", render: () => renderMemberDelete({ hostKey: "manager-1", nodeId: "m1node", role: "manager" }, 300) },
    {
        file: "handoff-worker-lb.sh",
        shell: "sh",
        render: () => renderHandOff({ hostKey: "worker-3", change: "instance type t3.large", drainTimeoutSeconds: 300, loadBalancerName: "prod-alb-1a2b3c4d" }),
    },
    { file: "handoff-manager.sh", shell: "sh", render: () => renderHandOff({ hostKey: "manager-2", change: "instance type t3.medium", drainTimeoutSeconds: 300 }) },
    {
        file: "back-worker.sh",
        shell: "sh",
        render: () => renderBack({ hostKey: "worker-3", change: "instance type t3.large", drainTimeoutSeconds: 300, loadBalancerName: "prod-alb-1a2b3c4d" }),
    },
    {
        file: "member-create-worker-lb.sh",
        shell: "sh",
        render: () =>
            renderMemberCreate({ hostKey: "worker-3", nodeId: "w3node", role: "worker", loadBalancer: { name: "prod-alb-1a2b3c4d", instanceId: "i-0abc123def4567890" } }, 300),
    },
    {
        file: "member-delete-worker-lb.sh",
        shell: "sh",
        render: () =>
            renderMemberDelete({ hostKey: "worker-3", nodeId: "w3node", role: "worker", loadBalancer: { name: "prod-alb-1a2b3c4d", instanceId: "i-0abc123def4567890" } }, 300),
    },
    { file: "remover-delete.sh", shell: "sh", render: () => renderRemoverDelete("worker-3") },
    {
        file: "before-restart-worker.sh",
        shell: "sh",
        render: () => renderBeforeRestart({ hostKey: "worker-3", role: "worker", change: "instance type t3.large", readyTimeoutSeconds: 600, drainTimeoutSeconds: 300 }),
    },
    {
        file: "before-restart.sh",
        shell: "sh",
        render: () => renderBeforeRestart({ hostKey: "manager-2", role: "manager", change: "instance type t3.large", readyTimeoutSeconds: 600, drainTimeoutSeconds: 300 }),
    },
    {
        file: "after-restart.sh",
        shell: "sh",
        render: () => renderAfterRestart({
                hostKey: "manager-0",
                role: "manager",
                change: "instance type t3.large",
                readyTimeoutSeconds: 600,
                drainTimeoutSeconds: 300,
                leadershipOffOf: "manager-1",
            }),
    },
    { file: "single-manager-guard.sh", shell: "sh", render: () => renderSingleManagerGuard({ hostKey: "manager-0", fingerprint: GUARD_PRINT, allowed: false }) },
    { file: "single-manager-guard-allowed.sh", shell: "sh", render: () => renderSingleManagerGuard({ hostKey: "manager-0", fingerprint: GUARD_PRINT, allowed: true }) },
    { file: "quorum-check.sh", shell: "sh", render: () => renderQuorumCheck("manager t3.small, worker t3.medium, ami looked-up, user data 0123456789ab", 600) },
    { file: "registry-auth-renewal.sh", shell: "sh", render: () => renderRegistryAuthRenewal({ registries: [ECR_REGISTRY_PATTERN, "10.77.0.2:5001"] }) },
];

describe("pure: host scripts", () => {
    goldenScriptTests(cases);

    it("the roll commands' scripts keep the text of the last release: a new text would run every -drain and -ready of every running cluster on its next pulumi up", () => {
        // A `-drain` runs its script on any change of its inputs: with a new text, every node of
        // a steady cluster would be drained, with no restart after it and no `-ready` to make it
        // active again. Change these only with a way to key the commands' runs to the instance
        // type alone. (SHA-256 prefixes of the golden files as of a35b509.)
        const digest = (file: string) => createHash("sha256").update(cases.find((c) => c.file === file)!.render()).digest("hex").slice(0, 16);
        assert.deepStrictEqual(
            ["before-restart.sh", "before-restart-worker.sh", "after-restart.sh"].map(digest),
            ["b6f9e7f53c370305", "0a0cdd78bf702a96", "027048678863f239"],
        );
    });

    it("the single-manager guard: prints its fingerprint when created or unchanged; a changed one fails with its message, unless allowed", () => {
        const run = (allowed: boolean, previous?: string) => {
            const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
            if (previous !== undefined) env.PULUMI_COMMAND_STDOUT = previous;
            const r = spawnSync("/bin/sh", ["-c", renderSingleManagerGuard({ hostKey: "manager-0", fingerprint: GUARD_PRINT, allowed })], { env, encoding: "utf8" });
            return `${r.status} ${JSON.stringify(r.stdout)} ${JSON.stringify(r.stderr)}`;
        };
        const printed = `0 "${GUARD_PRINT}\\n" ""`;
        assert.strictEqual(run(false), printed);
        assert.strictEqual(run(false, GUARD_PRINT), printed);
        // A fingerprint of an older pulumi-swarm, without the user data's field: only the fields it has are compared.
        assert.strictEqual(run(false, "ami=ami-0bbbbbbbbbbbbbbbb subnet=subnet-1 key=lab-ssh-1"), printed);
        const refused = (what: string) =>
            `1 "" ${JSON.stringify(
                `pulumi-swarm: this run would replace manager-0, the swarm's only manager (${what}). ` +
                    "A swarm whose only manager is replaced is lost: the new manager starts a new, empty swarm, without the services, secrets, configs and networks of the old one. " +
                    "Nothing was changed. To keep the swarm, undo the change, raise managerCount to 3 and run pulumi up (the new managers join), then make the change. " +
                    "To accept the loss, set allowSingleManagerReplacement to true and run pulumi up again.\n",
            )}`;
        assert.strictEqual(run(false, "ami=ami-0bbbbbbbbbbbbbbbb subnet=subnet-1 key=lab-ssh-1 userdata=ba9876543210"), refused("from userdata=ba9876543210 to userdata=0123456789ab"));
        const old = "ami=ami-0aaaaaaaaaaaaaaaa subnet=subnet-2 key=lab-ssh-1";
        assert.strictEqual(
            run(false, old),
            `1 "" ${JSON.stringify(
                "pulumi-swarm: this run would replace manager-0, the swarm's only manager (from ami=ami-0aaaaaaaaaaaaaaaa to ami=ami-0bbbbbbbbbbbbbbbb, from subnet=subnet-2 to subnet=subnet-1). " +
                    "A swarm whose only manager is replaced is lost: the new manager starts a new, empty swarm, without the services, secrets, configs and networks of the old one. " +
                    "Nothing was changed. To keep the swarm, undo the change, raise managerCount to 3 and run pulumi up (the new managers join), then make the change. " +
                    "To accept the loss, set allowSingleManagerReplacement to true and run pulumi up again.\n",
            )}`,
        );
        assert.strictEqual(run(true, old), printed);
    });

    it("shellcheck does find problems (the check can fail)", () => {
        assert.match(shellcheck("echo $1\n", "sh"), /SC2086/);
    });

    it("a value reaches a script as one quoted word", () => {
        assert.strictEqual(shellQuote("10.0.0.1:2377"), "10.0.0.1:2377");
        assert.strictEqual(shellQuote("a b"), "'a b'");
        assert.strictEqual(shellQuote("it's"), `'it'"'"'s'`);
        assert.strictEqual(shellQuote("$(reboot)"), "'$(reboot)'");
        assert.strictEqual(shellQuote(""), "''");
    });

    it("refuses names and addresses a shell would read", () => {
        assert.throws(
            () => renderSwarmInit({ clusterName: "x", hostKey: "m", advertiseAddress: "10.0.0.1; reboot", dockerReadyTimeoutSeconds: 60 }),
            /advertiseAddress must be letters, digits, '.', '_', ':' or '-' \(a host name, key or address\); got "10.0.0.1; reboot"/,
        );
        assert.throws(() => renderSwarmLeave("$(id)", 60), /hostKey must be letters/);
        assert.throws(() => renderMemberDelete({ hostKey: "w", nodeId: "n", role: "worker" }, 0), /drainTimeoutSeconds must be a positive whole number of seconds; got 0/);
    });

    it("the join script carries no token: the token comes on stdin", () => {
        const s = renderSwarmJoin({
            hostKey: "worker-0",
            role: "worker",
            advertiseAddress: "10.0.0.2",
            managerAddresses: ["10.0.0.1"],
            dockerReadyTimeoutSeconds: 60,
        });
        assert.ok(!s.includes("SWMTKN"));
        assert.match(s, /IFS= read -r token/);
        assert.match(s, /for manager in 10\.0\.0\.1; do\n {8}if ! answers "\$manager"; then\n[^]*?\n {8}fi\n {8}if dkr swarm join --token "\$token" --advertise-addr 10\.0\.0\.2 "\$manager:2377"/);
    });

    it("the wait loop is bounded by the time-out", () => {
        const s = renderSwarmInit({ clusterName: "c", hostKey: "m", advertiseAddress: "10.0.0.1", dockerReadyTimeoutSeconds: 61 });
        assert.match(s, /if \[ "\$i" -ge 31 \]; then/);
        assert.match(s, /Docker did not answer on \$\(hostname\) within 61 s/);
    });

    it("cloud-init pins the Docker version in apt's form", () => {
        assert.strictEqual(dockerAptVersion("28.5.2"), "5:28.5.2-1~ubuntu.24.04~noble");
        assert.throws(
            () => renderCloudInit({ os: "ubuntu-24.04", dockerVersion: "latest", sshUser: "ubuntu", ecrCredentialHelper: true }),
            /dockerVersion must look like 28.5.2; got "latest"/,
        );
    });

    it("cloud-init sets up the ECR credential helper only for an ECR registry, for root and the SSH user", () => {
        const base = { os: "ubuntu-24.04" as const, dockerVersion: "28.5.2", sshUser: "admin" };
        const ecr = renderCloudInit({ ...base, ecrCredentialHelper: true });
        const external = renderCloudInit({ ...base, ecrCredentialHelper: false });
        assert.match(ecr, /\n  apt-get install -y -q amazon-ecr-credential-helper\n/);
        assert.ok(ecr.includes(`\n  echo '{ "credsStore": "ecr-login" }' >"$home/.docker/config.json.pulumi-swarm"\n`));
        assert.ok(ecr.includes("\ndocker_config root\ndocker_config admin\n"));
        assert.ok(ecr.startsWith(external.slice(0, -1)), "the ECR part is appended to the same script");
        assert.doesNotMatch(external, /ecr/);
        assert.strictEqual(shellcheck(external, "bash"), "");
    });

    it("cloud-init installs the ECR token renewal on every node, exactly the rendered script and units, timer enabled", () => {
        const base = { os: "ubuntu-24.04" as const, dockerVersion: "28.5.2", sshUser: "admin" };
        const ecr = renderCloudInit({ ...base, ecrCredentialHelper: true });
        const hereDoc = (target: string) => {
            const m = ecr.match(new RegExp(`\\ncat >${target.replace(/[.]/g, "\\.")} <<'PULUMI_SWARM_EOF'\\n([\\s\\S]*?)\\nPULUMI_SWARM_EOF\\n`));
            assert.ok(m, `no here-document for ${target}`);
            return m[1] + "\n";
        };
        const units = renderRegistryAuthRenewalUnits();
        assert.strictEqual(hereDoc("/usr/local/sbin/pulumi-swarm-renew-registry-auth"), renderRegistryAuthRenewal({ registries: [ECR_REGISTRY_PATTERN] }));
        assert.strictEqual(hereDoc("/etc/systemd/system/pulumi-swarm-renew-registry-auth.service"), units.service);
        assert.strictEqual(hereDoc("/etc/systemd/system/pulumi-swarm-renew-registry-auth.timer"), units.timer);
        assert.ok(ecr.endsWith("\nsystemctl daemon-reload\nsystemctl enable --now pulumi-swarm-renew-registry-auth.timer\n"));
        assert.match(units.timer, /\nOnCalendar=\*-\*-\* 00\/6:00:00\n/);
        assert.doesNotMatch(renderCloudInit({ ...base, ecrCredentialHelper: false }), /renew-registry-auth/);
    });

    it("the renewal refuses registry patterns that are not host[:port] globs", () => {
        assert.throws(() => renderRegistryAuthRenewal({ registries: [] }), /registries must name at least one registry host/);
        assert.throws(
            () => renderRegistryAuthRenewal({ registries: ["a;rm -rf /"] }),
            /registries entries must be host\[:port\] patterns \(letters, digits, '.', ':', '-', '\*'\); got "a;rm -rf \/"/,
        );
    });

    it("the renewal's systemd units pass systemd-analyze verify", function () {
        const units = renderRegistryAuthRenewalUnits();
        const check = verifyUnits(units.service, units.timer);
        if (check === undefined) {
            // Never a silent skip in CI: there, a missing systemd-analyze fails the test.
            assert.ok(!process.env.CI, "systemd-analyze is missing: install systemd (apt-get install systemd) so CI checks the units");
            console.log("      skipped: systemd-analyze is not installed (apt-get install systemd)");
            this.skip();
        }
        assert.strictEqual(check, "");
    });

    describe("reading command output", () => {
        it("parses the init line", () => {
            const out = 'Swarm initialized\n{"clusterId":"c1","nodeId":"n1","workerToken":"SWMTKN-1-aa-bb","managerToken":"SWMTKN-1-aa-cc"}\n';
            assert.deepStrictEqual(parseSwarmInitOutput(out), {
                clusterId: "c1",
                nodeId: "n1",
                workerToken: "SWMTKN-1-aa-bb",
                managerToken: "SWMTKN-1-aa-cc",
            });
        });
        it("an unreadable init output fails without repeating it (it may hold tokens)", () => {
            assert.throws(
                () => parseSwarmInitOutput('{"workerToken":"SWMTKN-1-secret"}'),
                (e: Error) => /did not print the expected JSON line/.test(e.message) && !e.message.includes("SWMTKN-1-secret"),
            );
        });
        it("parses the join line", () => {
            assert.deepStrictEqual(parseSwarmJoinOutput('{"nodeId":"x7"}\n'), { nodeId: "x7" });
            assert.throws(() => parseSwarmJoinOutput("oops"), /printed "oops", not \{"nodeId": "..."\}/);
        });
    });
});

/**
 * `systemd-analyze verify` on the units (written under their own names in a temp folder), or
 * undefined where systemd-analyze is missing. The renewal program does not exist on this machine,
 * so that one complaint is expected and dropped; every other line is returned.
 */
function verifyUnits(service: string, timer: string): string | undefined {
    const probe = spawnSync("systemd-analyze", ["--version"]);
    if (probe.error || probe.status !== 0) return undefined;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-swarm-units-"));
    try {
        const files = ["pulumi-swarm-renew-registry-auth.service", "pulumi-swarm-renew-registry-auth.timer"].map((f) => path.join(dir, f));
        fs.writeFileSync(files[0], service);
        fs.writeFileSync(files[1], timer);
        const r = spawnSync("systemd-analyze", ["verify", ...files], { encoding: "utf8" });
        const missingProgram = "pulumi-swarm-renew-registry-auth.service: Command /usr/local/sbin/pulumi-swarm-renew-registry-auth is not executable: No such file or directory";
        return `${r.stdout}${r.stderr}`
            .split("\n")
            .filter((l) => l.trim() !== "" && l !== missingProgram)
            .join("\n");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
