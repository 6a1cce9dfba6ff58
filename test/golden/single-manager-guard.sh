# pulumi-swarm: manager-0 is the swarm's only manager: a run that would replace it fails here, before it is touched
set -eu
now='ami=ami-0bbbbbbbbbbbbbbbb subnet=subnet-1 key=lab-ssh-1 userdata=0123456789ab'
was="${PULUMI_COMMAND_STDOUT:-}"
# Each field of the previous fingerprint that has another value now (a field it lacks,
# from an older pulumi-swarm, is not compared).
changed=
for field in $now; do
  for old in $was; do
    if [ "${old%%=*}" = "${field%%=*}" ] && [ "$old" != "$field" ]; then
      changed="${changed:+$changed, }from $old to $field"
    fi
  done
done
if [ -n "$changed" ]; then
  echo "pulumi-swarm: this run would replace manager-0, the swarm's only manager ($changed). A swarm whose only manager is replaced is lost: the new manager starts a new, empty swarm, without the services, secrets, configs and networks of the old one. Nothing was changed. To keep the swarm, undo the change, raise managerCount to 3 and run pulumi up (the new managers join), then make the change. To accept the loss, set allowSingleManagerReplacement to true and run pulumi up again." >&2
  exit 1
fi
printf '%s\n' "$now"
