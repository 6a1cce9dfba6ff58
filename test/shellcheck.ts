import { spawnSync } from "child_process";

/**
 * Runs Debian's shellcheck on a script and returns its findings ("" when clean). A missing
 * shellcheck fails the test: `.ci/run` installs it; elsewhere `apt-get install shellcheck`.
 */
export function shellcheck(script: string, shell: "sh" | "bash"): string {
    const r = spawnSync("shellcheck", ["--shell", shell, "--severity", "style", "--format", "gcc", "-"], {
        input: script,
        encoding: "utf8",
    });
    if (r.error) {
        throw new Error(`shellcheck could not run (${r.error.message}); install it: apt-get install shellcheck`);
    }
    return (r.stdout + r.stderr).trim();
}
