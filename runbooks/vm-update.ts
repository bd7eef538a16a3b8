import type { VirtualMachine, VirtualMachineUpdate } from "@azure/arm-compute";
import { FerryError } from "../core/errors";
import type { RunbookContext } from "./context";

/** Options of {@link updateVmIfUnchanged}. */
export interface UpdateVmIfUnchangedOptions {
  /** How many times to read, build and write before giving up when other writers keep changing the VM. Default 5. */
  attempts?: number;
}

/**
 * Updates a VM from what was just read of it, and only if nobody wrote it since: the update is sent with
 * `If-Match: <the etag read>` (Compute api-version 2023-09-01 and later take If-Match on VM PUT and PATCH;
 * azure-rest-api-specs#26368), and Azure refuses it with 412 `PreconditionFailed` when the VM's etag moved on. Then
 * the VM is read again and the update built again from it. So a write of a whole list (a VM's data disks) never
 * drops what another host changed in between. Returns the updated VM.
 */
export async function updateVmIfUnchanged(
  ctx: Pick<RunbookContext, "azure" | "poll">,
  vm: { resourceGroup: string; name: string },
  build: (current: VirtualMachine) => VirtualMachineUpdate,
  options: UpdateVmIfUnchangedOptions = {},
): Promise<VirtualMachine> {
  const attempts = options.attempts ?? 5;
  const vms = ctx.azure.compute.virtualMachines;
  for (let attempt = 1; ; attempt++) {
    const current = await vms.get(vm.resourceGroup, vm.name);
    try {
      return await vms.update(vm.resourceGroup, vm.name, build(current), {
        ...ctx.poll,
        ...(current.etag ? { ifMatch: current.etag } : {}),
      });
    } catch (e) {
      if ((e as { statusCode?: unknown }).statusCode !== 412) throw e;
      if (attempt >= attempts)
        throw new FerryError(
          `${vm.name} changed under ${attempts} updates in a row (412 PreconditionFailed each time): something else ` +
            `keeps writing it. Find what does, then run the step again.`,
          { code: "VmKeptChanging", cause: e },
        );
    }
  }
}
