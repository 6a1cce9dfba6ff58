#!/bin/sh
# Installs what a swarm node needs and the base image lacks; a base that has it all is used
# as it is (the lab builds with no network). Debian's packages: docker.io (dockerd, docker),
# containerd, runc, iptables, openssh-server (sshd), tini, socat.
set -eu

need=""
want() { # want PROGRAM PACKAGE: the package is needed when the program is missing
    if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$1" ] && [ ! -x "/usr/bin/$1" ]; then
        case " $need " in *" $2 "*) ;; *) need="$need $2" ;; esac
    fi
}
want dockerd docker.io
want docker docker.io
want containerd containerd
want runc runc
want iptables iptables
want sshd openssh-server
want ssh-keygen openssh-client
want tini tini
want socat socat

if [ -n "$need" ]; then
    command -v apt-get >/dev/null 2>&1 || {
        echo "pulumi-swarm node: the base image lacks$need and has no apt-get; use a Debian or Ubuntu base" >&2
        exit 1
    }
    echo "pulumi-swarm node: installing$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # shellcheck disable=SC2086 # one word per package
    apt-get install -y --no-install-recommends $need ca-certificates
    rm -rf /var/lib/apt/lists/*
else
    echo "pulumi-swarm node: the base image has dockerd, containerd, runc, iptables, sshd, tini and socat"
fi

# Host keys are made when a container starts (each node its own), never baked into the image.
rm -f /etc/ssh/ssh_host_*
mkdir -p /run/sshd /root/.ssh /etc/docker
chmod 0700 /root/.ssh
cat >/etc/ssh/sshd_config <<'CONF'
# pulumi-swarm node: root with a key only.
Port 22
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
UsePAM no
UseDNS no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 100
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
CONF
