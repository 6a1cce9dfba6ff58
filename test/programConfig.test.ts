// Pure layer: the repo's program's config (program/config.ts). Every key's parsing, every
// message exactly (the key as `pulumi-swarm:<key>`, the value, the fix, the stack file), and
// what the real Pulumi.dev.yaml and Pulumi.prod.yaml give the components.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { CLUSTER_DEFAULTS } from "../components/validation";
import { PROGRAM_CONFIG_KEYS, ProgramConfigError, readProgramConfig } from "../program/config";
import { repoRoot } from "./paths";
import { stackFileConfig } from "./stackFile";

const FOLDERS = ["visualizer", "web"];
const ADMIN = { "pulumi-swarm:adminCidrBlocks": '["203.0.113.0/24"]' };

/** The message readProgramConfig throws for the admin CIDR plus these keys (short keys get the namespace). */
function failure(config: Record<string, string>, stack = "dev"): string {
    const values = { ...ADMIN, ...Object.fromEntries(Object.entries(config).map(([k, v]) => [k.includes(":") ? k : `pulumi-swarm:${k}`, v])) };
    try {
        readProgramConfig(values, stack, FOLDERS);
    } catch (e) {
        assert.ok(e instanceof ProgramConfigError, String(e));
        return e.message;
    }
    throw new Error(`no error for ${JSON.stringify(config)}`);
}

const fix = (line: string, stack = "dev") => `${line}. Fix it in Pulumi.${stack}.yaml.`;

