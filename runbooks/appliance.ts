import { parseResourceId, sameResourceId } from "../core/resource-id";
import { FerryError, UserError } from "../core/errors";
import { isConcurrentWriteConflict, withRetry } from "../core/retry";
import type { RunbookContext } from "./context";

/**
 * The sync appliance's data disks: staging disks are attached and detached at run time, by LUN.
 *
 * Every attach and detach is one `attachDetachDataDisks` call (Compute api-version 2024-03-01 and later) that names
 * only its own disks, never a write of the VM's whole data-disk list. So two hosts at once (a plan's blueprints on two
 * pipeline agents, the daemon's host and a runbook) cannot undo each other's change, and no lock is needed: Azure
 * applies each call to the VM as it is when the call arrives. A call that arrives while another write holds the VM
 * may be refused with a 409 (see {@link isConcurrentWriteConflict}): it is made again after a poll interval, doubling,
 * for a few minutes at most (Azure's attach or detach takes seconds). See emulator/README.md ("virtual machines")
 * for the operation's request, answer and refusals.
 */

/** What an attach or detach needs of a runbook's context: its Azure clients and their polling. */
export type ApplianceContext = Pick<RunbookContext, "azure" | "poll">;

interface DataDisk {
  lun: number;
  diskId: string;
}

async function dataDisks(ctx: ApplianceContext, applianceId: string): Promise<DataDisk[]> {
  const a = parseResourceId(applianceId);
  const vm = await ctx.azure.compute.virtualMachines.get(a.resourceGroup, a.name);
  return (vm.storageProfile?.dataDisks ?? []).map((d) => ({ lun: d.lun, diskId: d.managedDisk!.id! }));
}

function attachDetach(
  ctx: ApplianceContext,
  applianceId: string,
  request: { attach?: { diskId: string; lun?: number }; detach?: string[] },
) {
  const a = parseResourceId(applianceId);
  const interval = ctx.poll.updateIntervalInMs;
  return withRetry(
    () =>
      ctx.azure.compute.virtualMachines.attachDetachDataDisks(
        a.resourceGroup,
        a.name,
        {
          ...(request.attach ? { dataDisksToAttach: [request.attach] } : {}),
          ...(request.detach ? { dataDisksToDetach: request.detach.map((diskId) => ({ diskId })) } : {}),
        },
        ctx.poll,
      ),
    // Only the refusals of a concurrent write: the SDK's own policy has retried everything else already.
    {
      retryable: isConcurrentWriteConflict,
      maxRetries: CONFLICT_RETRIES,
      retryDelayInMs: interval,
      maxRetryDelayInMs: interval * 16,
    },
  );
}

/** Attempts after a concurrent write's 409: at most 79 poll intervals of waiting, half that on average (jitter). */
const CONFLICT_RETRIES = 8;

function lunTaken(lun: number): UserError {
  return new UserError(`LUN ${lun} of the appliance is taken. Pick another --lun, or leave it out.`, {
    code: "LunTaken",
  });
}

/** Azure's refusal of an attach at a LUN in use: 400 InvalidParameter, "A disk at LUN {n} already exists." */
function isLunInUse(e: unknown): boolean {
  const err = e as { statusCode?: unknown; message?: unknown };
  return (
    err.statusCode === 400 && typeof err.message === "string" && /A disk at LUN \d+ already exists/.test(err.message)
  );
}

/** Attaches a disk to the appliance (at a LUN Azure picks unless one is given); returns its LUN. */
export async function attachToAppliance(
  ctx: ApplianceContext,
  applianceId: string,
  diskId: string,
  lun?: number,
): Promise<number> {
  const disks = await dataDisks(ctx, applianceId);
  const already = disks.find((d) => sameResourceId(d.diskId, diskId));
  if (already) return already.lun;
  if (lun !== undefined && disks.some((d) => d.lun === lun)) throw lunTaken(lun);
  const profile = await attachDetach(ctx, applianceId, {
    attach: { diskId, ...(lun !== undefined ? { lun } : {}) },
  }).catch((e: unknown) => {
    // Another host took the LUN between the read and the attach.
    if (lun !== undefined && isLunInUse(e)) throw lunTaken(lun);
    throw e;
  });
  const at = profile.dataDisks?.find((d) => sameResourceId(d.managedDisk?.id ?? "", diskId));
  if (!at)
    throw new FerryError(`Azure attached ${diskId} to the appliance but does not list it among its data disks.`, {
      code: "AttachNotListed",
    });
  return at.lun;
}

/** Detaches disks from the appliance (the disks stay); returns how many of them were attached. */
export async function detachFromAppliance(
  ctx: ApplianceContext,
  applianceId: string,
  diskIds: string[],
): Promise<number> {
  if (diskIds.length === 0) return 0;
  // Asked at once, with no read of the VM first: a failover's detach is on its critical path.
  try {
    await attachDetach(ctx, applianceId, { detach: diskIds });
    return diskIds.length;
  } catch (e) {
    // Azure refuses the whole call when one disk named is not attached (a re-run, or another host detached it):
    // what is still attached is detached again; a disk gone already is what was asked for.
    if ((e as { statusCode?: unknown }).statusCode !== 400) throw e;
    const still = (await dataDisks(ctx, applianceId)).filter((d) => diskIds.some((id) => sameResourceId(id, d.diskId)));
    if (still.length === diskIds.length) throw e;
    if (still.length) await attachDetach(ctx, applianceId, { detach: still.map((d) => d.diskId) });
    return still.length;
  }
}
