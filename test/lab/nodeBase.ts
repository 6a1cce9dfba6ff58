// Measured (2 cores): rootfs cold about 150 s under load (mmdebstrap); warm a few ms (cached tarball).
/**
 * The lab's stand-in for `debian:bookworm-slim` as the local environment's node base
 * (local/node/Dockerfile, `BASE_IMAGE`): the lab has no Docker Hub and no network inside
 * `docker build`, so this base already holds everything the Dockerfile would install, and the
 * Dockerfile must use it as it is. Made by mmdebstrap like the web image (images.ts) and kept in
 * the same cache.
 */
import { LabRootfsSpec } from "./images";

/** What the node base holds besides Debian's essential packages. */
export const LAB_NODE_BASE_PACKAGES: readonly string[] = Object.freeze([
    "docker.io", // Debian's Docker Engine 20.10 (dockerd, docker, docker-proxy)
    "containerd",
    "runc",
    "iptables",
    "openssh-server",
    "tini",
    "socat", // the node's forwarder to the registry
    "iproute2",
    "procps",
    "ca-certificates",
]);

export const LAB_NODE_BASE_ROOTFS: LabRootfsSpec = {
    name: "debian-node-base",
    packages: LAB_NODE_BASE_PACKAGES,
    customize: [
        'r="$1"',
        // openssh-server's postinst made host keys: every node must make its own at start.
        'rm -f "$r"/etc/ssh/ssh_host_*',
        'rm -rf "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/*',
        'rm -f "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old "$r"/etc/hostname',
    ].join("\n"),
};

/** Repository and tag of the base in a lab host's engine (imported, never pulled). */
export const LAB_NODE_BASE_IMAGE = "lab/debian-node-base:bookworm";
