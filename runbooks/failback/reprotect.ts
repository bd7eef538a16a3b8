import { sameResourceId } from "../../core/resource-id";
import { FerryError, UserError } from "../../core/errors";
import type { Source } from "../../core/schemas/source";
import type { Delta } from "../../sync/union-copy";
import type { RunbookContext } from "../context";
import { waitFor } from "../wait";
import { label, sinceFailover } from "./common";
import type { FailbackDiskState, FailbackState } from "./state";

/**
 * Hands each returned disk to the DR sync: a source row for it whose first point is seeded on the
 * staging disk from the DR disk's final snapshot (only the union of what differs: nothing for a
 * staging disk the DR VM ran on, the primary's and the DR side's deltas for one it did not), then
 * verified. The previous disk's row goes. Waits until each is healthy.
 */
export async function reprotect(ctx: RunbookContext, state: FailbackState, disks: FailbackDiskState[]): Promise<void> {
  const points = state.complete!.points;
  for (const d of disks) {
    if (await ctx.store.get(d.newDiskId)) {
      const stale = await ctx.store.get(d.primaryDiskId);
      if (stale) await ctx.store.delete(stale);
      continue;
    }
    const old = await ctx.store.get(d.primaryDiskId);
    if (!old)
      throw new UserError(
        `The source row of ${d.primaryDiskId} is gone: the staging disk's state is unknown. ` +
          `Enable DR for ${d.newDiskId} with ferry sources enable (a full backfill).`,
        { code: "NotEnabled" },
      );
    const point = points[d.newDiskId.toLowerCase()]!;
    const attachedAsIs = sameResourceId(d.stagingDiskId, d.drDiskId);
    // The staging disk is at the primary's last replicated point, like the new disk was when made. Where the first
    // pass could have no delta (a snapshot gone), neither can the seed: it copies the whole snapshot.
    const deltas: Delta[] | undefined = attachedAsIs
      ? []
      : d.passes[0]?.full
        ? undefined
        : sinceFailover(d, d.applied!);
    const {
      applied: _a,
      applying: _p,
      applyingMode: _m,
      desired: _d,
      lease: _l,
      lastError: _e,
      holds: _h,
      lastVerifiedAt: _v,
      syncRequestedAt: _s,
      lagInMs: _g,
      ...keep
    } = old.source;
    const next: Source = {
      ...keep,
      sourceDiskId: d.newDiskId,
      state: "backfilling",
      prepare: "keep",
      applying: point,
      desired: point,
      applyingMode: "seed",
      seed: { copyFrom: d.applied!, ...(deltas ? { deltas } : {}) },
      bytesCopied: 0,
      paused: false,
      consecutiveFailures: 0,
      updatedAt: ctx.now().toISOString(),
    };
    // The new row first: a crash between the two leaves the old row (paused, ignored by the daemon)
    // for the next run to delete, never neither.
    await ctx.store.create(next);
    await ctx.store.delete(old);
    ctx.logger.info(
      { disk: label(d), sourceDiskId: d.newDiskId, seedFrom: d.applied, deltas: deltas?.length ?? "whole disk" },
      `${label(d)}: handed to the DR sync (seeded, no full backfill)`,
    );
  }
  await waitFor(
    ctx,
    ctx.config.failback.reprotectSeconds,
    "the DR sync to take up the returned disks",
    "failback complete",
    async () => {
      const rows = await Promise.all(disks.map((d) => ctx.store.get(d.newDiskId)));
      const bad = rows.find((r) => r?.source.state === "degraded");
      if (bad)
        throw new FerryError(
          `Reprotect of ${bad.source.sourceDiskId} failed: ${bad.source.lastError?.message ?? "degraded"}. ` +
            `Fix it, then run failback complete again.`,
          { code: "ReprotectFailed" },
        );
      return rows.every((r) => r?.source.state === "healthy");
    },
    500,
  );
}
