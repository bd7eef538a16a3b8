import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
  openSync,
  fsyncSync,
  closeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { parseResourceId, sameResourceId } from "../core/resource-id";
import { FerryError, isNotFound, UserError, unlessNotFound } from "../core/errors";
import type { RecoveryPoint } from "../core/schemas/recovery-point";
import type { Source } from "../core/schemas/source";
import { holdPoint, releaseHolds, setPaused } from "../adapters/state/admin";
import type { Blueprint } from "../core/schemas/blueprint";
import { failbackBaseName } from "../stacks/plan";
import { ByteBudget } from "../sync/budget";
import { openDevice } from "../sync/device";
import { snapshotName, SnapshotService, TAG_ROLE } from "../sync/snapshots";
import { copyUnion, type Delta } from "../sync/union-copy";
import { attachToAppliance, detachFromAppliance } from "./appliance";
import { diskLabel, landingZone, loadBlueprint, nameOf } from "./blueprints";
import type { RunbookContext } from "./context";
import { pauseAtApplyBoundary, waitFor } from "./wait";
import { preparedFailback, type FailbackDisk } from "./failback";
import type { Operation } from "./journal";
import { waitUntilReady } from "./readiness";

/** One pass of failback sync over one disk. */
export interface FailbackPass {
  pass: number;
  /** The snapshot of the DR disk the new primary disk equals after this pass. */
  snapshotId: string;
  /** Bytes of the union of the deltas this pass had to make equal. */
  unionBytes: number;
  bytesRead: number;
  bytesZeroed: number;
  seconds: number;
  /** No delta could be had (a snapshot gone): the whole disk was copied. */
  full?: boolean;
}

export interface FailbackDiskState extends FailbackDisk {
  /** The staging disk of the primary disk (the DR disk itself when it was attached as is), its LUN on the DR appliance, and the primary region. */
  stagingDiskId: string;
  stagingLun: number;
  region: string;
  /** The new disk in the primary region the DR disk's data is copied into, and its LUN on the primary appliance. */
  newDiskId: string;
  applianceId: string;
  applianceLun: number;
  /** The primary source's last replicated point the new disk was made from. */
  madeFrom: RecoveryPoint;
  /** The DR disk's snapshot taken by the failover before its VM started (the base of the DR-side delta). */
  drBase: string;
  /** The DR disk snapshot the new disk durably equals. */
  applied?: string;
  /** A pass under way: the new disk is torn on the union of these deltas until it ends. */
  applying?: { snapshotId: string; deltas: Delta[] | null };
  passes: FailbackPass[];
}

export interface FailbackState {
  blueprint: string;
  /** The failback-prepare operation whose mapping this follows. */
  prepare: string;
  failover: string;
  phase: "syncing" | "completed" | "rolledBack" | "cleaned";
  disks: FailbackDiskState[];
  /** `--to-new-vm`: where a new VM's NIC goes. */
  newVmSubnetId?: string;
  /** What failback complete has done, step by step (it is re-run from where it stopped). */
  complete?: {
    drStopped?: boolean;
    finalDone?: boolean;
    swapped: string[];
    /** The first recovery point of each returned disk, by new disk id. */
    points: Record<string, RecoveryPoint>;
    configUpdated?: boolean;
    standby?: boolean;
  };
}

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

export interface FailbackSyncOptions {
  onProgress?: (p: FailbackProgress) => void;
}

const TAG_FAILBACK = "ferry-failback";
const TAG_PREVIOUS = "ferry-failback-previous";
const HOLD_FOREVER_MS = 10 * 365 * 24 * 3_600_000;

// --- state, kept beside the journal and written atomically -----------------------------------

function stateFile(ctx: RunbookContext, blueprint: string): string {
  // Beside the journal (it travels with it between pipeline agents), outside its per-blueprint folders of operations.
  return join(ctx.config.journalDir, ".failback", `${blueprint}.json`);
}

export function readFailbackState(ctx: RunbookContext, blueprint: string): FailbackState | undefined {
  const p = stateFile(ctx, blueprint);
  if (!existsSync(p)) return undefined;
  return JSON.parse(readFileSync(p, "utf8")) as FailbackState;
}

