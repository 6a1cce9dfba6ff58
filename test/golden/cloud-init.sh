#!/bin/bash
# pulumi-swarm node setup (ubuntu-24.04): Docker Engine 28.5.2, pinned.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
want='5:28.5.2-1~ubuntu.24.04~noble'
have=$(dpkg-query -W -f='${Version}' docker-ce 2>/dev/null || true)
if [ "$have" != "$want" ]; then
  install -m 0755 -d /etc/apt/keyrings
  curl -fsSL --retry 5 https://download.docker.com/linux/ubuntu/gpg -o /etc/apt/keyrings/docker.asc
  chmod a+r /etc/apt/keyrings/docker.asc
  echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu noble stable" >/etc/apt/sources.list.d/docker.list
  apt-get update -q
  apt-mark unhold docker-ce docker-ce-cli >/dev/null 2>&1 || true
  apt-get install -y -q --allow-downgrades "docker-ce=$want" "docker-ce-cli=$want" containerd.io
  apt-mark hold docker-ce docker-ce-cli >/dev/null
fi
install -m 0755 -d /etc/docker
cat >/etc/docker/daemon.json.pulumi-swarm <<'JSON'
{ "log-driver": "json-file", "log-opts": { "max-size": "10m", "max-file": "3" } }
JSON
if ! cmp -s /etc/docker/daemon.json.pulumi-swarm /etc/docker/daemon.json; then
  mv /etc/docker/daemon.json.pulumi-swarm /etc/docker/daemon.json
  systemctl restart docker || true
else
  rm -f /etc/docker/daemon.json.pulumi-swarm
fi
systemctl enable --now containerd docker
usermod -aG docker ubuntu
# Amazon ECR with the instance role: the Docker client asks the ECR credential helper.
if ! dpkg-query -W -f='${Status}' amazon-ecr-credential-helper 2>/dev/null | grep -q 'install ok installed'; then
  apt-get update -q
  apt-get install -y -q amazon-ecr-credential-helper
fi
docker_config() {
  home=$(getent passwd "$1" | cut -d: -f6)
  group=$(id -gn "$1")
  install -d -m 0700 -o "$1" -g "$group" "$home/.docker"
  echo '{ "credsStore": "ecr-login" }' >"$home/.docker/config.json.pulumi-swarm"
  if cmp -s "$home/.docker/config.json.pulumi-swarm" "$home/.docker/config.json"; then
    rm -f "$home/.docker/config.json.pulumi-swarm"
  else
    install -m 0600 -o "$1" -g "$group" "$home/.docker/config.json.pulumi-swarm" "$home/.docker/config.json"
    rm -f "$home/.docker/config.json.pulumi-swarm"
  fi
}
docker_config root
docker_config ubuntu
