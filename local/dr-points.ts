import type { StoredDrPoint } from "../adapters/state/points";
import { sameResourceId } from "../core/resource-id";
import type { RunbookContext } from "../runbooks/context";
import { requestSync } from "../adapters/state/admin";
import type { LocalWorld, Workload } from "./world";

/** Options of {@link daemonPoints}. */
export interface DaemonPointsOptions {
  /** How long to wait for the sync daemon's points, in milliseconds. Default 60000. */
  timeoutInMs?: number;
  /** Between two reads of the store, in milliseconds. Default 100. */
  intervalInMs?: number;
}

/**
 * The recovery points the sync daemon took in the DR region of the points each disk's staging disk holds now
 * (its `applied`, nothing applying), in the order of `sourceDiskIds`: it records each one at the apply
 * boundary, just after the apply. Waits for them; throws naming the disks without one when they do not come
 * (no DR snapshot group in the landing zone, or points failing: `ferry sources list` says why).
 */
export async function daemonPoints(
  ctx: Pick<RunbookContext, "store" | "points">,
  sourceDiskIds: string[],
  options: DaemonPointsOptions = {},
): Promise<StoredDrPoint[]> {
  const deadline = Date.now() + (options.timeoutInMs ?? 60_000);
  for (;;) {
    const found = await Promise.all(
      sourceDiskIds.map(async (id) => {
        const s = (await ctx.store.get(id))?.source;
        if (!s?.applied || s.applying) return undefined;
        const applied = s.applied.snapshotId;
        return (await ctx.points.list(id)).findLast((p) => sameResourceId(p.point.sourceSnapshotId, applied));
      }),
    );
    if (found.every((p) => p !== undefined)) return found;
    if (Date.now() > deadline) {
      const missing = sourceDiskIds.filter((_, i) => !found[i]);
      throw new Error(`The sync daemon took no DR-side point of the applied point of ${missing.join(", ")}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalInMs ?? 100));
  }
}

/** The source disks of a workload: each VM's OS disk, then its data disks by LUN. */
export function workloadDiskIds(w: Workload): string[] {
  return w.vms.flatMap((v) => [v.osDiskId, ...v.dataDiskIds.values()]);
}

/**
 * Syncs what a workload wrote since its last points: asks the daemon for a cycle of each of its disks now (rather
 * than at its interval), runs the daemon until every disk has applied a point other than the one it held, and returns
 * the DR-side points of those (in {@link workloadDiskIds} order). `timeoutInMs` bounds each of the two waits.
 */
export async function syncNewPoints(
  world: Pick<LocalWorld, "ctx" | "syncUntil" | "sourcesOf">,
  w: Workload,
  options: DaemonPointsOptions = {},
): Promise<StoredDrPoint[]> {
  const { store } = world.ctx;
  const ids = workloadDiskIds(w);
  const before = await Promise.all(ids.map(async (id) => (await store.get(id))?.source.applied?.snapshotId));
  for (const id of ids) await requestSync(store, id, new Date());
  await world.syncUntil(
    async () =>
      (await Promise.all(ids.map((id) => store.get(id)))).every(
        (r, i) => r !== undefined && !r.source.applying && r.source.applied?.snapshotId !== before[i],
      ),
    `a new point of every disk of ${w.stack}`,
    world.sourcesOf(w),
    options.timeoutInMs ?? 60_000,
  );
  return daemonPoints(world.ctx, ids, options);
}
