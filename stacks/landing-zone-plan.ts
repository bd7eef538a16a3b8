import { createHash } from "node:crypto";
import { UserError } from "../core/errors";
import { parseResourceId } from "../core/resource-id";
import type { LandingZoneConfig } from "./config";

/**
 * What ferry's sync appliance may do, and nothing more: read source disks, take, read and delete
 * their snapshots, read VMs (its own data-disk list), and read and write the source-state table.
 */
export const APPLIANCE_ACTIONS = [
  "Microsoft.Resources/subscriptions/resourceGroups/read",
  "Microsoft.Compute/disks/read",
  "Microsoft.Compute/virtualMachines/read",
  "Microsoft.Compute/snapshots/read",
  "Microsoft.Compute/snapshots/write",
  "Microsoft.Compute/snapshots/delete",
  "Microsoft.Compute/snapshots/beginGetAccess/action",
  "Microsoft.Compute/snapshots/endGetAccess/action",
] as const;

export const APPLIANCE_DATA_ACTIONS = [
  "Microsoft.Storage/storageAccounts/tableServices/tables/entities/read",
  "Microsoft.Storage/storageAccounts/tableServices/tables/entities/write",
  "Microsoft.Storage/storageAccounts/tableServices/tables/entities/delete",
  "Microsoft.Storage/storageAccounts/tableServices/tables/entities/add/action",
  "Microsoft.Storage/storageAccounts/tableServices/tables/entities/update/action",
] as const;

/** The appliance's OS image: Ubuntu 22.04 LTS, generation 2. */
export const APPLIANCE_IMAGE = {
  publisher: "Canonical",
  offer: "0001-com-ubuntu-server-jammy",
  sku: "22_04-lts-gen2",
  version: "latest",
} as const;

/** A GUID derived from `parts`: role definitions and assignments need one, stable across runs. */
export function stableGuid(...parts: string[]): string {
  const h = createHash("sha1").update(parts.join("\n").toLowerCase()).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

export interface LandingZonePlan {
  resourceGroupId: string;
  roleDefinitionGuid: string;
  roleName: string;
  /** Scopes the appliance's role is assigned at: the DR group and each source group. */
  assignmentScopes: { scope: string; guid: string; logicalName: string }[];
  identityName: string;
  nicName: string;
  tags: Record<string, string>;
}

/**
 * Names, scopes and ids of a landing zone, from its config and the subscription its azure-native
 * provider deploys to (pure).
 */
export function planLandingZone(config: LandingZoneConfig, subscriptionId: string): LandingZonePlan {
  // A network interface joins a virtual network of its own subscription only: the appliance's NIC
  // and the recovered VMs' are made in this one.
  const subnetSubscription = parseResourceId(config.targetSubnetId).subscriptionId;
  if (subnetSubscription.toLowerCase() !== subscriptionId.toLowerCase()) {
    throw new UserError(
      `ferry:targetSubnetId is a subnet of subscription ${subnetSubscription}, but the landing zone deploys to ` +
        `${subscriptionId} (the stack's azure-native:subscriptionId): NICs join subnets of their own ` +
        "subscription only. Name a subnet of the DR subscription, or set azure-native:subscriptionId to the subnet's.",
      { code: "SubscriptionMismatch" },
    );
  }
  const resourceGroupId = `/subscriptions/${subscriptionId}/resourceGroups/${config.resourceGroup}`;
  const scopes = [
    resourceGroupId,
    ...config.sourceScopes.filter((s) => s.toLowerCase() !== resourceGroupId.toLowerCase()),
  ];
  const roleDefinitionGuid = stableGuid("ferry-appliance-role", resourceGroupId);
  return {
    resourceGroupId,
    roleDefinitionGuid,
    roleName: `ferry sync appliance (${config.resourceGroup})`,
    assignmentScopes: scopes.map((scope, i) => ({
      scope,
      guid: stableGuid("ferry-appliance-assignment", scope, roleDefinitionGuid),
      logicalName: i === 0 ? "appliance-role-dr" : `appliance-role-source-${i}`,
    })),
    identityName: `${config.appliance.name}-identity`,
    nicName: `${config.appliance.name}-nic`,
    tags: { "ferry-role": "landing-zone", "ferry-region": config.region },
  };
}
