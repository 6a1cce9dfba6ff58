// The repo's Pulumi program: one Pulumi stack per environment (`pulumi up -s dev`).
// Only this file reads configuration; the components take everything as arguments.
// The stack `local` (or `pulumi-swarm:environment: local`) is the local environment instead
// of AWS: the whole swarm in containers on this machine's Docker engine (program/local.ts).
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { SwarmCluster, SwarmStack } from "./components";
import { isLocalEnvironment, localProgram, readLocalConfig } from "./program/local";

export = isLocalEnvironment(pulumi.getStack(), pulumi.runtime.allConfig()) ? local() : aws();

/** The local environment: LocalSwarm and the stacks/ files on it. */
function local() {
    // stacks/ and local/ sit beside this file (pulumi up runs index.ts) or one folder up (compiled, in bin/).
    const repoDir = [__dirname, path.join(__dirname, "..")].find((d) => fs.existsSync(path.join(d, "stacks")))!;
    const folders = fs.readdirSync(path.join(repoDir, "stacks")).filter((d) => fs.existsSync(path.join(repoDir, "stacks", d, "compose.yaml")));
    return localProgram(pulumi.getStack(), readLocalConfig(pulumi.runtime.allConfig(), pulumi.getStack(), folders), repoDir);
}

/** The AWS environments (dev, prod, ...): SwarmCluster and the stacks/ files on it. */
function aws() {
    const config = new pulumi.Config();

    const cluster = new SwarmCluster(pulumi.getStack(), {
        adminCidrBlocks: config.requireObject<string[]>("adminCidrBlocks"),
        allowSshFromAnywhere: config.getBoolean("allowSshFromAnywhere"),
        managerCount: config.getNumber("managerCount"),
        workerCount: config.getNumber("workerCount"),
        managerInstanceType: config.get("managerInstanceType"),
        workerInstanceType: config.get("workerInstanceType"),
        availabilityZoneCount: config.getNumber("availabilityZoneCount"),
        vpcCidrBlock: config.get("vpcCidrBlock"),
        vpcId: config.get("vpcId"),
        subnetIds: config.getObject<string[]>("subnetIds"),
        os: config.get("os"),
        amiId: config.get("amiId"),
        rootVolumeSizeGiB: config.getNumber("rootVolumeSizeGiB"),
        dockerVersion: config.get("dockerVersion"),
        encryptedOverlay: config.getBoolean("encryptedOverlay"),
        loadBalancer: { certificateArn: config.get("certificateArn") },
    });

    // The compose files of stacks/ to deploy, by folder name, each as a Docker stack of that
    // name; `stackVariables` gives each one's ${VAR} values ({"web": {"API_REPLICAS": "4"}}).
    const stackNames = config.getObject<string[]>("stacks") ?? ["web"];
    const stackVariables = config.getObject<Record<string, Record<string, string>>>("stackVariables") ?? {};
    // stacks/ sits beside this file (pulumi up runs index.ts) or one folder up (compiled, in bin/).
    const stacksDir = [__dirname, path.join(__dirname, "..")].map((d) => path.join(d, "stacks")).find((d) => fs.existsSync(d))!;
    const stacks = stackNames.map(
        (s) =>
            new SwarmStack(`stack-${s}`, {
                target: cluster.stackTarget,
                stackName: s,
                composeFile: path.join(stacksDir, s, "compose.yaml"),
                variables: stackVariables[s] ?? {},
            }),
    );
    const routeUrls = pulumi.all(stacks.map((s) => s.routeUrls)).apply((all) => Object.assign({}, ...all) as Record<string, string>);
    const stackServices = pulumi.all(stacks.map((s) => s.services));
    const loadBalancerDnsName = cluster.loadBalancerDnsName;

    const managerPublicIps = cluster.managerPublicIps;
    const managerPrivateIps = cluster.managerPrivateIps;
    const workerPublicIps = cluster.workerPublicIps;
    const workerPrivateIps = cluster.workerPrivateIps;
    const nodeSecurityGroupId = cluster.nodeSecurityGroupId;
    const vpcId = cluster.vpcId;
    const subnetIds = cluster.subnetIds;
    const dockerHost = cluster.dockerHost;
    const dockerContextCommand = cluster.dockerContextCommand;
    const privateKey = cluster.privateKey;
    const workerJoinToken = cluster.workerJoinToken;
    const managerJoinToken = cluster.managerJoinToken;
    return {
        routeUrls,
        stackServices,
        loadBalancerDnsName,
        managerPublicIps,
        managerPrivateIps,
        workerPublicIps,
        workerPrivateIps,
        nodeSecurityGroupId,
        vpcId,
        subnetIds,
        dockerHost,
        dockerContextCommand,
        privateKey,
        workerJoinToken,
        managerJoinToken,
    };
}
