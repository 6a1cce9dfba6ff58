// What `import { ... } from "pulumi-swarm"` gets.
export { SwarmCluster, SwarmClusterArgs, architectureOf, amiNameFilter, CANONICAL_OWNER_ID } from "./swarmCluster";
export { SwarmBootstrap, SwarmBootstrapArgs, SwarmHost, BOOTSTRAP_DEFAULTS, validateSwarmHosts } from "./swarmBootstrap";
export { CLUSTER_DEFAULTS, VALID_MANAGER_COUNTS, validateClusterArgs } from "./validation";
export { SwarmArgumentError } from "./errors";
export { planNodeSecurityRules, planPlacement, SWARM_PORTS, SecurityRule, NodePlacement } from "./planning";
export { shellQuote } from "./shell";
