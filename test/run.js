#!/usr/bin/env node
// `npm test`: type-check and build, lint, then every mocha suite, ending with the line
// "N passed, N failed, N skipped". Arguments go to the spec selection:
//   npm test                    all suites (pure, mock and, as root on Linux, lab)
//   npm test -- --grep lab      only tests whose title matches
//   npm test -- --no-lab        everything but the lab suites
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
for (let i = 0; i < args.length; i++) {
    if (args[i] === "--grep") grep = args[++i];
    else if (args[i] === "--no-lab") noLab = true;
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
const files = specs(path.join(root, "bin", "test")).filter((f) => !(noLab && f.includes(`${path.sep}lab${path.sep}`)));
// Lab suites last: the pure and mock layers answer in seconds.
files.sort((a, b) => Number(a.includes(`${path.sep}lab${path.sep}`)) - Number(b.includes(`${path.sep}lab${path.sep}`)));
files.forEach((f) => mocha.addFile(f));

console.log(`\n== tests: ${files.length} spec files`);
let passed = 0;
let failed = 0;
let skipped = 0;
const runner = mocha.run((failures) => {
    const total = passed + failed + skipped;
    console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
    if (total === 0 || passed === 0) {
        console.log("no test passed: that is a failure");
        process.exit(1);
    }
    process.exit(failures > 0 ? 1 : 0);
});
runner.on("pass", () => passed++);
runner.on("fail", (test) => {
    // A failing hook counts as a failure too.
    failed++;
    void test;
});
runner.on("pending", () => skipped++);
