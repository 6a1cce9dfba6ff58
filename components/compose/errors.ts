/**
 * A problem in a compose file, found before anything runs. The message names the file, the
 * service (when there is one), the key and the fix:
 * `stacks/web/compose.yaml: services.api.container_name: docker stack deploy ignores it (...); remove it`.
 */
export class ComposeError extends Error {
    constructor(
        public readonly file: string,
        /** The key's path in the file, e.g. `services.api.ports[0]`. */
        public readonly at: string,
        /** What is wrong and how to fix it. */
        public readonly problem: string,
    ) {
        super(`${file}: ${at}: ${problem}`);
        this.name = "ComposeError";
    }
}

/** Throws every problem at once, so that a user fixes a file in one round. */
export function throwComposeErrors(problems: ComposeError[]): void {
    if (problems.length === 1) {
        throw problems[0];
    }
    if (problems.length > 1) {
        const err = new Error(`${problems.length} problems in compose files:\n` + problems.map((p) => "- " + p.message).join("\n"));
        err.name = "ComposeError";
        throw err;
    }
}
