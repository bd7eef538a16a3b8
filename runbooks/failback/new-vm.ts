import { UserError, unlessNotFound } from "../../core/errors";
import { rowNics, type Blueprint } from "../../core/schemas/blueprint";
import type { RunbookContext } from "../context";
import { TAG_FAILBACK } from "./common";
import type { FailbackDiskState } from "./state";

/**
 * `--to-new-vm`: the primary VM is gone, so a new one is made in its place, with its name, in its
 * resource group, on the returned disks (the OS disk attached, never an image), with every NIC the
 * row names, in its order and with its primary and accelerated networking: a NIC's `subnet` is a
 * subnet of that name in the virtual network of the subnet prepare was given, else that subnet
 * itself. It is created running.
 */
export async function restoreIntoNewVm(
  ctx: RunbookContext,
  row: Blueprint["rows"][number],
  vm: { resourceGroup: string; name: string },
  disks: FailbackDiskState[],
  subnetId: string | undefined,
  by: string,
): Promise<void> {
  if (!subnetId)
    throw new UserError(
      `${row.name}: the primary VM ${vm.name} is gone and no subnet was given for a new one. ` +
        `Run ferry failback prepare again with --to-new-vm --subnet <id>.`,
      { code: "NoSubnet" },
    );
  const os = disks.find((d) => d.role === "os");
  if (!os)
    throw new UserError(`${row.name}: a new VM needs the OS disk in the failback; only data disks were prepared.`, {
      code: "NoOsDisk",
    });
  const region = disks[0]!.region;
  const tags = { [TAG_FAILBACK]: by, "ferry-failback-restored": "newVm" };
  // Every NIC the row names, in its order (the guest names its interfaces in that order), each in the subnet of
  // its name in the virtual network of --subnet (a VM's NICs share one network), else in --subnet itself.
  const nics: { id: string; primary: boolean }[] = [];
  for (const n of rowNics(row)) {
    const name = n.index === 0 ? `${vm.name}-nic` : `${vm.name}-nic${n.index + 1}`;
    const subnet = n.subnet ? `${virtualNetworkOf(subnetId)}/subnets/${n.subnet}` : subnetId;
    const nic = await newVmNic(ctx, vm.resourceGroup, name, {
      region,
      subnetId: subnet,
      acceleratedNetworking: n.acceleratedNetworking,
      tags,
    });
    nics.push({ id: nic, primary: n.primary });
  }
  await ctx.azure.compute.virtualMachines.createOrUpdate(
    vm.resourceGroup,
    vm.name,
    {
      location: region,
      hardwareProfile: { vmSize: row.vmSize },
      // The licence the VM it replaces had, as the blueprint carries it.
      ...(row.osDisk.licenseType ? { licenseType: row.osDisk.licenseType } : {}),
      // A Trusted Launch OS disk boots only in a Trusted Launch VM (Azure refuses the VM otherwise), with the
      // row's UEFI settings: never a weaker security type than the source had.
      ...(row.osDisk.securityType === "TrustedLaunch"
        ? {
            securityProfile: {
              securityType: "TrustedLaunch" as const,
              uefiSettings: row.osDisk.uefiSettings ?? { secureBootEnabled: true, vTpmEnabled: true },
            },
          }
        : {}),
      storageProfile: {
        osDisk: { createOption: "Attach", osType: row.osDisk.osType, managedDisk: { id: os.newDiskId } },
        dataDisks: disks
          .filter((d) => d.role === "data")
          .map((d) => ({ lun: d.lun!, createOption: "Attach" as const, managedDisk: { id: d.newDiskId } })),
      },
      networkProfile: { networkInterfaces: nics },
      tags,
    },
    ctx.poll,
  );
  ctx.logger.info(
    { row: row.name, vm: vm.name, nics: nics.map((n) => n.id) },
    `${row.name}: restored into a new VM on the returned disks`,
  );
}

/** The virtual network a subnet id is in (the id up to `/subnets/`). */
export function virtualNetworkOf(subnetId: string): string {
  return subnetId.replace(/\/subnets\/[^/]+\/?$/i, "");
}

/**
 * One NIC of a new VM: the one the deleted VM left behind under that name (unattached: it keeps its address), with
 * accelerated networking as the row says; otherwise a new one (`<name>-failback` when the name is taken by a NIC
 * still attached elsewhere). Returns its id.
 */
async function newVmNic(
  ctx: RunbookContext,
  resourceGroup: string,
  name: string,
  o: { region: string; subnetId: string; acceleratedNetworking: boolean; tags: Record<string, string> },
): Promise<string> {
  const poll = { updateIntervalInMs: ctx.poll.updateIntervalInMs };
  const left = await unlessNotFound(ctx.azure.network.networkInterfaces.get(resourceGroup, name));
  if (left && !left.virtualMachine) {
    if ((left.enableAcceleratedNetworking ?? false) === o.acceleratedNetworking) return left.id!;
    const nic = await ctx.azure.network.networkInterfaces.beginCreateOrUpdateAndWait(
      resourceGroup,
      name,
      { ...left, enableAcceleratedNetworking: o.acceleratedNetworking },
      poll,
    );
    return nic.id!;
  }
  const nic = await ctx.azure.network.networkInterfaces.beginCreateOrUpdateAndWait(
    resourceGroup,
    left ? `${name}-failback` : name,
    {
      location: o.region,
      ipConfigurations: [
        { name: "ipconfig1", primary: true, subnet: { id: o.subnetId }, privateIPAllocationMethod: "Dynamic" },
      ],
      ...(o.acceleratedNetworking ? { enableAcceleratedNetworking: true } : {}),
      tags: o.tags,
    },
    poll,
  );
  return nic.id!;
}
