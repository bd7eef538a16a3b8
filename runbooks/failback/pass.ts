import { join } from "node:path";
import { parseResourceId, sameResourceId } from "../../core/resource-id";
import { FerryError } from "../../core/errors";
import { ByteBudget } from "../../sync/budget";
import { openDevice } from "../../sync/device";
import { snapshotName, TAG_ROLE } from "../../sync/snapshots";
import { copyUnion, type Delta } from "../../sync/union-copy";
import type { RunbookContext } from "../context";
import { applianceFor, label, sinceFailover, snapshots, TAG_FAILBACK } from "./common";
import type { FailbackDiskState, FailbackPass, FailbackState, FailbackStateStore } from "./state";

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
 * Where the new disk may differ from the DR disk's snapshot `to`: after a pass, what the DR disk
 * changed since; before the first, what the DR VM wrote since its failback base ∪ what the primary
 * wrote between the failover's point and the point the new disk was made from. `null`: no base
 * (a failover by an older ferry, or the base deleted): the whole disk.
 */
export async function passDeltas(ctx: RunbookContext, d: FailbackDiskState, to: string): Promise<Delta[] | null> {
  if (d.applied) return [{ from: d.applied, to }];
  if (!(await snapshots(ctx).get(d.drBase))) {
    ctx.logger.warn(
      { disk: label(d), drBase: d.drBase },
      "the DR disk has no failback base (failed over by an older ferry, or deleted): " +
        "the first pass copies the whole disk",
    );
    return null;
  }
  return sinceFailover(d, to);
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
    d.applying = { snapshotId: snap, deltas: await passDeltas(ctx, d, snap) };
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
      ...(r.full ? { full: true } : {}),
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
