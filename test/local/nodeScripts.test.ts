// Pure layer: the node image's scripts (local/node/*.sh) pass shellcheck as POSIX sh; the
// Dockerfile takes its base as a build argument with the documented default.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { repoRoot } from "../paths";
import { shellcheck } from "../shellcheck";

const NODE = path.join(repoRoot, "local", "node");

describe("pure: the local node image's files (local/node)", () => {
    for (const script of ["entrypoint.sh", "install.sh"]) {
        it(`${script} passes shellcheck (sh)`, () => {
            const text = fs.readFileSync(path.join(NODE, script), "utf8");
            assert.ok(text.startsWith("#!/bin/sh\n"));
            assert.strictEqual(shellcheck(text, "sh"), "");
        });
    }

    it("the Dockerfile's base is the build argument BASE_IMAGE, debian:bookworm-slim by default", () => {
        const lines = fs.readFileSync(path.join(NODE, "Dockerfile"), "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
        assert.deepStrictEqual(lines.slice(0, 2), ["ARG BASE_IMAGE=debian:bookworm-slim", "FROM ${BASE_IMAGE}"]);
        assert.ok(lines.includes("VOLUME /var/lib/docker"));
        assert.ok(lines.includes('ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/usr/local/bin/pulumi-swarm-node"]'));
    });
});
