import * as authorization from "@pulumi/azure-native/authorization";
import * as compute from "@pulumi/azure-native/compute";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as network from "@pulumi/azure-native/network";
import * as resources from "@pulumi/azure-native/resources";
import * as storage from "@pulumi/azure-native/storage";
import * as pulumi from "@pulumi/pulumi";
import { parseResourceId } from "../../core/resource-id";
import type { LandingZoneConfig } from "../config";
import { APPLIANCE_IMAGE, planLandingZone } from "../landing-zone-plan";

/**
 * `ferry:dr:LandingZone`: the shared DR infrastructure of a region — its resource group, an isolated
 * network for drills, the source-state table, ferry's snapshot group in each source region, and the
 * sync appliance with its own identity and roles holding exactly the actions ferry needs where it needs them.
 */
export class LandingZone extends pulumi.ComponentResource {
  readonly outputs: Record<string, pulumi.Output<unknown>>;

  constructor(
    name: string,
    config: LandingZoneConfig,
    /** `subscriptionId`: the subscription the azure-native provider deploys to. */
    args: { subscriptionId: string },
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("ferry:dr:LandingZone", name, {}, opts);
    const plan = planLandingZone(config, args.subscriptionId);
    const location = config.region;
    const group = new resources.ResourceGroup(
      "dr",
      { resourceGroupName: config.resourceGroup, location, tags: plan.tags },
      { parent: this },
    );
    const resourceGroupName = group.name;

    // The drills' isolated network lives beside the target network: blueprints name one network
    // resource group for both (target.networkResourceGroup).
    const testNetwork = new network.VirtualNetwork(
      "test-network",
      {
        virtualNetworkName: config.testNetwork.name,
        resourceGroupName: parseResourceId(config.targetSubnetId).resourceGroup,
        location,
        addressSpace: { addressPrefixes: [config.testNetwork.addressPrefix] },
        subnets: [{ name: config.testNetwork.subnetName, addressPrefix: config.testNetwork.subnetPrefix }],
        tags: { ...plan.tags, "ferry-network": "test" },
      },
      { parent: this },
    );

    const account = new storage.StorageAccount(
      "state",
      {
        accountName: config.stateStore.accountName,
        resourceGroupName,
        location,
        kind: storage.Kind.StorageV2,
        sku: { name: storage.SkuName.Standard_LRS },
        allowBlobPublicAccess: false,
        // The appliance signs in with its identity: no account keys.
        allowSharedKeyAccess: false,
        minimumTlsVersion: storage.MinimumTlsVersion.TLS1_2,
        enableHttpsTrafficOnly: true,
        tags: plan.tags,
      },
      { parent: this },
    );
    const table = new storage.Table(
      "sources",
      { accountName: account.name, resourceGroupName, tableName: config.stateStore.tableName },
      { parent: this },
    );

    const identity = new managedidentity.UserAssignedIdentity(
      "appliance-identity",
      { resourceName: plan.identityName, resourceGroupName, location, tags: plan.tags },
      { parent: this },
    );
    // ferry's snapshot groups, one per source region, in that region: the sync's snapshots of the
    // region's disks live there, so the appliance deletes snapshots there and nowhere else.
    const snapshotGroups = plan.snapshotGroups.map((g) => ({
      region: g.region,
      group: new resources.ResourceGroup(
        g.logicalName,
        { resourceGroupName: g.name, location: g.region, tags: { ...plan.tags, "ferry-snapshots": g.region } },
        // Deleting a group deletes what it holds: the recovery points of every source of the region.
        // A region dropped from the config leaves its group (and its role assignment goes).
        { parent: this, retainOnDelete: true },
      ),
    }));

    // One custom role per kind of scope, each assigned at its scopes only (landing-zone-plan.ts).
    const roles = plan.roles.map((r) => {
      const role = new authorization.RoleDefinition(
        r.logicalName,
        {
          roleDefinitionId: r.guid,
          roleName: r.roleName,
          description: r.description,
          scope: plan.resourceGroupId,
          permissions: [{ actions: [...r.actions], dataActions: [...r.dataActions] }],
          assignableScopes: r.assignments.map((a) => a.scope),
        },
        { parent: this, dependsOn: [group, ...snapshotGroups.map((g) => g.group)] },
      );
      for (const a of r.assignments) {
        new authorization.RoleAssignment(
          a.logicalName,
          {
            roleAssignmentName: a.guid,
            scope: a.scope,
            principalId: identity.principalId,
            principalType: authorization.PrincipalType.ServicePrincipal,
            roleDefinitionId: role.id,
          },
          { parent: this },
        );
      }
      return role;
    });

    const nic = new network.NetworkInterface(
      "appliance-nic",
      {
        networkInterfaceName: plan.nicName,
        resourceGroupName,
        location,
        ipConfigurations: [
          {
            name: "ipconfig1",
            subnet: { id: config.targetSubnetId },
            primary: true,
            privateIPAllocationMethod: network.IPAllocationMethod.Dynamic,
          },
        ],
        tags: plan.tags,
      },
      { parent: this },
    );
    const appliance = new compute.VirtualMachine(
      "appliance",
      {
        vmName: config.appliance.name,
        resourceGroupName,
        location,
        hardwareProfile: { vmSize: config.appliance.vmSize },
        identity: { type: compute.ResourceIdentityType.UserAssigned, userAssignedIdentities: [identity.id] },
        storageProfile: {
          imageReference: { ...APPLIANCE_IMAGE },
          osDisk: {
            createOption: compute.DiskCreateOptionTypes.FromImage,
            diskSizeGB: 64,
            managedDisk: { storageAccountType: compute.StorageAccountTypes.Premium_LRS },
            deleteOption: compute.DiskDeleteOptionTypes.Delete,
          },
        },
        osProfile: {
          computerName: config.appliance.name,
          adminUsername: config.appliance.adminUsername,
          linuxConfiguration: {
            disablePasswordAuthentication: true,
            ssh: {
              publicKeys: [
                {
                  path: `/home/${config.appliance.adminUsername}/.ssh/authorized_keys`,
                  keyData: config.appliance.sshPublicKey,
                },
              ],
            },
          },
        },
        networkProfile: { networkInterfaces: [{ id: nic.id, primary: true }] },
        tags: { ...plan.tags, "ferry-appliance": "true" },
      },
      // Staging disks are attached and detached at run time (runbooks, failover): not Pulumi's to undo.
      { parent: this, ignoreChanges: ["storageProfile.dataDisks"] },
    );

    this.outputs = {
      subscriptionId: pulumi.output(args.subscriptionId),
      resourceGroupName,
      location: pulumi.output(location),
      targetSubnetId: pulumi.output(config.targetSubnetId),
      testSubnetId: testNetwork.subnets.apply((s) => s?.[0]?.id ?? ""),
      stateStore: pulumi.all([account.name, table.name]).apply(([accountName, tableName]) => ({
        accountName,
        tableName,
        url: `https://${accountName}.table.core.windows.net`,
      })),
      appliance: pulumi
        .all([appliance.id, appliance.name, identity.clientId, identity.principalId])
        .apply(([vmId, vmName, clientId, principalId]) => ({
          vmId,
          vmName,
          identityClientId: clientId,
          identityPrincipalId: principalId,
        })),
      roleDefinitionId: roles[0]!.id,
      snapshotResourceGroups: pulumi.all(Object.fromEntries(snapshotGroups.map((g) => [g.region, g.group.name]))),
    };
    this.registerOutputs(this.outputs);
  }
}