function saveState(ctx: RunbookContext, state: FailbackState): void {
  const p = stateFile(ctx, state.blueprint);
  mkdirSync(dirname(p), { recursive: true });
  const tmp = `${p}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2));
  const fd = openSync(tmp, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, p);
}

function label(d: Pick<FailbackDisk, "row" | "role" | "lun">): string {
  return `${d.row} ${diskLabel(d)}`;
}

function snapshots(ctx: RunbookContext, applianceId = ""): SnapshotService {
  return new SnapshotService(ctx.azure, { applianceId, pollIntervalInMs: ctx.poll.updateIntervalInMs, now: ctx.now });
}

// --- failback sync ---------------------------------------------------------------------------

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
  const b = (await loadBlueprint(ctx, stack)).blueprint;
  const plan = preparedFailback(ctx, b.name);
  const prepareOp = ctx.journal.list(b.name).find((o) => o.kind === "failback-prepare" && o.status === "succeeded")!;
  let state = readFailbackState(ctx, b.name);
  if (state?.phase === "completed")
    throw new UserError(
      `The failback of ${b.name} is complete. Run \`ferry cleanup ${b.name} --failback\` to remove the previous primary disks.`,
      { code: "FailbackComplete" },
    );
  if (state?.phase === "syncing" && state.complete?.swapped.length) {
    throw new UserError(
      `failback complete already swapped the disks of ${state.complete.swapped.join(", ")}: there is nothing left to sync. Run ferry failback complete ${b.name} again to finish.`,
      { code: "AlreadySwapped" },
    );
  }
  if (state?.phase === "syncing" && state.prepare !== prepareOp.id) {
    throw new UserError(
      `A failback of ${b.name} prepared by ${state.prepare} is under way, and ${prepareOp.id} prepared another. Finish it (ferry failback complete) or roll it back (ferry failback rollback) first.`,
      { code: "FailbackUnderWay" },
    );
  }
  const { op } = await ctx.journal.run("failback-sync", b.name, async (op) => {
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
      saveState(ctx, state);
    }
    const st = state;
    await ctx.journal.step(op, "pause the primary disks' sync and hold their last replicated points", () =>
      holdPrimaryPoints(ctx, plan.disks, prepareOp.id),
    );
    await ctx.journal.step(op, "new primary disks from the last replicated points, on the primary appliance", () =>
      // Every disk at once, and each DR disk's first pass snapshot taken while its new disk is made.
      Promise.all(
        plan.disks.map(async (d) => {
          if (st.disks.some((x) => x.primaryDiskId === d.primaryDiskId)) return;
          const [entry, snap] = await Promise.all([
            newPrimaryDisk(
              ctx,
              b.target.resourceGroup,
              d,
              prepareOp.id,
              b.rows.find((r) => r.name === d.row)!.sourceRegion,
            ),
            takeDrSnapshot(ctx, prepareOp.id, d.drDiskId),
          ]);
          entry.applying = { snapshotId: snap, deltas: await passDeltas(ctx, entry, snap) };
          st.disks.push(entry);
          saveState(ctx, st);
        }),
      ).then(() => {
        // In the prepared order (rows, then OS before data disks), however they finished.
        const at = (x: FailbackDiskState) => plan.disks.findIndex((d) => d.primaryDiskId === x.primaryDiskId);
        st.disks.sort((x, y) => at(x) - at(y));
        saveState(ctx, st);
      }),
    );
    for (let pass = 1; pass <= ctx.config.failback.maxPasses; pass++) {
      const results = await ctx.journal.step(op, `pass ${pass}: copy the union of the deltas`, () =>
        Promise.all(st.disks.map((d) => syncPass(ctx, st, d, options))),
      );
      const left = Math.max(...results.map((r) => r.unionBytes));
      if (left <= ctx.config.failback.smallDeltaMiB * 1024 ** 2) break;
    }
    const bytesMoved = st.disks.reduce((n, d) => n + d.passes.reduce((m, p) => m + p.bytesRead + p.bytesZeroed, 0), 0);
    op.details = {
      prepare: prepareOp.id,
      bytesMoved,
      disks: st.disks.map((d) => ({ disk: label(d), newDiskId: d.newDiskId, passes: d.passes })),
    };
  });
  return { op, state: state! };
}

