import { join } from "node:path";
import { nameOf, parseResourceId, sameResourceId } from "../../core/resource-id";
import { FerryError } from "../../core/errors";
import { ByteBudget } from "../../sync/budget";
import { openDevice } from "../../sync/device";
import { snapshotName, TAG_ROLE } from "../../sync/snapshots";
import { copyUnion } from "../../sync/union-copy";
import type { RunbookContext } from "../context";
import { applianceFor, label, sinceFailover, snapshots, TAG_FAILBACK } from "./common";
import type { FailbackDiskState, FailbackPass, FailbackState, FailbackStateStore, PassPlan } from "./state";

// One pass of failback sync over one disk: what failback sync repeats and complete's final delta ends with.

export interface FailbackProgress {
  row: string;
  role: "os" | "data";
  disk: string;
  pass: number;
  bytesDone: number;
  bytesTotal: number;
  mibPerSecond: number;
  etaSeconds?: number;
}

/** Options for {@link syncPass}. */
export interface SyncPassOptions {
  /** Called on each progress report of the union copy. Default: none. */
  onProgress?: (p: FailbackProgress) => void;
}

/**
 * Refuses to write a disk unless it is attached to the failback appliance at the LUN the state
 * says, and to nothing else: above all never the OS disk of a VM (a running primary's OS disk is
 * never written).
 */
export async function assertWritableTarget(
  ctx: RunbookContext,
  d: Pick<FailbackDiskState, "newDiskId" | "applianceId" | "applianceLun">,
): Promise<void> {
  const p = parseResourceId(d.newDiskId);
  const disk = await ctx.azure.compute.disks.get(p.resourceGroup, p.name);
  const owners = [disk.managedBy, ...(disk.managedByExtended ?? [])].filter((x): x is string => !!x);
  for (const owner of owners) {
    if (sameResourceId(owner, d.applianceId)) continue;
    const o = parseResourceId(owner);
    const vm = await ctx.azure.compute.virtualMachines
      .get(o.resourceGroup, o.name, { expand: "instanceView" })
      .catch(() => undefined);
    const power =
      vm?.instanceView?.statuses?.find((s) => s.code?.startsWith("PowerState/"))?.code?.split("/")[1] ?? "unknown";
    if (
      vm?.storageProfile?.osDisk?.managedDisk?.id &&
      sameResourceId(vm.storageProfile.osDisk.managedDisk.id, d.newDiskId)
    ) {
      throw new FerryError(
        `Refusing to write ${p.name}: it is the OS disk of ${o.name} (${power}). ` +
          `A primary OS disk is never written by a failback; the synced disk replaces it instead.`,
        { code: "RunningOsDisk" },
      );
    }
    throw new FerryError(
      `Refusing to write ${p.name}: it is attached to ${o.name} (${power}), not only to the failback appliance.`,
      { code: "TargetInUse" },
    );
  }
  const a = parseResourceId(d.applianceId);
  const appliance = await ctx.azure.compute.virtualMachines.get(a.resourceGroup, a.name);
  const at = appliance.storageProfile?.dataDisks?.find((x) => x.lun === d.applianceLun);
  if (!at?.managedDisk?.id || !sameResourceId(at.managedDisk.id, d.newDiskId)) {
    throw new FerryError(
      `Refusing to write LUN ${d.applianceLun} of ${a.name}: it holds ${at?.managedDisk?.id ?? "nothing"}, ` +
        `not ${p.name}. Run failback sync again to re-attach it.`,
      { code: "TargetInUse" },
    );
  }
}

/** An incremental snapshot of a DR disk for a failback pass (tagged: rollback and cleanup find it). */
export async function takeDrSnapshot(ctx: RunbookContext, prepare: string, drDiskId: string): Promise<string> {
  const dr = parseResourceId(drDiskId);
  const drDisk = await ctx.azure.compute.disks.get(dr.resourceGroup, dr.name);
  const snap = await ctx.azure.compute.snapshots.createOrUpdate(
    dr.resourceGroup,
    snapshotName(`${dr.name}-fb`, ctx.now()),
    {
      location: drDisk.location,
      incremental: true,
      creationData: { createOption: "Copy", sourceResourceId: drDisk.id! },
      tags: { [TAG_FAILBACK]: prepare, [TAG_ROLE]: "failback" },
    },
    ctx.poll,
  );
  return snap.id!;
}

/**
 * What a pass copies into the new disk to make it equal to the DR disk's snapshot `to`: after a
 * pass, what the DR disk changed since; before the first, what the DR VM wrote since its failback
 * base ∪ what the primary changed between the failover's point and the point the new disk was made
 * from ({@link sinceFailover}). Every snapshot those deltas start or end at must still exist: where
 * one is gone (a failover by an older ferry, a base or point deleted), no delta is known and the
 * pass copies the whole disk, said in the log and, with the reason, in the pass's record.
 */
