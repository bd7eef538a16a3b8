import type { AzureClients } from "../../adapters/azure/clients";
import { parseResourceId } from "../../core/resource-id";
import { stableGuid } from "../../stacks/landing-zone-plan";

/** Inputs and outputs of a declared resource, JSON-shaped. */
export type Props = Record<string, unknown>;

/**
 * How the local deployer applies one azure-native resource type to Azure (the emulator) through
 * the Azure SDK: its name input, its ARM id, and the create-or-update and delete calls. Types the
 * emulator does not serve (storage, identities, roles) are kept as records with the outputs Azure
 * would give them.
 */
export interface ResourceKind {
  /** The input that names the resource in Azure (its `name` output). */
  nameInput: string;
  /** ARM id of the resource the inputs describe. */
  armId(inputs: Props, subscriptionId: string): string;
  apply?(azure: AzureClients, inputs: Props, poll: { updateIntervalInMs: number }, current?: Props): Promise<Props>;
  remove?(azure: AzureClients, id: string, poll: { updateIntervalInMs: number }): Promise<void>;
  /** Outputs Azure computes for a record-only resource. */
  synthesize?(inputs: Props, id: string): Props;
  /**
   * For an update with ignoreChanges: the inputs with the ignored properties as they are in Azure
   * now (what changed at run time, e.g. disks attached to the appliance, is kept).
   */
  live?(azure: AzureClients, id: string, inputs: Props, ignore: string[]): Promise<Props>;
}

const inGroup = (provider: string, type: string, nameInput: string) => (inputs: Props, sub: string) =>
  `/subscriptions/${sub}/resourceGroups/${inputs.resourceGroupName}/providers/${provider}/${type}/${inputs[nameInput]}`;

type Poll = { updateIntervalInMs: number };

/**
 * A resource in a resource group served by the emulator: created with its SDK's create-or-update
 * (the inputs minus the name and group, which are in the URL), deleted by name.
 */
function inGroupKind(
  nameInput: string,
  provider: string,
  type: string,
  calls: (az: AzureClients) => {
    put(rg: string, name: string, body: Props, poll: Poll): Promise<unknown>;
    del(rg: string, name: string, poll: Poll): Promise<unknown>;
  },
): ResourceKind {
  return {
    nameInput,
    armId: inGroup(provider, type, nameInput),
    apply: async (az, i, poll) =>
      plain(await calls(az).put(str(i.resourceGroupName), str(i[nameInput]), body(i, nameInput), poll)),
    remove: async (az, id, poll) => {
      const { rg, name } = group(id);
      await calls(az).del(rg, name, poll);
    },
  };
}

/** A string input (names and groups; the program declares them as strings). */
function str(v: unknown): string {
  if (typeof v !== "string") throw new Error(`expected a string input, got ${JSON.stringify(v)}`);
  return v;
}

/** Inputs without the ones that are part of the URL (name, group). */
function body(inputs: Props, ...path: string[]): Props {
  const out: Props = {};
  for (const [k, v] of Object.entries(inputs)) if (!path.includes(k) && k !== "resourceGroupName") out[k] = v;
  return out;
}

/** SDK results carry Dates and class instances: outputs are plain JSON. */
const plain = (v: unknown): Props => JSON.parse(JSON.stringify(v ?? {})) as Props;

function group(id: string): { rg: string; name: string } {
  const p = parseResourceId(id);
  return { rg: p.resourceGroup, name: p.name };
}

