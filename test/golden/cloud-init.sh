#!/bin/bash
# pulumi-swarm node setup (ubuntu-24.04): Docker Engine 28.5.2, pinned.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# A manager's public address changes once while this may run (its Elastic IP is attached
# after launch): apt retries the downloads that cuts off, as curl does below.
echo 'Acquire::Retries "5";' >/etc/apt/apt.conf.d/80-pulumi-swarm-retries
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
# Swarm keeps the deploy's 12-hour ECR token with each service: renew it on the leader.
cat >/usr/local/sbin/pulumi-swarm-renew-registry-auth <<'PULUMI_SWARM_EOF'
#!/bin/sh
# pulumi-swarm: renew the registry credentials that swarm keeps with each service, so that
# tasks placed later can still pull (swarm agents never ask a credential helper).
# Only the leader acts; running tasks are not restarted.
set -eu
[ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" = true ] || exit 0
[ "$(docker node inspect self --format '{{.ManagerStatus.Leader}}')" = true ] || exit 0
ids=$(docker service ls -q)
[ -n "$ids" ] || exit 0
failed=0
# shellcheck disable=SC2086 # split on purpose: one argument per ID
for line in $(docker service inspect --format '{{.ID}}={{.Spec.TaskTemplate.ContainerSpec.Image}}' $ids); do
  id=${line%%=*}
  image=${line#*=}
  case "${image%%/*}" in
    *.dkr.ecr.*.amazonaws.com) ;;
    *) continue ;;
  esac
  if docker service update --detach --quiet --no-resolve-image --with-registry-auth "$id" >/dev/null; then
    echo "pulumi-swarm: renewed the registry credentials of service $id ($image)"
  else
    echo "pulumi-swarm: could not renew the registry credentials of service $id ($image)" >&2
    failed=1
  fi
done
exit "$failed"
PULUMI_SWARM_EOF
chmod 0755 /usr/local/sbin/pulumi-swarm-renew-registry-auth
cat >/etc/systemd/system/pulumi-swarm-renew-registry-auth.service <<'PULUMI_SWARM_EOF'
[Unit]
Description=pulumi-swarm: renew the registry credentials swarm keeps with services
After=docker.service
Wants=docker.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/pulumi-swarm-renew-registry-auth
PULUMI_SWARM_EOF
chmod 0644 /etc/systemd/system/pulumi-swarm-renew-registry-auth.service
cat >/etc/systemd/system/pulumi-swarm-renew-registry-auth.timer <<'PULUMI_SWARM_EOF'
[Unit]
Description=pulumi-swarm: renew the registry credentials swarm keeps with services, every 6 hours

[Timer]
OnBootSec=10min
OnCalendar=*-*-* 00/6:00:00
RandomizedDelaySec=10min
Persistent=true

[Install]
WantedBy=timers.target
PULUMI_SWARM_EOF
chmod 0644 /etc/systemd/system/pulumi-swarm-renew-registry-auth.timer
systemctl daemon-reload
systemctl enable --now pulumi-swarm-renew-registry-auth.timer
