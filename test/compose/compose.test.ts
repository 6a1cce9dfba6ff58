// Pure layer: compose files as data. Parsing (merge keys), interpolation, validation messages
// (file, key and fix), rendering (images by digest, content-named secrets and configs) and the
// ports-to-routes table, all asserted exactly.
import * as assert from "assert";
import * as YAML from "yaml";
import { interpolateString } from "../../components/compose/interpolate";
import { checkCompose, parseCompose, parsePort } from "../../components/compose/parse";
import { encodeBundle, renderStack } from "../../components/compose/render";
import { defaultPriorityBase, planRoutes } from "../../components/compose/routes";

const F = "stacks/web/compose.yaml";
const problems = (text: string, opts: Partial<Parameters<typeof checkCompose>[1]> = {}) =>
    checkCompose(text, { file: F, hasRegistry: true, ...opts }).problems.map((p) => p.message);

describe("pure: compose interpolation", () => {
    const vars = { TAG: "1.27", EMPTY: "", PORT: "8080" };
    const cases: [string, string][] = [
        ["nginx:${TAG}", "nginx:1.27"],
        ["nginx:$TAG-alpine", "nginx:1.27-alpine"],
        ["${MISSING:-9090}", "9090"],
        ["${EMPTY:-d}", "d"],
        ["${EMPTY-d}", ""],
        ["${MISSING-d}", "d"],
        ["${TAG:+set}", "set"],
        ["${EMPTY:+set}", ""],
        ["${EMPTY+set}", "set"],
        ["${MISSING:-${PORT}}", "8080"],
        ["cost $$5", "cost $5"],
    ];
    for (const [input, want] of cases) {
        it(`${input} -> ${JSON.stringify(want)}`, () => assert.strictEqual(interpolateString(input, vars, "x"), want));
    }
    it("an unset variable is an error naming it and the fix", () => {
        assert.throws(
            () => interpolateString("${NOPE}", vars, "services.api.image"),
            /^InterpolationError: variable NOPE is not set; give it in the stack's variables, or write \$\{NOPE:-default\} for a default$/,
        );
        assert.throws(() => interpolateString("${EMPTY:?needs a value}", vars, "x"), /variable EMPTY is required and must not be empty: needs a value/);
        assert.throws(() => interpolateString("${TAG", vars, "x"), /has a "\$\{" with no closing "\}"/);
    });
});

