/**
 * An argument error: thrown before any resource is created. The message names the
 * field, the value given and the fix.
 */
export class SwarmArgumentError extends Error {
    /** The rule and its fix, without the field and value (the message is `<field> <rule>; got <value>`). */
    public readonly rule: string;
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
        this.rule = rule;
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
        throw new SwarmArgumentErrors(problems);
    }
}

/**
 * Several argument errors at once (named "SwarmArgumentError" too): the message lists them,
 * `problems` keeps each one's field and value, so that a caller (the repo's program) can say
 * which of its own settings each came from.
 */
export class SwarmArgumentErrors extends Error {
    constructor(public readonly problems: readonly SwarmArgumentError[]) {
        super(problems.map((p) => "- " + p.message).join("\n"));
        this.name = "SwarmArgumentError";
    }
}
