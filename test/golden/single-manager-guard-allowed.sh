# pulumi-swarm: manager-0 is the swarm's only manager: allowSingleManagerReplacement accepts its replacement
set -eu
now='ami=ami-0bbbbbbbbbbbbbbbb subnet=subnet-1 key=lab-ssh-1 userdata=0123456789ab'
printf '%s\n' "$now"
