// The repo's Pulumi program: one Pulumi stack per environment (`pulumi up -s dev`).
// Only this file reads configuration (program/config.ts checks it, as a pure function); the
// components take everything as arguments.
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import * as aws from "@pulumi/aws";
import { SwarmCluster, SwarmStack } from "./components";
import { readProgramConfig } from "./program/config";

// stacks/ sits beside this file (pulumi up runs index.ts) or one folder up (compiled, in bin/).
const stacksDir = [__dirname, path.join(__dirname, "..")].map((d) => path.join(d, "stacks")).find((d) => fs.existsSync(d))!;
const stackFolders = fs
    .readdirSync(stacksDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(stacksDir, e.name, "compose.yaml")))
    .map((e) => e.name)
    .sort();

// Every key is read and checked here, before any resource: a bad or missing one fails the
// run with its key, its value, the fix and the stack file (see program/config.ts).
const settings = readProgramConfig(pulumi.runtime.allConfig(), pulumi.getStack(), stackFolders);

const cluster = new SwarmCluster(pulumi.getStack(), settings.cluster);

// The compose files of stacks/ to deploy, by folder name, each as a Docker stack of that
// name with its ${VAR} values from `stackVariables`.
const stacks = settings.stacks.map(
    (s) =>
        new SwarmStack(`stack-${s.name}`, {
            target: cluster.stackTarget,
            stackName: s.name,
            composeFile: path.join(stacksDir, s.name, "compose.yaml"),
            variables: s.variables,
        }),
);
export const routeUrls = pulumi.all(stacks.map((s) => s.routeUrls)).apply((all) => Object.assign({}, ...all) as Record<string, string>);
export const stackServices = pulumi.all(stacks.map((s) => s.services));
export const loadBalancerDnsName = cluster.loadBalancerDnsName;
/** Where the load balancer answers: https:// with a certificate, else http://. */
export const loadBalancerUrl = cluster.loadBalancer
    ? pulumi.interpolate`${cluster.loadBalancer.target.scheme}://${cluster.loadBalancer.dnsName}`
    : pulumi.output<string | undefined>(undefined);
/** What built images are pushed to and nodes pull from: this account's ECR registry, or the external one. */
export const registryAddress =
    settings.cluster.registry?.kind === "external"
        ? pulumi.output(settings.cluster.registry.address)
        : pulumi.interpolate`${aws.getCallerIdentityOutput().accountId}.dkr.ecr.${aws.getRegionOutput().region}.${aws.getPartitionOutput().dnsSuffix}`;

export const managerPublicIps = cluster.managerPublicIps;
export const managerPrivateIps = cluster.managerPrivateIps;
export const workerPublicIps = cluster.workerPublicIps;
export const workerPrivateIps = cluster.workerPrivateIps;
export const nodeSecurityGroupId = cluster.nodeSecurityGroupId;
export const vpcId = cluster.vpcId;
export const subnetIds = cluster.subnetIds;
export const dockerHost = cluster.dockerHost;
export const dockerContextCommand = cluster.dockerContextCommand;
export const privateKey = cluster.privateKey;
export const workerJoinToken = cluster.workerJoinToken;
export const managerJoinToken = cluster.managerJoinToken;
