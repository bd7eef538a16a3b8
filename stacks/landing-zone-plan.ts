import { createHash } from "node:crypto";
import { UserError } from "../core/errors";
import { parseResourceId } from "../core/resource-id";
import type { LandingZoneConfig } from "./config";

/**
 * What ferry's sync appliance may do, split by where: each list is a custom role assigned at its
 * scopes only, so the appliance deletes snapshots in ferry's snapshot groups and nowhere else.
 *
 * Azure keeps a disk's incremental snapshots wherever the Snapshots - Create Or Update call puts them
 * (the group is in its path, the disk in `creationData.sourceResourceId`), as long as it is the disk's
 * subscription and region: "incremental snapshots of a particular disk can't be created outside of
 * that disk's subscription", and `Copy` is same-region (`CopyStart` crosses regions)
 * (https://learn.microsoft.com/rest/api/compute/snapshots/create-or-update,
 * https://learn.microsoft.com/azure/virtual-machines/disks-incremental-snapshots#restrictions).
 * Azure's own disk backup works this way: it asks for *Disk Backup Reader* (disks read and
 * beginGetAccess) on the disk and *Disk Snapshot Contributor* (snapshots read, write, delete, begin
 * and end access) on a snapshot resource group of its own.
 */

/**
 * On the DR group: its resource group, the appliance's VM and the staging disks, read; the snapshots
 * of DR disks a failback hands over (a reprotect seeds from them), read through a SAS. No write, no delete.
 */
export const APPLIANCE_ACTIONS = [
  "Microsoft.Resources/subscriptions/resourceGroups/read",
  "Microsoft.Compute/disks/read",
  "Microsoft.Compute/virtualMachines/read",
  "Microsoft.Compute/snapshots/read",
  "Microsoft.Compute/snapshots/beginGetAccess/action",
  "Microsoft.Compute/snapshots/endGetAccess/action",
] as const;

/**
 * On the source groups (production): the disks, read — what a snapshot of a disk taken into another
 * group needs on the disk (Azure's *Disk Backup Reader* has these two). Nothing is written or deleted there.
 */
export const APPLIANCE_SOURCE_ACTIONS = [
  "Microsoft.Compute/disks/read",
  "Microsoft.Compute/disks/beginGetAccess/action",
] as const;

/** On ferry's snapshot groups: take, read and delete snapshots, and grant and revoke their SAS. */
export const APPLIANCE_SNAPSHOT_ACTIONS = [
  "Microsoft.Compute/snapshots/read",
  "Microsoft.Compute/snapshots/write",
  "Microsoft.Compute/snapshots/delete",
  "Microsoft.Compute/snapshots/beginGetAccess/action",
  "Microsoft.Compute/snapshots/endGetAccess/action",
] as const;

/** The appliance's data actions, on the DR group (the state account is there): the table's entities only. */
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

/** A role assignment: where, and its stable name (GUID) and Pulumi logical name. */
export interface AssignmentPlan {
  scope: string;
  guid: string;
  logicalName: string;
}

/** One custom role of the appliance and the scopes it is assigned at (never empty). */
export interface RolePlan {
  logicalName: string;
  guid: string;
  roleName: string;
  description: string;
  actions: readonly string[];
  dataActions: readonly string[];
  assignments: AssignmentPlan[];
}

/** A snapshot resource group the landing zone makes, in the source region it serves. */
export interface SnapshotGroupPlan {
  region: string;
  name: string;
  id: string;
  logicalName: string;
}

