import { ROUTE_TARGET_GROUP } from "../routePlanning";
import { shellQuote } from "../shell";
import { boundedWait, checkWord } from "./common";

/**
 * Taking a node out of the cluster's Application Load Balancer before it stops serving: the
 * node's instance is deregistered from every target group of the load balancer, and the script
 * waits until the ALB has stopped sending it requests, before the node is drained (its
 * host-mode tasks stop at once) or leaves (its routing mesh goes). Without it, the ALB goes on
 * sending a share of the requests to the node until its health checks fail
 * (`unhealthyThreshold` x `intervalSeconds`: 45 s with ROUTE_TARGET_GROUP), and they fail.
 *
 * How, with nothing installed on the node: `curl` (on every Ubuntu and Amazon Linux AMI; its
 * `--aws-sigv4` since 7.75) signs calls to the ELBv2 Query API with the instance role's
 * credentials, read from the instance metadata service (IMDSv2). The node role's policy allows
 * exactly these calls (`planNodeLoadBalancerPolicy`). The endpoints follow the AWS SDKs'
 * environment variables, `AWS_EC2_METADATA_SERVICE_ENDPOINT` and
 * `AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2`, unset on EC2 (the lab sets them: its
 * stand-in answers there). The credentials reach curl on its standard input, never its
 * command line, and nothing prints them.
 *
 * Everything here is best effort: a call that fails (no role, no permission, no network) gives a
 * warning that says what the node does anyway, and the drain goes on as it would without a
 * load balancer. The load balancer is found by its AWS name, which the cluster computes
 * (`loadBalancerAwsName`), so the scripts do not wait for the ALB to exist; none found: nothing
 * to do.
 */

/** The node label that holds a node's EC2 instance ID: the scripts deregister a node by it. */
export const INSTANCE_LABEL = "pulumi-swarm.instance";

/**
 * How long a healthy node waits, before it goes out, for another target of the group to be
 * healthy (a node that just joined takes `healthyThreshold` checks, 30 s, after its task
 * starts); after that it goes out anyway, with a warning.
 */
export const OTHER_HEALTHY_TIMEOUT_SECONDS = 120;

/** How long the deregistration gets: the target group's delay (the longest the ALB keeps in-flight requests) and a margin. */
export const DEREGISTERED_TIMEOUT_SECONDS = ROUTE_TARGET_GROUP.deregistrationDelaySeconds + 15;

/** The ELBv2 Query API version the calls name. */
export const ELB_API_VERSION = "2015-12-01";

/**
 * Shell functions: `lbOut <instance ID> <what>` takes the instance out of every target group of
 * the load balancer named `loadBalancerName`:
 * - per group where the instance is registered (and not already draining): when it is healthy,
 *   it first waits (bounded, OTHER_HEALTHY_TIMEOUT_SECONDS) until another target of the group is
 *   healthy, so that the group never runs out of healthy targets; then it is deregistered;
 * - then it waits (bounded, DEREGISTERED_TIMEOUT_SECONDS) until each group where it was healthy
 *   has let it go (no longer listed, or `unused`): the ALB has stopped sending it requests
 *   and its in-flight ones are done (a target that was not healthy got none).
 * `lbIn <instance ID> <what>` registers it again in every group of the load balancer that
 * does not hold it (a node restarted in place keeps its attachments, so it must come back).
 * It always returns 0: on any failure it warns, naming `what` and the reason.
 */
