import { parseResourceId } from "../../core/resource-id";
import { FerryError, unlessNotFound } from "../../core/errors";
import type { RunbookContext } from "../context";
import { updateVmIfUnchanged } from "../vm-update";
import { TAG_PREVIOUS } from "./common";
import type { FailbackDiskState } from "./state";

/**
 * Swaps a primary VM's OS and data disks for the returned ones in one update, on the deallocated
 * VM: it is deallocated first and checked, since its disks are never swapped while it could run.
 * A data disk that was gone from the VM (--to-new-vm) comes back at its LUN.
 */
export async function swapPrimaryDisks(
  ctx: RunbookContext,
  vm: { resourceGroup: string; name: string },
  disks: FailbackDiskState[],
): Promise<void> {
  await ctx.azure.compute.virtualMachines.deallocate(vm.resourceGroup, vm.name, ctx.poll);
  const view = await ctx.azure.compute.virtualMachines.instanceView(vm.resourceGroup, vm.name);
  const power = view.statuses?.find((s) => s.code?.startsWith("PowerState/"))?.code?.split("/")[1];
  if (power !== "deallocated")
    throw new FerryError(
      `${vm.name} is ${power ?? "in an unknown state"}, not deallocated: its disks are not swapped while it ` +
        `could run. Deallocate it, then run failback complete again.`,
      { code: "PrimaryRunning" },
    );
  const os = disks.find((d) => d.role === "os");
  // The whole data-disk list is written: with If-Match, so a disk another host attached meanwhile is not dropped.
  await updateVmIfUnchanged(ctx, vm, (current) => {
    const attached = current.storageProfile?.dataDisks ?? [];
    const data = [
      ...attached.map((x) => {
        const next = disks.find((d) => d.role === "data" && d.lun === x.lun);
        return {
          lun: x.lun,
          createOption: "Attach" as const,
          managedDisk: { id: next ? next.newDiskId : x.managedDisk!.id! },
        };
      }),
      ...disks
        .filter((d) => d.role === "data" && !attached.some((x) => x.lun === d.lun))
        .map((d) => ({ lun: d.lun!, createOption: "Attach" as const, managedDisk: { id: d.newDiskId } })),
    ];
    return {
      storageProfile: {
        ...(os
          ? {
              osDisk: {
                createOption: "Attach",
                osType: current.storageProfile?.osDisk?.osType ?? "Linux",
                managedDisk: { id: os.newDiskId },
              },
            }
          : {}),
        dataDisks: data,
      },
    };
  });
}

/** Tags the primary disks a failback replaced (those that still exist): cleanup --failback deletes only these. */
export async function tagPrevious(ctx: RunbookContext, disks: FailbackDiskState[], by: string): Promise<void> {
  for (const d of disks) {
    const p = parseResourceId(d.primaryDiskId);
    const prev = await unlessNotFound(ctx.azure.compute.disks.get(p.resourceGroup, p.name));
    if (!prev) continue;
    await ctx.azure.compute.disks.update(
      p.resourceGroup,
      p.name,
      { tags: { ...prev.tags, [TAG_PREVIOUS]: by, "ferry-failback-replaced-by": d.newDiskId.toLowerCase() } },
      ctx.poll,
    );
  }
}
