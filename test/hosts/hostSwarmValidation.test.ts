// Pure layer: a swarm on hosts you already have is checked before anything is created; each
// message names the field, the value and the fix.
import * as assert from "assert";
import { HostSwarmValidationInput, validateHostSwarmArgs } from "../../components/hostSwarmValidation";
import { SwarmHost } from "../../components/swarmBootstrap";

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nTEST\n-----END OPENSSH PRIVATE KEY-----\n";
const host = (key: string, role: "manager" | "worker", n: number, extra: Partial<SwarmHost> = {}): SwarmHost => ({
    key,
    role,
    sshHost: `203.0.113.${n}`,
    sshUser: "ubuntu",
    privateAddress: `10.0.0.${n}`,
    ...extra,
});
const good = (): SwarmHost[] => [host("manager-0", "manager", 1), host("worker-0", "worker", 2), host("worker-1", "worker", 3)];

function message(args: HostSwarmValidationInput): string {
    try {
        validateHostSwarmArgs(args);
    } catch (e) {
        return (e as Error).message;
    }
    throw new Error("expected an error");
}

describe("pure: HostSwarm argument validation", () => {
    it("accepts 1 manager + 2 workers with one key, and with a key per host", () => {
        assert.strictEqual(validateHostSwarmArgs({ hosts: good(), privateKey: KEY }), undefined);
        assert.strictEqual(validateHostSwarmArgs({ hosts: good().map((h) => ({ ...h, privateKey: KEY })) }), undefined);
        // The same address on other ports is another machine (SSH forwarded per host).
        assert.strictEqual(
            validateHostSwarmArgs({ hosts: good().map((h, i) => ({ ...h, sshHost: "127.0.0.1", sshPort: 2201 + i })), privateKey: KEY }),
            undefined,
        );
    });

    it("refuses two entries that reach one machine: the same address and port (22 when left out)", () => {
        const hosts = good();
        hosts[2] = { ...hosts[2], sshHost: "203.0.113.1", sshPort: 22 };
        assert.strictEqual(
            message({ hosts, privateKey: KEY }),
            'hosts[2].sshHost and sshPort must be unique: host "manager-0" is reached at the same address and port, so both entries would be one machine; give each host its own address or port; got "203.0.113.1:22"',
        );
    });

    it("refuses a duplicate private address", () => {
        const hosts = good();
        hosts[1] = { ...hosts[1], privateAddress: "10.0.0.1" };
        assert.strictEqual(message({ hosts, privateKey: KEY }), 'hosts[1].privateAddress must be unique; host "manager-0" has it too; got "10.0.0.1"');
    });

    it("refuses an even number of managers, and none", () => {
        const raft =
            "hosts (managers) must hold 1, 3, 5 or 7 managers: Raft needs a majority of managers for any change, so an even count " +
            "tolerates no more lost managers than one fewer; make one manager a worker or add one";
        const two = good();
        two[1] = { ...two[1], role: "manager" };
        assert.strictEqual(message({ hosts: two, privateKey: KEY }), `${raft}; got 2`);
        assert.strictEqual(message({ hosts: good().map((h) => ({ ...h, role: "worker" as const })), privateKey: KEY }), `${raft}; got 0`);
    });

    it("refuses a missing private key: none at all, or a host without one when there is no shared key", () => {
        assert.strictEqual(
            message({ hosts: good() }),
            "privateKey must be given (an SSH private key, OpenSSH or PEM, as a secret) unless every host has its own privateKey: the bootstrap connects to each host over SSH with it; got nothing (the field is missing)",
        );
        const hosts: SwarmHost[] = good().map((h) => ({ ...h, privateKey: KEY }));
        hosts[2] = { ...hosts[2], privateKey: undefined };
        assert.strictEqual(
            message({ hosts }),
            "hosts[2].privateKey must be given, since privateKey (the key for every host) is not: the bootstrap connects to this host over SSH with it; got nothing (the field is missing)",
        );
        assert.strictEqual(message({ hosts: good(), privateKey: " " }), 'privateKey must be an SSH private key (OpenSSH or PEM) that every host accepts; got ""');
    });

    it("refuses bad ports", () => {
        for (const port of [0, 65536, 22.5, -1]) {
            const hosts = good();
            hosts[1] = { ...hosts[1], sshPort: port };
            assert.strictEqual(
                message({ hosts, privateKey: KEY }),
                `hosts[1].sshPort must be a whole number from 1 to 65535, the port the host's sshd listens on (leave it out for 22); got ${port}`,
            );
        }
    });

    it("refuses an empty or missing user, and an empty address", () => {
        const hosts = good();
        hosts[0] = { ...hosts[0], sshUser: "" };
        hosts[1] = { ...hosts[1], sshUser: undefined as unknown as string, sshHost: " " };
        assert.strictEqual(
            message({ hosts, privateKey: KEY }),
            [
                '- hosts[0].sshUser must name the SSH user, root or one with password-less sudo, such as "ubuntu"; got ""',
                '- hosts[1].sshHost must be the address SSH reaches the host at, such as "203.0.113.10" or "node-1.example.com"; got " "',
                '- hosts[1].sshUser must name the SSH user, root or one with password-less sudo, such as "ubuntu"; got nothing (the field is missing)',
            ].join("\n"),
        );
    });

    it("refuses duplicate keys", () => {
        const hosts = good();
        hosts[2] = { ...hosts[2], key: "worker-0" };
        assert.strictEqual(message({ hosts, privateKey: KEY }), 'hosts[2].key must be unique; another host has this key; got "worker-0"');
    });

    it("refuses ECR, a bad registry address, a password without a user, and bad timeouts", () => {
        assert.strictEqual(
            message({ hosts: good(), privateKey: KEY, registry: { kind: "ecr" } as never }),
            [
                '- registry.kind must be "external" (a registry you run, by address): ECR needs an AWS account and nodes with an instance role; use SwarmCluster for ECR; got "ecr"',
                '- registry.address must be host[:port] of the registry, such as "registry.example.com" or "10.0.0.5:5000"; got nothing (the field is missing)',
            ].join("\n"),
        );
        assert.strictEqual(
            message({ hosts: good(), privateKey: KEY, registry: { kind: "external", address: "https://r.example.com", password: "pw" } }),
            [
                '- registry.address must be host[:port] of the registry, such as "registry.example.com" or "10.0.0.5:5000"; got "https://r.example.com"',
                "- registry.username must be given with registry.password (the deploy logs in as this user); got nothing (the field is missing)",
            ].join("\n"),
        );
        assert.strictEqual(
            message({ hosts: good(), privateKey: KEY, dockerReadyTimeoutSeconds: 0, drainTimeoutSeconds: -1, sshDialErrorLimit: 1.5 }),
            [
                "- dockerReadyTimeoutSeconds must be a whole number of seconds, 1 or more (how long each command waits for Docker on its host); got 0",
                "- drainTimeoutSeconds must be a whole number of seconds, 0 or more (how long a removed node's tasks get to move); got -1",
                "- sshDialErrorLimit must be a whole number, 1 or more (failed SSH dials each command accepts); got 1.5",
            ].join("\n"),
        );
    });

    it("reports every problem at once, the host list's first", () => {
        const hosts = [host("manager-0", "manager", 1, { sshPort: 0 }), host("manager-0", "worker", 1)];
        assert.deepStrictEqual(
            message({ hosts }).split("\n").map((l) => l.split(" ")[1]),
            ["hosts[1].key", "hosts[1].privateAddress", "hosts[0].sshPort", "privateKey"],
        );
    });
});