export async function planPass(ctx: RunbookContext, d: FailbackDiskState, to: string): Promise<PassPlan> {
  if (d.applied) return { snapshotId: to, deltas: [{ from: d.applied, to }] };
  const full = (fullReason: string, fields: Record<string, unknown>): PassPlan => {
    ctx.logger.warn(
      { disk: label(d), ...fields, fullReason },
      `${label(d)}: ${fullReason}: the first pass copies the whole disk`,
    );
    return { snapshotId: to, deltas: null, fullReason };
  };
  const deltas = sinceFailover(d, to);
  if (!deltas)
    return full(
      `the failover to an older point held no newer DR-side point of ${nameOf(d.stagingDiskId)} to diff it to`,
      { older: d.older },
    );
  const snaps = snapshots(ctx);
  const needed = [...new Set(deltas.flatMap((x) => [x.from, x.to]).filter((id) => !sameResourceId(id, to)))];
  for (const id of needed) {
    if (await snaps.get(id)) continue;
    const what = sameResourceId(id, d.drBase)
      ? "the DR disk's failback base"
      : d.older && [d.older.pointDrSnapshotId, d.older.bridge?.drSnapshotId].some((x) => x && sameResourceId(x, id))
        ? "a DR-side recovery point the failback diffs"
        : "a primary-side point the failback diffs";
    return full(`${what}, ${id}, no longer exists`, { missing: id });
  }
  return { snapshotId: to, deltas };
}

/**
 * One pass over one disk: finish a pass under way (recorded, perhaps half-written), else snapshot
 * the DR disk and copy the union.
 */
export async function syncPass(
  ctx: RunbookContext,
  store: FailbackStateStore,
  state: FailbackState,
  d: FailbackDiskState,
  options: SyncPassOptions,
): Promise<FailbackPass> {
  const snaps = snapshots(ctx);
  if (!d.applying) {
    const snap = await takeDrSnapshot(ctx, state.prepare, d.drDiskId);
    d.applying = await planPass(ctx, d, snap);
    await store.save(state);
  }
  const applying = d.applying;
  await assertWritableTarget(ctx, d);
  const appliance = applianceFor(ctx, d.region);
  const device = await openDevice(join(appliance.deviceDir, `lun${d.applianceLun}`), {
    write: true,
    logger: ctx.logger,
  });
  const pass = d.passes.length + 1;
  const started = Date.now();
  let lastLog = 0;
  try {
    const r = await copyUnion({
      snapshots: snaps,
      pageBlob: ctx.azure.pageBlob,
      copyFrom: applying.snapshotId,
      deltas: applying.deltas ?? undefined,
      device,
      budget: new ByteBudget(64 * 1024 ** 2),
      readSizeInBytes: 4 * 1024 ** 2,
      readConcurrency: 16,
      diffSegmentBytes: 4 * 1024 ** 3,
      logger: ctx.logger.child({ disk: label(d) }),
      onProgress: ({ bytesDone, bytesTotal }) => {
        const s = (Date.now() - started) / 1000;
        const rate = s > 0 ? bytesDone / s : 0;
        const p: FailbackProgress = {
          row: d.row,
          role: d.role,
          disk: label(d),
          pass,
          bytesDone,
          bytesTotal,
          mibPerSecond: Math.round((rate / 1024 ** 2) * 10) / 10,
          ...(rate > 0 ? { etaSeconds: Math.round((bytesTotal - bytesDone) / rate) } : {}),
        };
        options.onProgress?.(p);
        if (Date.now() - lastLog > 1000 || bytesDone === bytesTotal) {
          lastLog = Date.now();
          ctx.logger.info(
            p,
            `${label(d)}: pass ${pass} ${Math.round((bytesDone / Math.max(1, bytesTotal)) * 100)} %` +
              (p.etaSeconds !== undefined ? `, ETA ${p.etaSeconds} s` : ""),
          );
        }
      },
    });
    // Durable first, then recorded.
    await device.sync();
    const previous = d.applied;
    const record: FailbackPass = {
      pass,
      snapshotId: applying.snapshotId,
      unionBytes: r.unionBytes,
      bytesRead: r.bytesRead,
      bytesZeroed: r.bytesZeroed,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      ...(r.full ? { full: true, fullReason: applying.fullReason ?? r.fullReason ?? "no delta could be had" } : {}),
    };
    d.applied = applying.snapshotId;
    delete d.applying;
    d.passes.push(record);
    await store.save(state);
    if (previous)
      await snaps
        .delete(previous)
        .catch((e: unknown) =>
          ctx.logger.warn(
            { err: e, snapshotId: previous },
            "an old failback snapshot is left; cleanup --failback removes it",
          ),
        );
    ctx.logger.info({ disk: label(d), ...record }, `${label(d)}: pass ${pass} done`);
    return record;
  } finally {
    await device.close();
  }
}

// --- failback complete -----------------------------------------------------------------------
