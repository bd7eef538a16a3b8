import { parseResourceId, sameResourceId } from "../../core/resource-id";
import { isNotFound, UserError } from "../../core/errors";
import { holdPoint } from "../../adapters/state/admin";
import { failbackBaseName } from "../../stacks/plan";
import { attachToAppliance } from "../appliance";
import { landingZone, loadBlueprint } from "../blueprints";
import type { RunbookContext } from "../context";
import type { Operation } from "../journal";
import { withNextStep } from "../next-step";
import { pauseAtApplyBoundary } from "../wait";
import { applianceFor, label, TAG_FAILBACK } from "./common";
import { planPass, syncPass, takeDrSnapshot, type SyncPassOptions } from "./pass";
import { preparedFailback, type FailbackDisk } from "./prepare";
import { completePhaseReached } from "./complete-phase";
import { failbackStateStore, type FailbackDiskState, type FailbackState } from "./state";
import { settleAll } from "../../core/settle";

/** Options for {@link failbackSync}. */
export type FailbackSyncOptions = SyncPassOptions;

const HOLD_FOREVER_MS = 10 * 365 * 24 * 3_600_000;

/**
 * `ferry failback sync`: copies each DR disk home, delta only. For each disk: a new disk in the
 * primary region made from the primary's last replicated point (the sync of that disk is paused
 * and the point held first), attached to the primary region's appliance; then passes, each a
 * snapshot of the DR disk and a copy of only the union of (what the DR VM wrote since failover)
 * and (what the primary wrote between the failover's point and its last replicated one, reverted
 * to the DR side's bytes); later passes copy what changed since the previous one. Passes repeat
 * until one has less than `failback.smallDeltaMiB` to copy. Each pass is recorded before it
 * writes and after it is durable, so an interrupted run resumes the same pass.
 */
export async function failbackSync(
  ctx: RunbookContext,
  stack: string,
  options: FailbackSyncOptions = {},
): Promise<{ op: Operation; state: FailbackState }> {
  const progress: SyncProgress = {};
  try {
    return await syncRun(ctx, stack, options, progress);
  } catch (e) {
    // Refused before its operation began: the refusal says it all.
    if (progress.blueprint === undefined) throw e;
    const name = progress.blueprint;
    throw withNextStep(
      e,
      progress.pausing
        ? `The primary disks' sync stays paused for the failback, and what this run copied is kept: ` +
            `run \`ferry failback sync ${name}\` again to continue it, or \`ferry failback rollback ${name}\` ` +
            "to abandon the failback (the DR VMs go on running, the primary disks' sync resumes)."
        : `Nothing was paused: run \`ferry failback sync ${name}\` again.`,
      "FailbackSyncFailed",
    );
  }
}

/** How far a failback sync got: its operation began (for a blueprint), the primary disks' sync paused. */
interface SyncProgress {
  blueprint?: string;
  pausing?: boolean;
}

