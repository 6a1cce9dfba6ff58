// The repo's Pulumi program: one Pulumi stack per environment (`pulumi up -s dev`).
// Only this file reads configuration; the components take everything as arguments.
import * as pulumi from "@pulumi/pulumi";
import { SwarmCluster } from "./components";

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
});

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
