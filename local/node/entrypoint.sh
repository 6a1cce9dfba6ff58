#!/bin/sh
# PID 1's child in a pulumi-swarm local node (under tini): sshd (key only), the registry
# forwarder and dockerd; the container ends when dockerd or sshd ends.
set -eu

log() { echo "pulumi-swarm node: $*" >&2; }

# The key root accepts: from the environment, or from a file the runner uploads.
keys="${SSH_AUTHORIZED_KEYS:-}"
if [ -z "$keys" ] && [ -s /run/pulumi-swarm/authorized_keys ]; then
    keys="$(cat /run/pulumi-swarm/authorized_keys)"
fi
if [ -z "$keys" ]; then
    log "SSH_AUTHORIZED_KEYS is empty and /run/pulumi-swarm/authorized_keys is missing: give the public key root accepts"
    exit 64
fi
mkdir -p /root/.ssh /run/sshd
chmod 0700 /root/.ssh
printf '%s\n' "$keys" >/root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
ssh-keygen -A >/dev/null

# cgroup v2 with a private cgroup namespace: move this container's processes out of the
# root cgroup, so the inner engine can enable controllers for its own containers (as the
# docker:dind image does). cgroup v1 needs nothing.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
    sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || :
fi

# The engine's configuration: registries it may pull from over plain HTTP, and a storage
# driver when one is asked for.
insecure=""
old_ifs="$IFS"
IFS=,
for r in ${DOCKERD_INSECURE_REGISTRIES:-}; do
    [ -n "$r" ] && insecure="${insecure:+$insecure, }\"$r\""
done
IFS="$old_ifs"
storage=""
if [ -n "${DOCKERD_STORAGE_DRIVER:-}" ]; then
    storage=", \"storage-driver\": \"$DOCKERD_STORAGE_DRIVER\""
fi
mkdir -p /etc/docker
printf '{"insecure-registries": [%s], "log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}%s}\n' \
    "$insecure" "$storage" >/etc/docker/daemon.json

# 127.0.0.1:PORT inside the node reaches the registry: the address the machine that builds
# pushes to (its own 127.0.0.1:PORT, the registry's published port) is then the same one
# the nodes pull from, so image references stay valid on both sides.
if [ -n "${REGISTRY_FORWARD:-}" ]; then
    port="${REGISTRY_FORWARD%%=*}"
    target="${REGISTRY_FORWARD#*=}"
    log "forwarding 127.0.0.1:$port to $target"
    socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "TCP:$target" &
fi

/usr/sbin/sshd -D -e &
sshd_pid=$!
dockerd >/var/log/dockerd.log 2>&1 &
dockerd_pid=$!
log "sshd ($sshd_pid) and dockerd ($dockerd_pid) started"

# Stop both on SIGTERM (tini passes it on to the whole group with -g).
trap 'kill "$dockerd_pid" "$sshd_pid" 2>/dev/null || :' TERM INT
while kill -0 "$dockerd_pid" 2>/dev/null && kill -0 "$sshd_pid" 2>/dev/null; do
    sleep 2
done
log "dockerd or sshd ended; see /var/log/dockerd.log"
kill "$dockerd_pid" "$sshd_pid" 2>/dev/null || :
wait "$dockerd_pid" 2>/dev/null || :
exit 1
