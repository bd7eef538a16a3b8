import { parseResourceId, sameResourceId } from "../core/resource-id";
import { UserError } from "../core/errors";
import type { RunbookContext } from "./context";

/** The sync appliance's data disks: staging disks are attached and detached at run time, by LUN. */

// An attach or detach reads the appliance's data-disk list and writes it back whole: two at once (a plan's
// blueprints failing over together) would each write back the other's disks. One at a time per appliance in this
// process. (Two hosts at once could still race: the VM's ETag with If-Match would close that.)
const turns = new Map<string, Promise<void>>();

function onAppliance<T>(applianceId: string, fn: () => Promise<T>): Promise<T> {
  const key = applianceId.toLowerCase();
  const turn = (turns.get(key) ?? Promise.resolve()).then(fn);
  turns.set(
    key,
    turn.then(
      () => undefined,
      () => undefined,
    ),
  );
  return turn;
}

async function dataDisks(ctx: RunbookContext, applianceId: string) {
  const a = parseResourceId(applianceId);
  const vm = await ctx.azure.compute.virtualMachines.get(a.resourceGroup, a.name);
  return (vm.storageProfile?.dataDisks ?? []).map((d) => ({
    lun: d.lun,
    createOption: "Attach" as const,
    managedDisk: { id: d.managedDisk!.id! },
  }));
}

/** Attaches a disk to the appliance (at the lowest free LUN unless one is given); returns its LUN. */
export async function attachToAppliance(
  ctx: RunbookContext,
  applianceId: string,
  diskId: string,
  lun?: number,
): Promise<number> {
  return onAppliance(applianceId, () => attachAlone(ctx, applianceId, diskId, lun));
}

async function attachAlone(ctx: RunbookContext, applianceId: string, diskId: string, lun?: number): Promise<number> {
  const disks = await dataDisks(ctx, applianceId);
  const already = disks.find((d) => sameResourceId(d.managedDisk.id, diskId));
  if (already) return already.lun;
  const used = new Set(disks.map((d) => d.lun));
  let chosen = lun;
  if (chosen === undefined) for (chosen = 0; used.has(chosen); chosen++);
  if (used.has(chosen))
    throw new UserError(`LUN ${chosen} of the appliance is taken. Pick another --lun, or leave it out.`, {
      code: "LunTaken",
    });
  const a = parseResourceId(applianceId);
  await ctx.azure.compute.virtualMachines.update(
    a.resourceGroup,
    a.name,
    { storageProfile: { dataDisks: [...disks, { lun: chosen, createOption: "Attach", managedDisk: { id: diskId } }] } },
    ctx.poll,
  );
  return chosen;
}

/** Detaches disks from the appliance (the disks stay); returns how many were attached. */
export async function detachFromAppliance(
  ctx: RunbookContext,
  applianceId: string,
  diskIds: string[],
): Promise<number> {
  return onAppliance(applianceId, () => detachAlone(ctx, applianceId, diskIds));
}

async function detachAlone(ctx: RunbookContext, applianceId: string, diskIds: string[]): Promise<number> {
  const disks = await dataDisks(ctx, applianceId);
  const keep = disks.filter((d) => !diskIds.some((id) => sameResourceId(id, d.managedDisk.id)));
  if (keep.length === disks.length) return 0;
  const a = parseResourceId(applianceId);
  await ctx.azure.compute.virtualMachines.update(
    a.resourceGroup,
    a.name,
    { storageProfile: { dataDisks: keep } },
    ctx.poll,
  );
  return disks.length - keep.length;
}
