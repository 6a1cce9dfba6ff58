/**
 * A small evaluator for the GitHub Actions expressions the workflows use in `if:` and
 * `environment:` (literals, context paths, ==, !=, !, &&, ||, parentheses), with GitHub's
 * semantics: && and || return an operand, string comparison ignores case, a missing property
 * is null. Enough to check the guards by evaluating them, not by matching their text.
 */
export type Value = string | number | boolean | null | { [k: string]: Value };

type Token = { kind: "str" | "num" | "id" | "op"; text: string };

function tokenize(src: string): Token[] {
    const out: Token[] = [];
    let i = 0;
    while (i < src.length) {
        const c = src[i];
        if (/\s/.test(c)) {
            i++;
        } else if (c === "'") {
            let s = "";
            i++;
            for (;;) {
                if (i >= src.length) throw new Error(`unterminated string in ${src}`);
                if (src[i] === "'" && src[i + 1] === "'") {
                    s += "'";
                    i += 2;
                } else if (src[i] === "'") {
                    i++;
                    break;
                } else {
                    s += src[i++];
                }
            }
            out.push({ kind: "str", text: s });
        } else if (/[0-9]/.test(c)) {
            const m = /^[0-9.]+/.exec(src.slice(i))![0];
            out.push({ kind: "num", text: m });
            i += m.length;
        } else if (/[A-Za-z_]/.test(c)) {
            const m = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(src.slice(i))![0];
            out.push({ kind: "id", text: m });
            i += m.length;
        } else {
            const two = src.slice(i, i + 2);
            if (["==", "!=", "&&", "||"].includes(two)) {
                out.push({ kind: "op", text: two });
                i += 2;
            } else if ("!()".includes(c)) {
                out.push({ kind: "op", text: c });
                i++;
            } else {
                throw new Error(`unsupported character ${JSON.stringify(c)} in expression ${src}`);
            }
        }
    }
    return out;
}

function truthy(v: Value): boolean {
    return !(v === null || v === false || v === 0 || v === "");
}

function equal(a: Value, b: Value): boolean {
    if (typeof a === "string" && typeof b === "string") return a.toLowerCase() === b.toLowerCase();
    return a === b;
}

/** Evaluates `expr` (with or without the `${{ }}` wrapper) against the given contexts. */
export function evaluate(expr: string, contexts: Record<string, Value>): Value {
    const m = /^\s*\$\{\{([\s\S]*)\}\}\s*$/.exec(expr);
    const tokens = tokenize(m ? m[1] : expr);
    let pos = 0;
    const peek = () => tokens[pos];
    const take = (text?: string): Token => {
        const t = tokens[pos++];
        if (!t || (text !== undefined && t.text !== text)) throw new Error(`expected ${text ?? "a token"} in ${expr}`);
        return t;
    };
    function primary(): Value {
        const t = take();
        if (t.kind === "str") return t.text;
        if (t.kind === "num") return Number(t.text);
        if (t.kind === "op" && t.text === "(") {
            const v = or();
            take(")");
            return v;
        }
        if (t.kind === "op" && t.text === "!") return !truthy(primary());
        if (t.kind === "id") {
            if (t.text === "true") return true;
            if (t.text === "false") return false;
            if (t.text === "null") return null;
            if (peek()?.text === "(") throw new Error(`functions are not supported: ${t.text} in ${expr}`);
            let v: Value = null;
            t.text.split(".").forEach((part, i) => {
                if (i === 0) v = part in contexts ? contexts[part] : null;
                else v = v !== null && typeof v === "object" && part in v ? v[part] : null;
            });
            return v;
        }
        throw new Error(`unexpected ${t.text} in ${expr}`);
    }
    function comparison(): Value {
        let v = primary();
        while (peek() && (peek().text === "==" || peek().text === "!=")) {
            const op = take().text;
            const r = primary();
            v = op === "==" ? equal(v, r) : !equal(v, r);
        }
        return v;
    }
    function and(): Value {
        let v = comparison();
        while (peek()?.text === "&&") {
            take();
            const r = comparison();
            v = truthy(v) ? r : v;
        }
        return v;
    }
    function or(): Value {
        let v = and();
        while (peek()?.text === "||") {
            take();
            const r = and();
            v = truthy(v) ? v : r;
        }
        return v;
    }
    const v = or();
    if (pos !== tokens.length) throw new Error(`trailing tokens in ${expr}`);
    return v;
}

/** What GitHub does with a job's `if:` result. */
export function runs(expr: string | undefined, contexts: Record<string, Value>): boolean {
    return expr === undefined ? true : truthy(evaluate(expr, contexts));
}
