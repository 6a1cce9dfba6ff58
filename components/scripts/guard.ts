import { checkWord } from "./common";

/**
 * The guard of a swarm with one manager: a local script (it needs no SSH) that the only
 * manager's instance waits for. Its stdout is the manager's "replacement fingerprint", the
 * instance inputs whose change replaces it (an explicit AMI, the subnet, the key pair, a digest
 * of the user data), as `name=value` fields; the command provider
 * hands the previous stdout back in PULUMI_COMMAND_STDOUT (addPreviousOutputInEnv). When the
 * fingerprint changes, the run fails here, before the instance is touched, unless the loss is
 * accepted: a swarm whose only manager is replaced is lost (no other manager holds its Raft
 * state, and the new manager starts a new, empty swarm).
 */
export interface SingleManagerGuardArgs {
    /** The manager's host key, e.g. "manager-0". */
    readonly hostKey: string;
    /** Fields `name=value` separated by spaces, e.g. "ami=ami-0123456789abcdef0 subnet=subnet-0123456789abcdef0". */
    readonly fingerprint: string;
    /** The opt-in, allowSingleManagerReplacement: the change goes on and the swarm is lost. */
    readonly allowed: boolean;
}

export function renderSingleManagerGuard(args: SingleManagerGuardArgs): string {
    checkWord("hostKey", args.hostKey);
    if (typeof args.fingerprint !== "string" || !/^[A-Za-z0-9 =._:/-]+$/.test(args.fingerprint)) {
        throw new Error(`fingerprint must be letters, digits, spaces, '=', '.', '_', ':', '/' or '-'; got ${JSON.stringify(args.fingerprint)}`);
    }
    const k = args.hostKey;
    return [
        `# pulumi-swarm: ${k} is the swarm's only manager: ${args.allowed ? `allowSingleManagerReplacement accepts its replacement` : "a run that would replace it fails here, before it is touched"}`,
        "set -eu",
        `now='${args.fingerprint}'`,
        ...(args.allowed
            ? []
            : [
                  'was="${PULUMI_COMMAND_STDOUT:-}"',
                  "# Each field of the previous fingerprint that has another value now (a field it lacks,",
                  "# from an older pulumi-swarm, is not compared).",
                  "changed=",
                  "for field in $now; do",
                  "  for old in $was; do",
                  '    if [ "${old%%=*}" = "${field%%=*}" ] && [ "$old" != "$field" ]; then',
                  '      changed="${changed:+$changed, }from $old to $field"',
                  "    fi",
                  "  done",
                  "done",
                  'if [ -n "$changed" ]; then',
                  `  echo "pulumi-swarm: this run would replace ${k}, the swarm's only manager ($changed). A swarm whose only manager is replaced is lost: the new manager starts a new, empty swarm, without the services, secrets, configs and networks of the old one. Nothing was changed. To keep the swarm, undo the change, raise managerCount to 3 and run pulumi up (the new managers join), then make the change. To accept the loss, set allowSingleManagerReplacement to true and run pulumi up again." >&2`,
                  "  exit 1",
                  "fi",
              ]),
        'printf \'%s\\n\' "$now"',
        "",
    ].join("\n");
}