describe("pure: the program's config (program/config.ts)", () => {
    it("Pulumi.dev.yaml gives a small cluster: 1 manager, 2 workers, 2 zones, ECR keeping 5, stacks/web with its variables", () => {
        const c = readProgramConfig(stackFileConfig("dev"), "dev", FOLDERS);
        assert.strictEqual(c.region, "eu-west-1");
        assert.deepStrictEqual(c.stacks, [{ name: "web", variables: { API_REPLICAS: "2" } }]);
        assert.deepStrictEqual(c.cluster, {
            adminCidrBlocks: ["203.0.113.0/24"],
            allowSshFromAnywhere: undefined,
            managerCount: 1,
            workerCount: 2,
            maxUnavailableWorkers: undefined,
            allowSingleManagerReplacement: undefined,
            managerInstanceType: "t3.small",
            workerInstanceType: "t3.small",
            availabilityZoneCount: 2,
            vpcCidrBlock: undefined,
            vpcId: undefined,
            subnetIds: undefined,
            os: undefined,
            amiId: undefined,
            rootVolumeSizeGiB: undefined,
            dockerVersion: undefined,
            encryptedOverlay: undefined,
            loadBalancer: { certificateArn: undefined },
            registry: { kind: "ecr", keepImages: 5 },
            tags: { environment: "dev" },
        });
    });

    it("Pulumi.prod.yaml gives an HA cluster: 3 managers over 3 zones, larger nodes, web and visualizer, no certificate", () => {
        const c = readProgramConfig(stackFileConfig("prod"), "prod", FOLDERS);
        assert.strictEqual(c.region, "eu-west-1");
        assert.deepStrictEqual(c.stacks, [
            { name: "web", variables: { API_REPLICAS: "4", PROXY_REPLICAS: "3" } },
            { name: "visualizer", variables: {} },
        ]);
        const { managerCount, workerCount, availabilityZoneCount, managerInstanceType, workerInstanceType, rootVolumeSizeGiB, loadBalancer, registry, tags } = c.cluster;
        assert.deepStrictEqual(
            { managerCount, workerCount, availabilityZoneCount, managerInstanceType, workerInstanceType, rootVolumeSizeGiB, loadBalancer, registry, tags },
            {
                managerCount: 3,
                workerCount: 3,
                availabilityZoneCount: 3,
                managerInstanceType: "t3.medium",
                workerInstanceType: "t3.large",
                rootVolumeSizeGiB: 50,
                loadBalancer: { certificateArn: undefined },
                registry: { kind: "ecr", keepImages: 20 },
                tags: { environment: "prod" },
            },
        );
        // The certificate key is shown, commented, with a placeholder that no one can deploy by mistake.
        const text = fs.readFileSync(path.join(repoRoot, "Pulumi.prod.yaml"), "utf8");
        assert.match(text, /^ {2}# pulumi-swarm:certificateArn: arn:aws:acm:/m);
        assert.doesNotMatch(text, /^ {2}pulumi-swarm:certificateArn:/m);
    });

    it("both stack files set only keys the program knows, with admin CIDRs from a documentation range", () => {
        for (const stack of ["dev", "prod"]) {
            const keys = Object.keys(stackFileConfig(stack)).filter((k) => k.startsWith("pulumi-swarm:"));
            assert.deepStrictEqual(keys.filter((k) => !(k.slice("pulumi-swarm:".length) in PROGRAM_CONFIG_KEYS)), [], stack);
            assert.deepStrictEqual(JSON.parse(stackFileConfig(stack)["pulumi-swarm:adminCidrBlocks"]), ["203.0.113.0/24"], stack);
        }
    });

    it("with only the required key: the components' defaults, ECR, stacks/web", () => {
        const c = readProgramConfig(ADMIN, "dev", FOLDERS);
        assert.deepStrictEqual(c.stacks, [{ name: "web", variables: {} }]);
        assert.deepStrictEqual(c.cluster.registry, { kind: "ecr", keepImages: undefined });
        assert.strictEqual(c.cluster.managerCount, undefined);
        assert.strictEqual(c.region, undefined);
    });

    it("reads each kind: numbers, booleans, lists, objects; stack variables as text", () => {
        const c = readProgramConfig(
            {
                ...ADMIN,
                "pulumi-swarm:allowSshFromAnywhere": "false",
                "pulumi-swarm:encryptedOverlay": "true",
                "pulumi-swarm:workerCount": "0",
                "pulumi-swarm:vpcId": "vpc-0123456789abcdef0",
                "pulumi-swarm:subnetIds": '["subnet-0123456789abcdef0","subnet-1123456789abcdef0"]',
                "pulumi-swarm:stacks": '["visualizer","web"]',
                "pulumi-swarm:stackVariables": '{"web":{"API_REPLICAS":4,"DEBUG":true}}',
                "pulumi-swarm:certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c",
            },
            "dev",
            FOLDERS,
        );
        assert.strictEqual(c.cluster.allowSshFromAnywhere, false);
        assert.strictEqual(c.cluster.encryptedOverlay, true);
        assert.strictEqual(c.cluster.workerCount, 0);
        assert.deepStrictEqual(c.cluster.subnetIds, ["subnet-0123456789abcdef0", "subnet-1123456789abcdef0"]);
        assert.deepStrictEqual(c.stacks, [
            { name: "visualizer", variables: {} },
            { name: "web", variables: { API_REPLICAS: "4", DEBUG: "true" } },
        ]);
        assert.deepStrictEqual(c.cluster.loadBalancer, { certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c" });
    });

    it("an external registry by address and user, the password kept a Pulumi secret", async () => {
        const c = readProgramConfig(
            { ...ADMIN, "pulumi-swarm:registryAddress": "10.0.0.5:5000", "pulumi-swarm:registryUsername": "deploy", "pulumi-swarm:registryPassword": "hunter2" },
            "dev",
            FOLDERS,
        );
        const reg = c.cluster.registry;
        assert.ok(reg?.kind === "external");
        assert.strictEqual(reg.address, "10.0.0.5:5000");
        assert.strictEqual(reg.username, "deploy");
        const password = reg.password as pulumi.Output<string>;
        assert.strictEqual(await pulumi.isSecret(password), true);
    });

    describe("each missing or bad key, with its exact message", () => {
        const cases: [string, Record<string, string>, string][] = [
            ["adminCidrBlocks missing", { "pulumi-swarm:adminCidrBlocks": undefined as unknown as string },
                "pulumi-swarm:adminCidrBlocks is required; set it, e.g. pulumi config set --path 'adminCidrBlocks[0]' 203.0.113.7/32 --stack dev; got nothing (the key is not set)"],
            ["adminCidrBlocks not a list", { adminCidrBlocks: "203.0.113.7/32" },
                "pulumi-swarm:adminCidrBlocks must be a list of strings; set each item with --path, e.g. pulumi config set --path 'adminCidrBlocks[0]' 203.0.113.7/32; got \"203.0.113.7/32\""],
            ["adminCidrBlocks empty", { adminCidrBlocks: "[]" },
                'pulumi-swarm:adminCidrBlocks is required and must list the networks allowed to reach SSH (22/tcp) on the nodes, e.g. ["203.0.113.7/32"] for your own address; there is no open default; got []'],
            ["an address, not a block", { adminCidrBlocks: '["203.0.113.7"]' },
                'pulumi-swarm:adminCidrBlocks[0] must be a CIDR block such as "203.0.113.0/24" or "2001:db8::/32"; for that one address write "203.0.113.7/32"; got "203.0.113.7"'],
            ["host bits set", { adminCidrBlocks: '["203.0.113.7/24"]' },
                'pulumi-swarm:adminCidrBlocks[0] has host bits set; write the network, "203.0.113.0/24"; got "203.0.113.7/24"'],
            ["SSH from anywhere", { adminCidrBlocks: '["0.0.0.0/0"]' },
                'pulumi-swarm:adminCidrBlocks[0] would open SSH to the whole internet; list your own networks instead, or set pulumi-swarm:allowSshFromAnywhere to true if that is really meant; got "0.0.0.0/0"'],
            ["allowSshFromAnywhere", { allowSshFromAnywhere: "yes" }, 'pulumi-swarm:allowSshFromAnywhere must be true or false; got "yes"'],
            ["managerCount even", { managerCount: "4" },
                "pulumi-swarm:managerCount must be 1, 3, 5 or 7: Raft needs a majority of managers for any change, so an even count tolerates no more lost managers than one fewer (4 tolerates 1, like 3), and more than 7 slows every write. Use 3 (tolerates 1 lost manager) or 5 (tolerates 2); got 4"],
            ["managerCount not whole", { managerCount: "3.5" }, 'pulumi-swarm:managerCount must be a whole number, such as 5; got "3.5"'],
            ["workerCount negative", { workerCount: "-1" }, "pulumi-swarm:workerCount must be a whole number, 0 or more (with 0, services run on the managers); got -1"],
            ["managerInstanceType", { managerInstanceType: "large" }, 'pulumi-swarm:managerInstanceType must be an EC2 instance type such as "t3.medium"; got "large"'],
            ["workerInstanceType empty", { workerInstanceType: "" }, 'pulumi-swarm:workerInstanceType must not be empty; remove the key to get the default; got ""'],
            ["one zone", { availabilityZoneCount: "1" }, "pulumi-swarm:availabilityZoneCount must be at least 2: the load balancer needs subnets in two availability zones; got 1"],
            ["seven zones", { availabilityZoneCount: "7" },
                "pulumi-swarm:availabilityZoneCount must be a whole number from 1 to 6; 3 spreads managers so that one lost zone keeps quorum; got 7"],
            ["vpcCidrBlock", { vpcCidrBlock: "10.0.0.0/8" },
                'pulumi-swarm:vpcCidrBlock must be an IPv4 network from /16 to /24 written with its host bits clear, such as "10.0.0.0/16"; got "10.0.0.0/8"'],
            ["vpcId alone", { vpcId: "vpc-0123456789abcdef0" },
                "pulumi-swarm:subnetIds must be given with vpcId: list that VPC's subnets for the nodes, one per availability zone (or give neither, and a VPC is created); got nothing (the key is not set)"],
            ["subnetIds alone", { subnetIds: '["subnet-0123456789abcdef0","subnet-1123456789abcdef0"]' },
                "pulumi-swarm:vpcId must be given with subnetIds: the VPC those subnets belong to (or give neither, and a VPC is created); got nothing (the key is not set)"],
            ["one subnet", { vpcId: "vpc-0123456789abcdef0", subnetIds: '["subnet-0123456789abcdef0"]' },
                'pulumi-swarm:subnetIds must list subnets in at least 2 availability zones: the load balancer needs two; got ["subnet-0123456789abcdef0"]'],
            ["a bad subnet ID", { vpcId: "vpc-0123456789abcdef0", subnetIds: '["subnet-0123456789abcdef0","public-b"]' },
                'pulumi-swarm:subnetIds[1] must be a subnet ID such as "subnet-0123456789abcdef0"; got "public-b"'],
            ["os", { os: "debian-12" }, 'pulumi-swarm:os must be one of: "ubuntu-24.04"; got "debian-12"'],
            ["amiId", { amiId: "ubuntu" }, 'pulumi-swarm:amiId must be an AMI ID such as "ami-0123456789abcdef0"; got "ubuntu"'],
            ["rootVolumeSizeGiB", { rootVolumeSizeGiB: "4" },
                "pulumi-swarm:rootVolumeSizeGiB must be a whole number of GiB from 8 to 16384 (images and logs live there; 30 is the default); got 4"],
            ["dockerVersion", { dockerVersion: "latest" }, 'pulumi-swarm:dockerVersion must be a Docker Engine release such as "28.5.2"; got "latest"'],
            ["encryptedOverlay", { encryptedOverlay: "1" }, 'pulumi-swarm:encryptedOverlay must be true or false; got "1"'],
            ["certificateArn", { certificateArn: "my-cert" },
                "pulumi-swarm:certificateArn must be the ARN of an ACM certificate in the load balancer's region, such as \"arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-...\"; got \"my-cert\""],
            ["stacks not a list", { stacks: "web" },
                "pulumi-swarm:stacks must be a list of strings; set each item with --path, e.g. pulumi config set --path 'stacks[1]' visualizer; got \"web\""],
            ["stacks: no such folder", { stacks: '["web","wbe"]' },
                'pulumi-swarm:stacks[1] must name a folder of stacks/ that holds a compose.yaml: one of "visualizer", "web"; got "wbe"'],
            ["stacks twice", { stacks: '["web","web"]' }, 'pulumi-swarm:stacks[1] is listed twice; list each stack once; got "web"'],
            ["stackVariables not per stack", { stackVariables: '{"web":"API_REPLICAS=4"}' },
                'pulumi-swarm:stackVariables must map each stack to its variables, e.g. {"web": {"API_REPLICAS": "4"}}: pulumi config set --path \'stackVariables.web.API_REPLICAS\' 4; got "{\\"web\\":\\"API_REPLICAS=4\\"}"'],
            ["stackVariables of a stack not deployed", { stackVariables: '{"visualizer":{"VISUALIZER_PORT":"9000"}}' },
                'pulumi-swarm:stackVariables.visualizer is for a stack that is not deployed; add "visualizer" to pulumi-swarm:stacks, or remove it; got {"VISUALIZER_PORT":"9000"}'],
            ["registryAddress", { registryAddress: "https://registry.example.com" },
                "pulumi-swarm:registryAddress must be the registry's host[:port], such as \"registry.example.com\" or \"10.0.0.5:5000\"; got \"https://registry.example.com\""],
            ["registryUsername without an address", { registryUsername: "deploy" },
                'pulumi-swarm:registryUsername applies only to an external registry; set pulumi-swarm:registryAddress too, or remove it (images then go to Amazon ECR); got "deploy"'],
            ["registryPassword without an address (its value not shown)", { registryPassword: "hunter2" },
                "pulumi-swarm:registryPassword applies only to an external registry; set pulumi-swarm:registryAddress too, or remove it (images then go to Amazon ECR); got a value (not shown)"],
            ["registryPassword without a user", { registryAddress: "registry.example.com", registryPassword: "hunter2" },
                "pulumi-swarm:registryUsername must be given with pulumi-swarm:registryPassword (or give neither, to pull anonymously); got nothing (the key is not set)"],
            ["ecrKeepImages out of range", { ecrKeepImages: "0" },
                "pulumi-swarm:ecrKeepImages must be a whole number from 1 to 1000 (how many images each repository keeps; older ones expire); got 0"],
            ["ecrKeepImages with an external registry", { registryAddress: "registry.example.com", ecrKeepImages: "3" },
                "pulumi-swarm:ecrKeepImages applies only to Amazon ECR; remove it, or remove pulumi-swarm:registryAddress; got 3"],
            ["tags", { tags: '{"team":1}' },
                "pulumi-swarm:tags must be an object of strings; set each entry with --path, e.g. pulumi config set --path 'tags.team' platform; got \"{\\\"team\\\":1}\""],
            ["aws:region", { "aws:region": "Ireland" }, 'aws:region must be an AWS region such as "eu-west-1" (pulumi config set aws:region eu-west-1); got "Ireland"'],
            ["a typo of a key (its value not shown)", { managerCont: "3" },
                "pulumi-swarm:managerCont is not a key of this program (README.md lists every key): rename it to pulumi-swarm:managerCount, or remove it; got a value (not shown)"],
            ["an unknown key", { foo: "bar" }, "pulumi-swarm:foo is not a key of this program (README.md lists every key): remove it; got a value (not shown)"],
        ];
        for (const [title, config, line] of cases) {
            it(title, () => {
                const values = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
                const removed = Object.keys(config).filter((k) => config[k] === undefined);
                const base = Object.fromEntries(Object.entries(ADMIN).filter(([k]) => !removed.includes(k)));
                let message = "";
                try {
                    readProgramConfig(
                        { ...base, ...Object.fromEntries(Object.entries(values).map(([k, v]) => [k.includes(":") ? k : `pulumi-swarm:${k}`, v])) },
                        "dev",
                        FOLDERS,
                    );
                } catch (e) {
                    assert.ok(e instanceof ProgramConfigError, String(e));
                    assert.strictEqual(e.problems.length, 1, e.message);
                    message = e.message;
                }
                assert.strictEqual(message, fix(line));
            });
        }
    });

    it("every key with a bad value is listed at once, with the stack file to fix", () => {
        assert.strictEqual(
            failure({ managerCount: "2", workerCount: "many", "aws:region": "mars" }, "prod"),
            'The config of stack "prod" has 3 problems; fix them in Pulumi.prod.yaml:\n' +
                '- aws:region must be an AWS region such as "eu-west-1" (pulumi config set aws:region eu-west-1); got "mars"\n' +
                '- pulumi-swarm:workerCount must be a whole number, such as 0; got "many"\n' +
                "- pulumi-swarm:managerCount must be 1, 3, 5 or 7: Raft needs a majority of managers for any change, so an even count tolerates no more lost managers than one fewer (4 tolerates 1, like 3), and more than 7 slows every write. Use 3 (tolerates 1 lost manager) or 5 (tolerates 2); got 2",
        );
    });

    it("a missing required key and a component's problem are both reported (the key once)", () => {
        let problems: readonly { key: string }[] = [];
        try {
            readProgramConfig({ "pulumi-swarm:managerCount": "4" }, "dev", FOLDERS);
        } catch (e) {
            problems = (e as ProgramConfigError).problems;
        }
        assert.deepStrictEqual(problems.map((p) => p.key), ["pulumi-swarm:adminCidrBlocks", "pulumi-swarm:managerCount"]);
    });
});

describe("pure: README documents every key of the program", () => {
    const section = () => {
        const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
        const start = readme.indexOf("## The repo's program (`index.ts`) and its config keys");
        assert.ok(start >= 0, "no section on the program's config keys");
        return readme.slice(start, readme.indexOf("\n## ", start + 1));
    };
    /** The table's rows: key -> [type, default, example]. */
    const rows = () => {
        const lines = section().split("\n");
        const first = lines.findIndex((l) => l.startsWith("| key | type | default | example |"));
        assert.ok(first >= 0, "no key table");
        const table: string[] = [];
        for (const l of lines.slice(first + 2)) {
            if (!l.startsWith("|")) {
                break; // the table ends at its first non-row line (a blank line split it once)
            }
            table.push(l);
        }
        return new Map(table.map((l) => {
            const cells = l.split(" | ").map((c) => c.replace(/^\| /, "").replace(/ \|$/, ""));
            return [cells[0].replace(/`/g, ""), cells.slice(1)];
        }));
    };

    it("one unbroken table with exactly the program's keys and aws:region, each with a type, its default and an example", () => {
        const table = rows();
        assert.deepStrictEqual([...table.keys()].sort(), ["aws:region", ...Object.keys(PROGRAM_CONFIG_KEYS)].sort());
        for (const [k, spec] of Object.entries(PROGRAM_CONFIG_KEYS)) {
            const [type, def, example] = table.get(k)!;
            assert.strictEqual(def, spec.default, k);
            assert.ok(type.length > 0 && example.length > 0, k);
            assert.ok(example.includes(spec.example), `${k}: the example should show ${spec.example}`);
            if (spec.secret) {
                assert.match(type, /secret/, k);
            }
        }
    });

    it("the defaults it states are the components' own", () => {
        for (const k of ["managerCount", "workerCount", "managerInstanceType", "workerInstanceType", "vpcCidrBlock", "os", "rootVolumeSizeGiB", "dockerVersion", "keepImages"] as const) {
            const docKey = k === "keepImages" ? "ecrKeepImages" : k;
            assert.strictEqual(PROGRAM_CONFIG_KEYS[docKey].default, String(CLUSTER_DEFAULTS[k]), k);
        }
        assert.ok(PROGRAM_CONFIG_KEYS.availabilityZoneCount.default.startsWith(String(CLUSTER_DEFAULTS.availabilityZoneCount)));
    });
});
