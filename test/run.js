#!/usr/bin/env node
// `npm test`: type-check and build, lint, then every mocha suite, ending with the line
// "N passed, N failed, N skipped". Arguments go to the spec selection:
//   npm test                    all suites (pure, mock and, as root on Linux, lab)
//   npm test -- --grep lab      only tests whose title matches
//   npm test -- --no-lab        everything but the lab suites
//   npm test -- --lab-only      only the lab suites (CI's root pass: the rest ran as nobody)
// A lab suite whose tests run in order (inOrder in test/lab/lab.ts) runs whole when --grep
// selects any of its tests. Lab tests that did not run (skipped, or after a failed hook) count
// as skipped in the closing line, never as passed; whether a lab that cannot start skips or
// fails is decided in one place, labOrSkip in test/lab/lab.ts.
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const args = process.argv.slice(2);

function step(title, cmd, cmdArgs) {
    console.log(`\n== ${title}: ${cmd} ${cmdArgs.join(" ")}`);
    const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: "inherit" });
    if (r.status !== 0) {
        console.log(`\n${title} failed (exit ${r.status}).`);
        console.log("0 passed, 1 failed");
        process.exit(1);
    }
}

const bin = (name) => path.join(root, "node_modules", ".bin", name);
fs.rmSync(path.join(root, "bin"), { recursive: true, force: true });
step("type-check and build", bin("tsc"), ["-p", "tsconfig.json"]);
step("lint", bin("eslint"), ["--max-warnings", "0", "."]);

const Mocha = require("mocha");
let grep;
let noLab = false;
let labOnly = false;
for (let i = 0; i < args.length; i++) {
    if (args[i] === "--grep") grep = args[++i];
    else if (args[i] === "--no-lab") noLab = true;
    else if (args[i] === "--lab-only") labOnly = true;
}
const mocha = new Mocha({ reporter: "spec", timeout: 20000 });
if (grep) mocha.grep(grep);

function specs(dir) {
    const out = [];
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) out.push(...specs(p));
        else if (e.name.endsWith(".test.js")) out.push(p);
    }
    return out.sort();
}
const isLab = (f) => f.includes(`${path.sep}lab${path.sep}`);
const all = specs(path.join(root, "bin", "test"));
const files = all.filter((f) => !(noLab && isLab(f)) && !(labOnly && !isLab(f)));
// Lab suites last: the pure and mock layers answer in seconds.
files.sort((a, b) => Number(isLab(a)) - Number(isLab(b)));
files.forEach((f) => mocha.addFile(f));

/** Every test of a suite whose tests run in order, when --grep selects any of them. */
function widenGrepToOrderedSuites(re) {
    const { IN_ORDER } = require(path.join(root, "bin", "test", "lab", "lab.js"));
    const extra = [];
    const walk = (suite) => {
        if (suite[IN_ORDER]) {
            const tests = [];
            const collect = (s) => {
                tests.push(...s.tests);
                s.suites.forEach(collect);
            };
            collect(suite);
            if (tests.some((t) => re.test(t.fullTitle())) && !tests.every((t) => re.test(t.fullTitle()))) {
                console.log(`== --grep: "${suite.fullTitle()}" runs its tests in order: all ${tests.length} of them run`);
                extra.push(...tests.map((t) => t.fullTitle()));
            }
            return;
        }
        suite.suites.forEach(walk);
    };
    walk(mocha.suite);
    if (extra.length === 0) return;
    const escape = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    mocha.grep(new RegExp(`${re.source}|^(?:${extra.map(escape).join("|")})$`, re.flags));
}

async function main() {
    await mocha.loadFilesAsync();
    if (grep) widenGrepToOrderedSuites(mocha.options.grep);
    console.log(`\n== tests: ${files.length} spec files`);
    const labLeftOut = all.filter(isLab).length;
    if (noLab) {
        console.log(`== lab: not run (--no-lab): its ${labLeftOut} spec files are left out`);
    }
    if (labOnly) {
        console.log(`== --lab-only: the ${all.length - labLeftOut} pure and mock spec files are left out`);
    }
    let passed = 0;
    let failed = 0;
    let failedTests = 0;
    let pending = 0;
    const runner = mocha.run((failures) => {
        // Tests that never ran (their suite's before() hook failed) are skipped, not passed.
        const notRun = Math.max(0, runner.total - passed - failedTests - pending);
        const skipped = pending + notRun;
        if (notRun > 0) console.log(`\n${notRun} tests did not run because a hook before them failed: counted as skipped`);
        console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
        if (passed + failed + skipped === 0 || passed === 0) {
            console.log("no test passed: that is a failure");
            process.exit(1);
        }
        process.exit(failures > 0 ? 1 : 0);
    });
    runner.on("pass", () => passed++);
    runner.on("fail", (test) => {
        // A failing hook counts as a failure too.
        failed++;
        if (test.type === "test") failedTests++;
    });
    runner.on("pending", () => pending++);
}

main().catch((e) => {
    console.error(e);
    console.log("0 passed, 1 failed");
    process.exit(1);
});