/** Pauses the sync of each primary disk at an apply boundary and holds its last replicated point until the failback ends. */
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
  // Attaches rewrite the appliance's whole disk list: one at a time.
  const applianceLun = await oneAtATime(() => attachToAppliance(ctx, appliance.vmId, disk.id!));
  const drBase = `/subscriptions/${parseResourceId(d.drDiskId).subscriptionId}/resourceGroups/${drResourceGroup}/providers/Microsoft.Compute/snapshots/${failbackBaseName(d.row, d.role, d.lun)}`;
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

let attaching: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
  const next = attaching.then(fn, fn);
  attaching = next.catch(() => undefined);
  return next;
}

function applianceFor(ctx: RunbookContext, region: string): { vmId: string; deviceDir: string } {
  const entry = Object.entries(ctx.config.failback.appliances).find(([r]) => r.toLowerCase() === region.toLowerCase());
  if (!entry) {
    throw new UserError(
      `No failback appliance for the primary region ${region}. Add failback.appliances.${region} = { "vmId": "<the appliance VM's id>" } to ferry.json, and run ferry failback sync on that VM.`,
      { code: "NoFailbackAppliance" },
    );
  }
  return entry[1];
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
        `Refusing to write ${p.name}: it is the OS disk of ${o.name} (${power}). A primary OS disk is never written by a failback; the synced disk replaces it instead.`,
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
      `Refusing to write LUN ${d.applianceLun} of ${a.name}: it holds ${at?.managedDisk?.id ?? "nothing"}, not ${p.name}. Run failback sync again to re-attach it.`,
      { code: "TargetInUse" },
    );
  }
}

