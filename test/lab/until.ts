/**
 * The lab tests' one way to wait: poll a probe until it reports what the test waits for, or fail
 * at a deadline saying what it waited for. No lab test sleeps a fixed time; POLL_MS below is the
 * pace of the polls (how soon after the awaited state a test goes on), never a wait for it.
 */

/** Between two probes. */
export const POLL_MS = 250;

export interface UntilOptions {
    /** Treat a probe that throws as "not yet" (e.g. SSH while sshd is still starting). @default false */
    readonly retryErrors?: boolean;
}

/**
 * Resolves with the probe's first value that is neither `undefined` nor `false`; rejects after
 * `seconds` with "timed out after N s waiting for <what>" (and the probe's last error, if any).
 */
export async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined | false>, opts: UntilOptions = {}): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    let last = "";
    for (;;) {
        try {
            const v = await probe();
            if (v !== undefined && v !== false) return v;
        } catch (e) {
            if (!opts.retryErrors) throw e;
            last = (e as Error).message;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${seconds} s waiting for ${what}${last ? `: ${last}` : ""}`);
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
    }
}
