import type { AzureClients } from "../adapters/azure/clients";

/** Pollers ask often: the emulator's operations are short, and the SDK's default waits 2 s between polls. */
const POLL = { updateIntervalInMs: 10 };

/** Builds small environments (group, network, VM with disks) through the SDK clients: the local drill, benchmarks and tests. */
export async function createGroup(azure: AzureClients, name: string, location: string): Promise<void> {
  await azure.resources.resourceGroups.createOrUpdate(name, { location });
}

/** A virtual network with one subnet; returns the subnet's id. */
export async function createSubnet(
  azure: AzureClients,
  rg: string,
  location: string,
  vnetName = "vnet",
  layout: { addressSpace?: string; subnet?: string; subnetPrefix?: string } = {},
  poll = POLL,
): Promise<string> {
  const vnet = await azure.network.virtualNetworks.beginCreateOrUpdateAndWait(
    rg,
    vnetName,
    {
      location,
      addressSpace: { addressPrefixes: [layout.addressSpace ?? "10.0.0.0/16"] },
      subnets: [{ name: layout.subnet ?? "default", addressPrefix: layout.subnetPrefix ?? "10.0.1.0/24" }],
    },
    poll,
  );
  return vnet.subnets![0]!.id!;
}

export async function createNic(
  azure: AzureClients,
  rg: string,
  location: string,
  name: string,
  subnetId: string,
): Promise<string> {
  const nic = await azure.network.networkInterfaces.beginCreateOrUpdateAndWait(
    rg,
    name,
    {
      location,
      ipConfigurations: [{ name: "ipconfig1", subnet: { id: subnetId }, privateIPAllocationMethod: "Dynamic" }],
    },
    POLL,
  );
  return nic.id!;
}

export async function createEmptyDisk(
  azure: AzureClients,
  rg: string,
  location: string,
  name: string,
  sizeGB = 1,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const disk = await azure.compute.disks.createOrUpdate(
    rg,
    name,
    {
      location,
      creationData: { createOption: "Empty" },
      diskSizeGB: sizeGB,
      ...extra,
    } as Parameters<AzureClients["compute"]["disks"]["createOrUpdate"]>[2],
    POLL,
  );
  return disk.id!;
}

/** A running Linux VM with an attached OS disk and data disks at the given LUNs. */
export async function createVm(
  azure: AzureClients,
  rg: string,
  location: string,
  name: string,
  options: { osDiskId: string; dataDisks?: { lun: number; diskId: string }[]; nicId: string; vmSize?: string },
) {
  return azure.compute.virtualMachines.createOrUpdate(
    rg,
    name,
    {
      location,
      hardwareProfile: { vmSize: options.vmSize ?? "Standard_D2s_v5" },
      storageProfile: {
        osDisk: { createOption: "Attach", osType: "Linux", managedDisk: { id: options.osDiskId } },
        dataDisks: (options.dataDisks ?? []).map((d) => ({
          lun: d.lun,
          createOption: "Attach",
          managedDisk: { id: d.diskId },
        })),
      },
      networkProfile: { networkInterfaces: [{ id: options.nicId }] },
    } as Parameters<AzureClients["compute"]["virtualMachines"]["createOrUpdate"]>[2],
    POLL,
  );
}
