/**
 * An argument error: thrown before any resource is created. The message names the
 * field, the value given and the fix.
 */
export class SwarmArgumentError extends Error {
    /**
     * @param field the argument's name, as the user wrote it (e.g. `adminCidrBlocks[1]`)
     * @param value the value given
     * @param rule what it must be, and how to fix it: "must be ..., so that ..."
     */
    constructor(
        public readonly field: string,
        public readonly value: unknown,
        rule: string,
    ) {
        super(`${field} ${rule}; got ${describe(value)}`);
        this.name = "SwarmArgumentError";
    }
}

function describe(value: unknown): string {
    if (value === undefined) {
        return "nothing (the field is missing)";
    }
    return JSON.stringify(value);
}

/** Throws all the problems at once, so that a user fixes them in one round. */
export function throwIfAny(problems: SwarmArgumentError[]): void {
    if (problems.length === 1) {
        throw problems[0];
    }
    if (problems.length > 1) {
        const err = new Error(problems.map((p) => "- " + p.message).join("\n"));
        err.name = "SwarmArgumentError";
        throw err;
    }
}