describe("pure: compose validation", () => {
    it("parses merge keys and interpolates values, not keys", () => {
        const m = parseCompose(
            "x-base: &base\n  image: app:${TAG}\n  deploy: {replicas: 2}\nservices:\n  a:\n    <<: *base\n  b:\n    <<: *base\n    image: other:1\n",
            { file: F, hasRegistry: false, variables: { TAG: "3" } },
        );
        assert.deepStrictEqual(
            m.services.map((s) => [s.name, s.image]),
            [
                ["a", "app:3"],
                ["b", "other:1"],
            ],
        );
        assert.deepStrictEqual((m.doc.services as Record<string, unknown>).a, { image: "app:3", deploy: { replicas: 2 } });
    });

    it("a service with neither image nor build", () => {
        assert.deepStrictEqual(problems("services:\n  api:\n    command: [run]\n"), [
            `${F}: services.api: has neither image: nor build:; docker stack deploy needs an image reference, so add image: (or build: to build one)`,
        ]);
    });

    it("build with no registry", () => {
        assert.deepStrictEqual(problems("services:\n  api:\n    build: ./api\n", { hasRegistry: false }), [
            `${F}: services.api.build: needs a registry to push the built image to, and this stack's target has none; give the cluster a registry (ECR by default) or use a prebuilt image:`,
        ]);
    });

    it("keys that docker stack deploy ignores or rejects, each with why and the fix", () => {
        assert.deepStrictEqual(
            problems("services:\n  api:\n    image: a:1\n    container_name: api\n    depends_on: [db]\n    restart: always\n    privileged: true\n    mem_limit: 1g\n    colour: red\n"),
            [
                `${F}: services.api.container_name: docker stack deploy ignores it (swarm names each task's container itself); remove it`,
                `${F}: services.api.depends_on: docker stack deploy ignores it (swarm starts services independently); remove it and let the service retry until its dependency answers (deploy.restart_policy, healthcheck)`,
                `${F}: services.api.restart: docker stack deploy ignores it; use deploy.restart_policy (condition: any, on-failure or none)`,
                `${F}: services.api.privileged: swarm services cannot be privileged and docker stack deploy rejects the key; grant what is needed with cap_add`,
                `${F}: services.api.mem_limit: docker stack deploy rejects it; use deploy.resources.limits.memory`,
                `${F}: services.api.colour: is not a service key that docker stack deploy knows (compose file format 3.x); check its spelling or remove it`,
            ],
        );
    });

    it("malformed ports and labels", () => {
        assert.deepStrictEqual(
            problems(
                'services:\n  api:\n    image: a:1\n    ports: ["127.0.0.1:80:80", "http", {target: 80, published: 70000}, {target: 80, mode: bridge}]\n    labels: ["novalue"]\n    deploy:\n      labels: {a: {b: c}}\n',
            ),
            [
                `${F}: services.api.ports[0]: "127.0.0.1:80:80" binds a host address, which swarm cannot do; write "PUBLISHED:TARGET" (every node publishes the port)`,
                `${F}: services.api.ports[1]: "http" is not a port; write "PUBLISHED:TARGET" such as "8080:80", "8080:80/udp" or "80"`,
                `${F}: services.api.ports[2]: "70000" is not a port or range within 1-65535`,
                `${F}: services.api.ports[3]: mode must be ingress (the routing mesh) or host (only nodes running a task); got "bridge"`,
                `${F}: services.api.labels[0]: must be "key=value"; got "novalue"`,
                `${F}: services.api.deploy.labels.a: must be a string, number or boolean; got {"b":"c"}`,
            ],
        );
    });

    it("ports: short and long forms, ranges", () => {
        assert.deepStrictEqual(parsePort("8080:80"), [{ target: 80, published: 8080, protocol: "tcp", mode: "ingress" }]);
        assert.deepStrictEqual(parsePort("53:53/udp"), [{ target: 53, published: 53, protocol: "udp", mode: "ingress" }]);
        assert.deepStrictEqual(parsePort(80), [{ target: 80, protocol: "tcp", mode: "ingress" }]);
        assert.deepStrictEqual(parsePort("8000-8001:80-81"), [
            { target: 80, published: 8000, protocol: "tcp", mode: "ingress" },
            { target: 81, published: 8001, protocol: "tcp", mode: "ingress" },
        ]);
        assert.deepStrictEqual(parsePort({ target: 80, published: 8080, mode: "host" }), [{ target: 80, published: 8080, protocol: "tcp", mode: "host" }]);
        assert.strictEqual(parsePort("8000-8002:80-81"), "publishes 3 ports onto 2 targets; the two ranges must be the same length");
    });

    it("references, secrets without content, relative bind mounts, unknown networks, two documents", () => {
        assert.deepStrictEqual(
            problems(
                "services:\n  api:\n    image: a:1\n    secrets: [db]\n    configs: [nope]\n    volumes: ['./data:/data']\n    networks: [back]\nsecrets:\n  db: {}\nconfigs: {}\n",
            ),
            [
                `${F}: secrets.db: has no content: give file: (a path beside the compose file), external: true, or its value in the stack's secrets args`,
                `${F}: services.api.configs[0]: refers to "nope", which the file's top-level configs: does not declare; declare it`,
                `${F}: services.api.volumes[0]: mounts "./data", a path relative to where docker stack deploy runs (a temporary folder on the manager); use a named volume, an absolute host path, or a config for files`,
                `${F}: services.api.networks: refers to network "back", which the file's top-level networks: does not declare; declare it`,
            ],
        );
        assert.deepStrictEqual(problems("services: {}\n---\nservices: {}\n"), [
            `${F}: (file): holds 2 YAML documents; a compose file is exactly one (remove the extra "---")`,
        ]);
        assert.deepStrictEqual(problems("services:\n  a:\n    image: x\n", { secretValues: ["token"] }), [
            `${F}: secrets: the stack's secrets args give "token", which the file does not declare; add secrets: { token: {} } or remove it from the args`,
        ]);
    });

    it("parseCompose throws every problem at once", () => {
        assert.throws(
            () => parseCompose("services:\n  a: {}\n  b:\n    image: x\n    links: [a]\n", { file: F, hasRegistry: true }),
            (e: Error) =>
                e.message ===
                `2 problems in ${F}:\n- ${F}: services.a: has neither image: nor build:; docker stack deploy needs an image reference, so add image: (or build: to build one)\n` +
                    `- ${F}: services.b.links: docker stack deploy ignores it; services on a shared network reach each other by service name, so remove it`,
        );
    });
});

