import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { buildHash } from "./compose/context";
import { ComposeModel, parseCompose } from "./compose/parse";
import { RenderedStack, encodeBundle, renderStack } from "./compose/render";
import { RouteArgs, defaultPriorityBase, planRoutes } from "./compose/routes";
import { SwarmArgumentError, throwIfAny } from "./errors";
import { declareRoutes } from "./loadBalancer";
import { ecrRepositoryName } from "./planning";
import { parseImageBuildOutput, renderImageBuild } from "./scripts/imageBuild";
import {
    DeployedService,
    REGISTRY_PASSWORD_FILE,
    ResolveImage,
    parseStackDeployOutput,
    renderStackDeploy,
    renderStackRemove,
} from "./scripts/stack";
import { LoadBalancerTarget, ManagerConnection, RoutePlan, StackTarget } from "./target";

export interface SwarmStackArgs {
    /** The swarm to deploy to: `cluster.stackTarget` (or a hand-made target). */
    readonly target: StackTarget;
    /** The Docker stack's name. @default the component's name */
    readonly stackName?: string;
    /** Path of the compose file. Give this or `composeContent`. */
    readonly composeFile?: string;
    /** The compose file's content, instead of a path. */
    readonly composeContent?: string;
    /**
     * The folder that relative paths in the file (build contexts, secret and config files)
     * start from. @default the compose file's folder, or the working directory for content
     */
    readonly workingDir?: string;
    /** Values for `${VAR}` in the file. Secret values keep the rendered file secret. @default {} */
    readonly variables?: Record<string, pulumi.Input<string>>;
    /** Content of the file's secrets (by key), from Pulumi values: always secret. @default {} */
    readonly secrets?: Record<string, pulumi.Input<string>>;
    /** Content of the file's configs (by key), from Pulumi values. @default {} */
    readonly configs?: Record<string, pulumi.Input<string>>;
    /** ALB routes declared here instead of with `pulumi-swarm.route.*` labels. @default [] */
    readonly routes?: RouteArgs[];
    /** The first listener rule priority of this stack's routes. @default 1000-40900, by a hash of the stack name */
    readonly routePriorityBase?: number;
    /** How long the services get to converge before the deploy fails. @default 300 */
    readonly convergeTimeoutSeconds?: number;
    /** How long `docker stack rm` gets to remove everything on delete. @default 180 */
    readonly removeTimeoutSeconds?: number;
    /** `docker stack deploy --resolve-image`. @default "always" */
    readonly resolveImage?: ResolveImage;
    /** The platform images are built for (the nodes' architecture). @default the target's `platform`, else the building engine's own */
    readonly buildPlatform?: string;
}

export const STACK_DEFAULTS = {
    convergeTimeoutSeconds: 300,
    removeTimeoutSeconds: 180,
    resolveImage: "always" as ResolveImage,
    keepImages: 10,
} as const;

/** What the constructor plans before any resource exists. */
interface Plan {
    stackName: string;
    file: string;
    text: string;
    baseDir: string;
    model: ComposeModel;
    routes: RoutePlan[];
}

function plainVariables(vars: Record<string, pulumi.Input<string>> | undefined): { plain: Record<string, string>; outputs: string[] } {
    const plain: Record<string, string> = {};
    const outputs: string[] = [];
    for (const [k, v] of Object.entries(vars ?? {})) {
        if (typeof v === "string") {
            plain[k] = v;
        } else {
            outputs.push(k);
            plain[k] = "1";
        }
    }
    return { plain, outputs };
}

