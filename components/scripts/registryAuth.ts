/**
 * Renewing the registry credentials that swarm keeps with each service.
 *
 * `docker stack deploy --with-registry-auth` stores the deploying client's credentials in the
 * service spec, and swarm's agents pull with exactly those: they never ask a credential helper
 * (moby #36126). An Amazon ECR token lasts 12 hours, so without renewal a task placed later (a
 * rescheduled task, a new node, a scale-up) on a node that lacks the image fails to pull.
 *
 * The renewal runs `docker service update --with-registry-auth` for each service whose image
 * comes from a renewed registry: the manager's docker CLI asks its credential helper (ECR with the
 * instance role) for a fresh token, and swarm stores it. A change of pull credentials alone does
 * not restart running tasks (swarmkit ignores PullOptions for tasks that have their image,
 * swarmkit #971); the lab test shows that, and that a task placed afterwards pulls with the new
 * credentials. Only the swarm's leader acts, so the same timer can run on every node.
 */
import { shellQuote } from "../shell";

/** A registry host pattern (sh `case` glob) for every Amazon ECR private registry. */
export const ECR_REGISTRY_PATTERN = "*.dkr.ecr.*.amazonaws.com";

/** The renewal's program on a node, its systemd units, and how often it runs. */
export const REGISTRY_AUTH_RENEWAL = {
    program: "/usr/local/sbin/pulumi-swarm-renew-registry-auth",
    unit: "pulumi-swarm-renew-registry-auth",
    /** Every 6 hours, so a stored 12-hour ECR token is never more than about 6 hours old. */
    onCalendar: "*-*-* 00/6:00:00",
} as const;

export interface RegistryAuthRenewalArgs {
    /** Registry hosts (host[:port], sh glob patterns allowed) whose services are renewed. */
    readonly registries: readonly string[];
}

/** The renewal script (POSIX sh, runs as root, whose docker CLI holds the credentials or their helper). */
export function renderRegistryAuthRenewal(args: RegistryAuthRenewalArgs): string {
    if (args.registries.length === 0) {
        throw new Error("registries must name at least one registry host");
    }
    for (const r of args.registries) {
        if (!/^[A-Za-z0-9*.:-]+$/.test(r)) {
            throw new Error(`registries entries must be host[:port] patterns (letters, digits, '.', ':', '-', '*'); got ${JSON.stringify(r)}`);
        }
    }
    return [
        "#!/bin/sh",
        "# pulumi-swarm: renew the registry credentials that swarm keeps with each service, so that",
        "# tasks placed later can still pull (swarm agents never ask a credential helper).",
        "# Only the leader acts; running tasks are not restarted.",
        "set -eu",
        "[ \"$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)\" = true ] || exit 0",
        "[ \"$(docker node inspect self --format '{{.ManagerStatus.Leader}}')\" = true ] || exit 0",
        "ids=$(docker service ls -q)",
        '[ -n "$ids" ] || exit 0',
        "failed=0",
        "# shellcheck disable=SC2086 # split on purpose: one argument per ID",
        "for line in $(docker service inspect --format '{{.ID}}={{.Spec.TaskTemplate.ContainerSpec.Image}}' $ids); do",
        '  id=${line%%=*}',
        '  image=${line#*=}',
        '  case "${image%%/*}" in',
        `    ${args.registries.map(shellCaseWord).join("|")}) ;;`,
        "    *) continue ;;",
        "  esac",
        '  if docker service update --detach --quiet --no-resolve-image --with-registry-auth "$id" >/dev/null; then',
        '    echo "pulumi-swarm: renewed the registry credentials of service $id ($image)"',
        "  else",
        '    echo "pulumi-swarm: could not renew the registry credentials of service $id ($image)" >&2',
        "    failed=1",
        "  fi",
        "done",
        'exit "$failed"',
        "",
    ].join("\n");
}

/** A case pattern: globs stay globs, everything else is quoted. */
function shellCaseWord(pattern: string): string {
    return pattern
        .split("*")
        .map((part) => (part === "" ? "" : shellQuote(part)))
        .join("*");
}

/** The systemd service and timer that run the renewal every 6 hours (and soon after boot). */
export function renderRegistryAuthRenewalUnits(): { service: string; timer: string } {
    const r = REGISTRY_AUTH_RENEWAL;
    return {
        service: [
            "[Unit]",
            "Description=pulumi-swarm: renew the registry credentials swarm keeps with services",
            "After=docker.service",
            "Wants=docker.service",
            "",
            "[Service]",
            "Type=oneshot",
            `ExecStart=${r.program}`,
            "",
        ].join("\n"),
        timer: [
            "[Unit]",
            `Description=pulumi-swarm: renew the registry credentials swarm keeps with services, every 6 hours`,
            "",
            "[Timer]",
            "OnBootSec=10min",
            `OnCalendar=${r.onCalendar}`,
            "RandomizedDelaySec=10min",
            "Persistent=true",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ].join("\n"),
    };
}