/** An incremental snapshot of a DR disk for a failback pass (tagged: rollback and cleanup find it). */
async function takeDrSnapshot(ctx: RunbookContext, prepare: string, drDiskId: string): Promise<string> {
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
async function passDeltas(ctx: RunbookContext, d: FailbackDiskState, to: string): Promise<Delta[] | null> {
  if (d.applied) return [{ from: d.applied, to }];
  if (!(await snapshots(ctx).get(d.drBase))) {
    ctx.logger.warn(
      { disk: label(d), drBase: d.drBase },
      "the DR disk has no failback base (failed over by an older ferry, or deleted): the first pass copies the whole disk",
    );
    return null;
  }
  return sinceFailover(d, to);
}

/**
 * Where a disk at the primary's last replicated point differs from the DR disk's snapshot `to`:
 * what the DR VM wrote since its failback base, and what the primary wrote between the failover's
 * point and that last replicated one.
 */
function sinceFailover(d: FailbackDiskState, to: string): Delta[] {
  return [
    { from: d.drBase, to },
    ...(sameResourceId(d.madeFrom.snapshotId, d.basePointId)
      ? []
      : [{ from: d.basePointId, to: d.madeFrom.snapshotId }]),
  ];
}

/** One pass over one disk: finish a pass under way (recorded, perhaps half-written), else snapshot the DR disk and copy the union. */
async function syncPass(
  ctx: RunbookContext,
  state: FailbackState,
  d: FailbackDiskState,
  options: FailbackSyncOptions,
): Promise<FailbackPass> {
  const snaps = snapshots(ctx);
  if (!d.applying) {
    const snap = await takeDrSnapshot(ctx, state.prepare, d.drDiskId);
    d.applying = { snapshotId: snap, deltas: await passDeltas(ctx, d, snap) };
    saveState(ctx, state);
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
            `${label(d)}: pass ${pass} ${Math.round((bytesDone / Math.max(1, bytesTotal)) * 100)} %${p.etaSeconds !== undefined ? `, ETA ${p.etaSeconds} s` : ""}`,
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
    saveState(ctx, state);
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

/**
 * `ferry failback complete`: stops the DR VMs, copies the last delta, deallocates each primary VM
 * and swaps its OS and data disks for the synced ones (the previous disks stay, tagged), takes the
 * returned disks' first recovery points, starts the primary VMs (and waits for OS and app ready
 * where the row asks), makes the returned disks the blueprint's sources, and re-establishes
 * forward replication without a full backfill: each staging disk already holds (attach-as-is) or
 * is caught up by the union of the deltas to (from-snapshot) exactly the returned disk's first
 * point. Then the stack goes back to standby. Every step is recorded; a re-run continues.
 */
export async function failbackComplete(
  ctx: RunbookContext,
  stack: string,
): Promise<{ op: Operation; state: FailbackState }> {
  const config = await loadBlueprint(ctx, stack);
  const b = config.blueprint;
  const state = readFailbackState(ctx, b.name);
  if (!state || state.phase !== "syncing") {
    throw new UserError(
      state?.phase === "completed"
        ? `The failback of ${b.name} is already complete.`
        : `No failback of ${b.name} is under way. Run \`ferry failback prepare ${b.name}\` and \`ferry failback sync ${b.name}\` first.`,
      { code: "NotSyncing" },
    );
  }
  const unsynced = state.disks.filter((d) => !d.applied && !d.applying);
  if (!state.disks.length || unsynced.length)
    throw new UserError(
      `Not every disk of ${b.name} has had a failback sync pass (${unsynced.map(label).join(", ") || "none made"}). Run \`ferry failback sync ${b.name}\` first.`,
      { code: "NotSynced" },
    );
  const c = (state.complete ??= { swapped: [], points: {} });
  const rows = [...new Set(state.disks.map((d) => d.row))];
  const drVm = (row: string) => parseResourceId(state.disks.find((d) => d.row === row)!.drVmId);
  const primaryVm = (row: string) => parseResourceId(state.disks.find((d) => d.row === row)!.primaryVmId);
  const { op } = await ctx.journal.run("failback-complete", b.name, async (op) => {
    op.details = { prepare: state.prepare };
    if (!c.drStopped) {
      await ctx.journal.step(op, "stop the DR VMs", () =>
        Promise.all(
          rows.map((r) => ctx.azure.compute.virtualMachines.deallocate(drVm(r).resourceGroup, drVm(r).name, ctx.poll)),
        ),
      );
      c.drStopped = true;
      saveState(ctx, state);
    }
    if (!c.finalDone) {
      await ctx.journal.step(op, "final delta", async () => {
        // A pass left half-way is finished first; then one more from the stopped DR disks.
        await Promise.all(state.disks.filter((d) => d.applying).map((d) => syncPass(ctx, state, d, {})));
        await Promise.all(state.disks.map((d) => syncPass(ctx, state, d, {})));
      });
      c.finalDone = true;
      saveState(ctx, state);
    }
    await ctx.journal.step(op, "detach the synced disks from the primary appliance", () => detachNewDisks(ctx, state));
    // Before any VM can write to them (a new VM starts as it is made): each equals its DR disk's final snapshot now.
    await ctx.journal.step(op, "first recovery points of the returned disks", async () => {
      for (const d of state.disks) {
        if (c.points[d.newDiskId.toLowerCase()]) continue;
        // Taken as the DR sync takes its points of a source (its tags, its group): the daemon owns it from here.
        const old = (await ctx.store.get(d.primaryDiskId))?.source;
        const snapshotResourceGroup = old?.snapshotResourceGroup ?? parseResourceId(d.newDiskId).resourceGroup;
        const { snapshotId, sourceDiskId, createdAt } = await snapshots(ctx, old?.applianceId).take({
          sourceDiskId: d.newDiskId,
          snapshotResourceGroup,
        });
        c.points[d.newDiskId.toLowerCase()] = { snapshotId, sourceDiskId, createdAt };
        saveState(ctx, state);
      }
    });
    // Every primary VM at once: each is deallocated and checked before its disks are swapped.
    await Promise.all(
      rows
        .filter((r) => !c.swapped.includes(r))
        .map((row) => {
          const vm = primaryVm(row);
          return ctx.journal.step(
            op,
            `${row}: deallocate the primary VM and swap its disks`,
            async () => {
              const disks = state.disks.filter((d) => d.row === row);
              const exists = await unlessNotFound(ctx.azure.compute.virtualMachines.get(vm.resourceGroup, vm.name));
              if (!exists) {
                await restoreIntoNewVm(
                  ctx,
                  b.rows.find((r) => r.name === row)!,
                  vm,
                  disks,
                  state.newVmSubnetId,
                  op.id,
                );
                await tagPrevious(ctx, disks, op.id);
                c.swapped.push(row);
                saveState(ctx, state);
                return;
              }
              await ctx.azure.compute.virtualMachines.deallocate(vm.resourceGroup, vm.name, ctx.poll);
              const view = await ctx.azure.compute.virtualMachines.instanceView(vm.resourceGroup, vm.name);
              const power = view.statuses?.find((s) => s.code?.startsWith("PowerState/"))?.code?.split("/")[1];
              if (power !== "deallocated")
                throw new FerryError(
                  `${vm.name} is ${power ?? "in an unknown state"}, not deallocated: its disks are not swapped while it could run. Deallocate it, then run failback complete again.`,
                  { code: "PrimaryRunning" },
                );
              const current = await ctx.azure.compute.virtualMachines.get(vm.resourceGroup, vm.name);
              const os = disks.find((d) => d.role === "os");
              const attached = current.storageProfile?.dataDisks ?? [];
              const data = [
                ...attached.map((x) => {
                  const next = disks.find((d) => d.role === "data" && d.lun === x.lun);
                  return {
                    lun: x.lun,
                    createOption: "Attach" as const,
                    managedDisk: { id: next ? next.newDiskId : x.managedDisk!.id! },
                  };
                }),
                // A data disk that was gone from the VM (--to-new-vm) comes back at its LUN.
                ...disks
                  .filter((d) => d.role === "data" && !attached.some((x) => x.lun === d.lun))
                  .map((d) => ({ lun: d.lun!, createOption: "Attach" as const, managedDisk: { id: d.newDiskId } })),
              ];
              await ctx.azure.compute.virtualMachines.update(
                vm.resourceGroup,
                vm.name,
                {
                  storageProfile: {
                    ...(os
                      ? {
                          osDisk: {
                            createOption: "Attach",
                            osType: current.storageProfile?.osDisk?.osType ?? "Linux",
                            managedDisk: { id: os.newDiskId },
                          },
                        }
                      : {}),
                    dataDisks: data,
                  },
                },
                ctx.poll,
              );
              await tagPrevious(ctx, disks, op.id);
              c.swapped.push(row);
              saveState(ctx, state);
            },
            row,
          );
        }),
    );
    await ctx.journal.step(op, "start the primary VMs", async () => {
      const started = Date.now();
      await Promise.all(
        rows.map((r) =>
          ctx.azure.compute.virtualMachines.start(primaryVm(r).resourceGroup, primaryVm(r).name, ctx.poll),
        ),
      );
      const problems: string[] = [];
      for (const row of rows) {
        const readiness = b.rows.find((r) => r.name === row)?.readiness;
        if (!readiness || (!readiness.os && !readiness.app)) continue;
        const vm = primaryVm(row);
        const current = await ctx.azure.compute.virtualMachines.get(vm.resourceGroup, vm.name);
        const nicId = current.networkProfile?.networkInterfaces?.[0]?.id;
        const r = await waitUntilReady(
          ctx,
          vm.resourceGroup,
          { row, vmName: vm.name, nic: { name: nicId ? nameOf(nicId) : `${vm.name}-nic` } },
          readiness,
          started,
        );
        problems.push(...r.problems);
      }
      if (problems.length)
        throw new FerryError(
          `The primary VMs run on the returned disks, but not every one is ready:\n  ${problems.join("\n  ")}\nFix the cause and run failback complete again.`,
          { code: "NotReady" },
        );
    });
    if (!c.configUpdated) {
      await ctx.journal.step(op, "make the returned disks the blueprint's sources", async () => {
        const newId = (id: string) => state.disks.find((d) => sameResourceId(d.primaryDiskId, id))?.newDiskId ?? id;
        const blueprint = {
          ...b,
          rows: b.rows.map((r) => ({
            ...r,
            osDisk: { ...r.osDisk, sourceDiskId: newId(r.osDisk.sourceDiskId) },
            dataDisks: r.dataDisks.map((x) => ({ ...x, sourceDiskId: newId(x.sourceDiskId) })),
          })),
        };
        await ctx.deployer.setConfig(stack, { blueprint });
      });
      c.configUpdated = true;
      saveState(ctx, state);
    }
    // Staging disks the DR VMs never used (from-snapshot) are still on the appliance: caught up first,
    // while the DR disks' snapshots they are caught up from still exist.
    const fromSnapshot = state.disks.filter((d) => !sameResourceId(d.drDiskId, d.stagingDiskId));
    await ctx.journal.step(op, "reprotect: catch up the staging disks of disks recovered from snapshots", () =>
      reprotect(ctx, state, fromSnapshot),
    );
    if (!c.standby) {
      await ctx.journal.step(op, "pulumi up (mode standby)", () =>
        ctx.deployer.up(stack, { message: `failback of ${b.name} complete (${op.id})`, mode: "standby" }),
      );
      c.standby = true;
      saveState(ctx, state);
    }
    const asIs = state.disks.filter((d) => sameResourceId(d.drDiskId, d.stagingDiskId));
    await ctx.journal.step(op, "reprotect: the staging disks the DR VMs ran on back on the appliance", async () => {
      const zone = await landingZone(ctx);
      for (const d of asIs) await attachToAppliance(ctx, zone.applianceId, d.stagingDiskId, d.stagingLun);
      await reprotect(ctx, state, asIs);
    });
    state.phase = "completed";
    saveState(ctx, state);
    op.details = {
      prepare: state.prepare,
      swapped: c.swapped,
      previousDisks: state.disks.map((d) => d.primaryDiskId),
      returnedDisks: state.disks.map((d) => d.newDiskId),
    };
  });
  return { op, state };
}

/**
 * Hands each returned disk to the DR sync: a source row for it whose first point is seeded on the
 * staging disk from the DR disk's final snapshot (only the union of what differs: nothing for a
 * staging disk the DR VM ran on, the primary's and the DR side's deltas for one it did not), then
 * verified. The previous disk's row goes. Waits until each is healthy.
 */
async function reprotect(ctx: RunbookContext, state: FailbackState, disks: FailbackDiskState[]): Promise<void> {
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
        `The source row of ${d.primaryDiskId} is gone: the staging disk's state is unknown. Enable DR for ${d.newDiskId} with ferry sources enable (a full backfill).`,
        { code: "NotEnabled" },
      );
    const point = points[d.newDiskId.toLowerCase()]!;
    const attachedAsIs = sameResourceId(d.stagingDiskId, d.drDiskId);
    // The staging disk is at the primary's last replicated point, like the new disk was when made.
    const deltas: Delta[] = attachedAsIs ? [] : sinceFailover(d, d.applied!);
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
      seed: { copyFrom: d.applied!, deltas },
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
      { disk: label(d), sourceDiskId: d.newDiskId, seedFrom: d.applied, deltas: deltas.length },
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
          `Reprotect of ${bad.source.sourceDiskId} failed: ${bad.source.lastError?.message ?? "degraded"}. Fix it, then run failback complete again.`,
          { code: "ReprotectFailed" },
        );
      return rows.every((r) => r?.source.state === "healthy");
    },
    500,
  );
}