export interface LandingZonePlan {
  resourceGroupId: string;
  /** The DR group's role (and its GUID: the other roles' are derived from the same group). */
  roleDefinitionGuid: string;
  roleName: string;
  /** The appliance's roles, DR first: the source and snapshot roles only when they have a scope. */
  roles: RolePlan[];
  snapshotGroups: SnapshotGroupPlan[];
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
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  // The snapshot groups are made in this subscription, and Azure takes a disk's snapshots in the disk's own.
  for (const scope of config.sourceScopes) {
    // A group id (the schema checked its form): /subscriptions/<id>/resourceGroups/<name>.
    const sub = scope.split("/")[2] ?? "";
    if (!same(sub, subscriptionId))
      throw new UserError(
        `ferry:sourceScopes names ${scope}, a group of subscription ${sub}, but the landing zone deploys to ` +
          `${subscriptionId} (the stack's azure-native:subscriptionId), where it makes ferry's snapshot groups: ` +
          "Azure takes a disk's incremental snapshots only in the disk's own subscription. Protect disks of " +
          `${subscriptionId} only, or remove ${scope} from ferry:sourceScopes.`,
        { code: "SubscriptionMismatch" },
      );
  }
  const snapshotGroups = planSnapshotGroups(config, subscriptionId);
  const sourceScopes = config.sourceScopes.filter((s) => !same(s, resourceGroupId));
  const roleDefinitionGuid = stableGuid("ferry-appliance-role", resourceGroupId);
  const sourceGuid = stableGuid("ferry-appliance-source-role", resourceGroupId);
  const snapshotGuid = stableGuid("ferry-appliance-snapshot-role", resourceGroupId);
  const assignment = (scope: string, roleGuid: string, logicalName: string): AssignmentPlan => ({
    scope,
    guid: stableGuid("ferry-appliance-assignment", scope, roleGuid),
    logicalName,
  });
  const roleName = `ferry sync appliance (${config.resourceGroup})`;
  const roles: RolePlan[] = [
    {
      logicalName: "appliance-role",
      guid: roleDefinitionGuid,
      roleName,
      description:
        "ferry's sync appliance in its DR group: read its VM, disks and handed-over snapshots; " +
        "the state table's entities.",
      actions: APPLIANCE_ACTIONS,
      dataActions: APPLIANCE_DATA_ACTIONS,
      assignments: [assignment(resourceGroupId, roleDefinitionGuid, "appliance-role-dr")],
    },
  ];
  if (sourceScopes.length > 0)
    roles.push({
      logicalName: "appliance-source-role",
      guid: sourceGuid,
      roleName: `ferry sync appliance, source disks (${config.resourceGroup})`,
      description: "ferry's sync appliance on the groups of protected disks: read the disks, nothing more.",
      actions: APPLIANCE_SOURCE_ACTIONS,
      dataActions: [],
      assignments: sourceScopes.map((scope, i) => assignment(scope, sourceGuid, `appliance-role-source-${i + 1}`)),
    });
  if (snapshotGroups.length > 0)
    roles.push({
      logicalName: "appliance-snapshot-role",
      guid: snapshotGuid,
      roleName: `ferry sync appliance, snapshots (${config.resourceGroup})`,
      description: "ferry's sync appliance in ferry's snapshot groups: take, read and delete snapshots, and their SAS.",
      actions: APPLIANCE_SNAPSHOT_ACTIONS,
      dataActions: [],
      assignments: snapshotGroups.map((g) => assignment(g.id, snapshotGuid, `appliance-role-snapshots-${g.region}`)),
    });
  return {
    resourceGroupId,
    roleDefinitionGuid,
    roleName,
    roles,
    snapshotGroups,
    identityName: `${config.appliance.name}-identity`,
    nicName: `${config.appliance.name}-nic`,
    tags: { "ferry-role": "landing-zone", "ferry-region": config.region },
  };
}

/**
 * The snapshot groups of `ferry:snapshotResourceGroups`, checked: each is a group of its own (the
 * appliance may delete snapshots there), one region per group. A source region's holds the sync's snapshots of
 * the region's disks; the DR region's holds the recovery points the sync takes of the staging disks.
 */
function planSnapshotGroups(config: LandingZoneConfig, subscriptionId: string): SnapshotGroupPlan[] {
  const key = "ferry:snapshotResourceGroups";
  const seen = new Map<string, string>();
  return Object.entries(config.snapshotResourceGroups).map(([region, name]) => {
    const id = `/subscriptions/${subscriptionId}/resourceGroups/${name}`;
    const fix = `Name a new group for ${region} in ${key}: the landing zone makes it.`;
    if (name.toLowerCase() === config.resourceGroup.toLowerCase())
      throw new UserError(
        `${key}.${region} is ${name}, the DR resource group (ferry:resourceGroup): a snapshot group holds ferry's ` +
          `sync snapshots and nothing else, since the appliance may delete snapshots there. ${fix}`,
        { code: "InvalidConfig" },
      );
    if (config.sourceScopes.some((s) => s.toLowerCase() === id.toLowerCase()))
      throw new UserError(
        `${key}.${region} is ${name}, a group of protected disks (in ferry:sourceScopes): the appliance may delete ` +
          `snapshots in a snapshot group, and must not in a production group. ${fix}`,
        { code: "InvalidConfig" },
      );
    const other = seen.get(name.toLowerCase());
    if (other !== undefined)
      throw new UserError(
        `${key} names ${name} for both ${other} and ${region}: a resource group is made in one region. ` +
          `Give ${region} a group of its own.`,
        { code: "InvalidConfig" },
      );
    seen.set(name.toLowerCase(), region);
    return { region, name, id, logicalName: `snapshots-${region}` };
  });
}
