import { shellQuote } from "../shell";
import { ECR_REGISTRY_PATTERN, REGISTRY_AUTH_RENEWAL, renderRegistryAuthRenewal, renderRegistryAuthRenewalUnits } from "./registryAuth";

/** The operating systems a node can run. The AMI lookup and this script depend on it. */
export const SUPPORTED_OS = ["ubuntu-24.04"] as const;
export type NodeOs = (typeof SUPPORTED_OS)[number];

export interface CloudInitArgs {
    readonly os: NodeOs;
    /** Docker Engine version from Docker's apt repository, e.g. "28.5.2". */
    readonly dockerVersion: string;
    /** The SSH user, added to the docker group. */
    readonly sshUser: string;
    /**
     * Installs Ubuntu's amazon-ecr-credential-helper and makes it the Docker client's credential
     * store for root and the SSH user: `docker` on a node (a stack deploy on a manager) then
     * reaches Amazon ECR with the instance role; no registry password is kept on the node.
     * Also installs a systemd timer that renews, every 6 hours on the swarm's leader, the ECR
     * token that swarm keeps with each service (see registryAuth.ts).
     */
    readonly ecrCredentialHelper: boolean;
}

/** The Docker client configuration that sends every registry's credential lookups to the ECR helper. */
export const ECR_DOCKER_CONFIG = '{ "credsStore": "ecr-login" }';

/** The apt version string of a Docker Engine release on Ubuntu 24.04 ("noble"). */
export function dockerAptVersion(dockerVersion: string): string {
    return `5:${dockerVersion}-1~ubuntu.24.04~noble`;
}

/**
 * EC2 user data: installs the pinned Docker Engine from Docker's apt repository, holds it
 * at that version, rotates container logs, and enables Docker at boot; with
 * `ecrCredentialHelper`, sets up the ECR credential helper for root and the SSH user.
 * Idempotent: run again, it changes nothing once the pinned version is in place.
 */
export function renderCloudInit(args: CloudInitArgs): string {
    if (!SUPPORTED_OS.includes(args.os)) {
        throw new Error(`os must be one of ${SUPPORTED_OS.join(", ")}; got ${JSON.stringify(args.os)}`);
    }
    if (!/^[0-9]+\.[0-9]+\.[0-9]+$/.test(args.dockerVersion)) {
        throw new Error(`dockerVersion must look like 28.5.2; got ${JSON.stringify(args.dockerVersion)}`);
    }
    if (!/^[a-z_][a-z0-9_-]*$/.test(args.sshUser)) {
        throw new Error(`sshUser must be a Linux user name; got ${JSON.stringify(args.sshUser)}`);
    }
    const aptVersion = shellQuote(dockerAptVersion(args.dockerVersion));
    return [
        "#!/bin/bash",
        `# pulumi-swarm node setup (${args.os}): Docker Engine ${args.dockerVersion}, pinned.`,
        "set -euo pipefail",
        "export DEBIAN_FRONTEND=noninteractive",
        "# A manager's public address changes once while this may run (its Elastic IP is attached",
        "# after launch): apt retries the downloads that cuts off, as curl does below.",
        "echo 'Acquire::Retries \"5\";' >/etc/apt/apt.conf.d/80-pulumi-swarm-retries",
        `want=${aptVersion}`,
        "have=$(dpkg-query -W -f='${Version}' docker-ce 2>/dev/null || true)",
        'if [ "$have" != "$want" ]; then',
        "  install -m 0755 -d /etc/apt/keyrings",
        "  curl -fsSL --retry 5 https://download.docker.com/linux/ubuntu/gpg -o /etc/apt/keyrings/docker.asc",
        "  chmod a+r /etc/apt/keyrings/docker.asc",
        '  echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu noble stable" >/etc/apt/sources.list.d/docker.list',
        "  apt-get update -q",
        "  apt-mark unhold docker-ce docker-ce-cli >/dev/null 2>&1 || true",
        '  apt-get install -y -q --allow-downgrades "docker-ce=$want" "docker-ce-cli=$want" containerd.io',
        "  apt-mark hold docker-ce docker-ce-cli >/dev/null",
        "fi",
        "install -m 0755 -d /etc/docker",
        "cat >/etc/docker/daemon.json.pulumi-swarm <<'JSON'",
        '{ "log-driver": "json-file", "log-opts": { "max-size": "10m", "max-file": "3" } }',
        "JSON",
        "if ! cmp -s /etc/docker/daemon.json.pulumi-swarm /etc/docker/daemon.json; then",
        "  mv /etc/docker/daemon.json.pulumi-swarm /etc/docker/daemon.json",
        "  systemctl restart docker || true",
        "else",
        "  rm -f /etc/docker/daemon.json.pulumi-swarm",
        "fi",
        "systemctl enable --now containerd docker",
        `usermod -aG docker ${shellQuote(args.sshUser)}`,
        ...(args.ecrCredentialHelper ? renderEcrCredentialHelper(args.sshUser) : []),
        "",
    ].join("\n");
}

function renderEcrCredentialHelper(sshUser: string): string[] {
    const units = renderRegistryAuthRenewalUnits();
    return [
        "# Amazon ECR with the instance role: the Docker client asks the ECR credential helper.",
        "if ! dpkg-query -W -f='${Status}' amazon-ecr-credential-helper 2>/dev/null | grep -q 'install ok installed'; then",
        "  apt-get update -q",
        "  apt-get install -y -q amazon-ecr-credential-helper",
        "fi",
        "docker_config() {",
        '  home=$(getent passwd "$1" | cut -d: -f6)',
        '  group=$(id -gn "$1")',
        '  install -d -m 0700 -o "$1" -g "$group" "$home/.docker"',
        `  echo ${shellQuote(ECR_DOCKER_CONFIG)} >"$home/.docker/config.json.pulumi-swarm"`,
        '  if cmp -s "$home/.docker/config.json.pulumi-swarm" "$home/.docker/config.json"; then',
        '    rm -f "$home/.docker/config.json.pulumi-swarm"',
        "  else",
        '    install -m 0600 -o "$1" -g "$group" "$home/.docker/config.json.pulumi-swarm" "$home/.docker/config.json"',
        '    rm -f "$home/.docker/config.json.pulumi-swarm"',
        "  fi",
        "}",
        "docker_config root",
        `docker_config ${shellQuote(sshUser)}`,
        "# Swarm keeps the deploy's 12-hour ECR token with each service: renew it on the leader.",
        ...writeFile(REGISTRY_AUTH_RENEWAL.program, "0755", renderRegistryAuthRenewal({ registries: [ECR_REGISTRY_PATTERN] })),
        ...writeFile(`/etc/systemd/system/${REGISTRY_AUTH_RENEWAL.unit}.service`, "0644", units.service),
        ...writeFile(`/etc/systemd/system/${REGISTRY_AUTH_RENEWAL.unit}.timer`, "0644", units.timer),
        "systemctl daemon-reload",
        `systemctl enable --now ${REGISTRY_AUTH_RENEWAL.unit}.timer`,
    ];
}

/** Writes a file verbatim from a quoted here-document (the content must not hold the marker line). */
function writeFile(target: string, mode: string, content: string): string[] {
    const marker = "PULUMI_SWARM_EOF";
    if (content.split("\n").includes(marker)) {
        throw new Error(`${target}: content holds the here-document marker ${marker}`);
    }
    return [`cat >${shellQuote(target)} <<'${marker}'`, ...content.replace(/\n$/, "").split("\n"), marker, `chmod ${mode} ${shellQuote(target)}`];
}