/** Tags the primary disks a failback replaced (those that still exist): cleanup --failback deletes only these. */
async function tagPrevious(ctx: RunbookContext, disks: FailbackDiskState[], by: string): Promise<void> {
  for (const d of disks) {
    const p = parseResourceId(d.primaryDiskId);
    const prev = await unlessNotFound(ctx.azure.compute.disks.get(p.resourceGroup, p.name));
    if (!prev) continue;
    await ctx.azure.compute.disks.update(
      p.resourceGroup,
      p.name,
      { tags: { ...prev.tags, [TAG_PREVIOUS]: by, "ferry-failback-replaced-by": d.newDiskId.toLowerCase() } },
      ctx.poll,
    );
  }
}

/**
 * `--to-new-vm`: the primary VM is gone, so a new one is made in its place, with its name, in its
 * resource group, on the returned disks (the OS disk attached, never an image), with a NIC in the
 * subnet prepare was given. It is created running.
 */
async function restoreIntoNewVm(
  ctx: RunbookContext,
  row: Blueprint["rows"][number],
  vm: { resourceGroup: string; name: string },
  disks: FailbackDiskState[],
  subnetId: string | undefined,
  by: string,
): Promise<void> {
  if (!subnetId)
    throw new UserError(
      `${row.name}: the primary VM ${vm.name} is gone and no subnet was given for a new one. Run ferry failback prepare again with --to-new-vm --subnet <id>.`,
      { code: "NoSubnet" },
    );
  const os = disks.find((d) => d.role === "os");
  if (!os)
    throw new UserError(`${row.name}: a new VM needs the OS disk in the failback; only data disks were prepared.`, {
      code: "NoOsDisk",
    });
  const region = disks[0]!.region;
  const tags = { [TAG_FAILBACK]: by, "ferry-failback-restored": "newVm" };
  // The NIC the deleted VM left behind (its name, unattached) keeps its address; otherwise a new one.
  const left = await unlessNotFound(ctx.azure.network.networkInterfaces.get(vm.resourceGroup, `${vm.name}-nic`));
  const nic =
    left && !left.virtualMachine
      ? left
      : await ctx.azure.network.networkInterfaces.beginCreateOrUpdateAndWait(
          vm.resourceGroup,
          left ? `${vm.name}-nic-failback` : `${vm.name}-nic`,
          {
            location: region,
            ipConfigurations: [
              { name: "ipconfig1", primary: true, subnet: { id: subnetId }, privateIPAllocationMethod: "Dynamic" },
            ],
            tags,
          },
          { updateIntervalInMs: ctx.poll.updateIntervalInMs },
        );
  await ctx.azure.compute.virtualMachines.createOrUpdate(
    vm.resourceGroup,
    vm.name,
    {
      location: region,
      hardwareProfile: { vmSize: row.vmSize },
      storageProfile: {
        osDisk: { createOption: "Attach", osType: row.osDisk.osType, managedDisk: { id: os.newDiskId } },
        dataDisks: disks
          .filter((d) => d.role === "data")
          .map((d) => ({ lun: d.lun!, createOption: "Attach" as const, managedDisk: { id: d.newDiskId } })),
      },
      networkProfile: { networkInterfaces: [{ id: nic.id!, primary: true }] },
      tags,
    },
    ctx.poll,
  );
  ctx.logger.info(
    { row: row.name, vm: vm.name, nic: nic.id },
    `${row.name}: restored into a new VM on the returned disks`,
  );
}

