/**
 * Quotes a value for a POSIX shell so that it reaches a script as exactly one word,
 * whatever it holds. Every value that enters a rendered script goes through here.
 */
export function shellQuote(value: string | number): string {
    const s = String(value);
    if (s !== "" && /^[A-Za-z0-9_./:=@%+,-]+$/.test(s)) {
        return s;
    }
    return "'" + s.replace(/'/g, `'"'"'`) + "'";
}