/** Checks the args and the compose file; throws before anything is created. */
export function planStack(name: string, args: SwarmStackArgs): Plan {
    const problems: SwarmArgumentError[] = [];
    const stackName = args.stackName ?? name;
    if (!/^[a-z0-9][a-z0-9_-]{0,39}$/.test(stackName)) {
        problems.push(
            new SwarmArgumentError(
                args.stackName === undefined ? "stackName (the component's name)" : "stackName",
                stackName,
                "must be 1-40 lower-case letters, digits, '_' or '-', starting with a letter or digit (swarm prefixes every service with it)",
            ),
        );
    }
    if ((args.composeFile === undefined) === (args.composeContent === undefined)) {
        problems.push(new SwarmArgumentError("composeFile", args.composeFile, "or composeContent must be given, and not both"));
    }
    for (const [field, value] of [
        ["convergeTimeoutSeconds", args.convergeTimeoutSeconds],
        ["removeTimeoutSeconds", args.removeTimeoutSeconds],
    ] as const) {
        if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
            problems.push(new SwarmArgumentError(field, value, "must be a positive whole number of seconds"));
        }
    }
    if (args.resolveImage !== undefined && !["always", "changed", "never"].includes(args.resolveImage)) {
        problems.push(new SwarmArgumentError("resolveImage", args.resolveImage, 'must be "always", "changed" or "never"'));
    }
    if (args.routePriorityBase !== undefined && !(Number.isInteger(args.routePriorityBase) && args.routePriorityBase >= 1 && args.routePriorityBase <= 49900)) {
        problems.push(new SwarmArgumentError("routePriorityBase", args.routePriorityBase, "must be a whole number within 1-49900"));
    }
    let text = args.composeContent ?? "";
    if (args.composeFile !== undefined) {
        try {
            text = fs.readFileSync(args.composeFile, "utf8");
        } catch (e) {
            problems.push(new SwarmArgumentError("composeFile", args.composeFile, `must be a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`));
        }
    }
    const reg = args.target.registry;
    if (reg?.kind === "external" && reg.username !== undefined && typeof reg.username !== "string") {
        problems.push(new SwarmArgumentError("target.registry.username", "(an Output)", "must be a plain string (the deploy script names the user; the password may be secret)"));
    }
    throwIfAny(problems);
    const file = args.composeFile ?? `${stackName} (composeContent)`;
    const baseDir = path.resolve(args.workingDir ?? (args.composeFile !== undefined ? path.dirname(args.composeFile) : "."));
    const model = parseCompose(text, {
        file,
        variables: plainVariables(args.variables).plain,
        hasRegistry: args.target.registry !== undefined,
        secretValues: Object.keys(args.secrets ?? {}),
        configValues: Object.keys(args.configs ?? {}),
    });
    let routes = planRoutes(model, { routes: args.routes, priorityBase: args.routePriorityBase ?? defaultPriorityBase(stackName) });
    if (routes.length > 0 && args.target.loadBalancer === undefined) {
        if (!args.target.ignoreRoutes) {
            throw new SwarmArgumentError(
                "routes",
                routes.map((r) => r.key),
                "need a load balancer, and this stack's target has none; enable the cluster's load balancer, remove the pulumi-swarm.route.* labels, or set the target's ignoreRoutes",
            );
        }
        routes = [];
    }
    // Files the deploy ships must exist now, not at deploy time.
    for (const kind of ["secrets", "configs"] as const) {
        for (const [key, source] of Object.entries(model[kind])) {
            if (source.kind === "file" && !fs.existsSync(path.resolve(baseDir, source.file))) {
                throw new SwarmArgumentError(`${file}: ${kind}.${key}.file`, source.file, `must be a file relative to ${baseDir}; it does not exist`);
            }
        }
    }
    for (const s of model.services) {
        if (s.build) {
            const context = path.resolve(baseDir, s.build.context);
            if (!fs.existsSync(path.resolve(context, s.build.dockerfile))) {
                throw new SwarmArgumentError(
                    `${file}: services.${s.name}.build`,
                    s.build.context,
                    `must name a folder holding ${s.build.dockerfile}; ${path.resolve(context, s.build.dockerfile)} does not exist`,
                );
            }
        }
    }
    return { stackName, file, text, baseDir, model, routes };
}

/** Which stack holds each listener rule priority, per load balancer, in this program. */
const claimedPriorities = new WeakMap<LoadBalancerTarget, Map<number, string>>();

/**
 * Refuses, before anything is created, a route whose priority another stack of this program
 * already uses on the same load balancer (AWS would refuse the second listener rule midway
 * through the update). A stack planned again under its own name claims its own priorities.
 */
export function claimRoutePriorities(lb: LoadBalancerTarget, stackName: string, routes: readonly RoutePlan[]): void {
    const claimed = claimedPriorities.get(lb) ?? new Map<number, string>();
    for (const r of routes) {
        const holder = claimed.get(r.priority);
        if (holder !== undefined && holder !== stackName) {
            throw new SwarmArgumentError(
                `routes.${r.key}.priority`,
                r.priority,
                `is already used by stack ${holder} on this load balancer; give one of the stacks another routePriorityBase (1-49900) or a pulumi-swarm.route.priority label`,
            );
        }
    }
    for (const r of routes) claimed.set(r.priority, stackName);
    claimedPriorities.set(lb, claimed);
}

