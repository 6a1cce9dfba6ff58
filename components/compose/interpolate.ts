/**
 * `${VAR}` interpolation as Docker Compose does it, applied to every string value (never to
 * keys) of a parsed compose file:
 *
 * | form              | value                                                        |
 * |-------------------|--------------------------------------------------------------|
 * | `$VAR`, `${VAR}`  | the variable; an unset variable is an error (not silently "") |
 * | `${VAR:-default}` | default when VAR is unset or empty                           |
 * | `${VAR-default}`  | default when VAR is unset                                    |
 * | `${VAR:?message}` | error with message when VAR is unset or empty                |
 * | `${VAR?message}`  | error with message when VAR is unset                         |
 * | `${VAR:+other}`   | other when VAR is set and not empty, else ""                 |
 * | `${VAR+other}`    | other when VAR is set, else ""                               |
 * | `$$`              | a literal `$`                                                |
 *
 * Defaults may themselves hold `${...}`. Compose replaces an unset variable with "" and a
 * warning; here it is an error, because a stack deployed with an empty image or port is worse
 * than a failed preview.
 */

export type Variables = Readonly<Record<string, string>>;

export class InterpolationError extends Error {
    constructor(
        /** Where in the file: `services.api.image`. */
        public readonly at: string,
        message: string,
    ) {
        super(message);
        this.name = "InterpolationError";
    }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Interpolates one string; `at` names the place for error messages. */
export function interpolateString(text: string, vars: Variables, at: string): string {
    let out = "";
    let i = 0;
    while (i < text.length) {
        const c = text[i];
        if (c !== "$") {
            out += c;
            i++;
            continue;
        }
        const next = text[i + 1];
        if (next === "$") {
            out += "$";
            i += 2;
            continue;
        }
        if (next === "{") {
            const end = closingBrace(text, i + 2);
            if (end < 0) {
                throw new InterpolationError(at, `"${text}" has a "\${" with no closing "}"; write "$$" for a literal "$"`);
            }
            out += expand(text.slice(i + 2, end), vars, at, text);
            i = end + 1;
            continue;
        }
        const m = NAME.exec(text.slice(i + 1));
        if (!m) {
            throw new InterpolationError(at, `"${text}" has a "$" not followed by a variable name; write "$$" for a literal "$"`);
        }
        out += lookup(m[0], vars, at);
        i += 1 + m[0].length;
    }
    return out;
}

/** The index of the "}" that closes a "${" whose body starts at `from` (nested "${...}" allowed). */
function closingBrace(text: string, from: number): number {
    let depth = 1;
    for (let j = from; j < text.length; j++) {
        if (text[j] === "$" && text[j + 1] === "$") {
            j++;
        } else if (text[j] === "$" && text[j + 1] === "{") {
            depth++;
            j++;
        } else if (text[j] === "}") {
            depth--;
            if (depth === 0) {
                return j;
            }
        }
    }
    return -1;
}

function expand(body: string, vars: Variables, at: string, whole: string): string {
    const m = NAME.exec(body);
    if (!m) {
        throw new InterpolationError(at, `"${whole}" has "\${${body}}", which does not start with a variable name`);
    }
    const name = m[0];
    const rest = body.slice(name.length);
    if (rest === "") {
        return lookup(name, vars, at);
    }
    const op = /^(:-|-|:\?|\?|:\+|\+)/.exec(rest);
    if (!op) {
        throw new InterpolationError(
            at,
            `"${whole}" has "\${${body}}"; after the name only :-, -, :?, ?, :+ or + may follow`,
        );
    }
    const arg = rest.slice(op[0].length);
    const value = Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : undefined;
    const unsetOrEmpty = value === undefined || value === "";
    switch (op[0]) {
        case ":-":
            return unsetOrEmpty ? interpolateString(arg, vars, at) : value;
        case "-":
            return value === undefined ? interpolateString(arg, vars, at) : value;
        case ":?":
        case "?":
            if (op[0] === ":?" ? unsetOrEmpty : value === undefined) {
                throw new InterpolationError(
                    at,
                    `variable ${name} is required${op[0] === ":?" ? " and must not be empty" : ""}: ${interpolateString(arg, vars, at) || "no message"}; set it in the stack's variables`,
                );
            }
            return value!;
        case ":+":
            return unsetOrEmpty ? "" : interpolateString(arg, vars, at);
        default:
            return value === undefined ? "" : interpolateString(arg, vars, at);
    }
}

function lookup(name: string, vars: Variables, at: string): string {
    if (!Object.prototype.hasOwnProperty.call(vars, name)) {
        throw new InterpolationError(
            at,
            `variable ${name} is not set; give it in the stack's variables, or write \${${name}:-default} for a default`,
        );
    }
    return vars[name];
}

/**
 * Interpolates every string in a parsed document (keys stay as written). Collects every
 * error, so that all missing variables are reported at once.
 */
export function interpolateDocument(doc: unknown, vars: Variables): { value: unknown; errors: InterpolationError[] } {
    const errors: InterpolationError[] = [];
    const walk = (v: unknown, at: string): unknown => {
        if (typeof v === "string") {
            try {
                return interpolateString(v, vars, at);
            } catch (e) {
                errors.push(e as InterpolationError);
                return v;
            }
        }
        if (Array.isArray(v)) {
            return v.map((x, i) => walk(x, `${at}[${i}]`));
        }
        if (v !== null && typeof v === "object") {
            const out: Record<string, unknown> = {};
            for (const [k, x] of Object.entries(v)) {
                out[k] = walk(x, at === "" ? k : `${at}.${k}`);
            }
            return out;
        }
        return v;
    };
    return { value: walk(doc, ""), errors };
}

/** The names of every variable a document refers to (for reporting and for hashing what matters). */
export function referencedVariables(doc: unknown): string[] {
    const found = new Set<string>();
    const walk = (v: unknown): void => {
        if (typeof v === "string") {
            const re = /\$\$|\$\{?([A-Za-z_][A-Za-z0-9_]*)/g;
            let m: RegExpExecArray | null;
            while ((m = re.exec(v)) !== null) {
                if (m[1]) {
                    found.add(m[1]);
                }
            }
        } else if (Array.isArray(v)) {
            v.forEach(walk);
        } else if (v !== null && typeof v === "object") {
            Object.values(v).forEach(walk);
        }
    };
    walk(doc);
    return [...found].sort();
}
