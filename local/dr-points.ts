import type { StoredDrPoint } from "../adapters/state/points";
import { parseResourceId } from "../core/resource-id";
import type { RunbookContext } from "../runbooks/context";
import { DR } from "./world";

/** Options of {@link takeDrPoints}. */
export interface TakeDrPointsOptions {
  /** The row-group id the points share (`--recovery-point <group>`). Default: none (points taken on their own). */
  group?: string;
  /** Resource group of the DR-side snapshots. Default: the local world's DR snapshot group. */
  resourceGroup?: string;
}

let serial = 0;

/**
 * What the sync daemon does after an apply (until its points land, the local harness and the tests do it
 * here), for disks that are at an apply boundary: an incremental snapshot of each
 * staging disk in the DR region through the Azure SDK, requested together, then one {@link DrPointStore} record per
 * snapshot. Refuses a disk that is being applied (its staging disk is torn).
 */
export async function takeDrPoints(
  ctx: RunbookContext,
  sourceDiskIds: string[],
  options: TakeDrPointsOptions = {},
): Promise<StoredDrPoint[]> {
  const rg = options.resourceGroup ?? DR.snapshotRg;
  const n = ++serial;
  // The landing zone makes this group once the daemon's points land (the points branch); until then, here.
  await ctx.azure.resources.resourceGroups.createOrUpdate(rg, { location: DR.location });
  return Promise.all(
    sourceDiskIds.map(async (id) => {
      const s = (await ctx.store.get(id))?.source;
      if (!s?.applied || s.applying) throw new Error(`${id} is not at an apply boundary: no point can be taken`);
      const staging = parseResourceId(s.stagingDiskId);
      const name = `point-${staging.name}-${n}`.slice(0, 80);
      const stagingDisk = await ctx.azure.compute.disks.get(staging.resourceGroup, staging.name);
      const snap = await ctx.azure.compute.snapshots.beginCreateOrUpdateAndWait(
        rg,
        name,
        {
          location: stagingDisk.location,
          incremental: true,
          creationData: { createOption: "Copy", sourceResourceId: s.stagingDiskId },
          tags: { "ferry-role": "point", "ferry-source": id.toLowerCase() },
        },
        ctx.poll,
      );
      return ctx.points.add({
        sourceDiskId: id,
        stagingDiskId: s.stagingDiskId,
        sourceSnapshotId: s.applied.snapshotId,
        pointTime: s.applied.createdAt,
        drSnapshotId: snap.id!,
        takenAt: snap.timeCreated?.toISOString() ?? new Date().toISOString(),
        ...(options.group ? { group: options.group } : {}),
        ...(s.protection ? { protection: s.protection } : {}),
      });
    }),
  );
}
