import * as pulumi from "@pulumi/pulumi";

/**
 * What a stack needs to know about the swarm it deploys to. `SwarmCluster.stackTarget` gives
 * one for an AWS cluster; a `SwarmBootstrap` over hosts you already have gives one too, and
 * tests build them by hand.
 */
export interface StackTarget {
    /** The swarm's name (used in the names of what stacks create on AWS, such as ECR repositories). */
    readonly clusterName: string;
    /** An SSH connection to a manager: `docker stack deploy` runs there (stacks are client-side). */
    readonly manager: pulumi.Input<ManagerConnection>;
    /** What the deploy waits for before it connects: the swarm's bootstrap. */
    readonly ready: pulumi.Resource[];
    /** Where built images are pushed and what the nodes pull from. Without it, a `build:` is an error. */
    readonly registry?: RegistryTarget;
    /**
     * What image builds wait for before they push: a registry that the same program creates
     * (the local environment's registry container). @default []
     */
    readonly registryReady?: pulumi.Resource[];
    /** The load balancer that routes declared in compose files attach to. Without it, a route is an error (unless `ignoreRoutes`). */
    readonly loadBalancer?: LoadBalancerTarget;
    /**
     * For a target with no load balancer whose published ports are reached directly (hosts you
     * already have, the local environment): routes that compose files declare are left unused
     * instead of refused. Has no effect when `loadBalancer` is set. @default false
     */
    readonly ignoreRoutes?: boolean;
    /**
     * The nodes' platform, e.g. "linux/amd64": stacks build their images for it unless their
     * `buildPlatform` says otherwise, so a build on an arm64 laptop still runs on amd64 nodes.
     * @default none: the building engine's own platform
     */
    readonly platform?: string;
}

/** The shape of @pulumi/command's `remote.ConnectionArgs`, as far as stacks use it. */
export interface ManagerConnection {
    readonly host: string;
    /** @default 22 */
    readonly port?: number;
    readonly user: string;
    /** Always handled as a secret. */
    readonly privateKey: string;
}

/**
 * A registry stacks push built images to.
 * - `ecr`: a repository per built image is created in this account and region; pushes log in
 *   with a short-lived ECR token (a secret), and nodes pull with their instance role through the
 *   ECR credential helper that cloud-init installs.
 * - `external`: an existing registry, by address and optional credentials (secrets); the deploy
 *   logs in on the manager and passes the credentials to the nodes with `--with-registry-auth`.
 */
export type RegistryTarget = EcrRegistryTarget | ExternalRegistryTarget;

export interface EcrRegistryTarget {
    readonly kind: "ecr";
    /** How many images each repository keeps (older ones expire by lifecycle policy). @default 10 */
    readonly keepImages?: number;
    /** Tags for the repositories. */
    readonly tags?: Record<string, string>;
    /**
     * The start of each repository's name, `<prefix>/<stack>/<service>`: unique in the account
     * and region for this swarm. `SwarmCluster` gives its identity, `<project>/<stack>/<name>`.
     * @default the target's `clusterName`
     */
    readonly repositoryPrefix?: string;
}

export interface ExternalRegistryTarget {
    readonly kind: "external";
    /** host[:port], e.g. "registry.example.com" or "10.0.0.5:5000"; images are pushed as `<address>/<stack>/<service>`. */
    readonly address: string;
    readonly username?: pulumi.Input<string>;
    /** Always handled as a secret. */
    readonly password?: pulumi.Input<string>;
}

/** The ALB side of routes: what `declareRoutes` needs to attach target groups and rules. */
export interface LoadBalancerTarget {
    readonly vpcId: pulumi.Input<string>;
    /** The listener that route rules are added to (HTTPS when a certificate is set, else HTTP). */
    readonly listenerArn: pulumi.Input<string>;
    /** "https" or "http": the scheme of route URLs. */
    readonly scheme: "http" | "https";
    /** The ALB's DNS name (route URLs use it when a route has no host). */
    readonly dnsName: pulumi.Input<string>;
    /** The ALB's security group: the node group admits it on each routed port. */
    readonly securityGroupId: pulumi.Input<string>;
    /** The nodes' security group. */
    readonly nodeSecurityGroupId: pulumi.Input<string>;
    /**
     * Every node's instance ID, by a key that stays with its node (the cluster's node keys, such
     * as "worker-0"): each route's target group registers them all (the routing mesh answers on
     * every node), one attachment per key, so adding or removing a node touches only its own.
     */
    readonly instanceIds: Readonly<Record<string, pulumi.Input<string>>>;
    /** Tags for the route resources (each also gets `Name`: its resource name). @default {} */
    readonly tags?: Record<string, string>;
}

/** One ALB route, planned from a compose file (see compose/routes.ts). */
export interface RoutePlan {
    /** Stable and unique within a stack: `<service>-<publishedPort>[-<n>]`; part of child resource names. */
    readonly key: string;
    /** The compose service (without the stack prefix). */
    readonly service: string;
    /** The swarm-published port the ALB sends traffic to on every node. */
    readonly publishedPort: number;
    /** Host header condition, e.g. "app.example.com"; none means any host. */
    readonly host?: string;
    /** Path pattern condition, e.g. "/api/*"; none means any path. */
    readonly pathPattern?: string;
    /** The target group's health-check path. */
    readonly healthCheckPath: string;
    /** The listener rule's priority (1-50000, unique on the listener). */
    readonly priority: number;
}