/**
 * A compose file deployed as a Docker stack, as one Pulumi resource:
 *
 * - `<name>-repo-<service>` (ECR) and `<name>-build-<service>`: each service with `build:` is
 *   built where Pulumi runs, pushed, and run by digest;
 * - `<name>-deploy`: on a manager over SSH, `docker stack deploy --with-registry-auth --prune`
 *   with the rendered file (secrets and configs content-named), then a wait for convergence
 *   that fails with the failing services' task errors; re-run only when what is deployed
 *   changes; on delete, `docker stack rm` and a wait until all of it is gone;
 * - `<name>-route-<key>` and `<name>-alb-<port>`: the ALB routes the file declares.
 */
export class SwarmStack extends pulumi.ComponentResource {
    /** The Docker stack's name. */
    public readonly stackName: pulumi.Output<string>;
    /** The deployed services: name, image (by digest when resolved), published ports. */
    public readonly services: pulumi.Output<DeployedService[]>;
    /** Built services' images by digest. */
    public readonly images: pulumi.Output<Record<string, string>>;
    /** The compose file as deployed (secret when any of its inputs is). */
    public readonly renderedCompose: pulumi.Output<string>;
    /** sha256 of everything deployed: the deploy re-runs exactly when it changes. */
    public readonly contentHash: pulumi.Output<string>;
    /** Route key -> URL through the load balancer. */
    public readonly routeUrls: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: SwarmStackArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate first: a bad file registers nothing, not even this component.
        const plan = planStack(name, args);
        if (args.target.loadBalancer) claimRoutePriorities(args.target.loadBalancer, plan.stackName, plan.routes);
        super("swarm:index:SwarmStack", name, {}, opts);
        const { stackName, model, baseDir } = plan;
        const target = args.target;

        // Images: one repository and one build per service with build:.
        const builtImages: Record<string, pulumi.Output<string>> = {};
        const builds: pulumi.Resource[] = [];
        let registryPassword: pulumi.Output<string> | undefined;
        let registryUser: string | undefined;
        let registryAddress: string | undefined;
        const platform = args.buildPlatform ?? target.platform;
        for (const s of model.services) {
            if (!s.build || !target.registry) {
                continue;
            }
            const context = path.resolve(baseDir, s.build.context);
            const hash = buildHash({ context, dockerfile: s.build.dockerfile, args: s.build.args, target: s.build.target, platform });
            let repository: pulumi.Output<string>;
            let login: { username: pulumi.Output<string>; password: pulumi.Output<string> } | undefined;
            if (target.registry.kind === "ecr") {
                const repo = new aws.ecr.Repository(
                    `${name}-repo-${s.name}`,
                    {
                        name: ecrRepositoryName(target.registry.repositoryPrefix ?? target.clusterName, stackName, s.name),
                        imageTagMutability: "MUTABLE",
                        imageScanningConfiguration: { scanOnPush: true },
                        forceDelete: true,
                        tags: { ...(target.registry.tags ?? {}), "pulumi-swarm:stack": stackName },
                    },
                    { parent: this },
                );
                new aws.ecr.LifecyclePolicy(
                    `${name}-repo-${s.name}`,
                    { repository: repo.name, policy: JSON.stringify(lifecyclePolicy(target.registry.keepImages ?? STACK_DEFAULTS.keepImages)) },
                    { parent: this },
                );
                const token = aws.ecr.getAuthorizationTokenOutput({ registryId: repo.registryId }, { parent: this });
                repository = repo.repositoryUrl;
                login = { username: token.userName, password: pulumi.secret(token.password) };
            } else {
                const address = target.registry.address;
                repository = pulumi.output(`${address}/${stackName}/${s.name}`.toLowerCase());
                if (target.registry.username !== undefined) {
                    login = { username: pulumi.output(target.registry.username), password: pulumi.secret(pulumi.output(target.registry.password ?? "")) };
                    registryUser = typeof target.registry.username === "string" ? target.registry.username : undefined;
                    registryPassword = login.password;
                    registryAddress = address;
                }
            }
            const build = new command.local.Command(
                `${name}-build-${s.name}`,
                {
                    create: pulumi.all([repository, login?.username]).apply(([repo, user]) =>
                        renderImageBuild({
                            context,
                            dockerfile: path.resolve(context, s.build!.dockerfile),
                            buildArgs: s.build!.args,
                            target: s.build!.target,
                            repository: repo,
                            tag: hash.slice(0, 32),
                            loginUsername: user,
                            platform,
                        }),
                    ),
                    stdin: login?.password,
                    logging: "stderr",
                },
                { parent: this, dependsOn: target.registryReady ?? [] },
            );
            builds.push(build);
            builtImages[s.name] = pulumi.all([build.stdout, repository]).apply(([out, repo]) => parseImageBuildOutput(out, repo));
        }

