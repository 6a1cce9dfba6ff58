// Pure layer: the scripts of a stack (deploy with convergence wait, remove, image build),
// rendered from fixed values, compared to golden files and checked by shellcheck.
// Regenerate on purpose only: UPDATE_GOLDEN=1 npm test -- --grep "stack scripts"
import * as assert from "assert";
import { parseImageBuildOutput, renderImageBuild } from "../../components/scripts/imageBuild";
import { parseStackDeployOutput, renderStackDeploy, renderStackRemove } from "../../components/scripts/stack";
import { goldenScriptTests } from "../golden";

const HASH = "a".repeat(64);

const cases: { file: string; render: () => string }[] = [
    {
        file: "stack-deploy.sh",
        render: () => renderStackDeploy({ stackName: "web", contentHash: HASH, resolveImage: "always", convergeTimeoutSeconds: 300, removeTimeoutSeconds: 180 }),
    },
    {
        file: "stack-deploy-login.sh",
        render: () =>
            renderStackDeploy({
                stackName: "web",
                contentHash: HASH,
                resolveImage: "never",
                convergeTimeoutSeconds: 60,
                removeTimeoutSeconds: 30,
                registryLogin: { address: "10.77.0.2:5000", username: "ci" },
            }),
    },
    { file: "stack-remove.sh", render: () => renderStackRemove({ stackName: "web", removeTimeoutSeconds: 180 }) },
    {
        file: "image-build.sh",
        render: () =>
            renderImageBuild({
                context: "/src/stacks/web/api",
                dockerfile: "Dockerfile",
                buildArgs: { BASE_IMAGE: "python:3.12-slim", A: "x y" },
                repository: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/prod/web/api",
                tag: "0123456789abcdef0123456789abcdef",
                loginUsername: "AWS",
                platform: "linux/amd64",
            }),
    },
    {
        file: "image-build-anonymous.sh",
        render: () =>
            renderImageBuild({ context: "/src/api", dockerfile: "Dockerfile", buildArgs: {}, repository: "10.77.0.2:5000/web/api", tag: "t1" }),
    },
];

describe("pure: stack scripts", () => {
    goldenScriptTests(cases.map((c) => ({ ...c, shell: "sh" as const })));

    it("deploy: the content hash is in the script, so a change re-runs it", () => {
        const a = renderStackDeploy({ stackName: "web", contentHash: HASH, resolveImage: "always", convergeTimeoutSeconds: 300, removeTimeoutSeconds: 180 });
        const b = renderStackDeploy({ stackName: "web", contentHash: "b".repeat(64), resolveImage: "always", convergeTimeoutSeconds: 300, removeTimeoutSeconds: 180 });
        assert.notStrictEqual(a, b);
        assert.ok(a.includes(`# content sha256: ${HASH}\n`));
        assert.ok(a.includes("stack deploy --compose-file \"$dir/compose.yaml\" --with-registry-auth --prune --resolve-image always web"));
        // The same fields are compared on both sides, service and task.
        const fields =
            "{{json .ContainerSpec.Image}} {{json .ContainerSpec.Command}} {{json .ContainerSpec.Args}} {{json .ContainerSpec.Env}} " +
            "{{json .ContainerSpec.Labels}} {{json .ContainerSpec.Mounts}} {{json .ContainerSpec.Configs}} {{json .ContainerSpec.Secrets}} " +
            "{{json .Networks}} {{json .Resources}} {{json .Placement}} {{.ForceUpdate}}";
        assert.ok(a.includes(`{{with .Spec.TaskTemplate}}${fields}{{end}}`));
        assert.ok(a.includes(`{{with .Spec}}${fields}{{end}}`));
    });

    it("deploy: no login, no private client config, unless a registry login is asked for", () => {
        const plain = renderStackDeploy({ stackName: "web", contentHash: HASH, resolveImage: "always", convergeTimeoutSeconds: 300, removeTimeoutSeconds: 180 });
        assert.ok(!plain.includes(" login "));
        const login = renderStackDeploy({
            stackName: "web",
            contentHash: HASH,
            resolveImage: "always",
            convergeTimeoutSeconds: 300,
            removeTimeoutSeconds: 180,
            registryLogin: { address: "r.example.com", username: "ci" },
        });
        assert.ok(login.includes(`dk login --username ci --password-stdin r.example.com <"$dir/registry-password" >/dev/null`));
    });

    it("bad values are refused with the field named", () => {
        assert.throws(
            () => renderStackDeploy({ stackName: "Web App", contentHash: HASH, resolveImage: "always", convergeTimeoutSeconds: 300, removeTimeoutSeconds: 180 }),
            /^Error: stackName must be 1-40 lower-case letters, digits, '_' or '-', starting with a letter or digit; got "Web App"$/,
        );
        assert.throws(
            () => renderStackDeploy({ stackName: "web", contentHash: HASH, resolveImage: "always", convergeTimeoutSeconds: 0, removeTimeoutSeconds: 180 }),
            /convergeTimeoutSeconds must be a positive whole number of seconds; got 0/,
        );
        assert.throws(
            () => renderImageBuild({ context: "/c", dockerfile: "Dockerfile", buildArgs: {}, repository: "Registry/App", tag: "t" }),
            /repository must be <registry>\/<path> in lower case; got "Registry\/App"/,
        );
    });

    it("parses the deploy's JSON line", () => {
        const out =
            "noise\n" +
            '{"stack":"web","services":[{"name":"web_api","image":"r/api@sha256:' + "1".repeat(64) + '","ports":null},' +
            '{"name":"web_proxy","image":"nginx:1.27","ports":[{"Protocol":"tcp","TargetPort":80,"PublishedPort":8080,"PublishMode":"ingress"}]}]}\n';
        assert.deepStrictEqual(parseStackDeployOutput(out), [
            { name: "web_api", image: "r/api@sha256:" + "1".repeat(64), ports: [] },
            { name: "web_proxy", image: "nginx:1.27", ports: [{ published: 8080, target: 80, protocol: "tcp", mode: "ingress" }] },
        ]);
        assert.throws(() => parseStackDeployOutput("Error: boom"), /the stack deploy printed no JSON result line/);
    });

    it("parses the build's digest line, and refuses anything else", () => {
        const d = "10.77.0.2:5000/web/api@sha256:" + "f".repeat(64);
        assert.strictEqual(parseImageBuildOutput(`x\n${d}\n`, "10.77.0.2:5000/web/api"), d);
        assert.throws(() => parseImageBuildOutput(`${d}\n`, "10.77.0.2:5000/web/other"), /printed no digest/);
    });
});
