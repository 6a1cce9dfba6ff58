// The repo's Pulumi program: one Pulumi stack per environment (`pulumi up -s dev`).
// Only this file reads configuration; the components take everything as arguments.
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { SwarmCluster, SwarmStack } from "./components";

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
export const routeUrls = pulumi.all(stacks.map((s) => s.routeUrls)).apply((all) => Object.assign({}, ...all) as Record<string, string>);
export const stackServices = pulumi.all(stacks.map((s) => s.services));
export const loadBalancerDnsName = cluster.loadBalancerDnsName;

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