        // Content of secrets and configs: files beside the compose file, or the args' values.
        const contents = (kind: "secrets" | "configs", values: Record<string, pulumi.Input<string>> | undefined) => {
            const out: Record<string, pulumi.Input<string>> = {};
            for (const [key, source] of Object.entries(model[kind])) {
                if (source.kind === "file") {
                    out[key] = fs.readFileSync(path.resolve(baseDir, source.file), "utf8");
                } else if (source.kind === "value") {
                    out[key] = kind === "secrets" ? pulumi.secret(values![key]) : values![key];
                }
            }
            return out;
        };
        const secretContents = contents("secrets", args.secrets);
        const configContents = contents("configs", args.configs);

        const rendered: pulumi.Output<RenderedStack> = pulumi
            .all([pulumi.all(args.variables ?? {}), pulumi.all(builtImages), pulumi.all(secretContents), pulumi.all(configContents)])
            .apply(([variables, images, secrets, configs]) => {
                // Re-parse with the real values (Output variables had placeholders).
                const real = parseCompose(plan.text, {
                    file: plan.file,
                    variables,
                    hasRegistry: target.registry !== undefined,
                    secretValues: Object.keys(args.secrets ?? {}),
                    configValues: Object.keys(args.configs ?? {}),
                });
                return renderStack({ model: real, stackName, builtImages: images, secretContents: secrets, configContents: configs });
            });
        const bundle = pulumi
            .all([rendered, registryPassword ?? ""])
            .apply(([r, password]) =>
                encodeBundle(registryPassword ? [...r.files, { path: REGISTRY_PASSWORD_FILE, content: password }] : r.files),
            );
        const convergeTimeout = args.convergeTimeoutSeconds ?? STACK_DEFAULTS.convergeTimeoutSeconds;
        const removeTimeout = args.removeTimeoutSeconds ?? STACK_DEFAULTS.removeTimeoutSeconds;
        const contentHash = rendered.apply((r) => r.hash);
        // The content hash is part of the script: a change shows in previews and runs the
        // deploy again as an update (never a replacement, which would remove the stack first).
        const deployScript = contentHash.apply((hash) =>
            renderStackDeploy({
                stackName,
                contentHash: hash,
                resolveImage: args.resolveImage ?? STACK_DEFAULTS.resolveImage,
                convergeTimeoutSeconds: convergeTimeout,
                removeTimeoutSeconds: removeTimeout,
                registryLogin: registryAddress !== undefined && registryUser !== undefined ? { address: registryAddress, username: registryUser } : undefined,
            }),
        );
        const connection = pulumi.output(target.manager).apply((c: ManagerConnection) => ({
            host: c.host,
            port: c.port ?? 22,
            user: c.user,
            privateKey: c.privateKey,
        }));
        const deploy = new command.remote.Command(
            `${name}-deploy`,
            {
                connection: pulumi.secret(connection),
                create: deployScript,
                update: deployScript,
                delete: renderStackRemove({ stackName, removeTimeoutSeconds: removeTimeout }),
                // The files travel on stdin, secret: they may hold secrets.
                stdin: pulumi.secret(bundle),
                logging: "stderr",
            },
            {
                parent: this,
                dependsOn: [...target.ready, ...builds],
                customTimeouts: { create: `${convergeTimeout + 300}s`, update: `${convergeTimeout + 300}s`, delete: "10m" },
            },
        );

        let routeUrls: pulumi.Output<Record<string, string>> = pulumi.output({} as Record<string, string>);
        if (plan.routes.length > 0 && target.loadBalancer) {
            routeUrls = declareRoutes(this, name, plan.routes, target.loadBalancer).urls;
        }

        this.stackName = pulumi.output(stackName);
        this.services = deploy.stdout.apply((out) => parseStackDeployOutput(out));
        this.images = pulumi.all(builtImages);
        this.renderedCompose = rendered.apply((r) => r.compose);
        this.contentHash = contentHash;
        this.routeUrls = routeUrls;
        this.registerOutputs({
            stackName: this.stackName,
            services: this.services,
            images: this.images,
            renderedCompose: this.renderedCompose,
            contentHash: this.contentHash,
            routeUrls: this.routeUrls,
        });
    }
}

/** Keeps the newest `keep` images of a repository; older ones expire. */
export function lifecyclePolicy(keep: number): object {
    return {
        rules: [
            {
                rulePriority: 1,
                description: `keep the newest ${keep} images`,
                selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keep },
                action: { type: "expire" },
            },
        ],
    };
}
