import { failbackComplete } from "../../runbooks/failback/complete";
import { prepareFailback } from "../../runbooks/failback/prepare";
import { failbackSync } from "../../runbooks/failback/sync";
import { PRIMARY, type DrWorld, type Workload } from "./dr-env";

/**
 * A failover of `w` and its way home into a new VM: unplanned failover, the primary VM deleted (lost with its
 * region), then failback prepare `--to-new-vm` into the primary's app subnet, sync and complete.
 */
export async function failBackIntoNewVm(world: DrWorld, w: Workload): Promise<void> {
  const op = await world.unplannedFailover(w);
  if (op.status !== "succeeded") throw new Error(`the failover of ${w.stack} ended ${op.status}`);
  await world.ctx.azure.compute.virtualMachines.beginDeleteAndWait(PRIMARY.rg, w.vm, { updateIntervalInMs: 10 });
  const subnet =
    `/subscriptions/${world.ctx.azure.subscriptionId}/resourceGroups/${PRIMARY.rg}` +
    "/providers/Microsoft.Network/virtualNetworks/prod-vnet/subnets/app";
  await prepareFailback(world.ctx, w.stack, { toNewVm: true, subnetId: subnet });
  await world.whileSyncing(() => failbackSync(world.ctx, w.stack), world.sourcesOf(w));
  await world.whileSyncing(() => failbackComplete(world.ctx, w.stack));
}
