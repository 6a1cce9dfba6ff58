import { shellQuote } from "../shell";
import { CLUSTER_LABEL, HOST_LABEL, STATE_PROBE, checkSeconds, checkWord, prelude, waitForDocker } from "./common";

export interface SwarmInitScriptArgs {
    /** The swarm's name; the first manager carries it as the `pulumi-swarm.cluster` label. */
    readonly clusterName: string;
    /** The host entry's key, carried as the `pulumi-swarm.host` label. */
    readonly hostKey: string;
    /** The first manager's fixed private address: it advertises and listens there. */
    readonly advertiseAddress: string;
    readonly dockerReadyTimeoutSeconds: number;
}

/**
 * `docker swarm init` on the first manager, only when it is in no swarm yet; it then
 * prints one JSON line with the cluster ID, its node ID and both join tokens. The tokens
 * make this command's stdout a secret.
 *
 * What it decides from is what the host reports, never a previous run's outputs: a blank
 * host gets a new swarm, a host that already manages this swarm (it carries this
 * cluster's label) is reused, and a host in any other swarm is refused untouched.
 */
export function renderSwarmInit(args: SwarmInitScriptArgs): string {
    checkSeconds("dockerReadyTimeoutSeconds", args.dockerReadyTimeoutSeconds);
    checkWord("clusterName", args.clusterName);
    checkWord("hostKey", args.hostKey);
    checkWord("advertiseAddress", args.advertiseAddress);
    const addr = shellQuote(args.advertiseAddress);
    const cluster = shellQuote(args.clusterName);
    const clusterLabel = `${CLUSTER_LABEL}=${args.clusterName}`;
    const hostLabel = `${HOST_LABEL}=${args.hostKey}`;
    return [
        prelude(`swarm init on the first manager (${args.hostKey})`),
        waitForDocker(args.dockerReadyTimeoutSeconds, STATE_PROBE),
        "created=no",
        'case "$state" in',
        "  inactive)",
        `    dkr swarm init --advertise-addr ${addr} --listen-addr ${shellQuote(args.advertiseAddress + ":2377")} >/dev/null`,
        "    created=yes",
        "    ;;",
        "  active)",
        `    if [ "$(dkr info --format '{{.Swarm.ControlAvailable}}')" != true ]; then`,
        `      echo "pulumi-swarm: $(hostname) (${args.advertiseAddress}) is a worker in another swarm, so it cannot be the first manager of ${args.clusterName}. Nothing was changed. Run 'docker swarm leave' on it, or put another host first." >&2`,
        "      exit 1",
        "    fi",
        `    owner=$(dkr node inspect self --format '{{index .Spec.Labels "${CLUSTER_LABEL}"}}')`,
        `    if [ "$owner" != ${cluster} ]; then`,
        `      echo "pulumi-swarm: $(hostname) (${args.advertiseAddress}) already manages another swarm (cluster label: '$owner'), not ${args.clusterName}. Nothing was changed. Run 'docker swarm leave --force' on it if that swarm should go." >&2`,
        "      exit 1",
        "    fi",
        "    ;;",
        "  locked)",
        `    echo "pulumi-swarm: the swarm on $(hostname) is locked (autolock); run 'docker swarm unlock' on it first." >&2`,
        "    exit 1",
        "    ;;",
        "  *)",
        `    echo "pulumi-swarm: $(hostname) reports swarm state '$state'; expected inactive or active. Check 'docker info' on it." >&2`,
        "    exit 1",
        "    ;;",
        "esac",
        "ids=$(dkr info --format '{{.Swarm.Cluster.ID}} {{.Swarm.NodeID}}')",
        'cluster_id=${ids% *}',
        'node_id=${ids#* }',
        'if [ "$created" = yes ]; then',
        `  dkr node update --label-add ${shellQuote(clusterLabel)} --label-add ${shellQuote(hostLabel)} "$node_id" >/dev/null`,
        "fi",
        "printf '{\"clusterId\":\"%s\",\"nodeId\":\"%s\",\"workerToken\":\"%s\",\"managerToken\":\"%s\"}\\n' \\",
        '  "$cluster_id" "$node_id" "$(dkr swarm join-token -q worker)" "$(dkr swarm join-token -q manager)"',
        "",
    ].join("\n");
}

/** The JSON line the init script prints. */
export interface SwarmInitResult {
    readonly clusterId: string;
    readonly nodeId: string;
    readonly workerToken: string;
    readonly managerToken: string;
}

/** Reads the init script's output; the error never repeats the output (it holds tokens). */
export function parseSwarmInitOutput(stdout: string): SwarmInitResult {
    const line = stdout.trim().split("\n").pop() ?? "";
    let parsed: Partial<SwarmInitResult> = {};
    try {
        parsed = JSON.parse(line) as Partial<SwarmInitResult>;
    } catch {
        parsed = {};
    }
    const ok = (v: unknown, re: RegExp) => typeof v === "string" && re.test(v);
    if (
        !ok(parsed.clusterId, /^[a-z0-9]+$/) ||
        !ok(parsed.nodeId, /^[a-z0-9]+$/) ||
        !ok(parsed.workerToken, /^SWMTKN-1-[a-z0-9-]+$/) ||
        !ok(parsed.managerToken, /^SWMTKN-1-[a-z0-9-]+$/)
    ) {
        throw new Error(
            "pulumi-swarm: the swarm init command did not print the expected JSON line " +
                "(clusterId, nodeId, workerToken, managerToken); its output is withheld because it may hold join tokens",
        );
    }
    return parsed as SwarmInitResult;
}