describe("pure: compose rendering", () => {
    const text =
        "version: '3.8'\nservices:\n  api:\n    build: {context: ./api, args: {A: b}}\n    secrets: [token]\n  proxy:\n    image: nginx:1.27-alpine\n    configs: [{source: conf, target: /etc/nginx/conf.d/default.conf}]\n" +
        "secrets:\n  token: {}\nconfigs:\n  conf: {file: ./nginx.conf, labels: {a: b}}\n  shared: {external: true, name: common_conf}\n";
    const model = parseCompose(text, { file: F, hasRegistry: true, secretValues: ["token"] });
    const digest = "10.77.0.2:5000/web/api@sha256:" + "e".repeat(64);
    const render = (token: string, conf: string) =>
        renderStack({ model, stackName: "web", builtImages: { api: digest }, secretContents: { token }, configContents: { conf } });

    it("runs built images by digest, names secrets and configs by content, ships their files", () => {
        const r = render("s3cret", "server {}\n");
        // <stack>_<key>_<first 12 hex of sha256(content)>, by hand: printf 's3cret' | sha256sum, printf 'server {}\n' | sha256sum
        const tokenName = "web_token_1ec1c26b50d5";
        const confName = "web_conf_355da02c030c";
        assert.deepStrictEqual(YAML.parse(r.compose), {
            version: "3.9",
            services: {
                api: { image: digest, secrets: ["token"] },
                proxy: { image: "nginx:1.27-alpine", configs: [{ source: "conf", target: "/etc/nginx/conf.d/default.conf" }] },
            },
            secrets: { token: { name: tokenName, file: "./secrets/token" } },
            configs: { conf: { name: confName, file: "./configs/conf", labels: { a: "b" } }, shared: { external: true, name: "common_conf" } },
        });
        assert.deepStrictEqual(
            r.files.map((f) => [f.path, f.path === "compose.yaml" ? "(compose)" : f.content]),
            [
                ["compose.yaml", "(compose)"],
                ["configs/conf", "server {}\n"],
                ["secrets/token", "s3cret"],
            ],
        );
        assert.deepStrictEqual(r.secretNames, { token: tokenName });
        assert.deepStrictEqual(r.configNames, { conf: confName, shared: "common_conf" });
    });

    it("a changed secret or config changes its name and the hash; the same content, neither", () => {
        const a = render("one", "c");
        assert.strictEqual(render("one", "c").hash, a.hash);
        const b = render("two", "c");
        assert.notStrictEqual(b.hash, a.hash);
        // printf one | sha256sum, printf two | sha256sum, printf c | sha256sum
        assert.deepStrictEqual([a.secretNames.token, b.secretNames.token], ["web_token_7692c3ad3540", "web_token_3fc4ccfe7458"]);
        assert.deepStrictEqual([a.configNames.conf, b.configNames.conf], ["web_conf_2e7d2c03a950", "web_conf_2e7d2c03a950"]);
    });

    it("encodes the bundle as '<path> <base64>' lines", () => {
        assert.strictEqual(encodeBundle([{ path: "secrets/x", content: "a b\n" }]), "secrets/x YSBiCg==\n");
    });
});

