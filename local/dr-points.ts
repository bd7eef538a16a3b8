import type { StoredDrPoint } from "../adapters/state/points";
import { sameResourceId } from "../core/resource-id";
import type { RunbookContext } from "../runbooks/context";

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