// --- rollback and cleanup --------------------------------------------------------------------

/**
 * `ferry failback rollback`: before complete has swapped any primary disk, returns to where the
 * failback started: the DR VMs run (started again if complete stopped them), the new primary
 * disks and failback snapshots go, the primary disks' sync resumes with its holds released.
 */
export async function failbackRollback(ctx: RunbookContext, stack: string): Promise<{ op: Operation }> {
  const b = (await loadBlueprint(ctx, stack)).blueprint;
  const state = readFailbackState(ctx, b.name);
  if (!state || state.phase !== "syncing")
    throw new UserError(`No failback of ${b.name} is under way: nothing to roll back.`, { code: "NotSyncing" });
  if (state.complete?.swapped.length) {
    throw new UserError(
      `failback complete already swapped the disks of ${state.complete.swapped.join(", ")}: the primary runs on the returned disks. Finish with ferry failback complete ${b.name}.`,
      { code: "AlreadySwapped" },
    );
  }
  const { op } = await ctx.journal.run("failback-rollback", b.name, async (op) => {
    if (state.complete?.drStopped) {
      const vms = [...new Set(state.disks.map((d) => d.drVmId))];
      await ctx.journal.step(op, "start the DR VMs again", () =>
        Promise.all(
          vms.map((id) =>
            ctx.azure.compute.virtualMachines.start(
              parseResourceId(id).resourceGroup,
              parseResourceId(id).name,
              ctx.poll,
            ),
          ),
        ),
      );
    }
    await ctx.journal.step(op, "delete the new primary disks", async () => {
      await detachNewDisks(ctx, state);
      for (const d of state.disks) {
        const p = parseResourceId(d.newDiskId);
        await unlessNotFound(ctx.azure.compute.disks.delete(p.resourceGroup, p.name, ctx.poll));
      }
    });
    await ctx.journal.step(op, "delete the failback snapshots", () => deleteFailbackSnapshots(ctx, state));
    await ctx.journal.step(op, "resume the primary disks' sync", async () => {
      for (const d of state.disks) {
        if (!(await ctx.store.get(d.primaryDiskId))) continue;
        await releaseHolds(ctx.store, d.primaryDiskId, (by) => by === state.prepare, ctx.now());
        // Attach-as-is disks stay paused: their staging disks are the DR VMs' disks until a failback.
        const s = (await ctx.store.get(d.primaryDiskId))!.source;
        if (!sameResourceId(s.stagingDiskId, d.drDiskId)) await setPaused(ctx.store, d.primaryDiskId, false, ctx.now());
      }
    });
    state.phase = "rolledBack";
    saveState(ctx, state);
  });
  return { op };
}

