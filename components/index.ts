// What `import { ... } from "pulumi-swarm"` gets.
export {
    SwarmCluster,
    SwarmClusterArgs,
    SwarmClusterLoadBalancerArgs,
    SwarmClusterRegistryArgs,
    SwarmClusterEcrRegistryArgs,
    SwarmClusterExternalRegistryArgs,
    architectureOf,
    nodePlatform,
    amiNameFilter,
    CANONICAL_OWNER_ID,
} from "./swarmCluster";
export { SwarmLoadBalancer, SwarmLoadBalancerArgs, declareRoutes } from "./loadBalancer";
export {
    planRouteResources,
    planLoadBalancerSecurityRules,
    routeConditions,
    routeUrl,
    shortAwsName,
    ROUTE_TARGET_GROUP,
    RouteTargetSpec,
    RoutePortRule,
    RouteResourcePlan,
    RouteCondition,
} from "./routePlanning";
export {
    StackTarget,
    ManagerConnection,
    RegistryTarget,
    EcrRegistryTarget,
    ExternalRegistryTarget,
    LoadBalancerTarget,
    RoutePlan,
} from "./target";
export { SwarmBootstrap, SwarmBootstrapArgs, SwarmHost, BOOTSTRAP_DEFAULTS, validateSwarmHosts } from "./swarmBootstrap";
export { CLUSTER_DEFAULTS, LOAD_BALANCER_DEFAULTS, VALID_MANAGER_COUNTS, validateClusterArgs, validateLoadBalancerArgs } from "./validation";
export { SwarmArgumentError } from "./errors";
export { planNodeSecurityRules, planPlacement, SWARM_PORTS, SecurityRule, NodePlacement } from "./planning";
export { shellQuote } from "./shell";
export { SwarmStack, SwarmStackArgs, STACK_DEFAULTS, planStack } from "./swarmStack";
export { parseCompose, checkCompose, ComposeModel, ServiceModel, PortSpec } from "./compose/parse";
export { renderStack, RenderedStack } from "./compose/render";
export { planRoutes, RouteArgs, ROUTE_LABEL_PREFIX } from "./compose/routes";
export { ComposeError } from "./compose/errors";
export { HostSwarm, HostSwarmArgs, HOST_SWARM_DEFAULTS } from "./hostSwarm";
export { validateHostSwarmArgs, HostSwarmValidationInput } from "./hostSwarmValidation";
export { LocalSwarm, LocalSwarmArgs, LocalSwarmPlan, LocalNodePlan, LOCAL_SWARM_DEFAULTS, planLocalSwarm } from "./localSwarm";