export function loadBalancerTargetFunctions(loadBalancerName: string): string {
    checkWord("loadBalancerName", loadBalancerName);
    const warn = (why: string) => `echo "pulumi-swarm: warning: could not take $2 out of the load balancer's target groups (${why}); it may still get requests while it drains." >&2`;
    const warnIn = (why: string) => `echo "pulumi-swarm: warning: could not register $2 in the load balancer's target groups again (${why}); pulumi up registers it on the next run that changes its attachments, or register it by hand." >&2`;
    return [
        `lbName=${shellQuote(loadBalancerName)}`,
        "elbReady=",
        "# IMDSv2: a token, then metadata with it.",
        "imds() {",
        '  curl -sf -m 5 -H "X-aws-ec2-metadata-token: $imdsToken" "$imdsUrl/latest/meta-data/$1"',
        "}",
        "credential() {",
        "  printf '%s\\n' \"$creds\" | sed -n \"s/.*\\\"$1\\\" *: *\\\"\\([^\\\"]*\\)\\\".*/\\1/p\" | head -n 1",
        "}",
        "elbSetup() {",
        '  [ -z "$elbReady" ] || return 0',
        "  imdsUrl=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}",
        "  imdsUrl=${imdsUrl%/}",
        "  imdsToken=$(curl -sf -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' \"$imdsUrl/latest/api/token\") || return 1",
        "  region=$(imds placement/region) || return 1",
        "  role=$(imds iam/security-credentials/) || return 1",
        '  role=$(printf \'%s\\n\' "$role" | head -n 1)',
        '  creds=$(imds "iam/security-credentials/$role") || return 1',
        "  awsKey=$(credential AccessKeyId)",
        "  awsSecret=$(credential SecretAccessKey)",
        "  awsToken=$(credential Token)",
        '  [ -n "$region" ] && [ -n "$awsKey" ] && [ -n "$awsSecret" ] || return 1',
        "  elbUrl=${AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2:-https://elasticloadbalancing.$region.amazonaws.com}",
        "  elbUrl=${elbUrl%/}",
        "  elbReady=1",
        "}",
        "# elbCall <query>: one signed ELBv2 call; its answer, one XML tag per line, in $r. Fails on",
        "# an error answer (its code and message in $elbError) or no answer.",
        "elbCall() {",
        "  elbError='no answer'",
        '  r=$(printf \'user = "%s:%s"\\nheader = "X-Amz-Security-Token: %s"\\n\' "$awsKey" "$awsSecret" "$awsToken" |',
        `    curl -sS -m 10 -K - --aws-sigv4 "aws:amz:$region:elasticloadbalancing" --data "$1&Version=${ELB_API_VERSION}" "$elbUrl/") || return 1`,
        "  r=$(printf '%s\\n' \"$r\" | tr '<' '\\n')",
        "  if printf '%s\\n' \"$r\" | grep -q '^Code>'; then",
        "    elbError=\"$(printf '%s\\n' \"$r\" | sed -n 's/^Code>//p' | head -n 1): $(printf '%s\\n' \"$r\" | sed -n 's/^Message>//p' | head -n 1)\"",
        "    return 1",
        "  fi",
        "}",
        "enc() {",
        "  printf '%s' \"$1\" | sed 's/:/%3A/g; s|/|%2F|g'",
        "}",
        "# targetsOf <group>: its registered targets in $targets, one \"<id> <port> <state>\" per line",
        "# (the State of TargetHealth, not of AdministrativeOverride, which has one too).",
        "targetsOf() {",
        '  elbCall "Action=DescribeTargetHealth&TargetGroupArn=$(enc "$1")" || return 1',
        "  targets=$(printf '%s\\n' \"$r\" | awk '/^Id>/ { id = substr($0, 4) } /^Port>/ { port = substr($0, 6) } /^TargetHealth>/ { th = 1 } /^\\/TargetHealth>/ { th = 0 } /^State>/ && th { print id, port, substr($0, 7) }')",
        "}",
        "othersHealthy() {",
        '  targetsOf "$1" || return 1',
        "  printf '%s\\n' \"$targets\" | awk -v id=\"$2\" '$1 != id && $3 == \"healthy\" { found = 1 } END { exit !found }'",
        "}",
        "letGo() {",
        '  targetsOf "$1" || return 1',
        "  ! printf '%s\\n' \"$targets\" | awk -v id=\"$2\" '$1 == id && $3 != \"unused\" { found = 1 } END { exit !found }'",
        "}",
        "# lbGroups: the target groups of the load balancer in $groups (none when it does not exist);",
        "# fails with the reason in $elbError.",
        "lbGroups() {",
        "  groups=",
        "  if ! elbSetup; then",
        "    elbError='no AWS credentials from the instance metadata service'",
        "    return 1",
        "  fi",
        '  if ! elbCall "Action=DescribeLoadBalancers&Names.member.1=$lbName"; then',
        "    case $elbError in LoadBalancerNotFound*) return 0 ;; esac",
        "    return 1",
        "  fi",
        "  lbArn=$(printf '%s\\n' \"$r\" | sed -n 's/^LoadBalancerArn>//p' | head -n 1)",
        '  elbCall "Action=DescribeTargetGroups&LoadBalancerArn=$(enc "$lbArn")" || return 1',
        "  groups=$(printf '%s\\n' \"$r\" | sed -n 's/^TargetGroupArn>//p')",
        "}",
        "lbOut() {",
        "  if ! lbGroups; then",
        `    ${warn("$elbError")}`,
        "    return 0",
        "  fi",
        "  out=",
        "  for g in $groups; do",
        '    targetsOf "$g" || continue',
        "    mine=$(printf '%s\\n' \"$targets\" | awk -v id=\"$1\" '$1 == id { print $2, $3; exit }')",
        '    case "${mine#* }" in "" | unused | draining) continue ;; esac',
        '    if [ "${mine#* }" = healthy ]; then',
        ...boundedWait("until", 'othersHealthy "$g" "$1"', OTHER_HEALTHY_TIMEOUT_SECONDS, [
            `echo "pulumi-swarm: warning: $2 is the only healthy target of $g after ${OTHER_HEALTHY_TIMEOUT_SECONDS} s of waiting for another; it goes out anyway." >&2`,
            "break",
        ]).map((l) => `      ${l}`),
        "    fi",
        '    if elbCall "Action=DeregisterTargets&TargetGroupArn=$(enc "$g")&Targets.member.1.Id=$1&Targets.member.1.Port=${mine%% *}"; then',
        "      # Only a healthy target gets requests: only then is there anything to let finish.",
        '      [ "${mine#* }" != healthy ] || out="$out $g"',
        "    else",
        `      ${warn("$elbError")}`,
        "    fi",
        "  done",
        "  for g in $out; do",
        ...boundedWait("until", 'letGo "$g" "$1"', DEREGISTERED_TIMEOUT_SECONDS, [
            `echo "pulumi-swarm: warning: $g still holds $2 (draining) after ${DEREGISTERED_TIMEOUT_SECONDS} s; it goes on." >&2`,
            "break",
        ]).map((l) => `    ${l}`),
        "  done",
        "}",
        "# lbIn <instance ID> <what>: registers the instance in every target group of the load",
        "# balancer that does not hold it (every route registers every node). It always returns 0.",
        "lbIn() {",
        "  if ! lbGroups; then",
        `    ${warnIn("$elbError")}`,
        "    return 0",
        "  fi",
        "  for g in $groups; do",
        '    targetsOf "$g" || continue',
        "    state=$(printf '%s\\n' \"$targets\" | awk -v id=\"$1\" '$1 == id { print $3; exit }')",
        '    case "$state" in "" | unused | draining) ;; *) continue ;; esac',
        `    elbCall "Action=RegisterTargets&TargetGroupArn=$(enc "$g")&Targets.member.1.Id=$1" || ${warnIn("$elbError")}`,
        "  done",
        "}",
        "",
    ].join("\n");
}

/** Reads a node's instance label into `inst` (empty when it has none). */
export function readInstanceLabel(node: string): string {
    return `inst=$(dkr node inspect ${node} --format '{{with index .Spec.Labels "${INSTANCE_LABEL}"}}{{.}}{{end}}' 2>/dev/null || true)`;
}