async function deleteFailbackSnapshots(ctx: RunbookContext, state: FailbackState): Promise<number> {
  const snaps = snapshots(ctx);
  const groups = new Set(state.disks.map((d) => parseResourceId(d.drDiskId).resourceGroup));
  let n = 0;
  for (const g of groups) {
    for await (const s of ctx.azure.compute.snapshots.listByResourceGroup(g)) {
      if (s.tags?.[TAG_FAILBACK] === state.prepare && s.tags?.[TAG_ROLE] === "failback") {
        await snaps.delete(s.id!);
        n++;
      }
    }
  }
  return n;
}

/**
 * `ferry cleanup --failback`: after a completed failback, removes the primary's previous disks
 * (tagged by complete), the failback's snapshots of the DR disks, and the sync snapshots of the
 * previous disks. Asks first unless `yes`.
 */
export async function cleanupFailback(
  ctx: RunbookContext,
  stack: string,
): Promise<{ op: Operation; deleted: string[] }> {
  const b = (await loadBlueprint(ctx, stack)).blueprint;
  const state = readFailbackState(ctx, b.name);
  if (!state || state.phase !== "completed") {
    throw new UserError(
      state?.phase === "cleaned"
        ? `The failback of ${b.name} is already cleaned up.`
        : `No completed failback of ${b.name}: cleanup --failback removes the previous primary disks only after ferry failback complete.`,
      { code: "NotCompleted" },
    );
  }
  const deleted: string[] = [];
  const { op } = await ctx.journal.run("failback-cleanup", b.name, async (op) => {
    await ctx.journal.step(op, "delete the primary's previous disks", async () => {
      for (const d of state.disks) {
        const p = parseResourceId(d.primaryDiskId);
        const disk = await unlessNotFound(ctx.azure.compute.disks.get(p.resourceGroup, p.name));
        if (!disk) continue;
        if (!disk.tags?.[TAG_PREVIOUS])
          throw new UserError(
            `${p.name} is not tagged ${TAG_PREVIOUS}: it was not replaced by this failback, so it is not deleted.`,
            { code: "NotReplaced" },
          );
        if (disk.managedBy)
          throw new UserError(
            `${p.name} is attached to ${disk.managedBy}: it is in use again, so it is not deleted. Detach it first if it is to go.`,
            { code: "DiskInUse" },
          );
        await ctx.azure.compute.disks.delete(p.resourceGroup, p.name, ctx.poll);
        deleted.push(d.primaryDiskId);
      }
    });
    await ctx.journal.step(op, "delete the failback's snapshots", async () => {
      await deleteFailbackSnapshots(ctx, state);
      const snaps = snapshots(ctx);
      for (const d of state.disks) {
        for (const id of await snaps.listOwn({
          sourceDiskId: d.primaryDiskId,
          snapshotResourceGroup: parseResourceId(d.madeFrom.snapshotId).resourceGroup,
        }))
          await snaps.delete(id);
      }
    });
    state.phase = "cleaned";
    saveState(ctx, state);
    op.details = { deleted };
  });
  return { op, deleted };
}

/** The new primary disks off the appliances they were synced on (one update per appliance). */
async function detachNewDisks(ctx: RunbookContext, state: FailbackState): Promise<void> {
  for (const appliance of new Set(state.disks.map((d) => d.applianceId))) {
    await detachFromAppliance(
      ctx,
      appliance,
      state.disks.filter((d) => d.applianceId === appliance).map((d) => d.newDiskId),
    );
  }
}
