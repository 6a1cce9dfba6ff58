// The repo's Pulumi program: one Pulumi stack per environment (`pulumi up -s dev`).
// Only this file reads configuration (program/config.ts checks it, as a pure function); the
// components take everything as arguments. The stack `local` (or `pulumi-swarm:environment:
// local`) is the local environment instead of AWS: the whole swarm in containers on this
// machine's Docker engine (program/local.ts).
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import * as aws from "@pulumi/aws";
import { SwarmCluster, SwarmStack } from "./components";
import { readProgramConfig } from "./program/config";
import { isLocalEnvironment, localProgram, readLocalConfig } from "./program/local";

// stacks/ sits beside this file (pulumi up runs index.ts) or one folder up (compiled, in bin/).
const stacksDir = [__dirname, path.join(__dirname, "..")].map((d) => path.join(d, "stacks")).find((d) => fs.existsSync(d))!;
const stackFolders = fs
    .readdirSync(stacksDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(stacksDir, e.name, "compose.yaml")))
    .map((e) => e.name)
    .sort();

export = isLocalEnvironment(pulumi.getStack(), pulumi.runtime.allConfig()) ? localEnvironment() : awsEnvironment();

/** The local environment: LocalSwarm and the stacks/ files on it (see program/local.ts). */
function localEnvironment() {
    const settings = readLocalConfig(pulumi.runtime.allConfig(), pulumi.getStack(), stackFolders);
    return localProgram(pulumi.getStack(), settings, path.dirname(stacksDir));
}

/** The AWS environments (dev, prod, ...): SwarmCluster and the stacks/ files on it. */
function awsEnvironment() {
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
    const routeUrls = pulumi.all(stacks.map((s) => s.routeUrls)).apply((all) => Object.assign({}, ...all) as Record<string, string>);
    const stackServices = pulumi.all(stacks.map((s) => s.services));
    const loadBalancerDnsName = cluster.loadBalancerDnsName;
    /** Where the load balancer answers: https:// with a certificate, else http://. */
    const loadBalancerUrl = cluster.loadBalancer
        ? pulumi.interpolate`${cluster.loadBalancer.target.scheme}://${cluster.loadBalancer.dnsName}`
        : pulumi.output<string | undefined>(undefined);
    /** What built images are pushed to and nodes pull from: this account's ECR registry, or the external one. */
    const registryAddress =
        settings.cluster.registry?.kind === "external"
            ? pulumi.output(settings.cluster.registry.address)
            : pulumi.interpolate`${aws.getCallerIdentityOutput().accountId}.dkr.ecr.${aws.getRegionOutput().region}.${aws.getPartitionOutput().dnsSuffix}`;

    return {
        routeUrls,
        stackServices,
        loadBalancerDnsName,
        loadBalancerUrl,
        registryAddress,
        managerPublicIps: cluster.managerPublicIps,
        managerPrivateIps: cluster.managerPrivateIps,
        workerPublicIps: cluster.workerPublicIps,
        workerPrivateIps: cluster.workerPrivateIps,
        nodeAmis: cluster.nodeAmis,
        newNodeAmis: cluster.newNodeAmis,
        nodeSecurityGroupId: cluster.nodeSecurityGroupId,
        vpcId: cluster.vpcId,
        subnetIds: cluster.subnetIds,
        dockerHost: cluster.dockerHost,
        dockerContextCommand: cluster.dockerContextCommand,
        privateKey: cluster.privateKey,
        workerJoinToken: cluster.workerJoinToken,
        managerJoinToken: cluster.managerJoinToken,
    };
}
