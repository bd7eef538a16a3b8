import type { ComputeManagementClient, Disk, VirtualMachine } from "@azure/arm-compute";
import type { NetworkManagementClient } from "@azure/arm-network";
import type { ResourceManagementClient } from "@azure/arm-resources";

/**
 * The Resource Manager clients the builders call: any object that holds the three SDK clients
 * (the emulator's own test clients, ferry's `AzureClients`, or clients a caller built itself).
 */
export interface ArmClients {
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
  resources: ResourceManagementClient;
}

/** Pollers ask often: the emulator's operations are short, and the SDK's default waits 2 s between polls. */
const POLL = { updateIntervalInMs: 10 };

/** Builds small environments (group, network, VM with disks) through the SDK clients: tests, drills and benchmarks. */
export async function createGroup(azure: ArmClients, name: string, location: string): Promise<void> {
  await azure.resources.resourceGroups.createOrUpdate(name, { location });
}

/** Address layout of {@link createSubnet}'s virtual network. */
export interface SubnetLayout {
  /** The virtual network's address space. Default "10.0.0.0/16". */
  addressSpace?: string;
  /** The subnet's name. Default "default". */
  subnet?: string;
  /** The subnet's range. Default "10.0.1.0/24". */
  subnetPrefix?: string;
}

/** A virtual network with one subnet; returns the subnet's id. */
export async function createSubnet(
  azure: ArmClients,
  rg: string,
  location: string,
  vnetName = "vnet",
  layout: SubnetLayout = {},
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

/** A NIC with one dynamic address in the subnet; returns its id. */
export async function createNic(
  azure: ArmClients,
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

/** An empty managed disk of `sizeGB` GiB (default 1), with `extra` disk properties; returns its id. */
export async function createEmptyDisk(
  azure: ArmClients,
  rg: string,
  location: string,
  name: string,
  sizeGB = 1,
  extra: Partial<Disk> = {},
): Promise<string> {
  const disk = await azure.compute.disks.createOrUpdate(
    rg,
    name,
    { location, creationData: { createOption: "Empty" }, diskSizeGB: sizeGB, ...extra },
    POLL,
  );
  return disk.id!;
}

/**
 * A Trusted Launch (Gen2) disk, made as Azure makes one outside an image: created `UploadPreparedSecure`, then sealed
 * by granting and revoking write access (nothing uploaded: its bytes are zero).
 */
export async function createTrustedLaunchDisk(
  azure: ArmClients,
  rg: string,
  location: string,
  name: string,
  sizeGB = 1,
  extra: Partial<Disk> = {},
): Promise<string> {
  await azure.compute.disks.createOrUpdate(
    rg,
    name,
    {
      location,
      hyperVGeneration: "V2",
      securityProfile: { securityType: "TrustedLaunch" },
      creationData: { createOption: "UploadPreparedSecure", uploadSizeBytes: sizeGB * 1024 ** 3 + 512 },
      ...extra,
    },
    POLL,
  );
  await azure.compute.disks.beginGrantAccessAndWait(rg, name, { access: "Write", durationInSeconds: 60 }, POLL);
  await azure.compute.disks.beginRevokeAccessAndWait(rg, name, POLL);
  return (await azure.compute.disks.get(rg, name)).id!;
}

/** What {@link createVm} attaches. */
export interface CreateVmOptions {
  /** The OS disk, attached as a Linux disk. */
  osDiskId: string;
  /** Data disks by LUN. Default: none. */
  dataDisks?: { lun: number; diskId: string }[];
  nicId: string;
  /** Default "Standard_D2s_v5". */
  vmSize?: string;
  /** Trusted Launch and its UEFI settings. Default: none (Standard). */
  securityProfile?: VirtualMachine["securityProfile"];
  /** The OS the attached OS disk holds. Default "Linux". */
  osType?: "Linux" | "Windows";
  /** The on-premises licence of its OS (`Windows_Server`, …). Default: none. */
  licenseType?: string;
}

/** A running VM (Linux unless `osType` says otherwise) with an attached OS disk and data disks at the given LUNs. */
export async function createVm(
  azure: ArmClients,
  rg: string,
  location: string,
  name: string,
  options: CreateVmOptions,
): Promise<VirtualMachine> {
  return azure.compute.virtualMachines.createOrUpdate(
    rg,
    name,
    {
      location,
      hardwareProfile: { vmSize: options.vmSize ?? "Standard_D2s_v5" },
      storageProfile: {
        osDisk: { createOption: "Attach", osType: options.osType ?? "Linux", managedDisk: { id: options.osDiskId } },
        dataDisks: (options.dataDisks ?? []).map((d) => ({
          lun: d.lun,
          createOption: "Attach",
          managedDisk: { id: d.diskId },
        })),
      },
      networkProfile: { networkInterfaces: [{ id: options.nicId }] },
      ...(options.securityProfile ? { securityProfile: options.securityProfile } : {}),
      ...(options.licenseType ? { licenseType: options.licenseType } : {}),
    },
    POLL,
  );
}
