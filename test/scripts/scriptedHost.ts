/**
 * A sealed stand-in for a host, to run rendered scripts under sh against a scripted `docker`.
 *
 * The scripts call Docker through `dkr`, which runs `sudo -n docker` when `id -u` is not 0.
 * Real sudo looks `docker` up in its own secure path, not in PATH, so a fake `docker` first in
 * PATH does not stop it: on a machine with password-less sudo (GitHub's runners) the script
 * would reach the machine's real engine. So the harness's bin folder holds every command that
 * could reach Docker, and each is a fake:
 *
 * - `docker`: the scenario's script; it logs every call to `$FAKE/calls`.
 * - `sudo`: takes only `-n <command> <args>`, logs the call to `$FAKE/sudo`, and runs the
 *   command from the harness's bin folder alone (its "secure path"); anything else fails.
 * - `id`: `id -u` answers the uid the scenario asks for, so both branches of `dkr` run on any
 *   machine, whoever runs the tests.
 * - `hostname`: answers `node-under-test`, so messages are literal.
 * - `sleep`: logs `sleep <n>` and returns at once.
 *
 * PATH is the bin folder, then only the minimal system folders (plus `extraPath`, which tests
 * use to prove that a `sudo` or `docker` found there is never run). The environment holds
 * nothing else of the test process's.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const FAKE_HOSTNAME = "node-under-test";

/** The minimal system folders a script needs for sh, cat, cut, awk, tr and friends. */
export const SYSTEM_PATH = "/usr/bin:/bin";

const FAKE_SUDO = `#!/bin/sh
# A fake sudo: only 'sudo -n <command> ...', and only commands of the harness's bin folder.
echo "$*" >> "$FAKE/sudo"
[ "$1" = "-n" ] || { echo "fake sudo: expected -n first, got: $*" >&2; exit 126; }
shift
[ -x "$HARNESS_BIN/$1" ] || { echo "fake sudo: $1 is not a command of the harness" >&2; exit 127; }
cmd="$HARNESS_BIN/$1"
shift
exec "$cmd" "$@"
`;

const FAKE_ID = `#!/bin/sh
if [ "$*" = "-u" ]; then echo "$FAKE_UID"; else echo "fake id: unexpected: $*" >&2; exit 9; fi
`;

export interface ScriptRun {
    code: number;
    stdout: string;
    stderr: string;
    /** Every call the fake docker got, in order (its arguments, space-joined). */
    calls: string[];
    /** Every call the fake sudo got. */
    sudoCalls: string[];
}

export interface HostOptions {
    /** What `id -u` answers: 0 runs docker directly, anything else through `sudo -n`. */
    uid?: number;
    /** Standard input of the script. */
    stdin?: string;
    /** Variables the fake docker reads. */
    env?: Record<string, string>;
    /** Folders put in PATH after the harness's bin folder and before the system folders. */
    extraPath?: string[];
}

function lines(file: string): string[] {
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").filter((l) => l !== "") : [];
}

/** Runs `script` under sh on the sealed host, with `fakeDocker` as its `docker`. */
export function runOnScriptedHost(script: string, fakeDocker: string, opts: HostOptions = {}): ScriptRun {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-swarm-scripted-"));
    try {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        const fakes: Record<string, string> = {
            docker: fakeDocker,
            sudo: FAKE_SUDO,
            id: FAKE_ID,
            hostname: `#!/bin/sh\necho ${FAKE_HOSTNAME}\n`,
            sleep: '#!/bin/sh\necho "sleep $*" >> "$FAKE/calls"\n',
        };
        for (const [name, text] of Object.entries(fakes)) {
            fs.writeFileSync(path.join(bin, name), text, { mode: 0o755 });
        }
        const r = spawnSync("/bin/sh", ["-c", script], {
            encoding: "utf8",
            input: opts.stdin ?? "",
            env: {
                PATH: [bin, ...(opts.extraPath ?? []), SYSTEM_PATH].join(":"),
                FAKE: dir,
                HARNESS_BIN: bin,
                FAKE_UID: String(opts.uid ?? 0),
                ...(opts.env ?? {}),
            },
        });
        return {
            code: r.status ?? 1,
            stdout: r.stdout,
            stderr: r.stderr,
            calls: lines(path.join(dir, "calls")),
            sudoCalls: lines(path.join(dir, "sudo")),
        };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