describe("pure: ports to routes", () => {
    const text = (labels: string) =>
        `services:\n  web:\n    image: w:1\n    ports: ["8080:80"]\n    deploy:\n      labels:\n${labels}\n  api:\n    image: a:1\n    ports: ["9000:9000", "9001:9001"]\n    deploy:\n      labels:\n        pulumi-swarm.route.port: "9000"\n        pulumi-swarm.route.path: /api/*\n        pulumi-swarm.route.health-path: /healthz\n  db:\n    image: d:1\n    ports: ["5432:5432"]\n`;
    const model = parseCompose(text("        pulumi-swarm.route.host: app.example.com"), { file: F, hasRegistry: false });

    it("one route per labelled service, most specific first, none for unlabelled ports", () => {
        assert.deepStrictEqual(planRoutes(model, { priorityBase: 2000 }), [
            { key: "api-9000", service: "api", publishedPort: 9000, pathPattern: "/api/*", healthCheckPath: "/healthz", priority: 2000 },
            { key: "web-8080", service: "web", publishedPort: 8080, host: "app.example.com", healthCheckPath: "/", priority: 2001 },
        ]);
    });

    it("routes from the stack's args, with explicit priorities", () => {
        const plain = parseCompose(text('        x: "1"'), { file: F, hasRegistry: false });
        assert.deepStrictEqual(planRoutes(plain, { priorityBase: 100, routes: [{ service: "db", port: 5432, priority: 7 }] }), [
            { key: "api-9000", service: "api", publishedPort: 9000, pathPattern: "/api/*", healthCheckPath: "/healthz", priority: 100 },
            { key: "db-5432", service: "db", publishedPort: 5432, healthCheckPath: "/", priority: 7 },
        ]);
    });

    it("errors: a port the service does not publish, an ambiguous port, a bad host, a duplicate match", () => {
        assert.throws(() => planRoutes(model, { priorityBase: 1, routes: [{ service: "web", port: 81 }] }), {
            message: `${F}: routes[0]: routes port 81 of service web, which does not publish it over TCP (it publishes 8080); publish it or fix the port`,
        });
        assert.throws(() => planRoutes(model, { priorityBase: 1, routes: [{ service: "api", path: "/x" }] }), {
            message: `${F}: routes[0]: routes service api, which publishes 2 TCP ports (9000, 9001); say which with pulumi-swarm.route.port`,
        });
        assert.throws(() => planRoutes(model, { priorityBase: 1, routes: [{ service: "db", host: "bad host" }] }), {
            message: `${F}: routes[0]: host "bad host" is not a host name such as app.example.com or *.example.com`,
        });
        assert.throws(() => planRoutes(model, { priorityBase: 1, routes: [{ service: "db", host: "app.example.com" }] }), {
            message: `${F}: route web-8080: matches the same host and path as route db-5432; one of them would never be reached, so give them different hosts or paths`,
        });
    });

    it("default priority bases spread stacks and stay in range", () => {
        const bases = ["web", "api", "monitoring", "a", "b"].map(defaultPriorityBase);
        for (const b of bases) {
            assert.ok(b >= 1000 && b <= 40900 && b % 100 === 0, `base ${b}`);
        }
        assert.strictEqual(new Set(bases).size, bases.length);
    });
});

describe("pure: the stacks/ files", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("fs") as typeof import("fs");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { repoRoot } = require("../paths") as typeof import("../paths");
    const read = (f: string) => fs.readFileSync(`${repoRoot}/stacks/${f}`, "utf8");

    it("web: two services, the API built, the proxy routed on its one port, numbers cast after interpolation", () => {
        const m = parseCompose(read("web/compose.yaml"), { file: "stacks/web/compose.yaml", hasRegistry: true, variables: { PROXY_PORT: "9090" } });
        assert.deepStrictEqual(
            m.services.map((s) => [s.name, s.image, s.build?.context, s.ports]),
            [
                ["proxy", "nginx:1.27-alpine", undefined, [{ target: 80, published: 9090, protocol: "tcp", mode: "ingress" }]],
                ["api", undefined, "./api", []],
            ],
        );
        const proxy = (m.doc.services as Record<string, Record<string, unknown>>).proxy;
        assert.deepStrictEqual(proxy.ports, [{ target: 80, published: 9090, mode: "ingress" }]);
        assert.strictEqual((proxy.deploy as Record<string, unknown>).replicas, 2);
        assert.deepStrictEqual(planRoutes(m, { priorityBase: 3000 }), [
            { key: "proxy-9090", service: "proxy", publishedPort: 9090, healthCheckPath: "/healthz", priority: 3000 },
        ]);
        assert.deepStrictEqual(m.configs, { nginx_conf: { kind: "file", file: "./nginx.conf" } });
    });

    it("web: without a registry, the build is refused", () => {
        assert.throws(() => parseCompose(read("web/compose.yaml"), { file: "w", hasRegistry: false }), /services\.api\.build: needs a registry/);
    });

    it("visualizer: one service on managers, no route", () => {
        const m = parseCompose(read("visualizer/compose.yaml"), { file: "v", hasRegistry: false });
        assert.deepStrictEqual(m.services.map((s) => [s.name, s.image, s.ports]), [
            ["visualizer", "dockersamples/visualizer:latest", [{ target: 8080, published: 8081, protocol: "tcp", mode: "host" }]],
        ]);
        assert.deepStrictEqual(planRoutes(m, { priorityBase: 1 }), []);
    });
});
