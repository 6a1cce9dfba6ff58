# pulumi-swarm: drain worker-3 (node w3node) and demote it if it is a manager
set -eu
dkr() { if [ "$(id -u)" -eq 0 ]; then docker "$@"; else sudo -n docker "$@"; fi; }

exec 9>/tmp/pulumi-swarm-membership.lock
flock 9

if ! dkr node inspect w3node >/dev/null 2>&1; then
  exit 0
fi
nodeUpdate() {
  attempt=1
  until dkr node update "$@" >/dev/null; do
    if [ "$attempt" -ge 5 ]; then
      return 1
    fi
    attempt=$((attempt + 1))
    sleep 2
  done
}

convergedServices() {
  dkr service ls --format '{{.ID}} {{.Replicas}}' | awk '{ split($2, r, "/"); if (r[1] == r[2]) print $1 }'
}
movedAway() {
  [ -z "$(dkr node ps "$1" --filter desired-state=running -q)" ] || return 1
  for s in $before; do
    # Not the replicas column: it counts the drained node's task while it stops, and the task
    # that replaces it is not meant to run until its restart delay is over. The tasks meant to
    # run that do, against the count the service wants.
    want=$(dkr service ls --filter "id=$s" --format '{{.Replicas}}' | sed 's|^[0-9]*/\([0-9]*\).*|\1|')
    tasks=$(dkr service ps "$s" --filter desired-state=running --format '{{.CurrentState}} {{.Error}}')
    have=$(printf '%s\n' "$tasks" | grep -c '^Running' || true)
    if [ "${have:-0}" -lt "${want:-0}" ]; then
      # A task that no node can take (a host-mode port in use, a constraint) is not waited for.
      printf '%s\n' "$tasks" | grep -q '^Pending.*no suitable node' || return 1
    fi
  done
}

elsewhere() {
  dkr service ps "$1" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' | awk -v h="$2" '$1 != h && $2 == "Running" { found = 1 } END { exit !found }'
}
spreadOut() {
  host=$(dkr node inspect "$1" --format '{{.Description.Hostname}}')
  for s in $(dkr node ps "$1" --filter desired-state=running --format '{{.Name}}' | sed 's/\.[0-9]*$//' | sort -u); do
    want=$(dkr service ls --filter "name=$s" --format '{{.Name}} {{.Mode}} {{.Replicas}}' | awk -v s="$s" '$1 == s && $2 == "replicated" { split($3, r, "/"); print r[2] }')
    [ "${want:-0}" -ge 2 ] || continue
    ! elsewhere "$s" "$host" || continue
    dkr service update --force --detach "$s" >/dev/null
    i=0
    until elsewhere "$s" "$host"; do
      i=$((i + 1))
      if [ "$i" -ge $(( ($2 + 2 - 1) / 2 )) ]; then
        echo "pulumi-swarm: warning: $s still runs all its tasks on $3 after $2 s of redeploying it; they stop together when it drains." >&2
        break
      fi
      sleep 2
    done
  done
}

