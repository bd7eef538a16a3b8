import { UserError, unlessNotFound } from "../../core/errors";
import type { Blueprint } from "../../core/schemas/blueprint";
import type { RunbookContext } from "../context";
import { TAG_FAILBACK } from "./common";
import type { FailbackDiskState } from "./state";

/**
 * `--to-new-vm`: the primary VM is gone, so a new one is made in its place, with its name, in its
 * resource group, on the returned disks (the OS disk attached, never an image), with a NIC in the
 * subnet prepare was given. It is created running.
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
  // The NIC the deleted VM left behind (its name, unattached) keeps its address; otherwise a new one.
  const left = await unlessNotFound(ctx.azure.network.networkInterfaces.get(vm.resourceGroup, `${vm.name}-nic`));
  const nic =
    left && !left.virtualMachine
      ? left
      : await ctx.azure.network.networkInterfaces.beginCreateOrUpdateAndWait(
          vm.resourceGroup,
          left ? `${vm.name}-nic-failback` : `${vm.name}-nic`,
          {
            location: region,
            ipConfigurations: [
              { name: "ipconfig1", primary: true, subnet: { id: subnetId }, privateIPAllocationMethod: "Dynamic" },
            ],
            tags,
          },
          { updateIntervalInMs: ctx.poll.updateIntervalInMs },
        );
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
      networkProfile: { networkInterfaces: [{ id: nic.id!, primary: true }] },
      tags,
    },
    ctx.poll,
  );
  ctx.logger.info(
    { row: row.name, vm: vm.name, nic: nic.id },
    `${row.name}: restored into a new VM on the returned disks`,
  );
}