export const RESOURCE_KINDS: Record<string, ResourceKind> = {
  "azure-native:resources:ResourceGroup": {
    nameInput: "resourceGroupName",
    armId: (i, sub) => `/subscriptions/${sub}/resourceGroups/${i.resourceGroupName}`,
    apply: async (az, i) =>
      plain(
        await az.resources.resourceGroups.createOrUpdate(str(i.resourceGroupName), {
          location: str(i.location),
          tags: i.tags as Record<string, string> | undefined,
        }),
      ),
    remove: async (az, id, poll) => {
      await az.resources.resourceGroups.beginDeleteAndWait(id.split("/").pop()!, poll);
    },
  },
  "azure-native:network:VirtualNetwork": inGroupKind(
    "virtualNetworkName",
    "Microsoft.Network",
    "virtualNetworks",
    (az) => ({
      put: (rg, name, b, poll) => az.network.virtualNetworks.beginCreateOrUpdateAndWait(rg, name, b, poll),
      del: (rg, name, poll) => az.network.virtualNetworks.beginDeleteAndWait(rg, name, poll),
    }),
  ),
  "azure-native:network:NetworkInterface": inGroupKind(
    "networkInterfaceName",
    "Microsoft.Network",
    "networkInterfaces",
    (az) => ({
      put: (rg, name, b, poll) => az.network.networkInterfaces.beginCreateOrUpdateAndWait(rg, name, b, poll),
      del: (rg, name, poll) => az.network.networkInterfaces.beginDeleteAndWait(rg, name, poll),
    }),
  ),
  "azure-native:compute:Disk": inGroupKind("diskName", "Microsoft.Compute", "disks", (az) => ({
    put: (rg, name, b, poll) => az.compute.disks.createOrUpdate(rg, name, b as never, poll),
    del: (rg, name, poll) => az.compute.disks.delete(rg, name, poll),
  })),
  "azure-native:compute:Snapshot": inGroupKind("snapshotName", "Microsoft.Compute", "snapshots", (az) => ({
    put: (rg, name, b, poll) => az.compute.snapshots.createOrUpdate(rg, name, b as never, poll),
    del: (rg, name, poll) => az.compute.snapshots.delete(rg, name, poll),
  })),
  "azure-native:compute:VirtualMachine": {
    nameInput: "vmName",
    armId: inGroup("Microsoft.Compute", "virtualMachines", "vmName"),
    apply: async (az, i, poll) =>
      plain(
        await az.compute.virtualMachines.createOrUpdate(
          str(i.resourceGroupName),
          str(i.vmName),
          vmBody(i) as never,
          poll,
        ),
      ),
    live: async (az, id, i, ignore) => {
      if (!ignore.includes("storageProfile.dataDisks")) return i;
      const { rg, name } = group(id);
      const vm = await az.compute.virtualMachines.get(rg, name);
      const dataDisks = (vm.storageProfile?.dataDisks ?? []).map((d) => ({
        lun: d.lun,
        createOption: "Attach",
        managedDisk: { id: d.managedDisk?.id },
        ...(d.deleteOption ? { deleteOption: d.deleteOption } : {}),
      }));
      return { ...i, storageProfile: { ...(i.storageProfile as Props | undefined), dataDisks } };
    },
    remove: async (az, id, poll) => {
      const { rg, name } = group(id);
      await az.compute.virtualMachines.delete(rg, name, poll);
    },
  },
  "azure-native:storage:StorageAccount": {
    nameInput: "accountName",
    armId: inGroup("Microsoft.Storage", "storageAccounts", "accountName"),
    synthesize: (i) => ({
      primaryEndpoints: { table: `https://${i.accountName}.table.core.windows.net/` },
      provisioningState: "Succeeded",
    }),
  },
  "azure-native:storage:Table": {
    nameInput: "tableName",
    armId: (i, sub) =>
      `/subscriptions/${sub}/resourceGroups/${i.resourceGroupName}/providers/Microsoft.Storage/storageAccounts/${i.accountName}/tableServices/default/tables/${i.tableName}`,
  },
  "azure-native:managedidentity:UserAssignedIdentity": {
    nameInput: "resourceName",
    armId: inGroup("Microsoft.ManagedIdentity", "userAssignedIdentities", "resourceName"),
    synthesize: (_i, id) => ({
      principalId: stableGuid("principal", id),
      clientId: stableGuid("client", id),
      tenantId: stableGuid("tenant", id),
    }),
  },
  "azure-native:authorization:RoleDefinition": {
    nameInput: "roleDefinitionId",
    armId: (i) => `${i.scope}/providers/Microsoft.Authorization/roleDefinitions/${i.roleDefinitionId}`,
  },
  "azure-native:authorization:RoleAssignment": {
    nameInput: "roleAssignmentName",
    armId: (i) => `${i.scope}/providers/Microsoft.Authorization/roleAssignments/${i.roleAssignmentName}`,
  },
};

/** A VM's ARM body: azure-native's `identity.userAssignedIdentities` is a list of ids; ARM's is a map. */
function vmBody(i: Props): Props {
  const b = body(i, "vmName");
  const identity = b.identity as Props | undefined;
  const ids = identity?.userAssignedIdentities;
  if (Array.isArray(ids))
    b.identity = { ...identity, userAssignedIdentities: Object.fromEntries(ids.map((id: string) => [id, {}])) };
  return b;
}