lbName=prod-alb-1a2b3c4d
elbReady=
# IMDSv2: a token, then metadata with it.
imds() {
  curl -sf -m 5 -H "X-aws-ec2-metadata-token: $imdsToken" "$imdsUrl/latest/meta-data/$1"
}
credential() {
  printf '%s\n' "$creds" | sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p" | head -n 1
}
elbSetup() {
  [ -z "$elbReady" ] || return 0
  imdsUrl=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
  imdsUrl=${imdsUrl%/}
  imdsToken=$(curl -sf -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imdsUrl/latest/api/token") || return 1
  region=$(imds placement/region) || return 1
  role=$(imds iam/security-credentials/) || return 1
  role=$(printf '%s\n' "$role" | head -n 1)
  creds=$(imds "iam/security-credentials/$role") || return 1
  awsKey=$(credential AccessKeyId)
  awsSecret=$(credential SecretAccessKey)
  awsToken=$(credential Token)
  [ -n "$region" ] && [ -n "$awsKey" ] && [ -n "$awsSecret" ] || return 1
  elbUrl=${AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2:-https://elasticloadbalancing.$region.amazonaws.com}
  elbUrl=${elbUrl%/}
  elbReady=1
}
# elbCall <query>: one signed ELBv2 call; its answer, one XML tag per line, in $r. Fails on
# an error answer (its code and message in $elbError) or no answer.
elbCall() {
  elbError='no answer'
  r=$(printf 'user = "%s:%s"\nheader = "X-Amz-Security-Token: %s"\n' "$awsKey" "$awsSecret" "$awsToken" |
    curl -sS -m 10 -K - --aws-sigv4 "aws:amz:$region:elasticloadbalancing" --data "$1&Version=2015-12-01" "$elbUrl/") || return 1
  r=$(printf '%s\n' "$r" | tr '<' '\n')
  if printf '%s\n' "$r" | grep -q '^Code>'; then
    elbError="$(printf '%s\n' "$r" | sed -n 's/^Code>//p' | head -n 1): $(printf '%s\n' "$r" | sed -n 's/^Message>//p' | head -n 1)"
    return 1
  fi
}
enc() {
  printf '%s' "$1" | sed 's/:/%3A/g; s|/|%2F|g'
}
# targetsOf <group>: its registered targets in $targets, one "<id> <port> <state>" per line
# (the State of TargetHealth, not of AdministrativeOverride, which has one too).
targetsOf() {
  elbCall "Action=DescribeTargetHealth&TargetGroupArn=$(enc "$1")" || return 1
  targets=$(printf '%s\n' "$r" | awk '/^Id>/ { id = substr($0, 4) } /^Port>/ { port = substr($0, 6) } /^TargetHealth>/ { th = 1 } /^\/TargetHealth>/ { th = 0 } /^State>/ && th { print id, port, substr($0, 7) }')
}
othersHealthy() {
  targetsOf "$1" || return 1
  printf '%s\n' "$targets" | awk -v id="$2" '$1 != id && $3 == "healthy" { found = 1 } END { exit !found }'
}
letGo() {
  targetsOf "$1" || return 1
  ! printf '%s\n' "$targets" | awk -v id="$2" '$1 == id && $3 != "unused" { found = 1 } END { exit !found }'
}
# lbGroups: the target groups of the load balancer in $groups (none when it does not exist);
# fails with the reason in $elbError.
lbGroups() {
  groups=
  if ! elbSetup; then
    elbError='no AWS credentials from the instance metadata service'
    return 1
  fi
  if ! elbCall "Action=DescribeLoadBalancers&Names.member.1=$lbName"; then
    case $elbError in LoadBalancerNotFound*) return 0 ;; esac
    return 1
  fi
  lbArn=$(printf '%s\n' "$r" | sed -n 's/^LoadBalancerArn>//p' | head -n 1)
  elbCall "Action=DescribeTargetGroups&LoadBalancerArn=$(enc "$lbArn")" || return 1
  groups=$(printf '%s\n' "$r" | sed -n 's/^TargetGroupArn>//p')
}
lbOut() {
  if ! lbGroups; then
    echo "pulumi-swarm: warning: could not take $2 out of the load balancer's target groups ($elbError); it may still get requests while it drains." >&2
    return 0
  fi
  out=
  for g in $groups; do
    targetsOf "$g" || continue
    mine=$(printf '%s\n' "$targets" | awk -v id="$1" '$1 == id { print $2, $3; exit }')
    case "${mine#* }" in "" | unused | draining) continue ;; esac
    if [ "${mine#* }" = healthy ]; then
      i=0
      until othersHealthy "$g" "$1"; do
        i=$((i + 1))
        if [ "$i" -ge 60 ]; then
          echo "pulumi-swarm: warning: $2 is the only healthy target of $g after 120 s of waiting for another; it goes out anyway." >&2
          break
        fi
        sleep 2
      done
    fi
    if elbCall "Action=DeregisterTargets&TargetGroupArn=$(enc "$g")&Targets.member.1.Id=$1&Targets.member.1.Port=${mine%% *}"; then
      # Only a healthy target gets requests: only then is there anything to let finish.
      [ "${mine#* }" != healthy ] || out="$out $g"
    else
      echo "pulumi-swarm: warning: could not take $2 out of the load balancer's target groups ($elbError); it may still get requests while it drains." >&2
    fi
  done
  for g in $out; do
    i=0
    until letGo "$g" "$1"; do
      i=$((i + 1))
      if [ "$i" -ge 23 ]; then
        echo "pulumi-swarm: warning: $g still holds $2 (draining) after 45 s; it goes on." >&2
        break
      fi
      sleep 2
    done
  done
}
# lbIn <instance ID> <what>: registers the instance in every target group of the load
# balancer that does not hold it (every route registers every node). It always returns 0.
lbIn() {
  if ! lbGroups; then
    echo "pulumi-swarm: warning: could not register $2 in the load balancer's target groups again ($elbError); pulumi up registers it on the next run that changes its attachments, or register it by hand." >&2
    return 0
  fi
  for g in $groups; do
    targetsOf "$g" || continue
    state=$(printf '%s\n' "$targets" | awk -v id="$1" '$1 == id { print $3; exit }')
    case "$state" in "" | unused | draining) ;; *) continue ;; esac
    elbCall "Action=RegisterTargets&TargetGroupArn=$(enc "$g")&Targets.member.1.Id=$1" || echo "pulumi-swarm: warning: could not register $2 in the load balancer's target groups again ($elbError); pulumi up registers it on the next run that changes its attachments, or register it by hand." >&2
  done
}

lbOut i-0abc123def4567890 worker-3
spreadOut w3node 300 "worker-3"
before=$(convergedServices)
nodeUpdate --availability drain w3node
i=0
until movedAway w3node; do
  i=$((i + 1))
  if [ "$i" -ge 150 ]; then
    echo "pulumi-swarm: warning: the tasks of worker-3 have not all moved and started elsewhere after 300 s of draining; it leaves anyway and they are rescheduled." >&2
    break
  fi
  sleep 2
done
if [ "$(dkr node inspect w3node --format '{{.Spec.Role}}')" = manager ]; then
  n=0
  until dkr node demote w3node >/dev/null; do
    n=$((n + 1))
    if [ "$n" -ge 10 ]; then
      echo "pulumi-swarm: could not demote worker-3 (node w3node); it stays a manager and in the swarm. Check quorum with 'docker node ls'." >&2
      exit 1
    fi
    sleep 2
  done
  # The remover's node rm needs a worker: Docker refuses to remove a manager, even with --force.
  i=0
  until dkr node ls -q --filter role=worker | grep -qx w3node; do
    i=$((i + 1))
    if [ "$i" -ge 60 ]; then
      echo "pulumi-swarm: worker-3 (node w3node) is still a manager 120 s after its demotion; see 'docker node ls' below." >&2
      dkr node ls >&2 || true
      exit 1
    fi
    sleep 2
  done
fi