async function syncRun(
  ctx: RunbookContext,
  stack: string,
  options: FailbackSyncOptions,
  progress: SyncProgress,
): Promise<{ op: Operation; state: FailbackState }> {
  const b = (await loadBlueprint(ctx, stack)).blueprint;
  const plan = await preparedFailback(ctx, b.name);
  const prepareOp = (await ctx.journal.list(b.name)).find(
    (o) => o.kind === "failback-prepare" && o.status === "succeeded",
  )!;
  const store = failbackStateStore(ctx);
  let state = await store.read(b.name);
  if (state?.phase === "completed")
    throw new UserError(
      `The failback of ${b.name} is complete. Run \`ferry cleanup ${b.name} --failback\` ` +
        `to remove the previous primary disks.`,
      { code: "FailbackComplete" },
    );
  if (state?.phase === "syncing" && state.complete?.swapped.length) {
    throw new UserError(
      `failback complete already swapped the disks of ${state.complete.swapped.join(", ")}: ` +
        `there is nothing left to sync. Run ferry failback complete ${b.name} again to finish.`,
      { code: "AlreadySwapped" },
    );
  }
  // Past the final pass the new disks are off the appliance and their first points are being taken:
  // a pass now would make a disk differ from its first point.
  if (state?.phase === "syncing" && state.complete && completePhaseReached(state.complete.phase, "newDisksDetached")) {
    throw new UserError(
      `failback complete of ${b.name} already copied the final delta and took the synced disks off the ` +
        `appliance: there is nothing left to sync. Run ferry failback complete ${b.name} again to finish, ` +
        `or ferry failback rollback ${b.name} to abandon it.`,
      { code: "CompleteUnderWay" },
    );
  }
  if (state?.phase === "syncing" && state.prepare !== prepareOp.id) {
    throw new UserError(
      `A failback of ${b.name} prepared by ${state.prepare} is under way, and ${prepareOp.id} prepared another. ` +
        `Finish it (ferry failback complete) or roll it back (ferry failback rollback) first.`,
      { code: "FailbackUnderWay" },
    );
  }
  const { op } = await ctx.journal.run("failback-sync", b.name, async (op) => {
    progress.blueprint = b.name;
    op.details = { prepare: prepareOp.id };
    if (!state || state.phase !== "syncing") {
      state = {
        blueprint: b.name,
        prepare: prepareOp.id,
        failover: plan.failover,
        phase: "syncing",
        disks: [],
        ...(plan.newVmSubnetId ? { newVmSubnetId: plan.newVmSubnetId } : {}),
      };
      await store.save(state);
    }
    const st = state;
    // From here the primary disks' sync stays paused until the failback ends or is rolled back.
    progress.pausing = true;
    await ctx.journal.step(op, "pause the primary disks' sync and hold their last replicated points", () =>
      holdPrimaryPoints(ctx, plan.disks, prepareOp.id),
    );
    const zone = await landingZone(ctx);
    await ctx.journal.step(op, "new primary disks from the last replicated points, on the primary appliance", () =>
      // Every disk at once, and each DR disk's first pass snapshot taken while its new disk is made.
      settleAll(
        plan.disks.map(async (d) => {
          if (st.disks.some((x) => x.primaryDiskId === d.primaryDiskId)) return;
          const [entry, snap] = await Promise.all([
            newPrimaryDisk(
              ctx,
              zone.resourceGroupName,
              d,
              prepareOp.id,
              b.rows.find((r) => r.name === d.row)!.sourceRegion,
            ),
            takeDrSnapshot(ctx, prepareOp.id, d.drDiskId),
          ]);
          entry.applying = await planPass(ctx, entry, snap);
          st.disks.push(entry);
          await store.save(st);
        }),
      ).then(() => {
        // In the prepared order (rows, then OS before data disks), however they finished.
        const at = (x: FailbackDiskState) => plan.disks.findIndex((d) => d.primaryDiskId === x.primaryDiskId);
        st.disks.sort((x, y) => at(x) - at(y));
        return store.save(st);
      }),
    );
    for (let pass = 1; pass <= ctx.config.failback.maxPasses; pass++) {
      const results = await ctx.journal.step(op, `pass ${pass}: copy the union of the deltas`, () =>
        settleAll(st.disks.map((d) => syncPass(ctx, store, st, d, options))),
      );
      const left = Math.max(...results.map((r) => r.unionBytes));
      if (left <= ctx.config.failback.smallDeltaMiB * 1024 ** 2) break;
    }
    const bytesMoved = st.disks.reduce((n, d) => n + d.passes.reduce((m, p) => m + p.bytesRead + p.bytesZeroed, 0), 0);
    const fullCopies = fullCopiesOf(st);
    op.details = {
      prepare: prepareOp.id,
      bytesMoved,
      ...(fullCopies.length ? { fullCopies } : {}),
      disks: st.disks.map((d) => ({ disk: label(d), newDiskId: d.newDiskId, passes: d.passes })),
    };
  });
  return { op, state: state! };
}

/** A disk a pass copied whole (no delta could be had), why, and the bytes it read from the DR side. */
export interface FullCopy {
  disk: string;
  reason: string;
  bytesToMove: number;
}

/** The passes of a failback that copied a whole disk instead of a delta. */
export function fullCopiesOf(state: FailbackState): FullCopy[] {
  return state.disks.flatMap((d) =>
    d.passes
      .filter((p) => p.full)
      .map((p) => ({ disk: label(d), reason: p.fullReason ?? "no delta could be had", bytesToMove: p.bytesRead })),
  );
}

