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
    *.dkr.ecr.*.amazonaws.com|10.77.0.2:5001) ;;
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