/**
 * Pauses the sync of each primary disk at an apply boundary and holds its last replicated point
 * until the failback ends.
 */
async function holdPrimaryPoints(ctx: RunbookContext, disks: FailbackDisk[], by: string): Promise<void> {
  const until = new Date(ctx.now().getTime() + HOLD_FOREVER_MS);
  await pauseAtApplyBoundary(
    ctx,
    disks.map((d) => d.primaryDiskId),
    "failback sync",
  );
  for (const d of disks) {
    const s = (await ctx.store.get(d.primaryDiskId))!.source;
    if (!s.applied)
      throw new UserError(`${label(d)}: no replicated point of ${d.primaryDiskId} is recorded.`, {
        code: "NoReplicatedPoint",
      });
    if (!(s.holds ?? []).some((h) => sameResourceId(h.snapshotId, s.applied!.snapshotId) && h.by === by))
      await holdPoint(ctx.store, d.primaryDiskId, s.applied.snapshotId, by, until, ctx.now());
    if (!(s.holds ?? []).some((h) => sameResourceId(h.snapshotId, d.basePointId) && h.by === by))
      await holdPoint(ctx.store, d.primaryDiskId, d.basePointId, by, until, ctx.now());
  }
}

/** A new disk in the primary region from the primary's last replicated point, attached to that region's appliance. */
async function newPrimaryDisk(
  ctx: RunbookContext,
  drResourceGroup: string,
  d: FailbackDisk,
  prepare: string,
  region: string,
): Promise<FailbackDiskState> {
  const source = (await ctx.store.get(d.primaryDiskId))!.source;
  const madeFrom = source.applied!;
  const p = parseResourceId(d.primaryDiskId);
  // A primary disk that is gone (--to-new-vm) is made again like the DR disk it comes back from.
  const primary = await ctx.azure.compute.disks.get(p.resourceGroup, p.name).catch(async (e: unknown) => {
    if (!isNotFound(e) || d.restore !== "newVm") throw e;
    const dr = parseResourceId(d.drDiskId);
    const like = await ctx.azure.compute.disks.get(dr.resourceGroup, dr.name);
    return {
      location: region,
      diskSizeGB: like.diskSizeGB,
      sku: like.sku,
      osType: like.osType,
      tags: {} as Record<string, string>,
    };
  });
  const appliance = applianceFor(ctx, primary.location);
  const name = `${p.name}-fb-${prepare.slice(-16, -1).toLowerCase()}`.slice(0, 80);
  const disk = await ctx.azure.compute.disks.createOrUpdate(
    p.resourceGroup,
    name,
    {
      location: primary.location,
      creationData: { createOption: "Copy", sourceResourceId: madeFrom.snapshotId },
      ...(primary.diskSizeGB ? { diskSizeGB: primary.diskSizeGB } : {}),
      ...(primary.sku ? { sku: primary.sku } : {}),
      ...(primary.osType ? { osType: primary.osType } : {}),
      tags: { ...primary.tags, [TAG_FAILBACK]: prepare, "ferry-failback-replaces": d.primaryDiskId.toLowerCase() },
    },
    ctx.poll,
  );
  const applianceLun = await attachToAppliance(ctx, appliance.vmId, disk.id!);
  const drBase =
    d.drBaseId ??
    `/subscriptions/${parseResourceId(d.drDiskId).subscriptionId}/resourceGroups/${drResourceGroup}` +
      `/providers/Microsoft.Compute/snapshots/${failbackBaseName(d.row, d.role, d.lun)}`;
  ctx.logger.info(
    { disk: label(d), newDiskId: disk.id, madeFrom: madeFrom.snapshotId, lun: applianceLun },
    "new primary disk made from the last replicated point",
  );
  return {
    ...d,
    stagingDiskId: source.stagingDiskId,
    stagingLun: source.applianceLun,
    region: primary.location,
    newDiskId: disk.id!,
    applianceId: appliance.vmId,
    applianceLun,
    madeFrom,
    drBase,
    passes: [],
  };
}
