import type { PageBlobClient } from "@azure/storage-blob";
import type { Logger } from "pino";
import { FerryError, isFerryError, isNotFound, isUserError } from "../core/errors";
import type { RecoveryPoint } from "../core/schemas/recovery-point";
import type { Source, SourceError } from "../core/schemas/source";
import { applyPlan, type ApplyResult } from "./apply";
import type { ByteBudget } from "./budget";
import { changedRanges, validRanges } from "./page-ranges";
import { complement, intersect, type Range } from "./ranges";
import { Row } from "./row";
import { sasRangeSource } from "./sas-reader";
import { revokeQuietly, type SnapshotService } from "./snapshots";
import type { SourceStore, StoredSource } from "../adapters/state/store";
import { copyUnion } from "./union-copy";
import { checkSample } from "./sample-check";
import { verifyDevice, type VerifyResult } from "./verify";
import type { DrPointService } from "./points";
import type { SnapshotGroup } from "./row-group";

/** A staging device as the cycle uses it (see sync/device.ts). */
export interface StagingDevice {
  sizeBytes: number;
  read(offset: number, length: number): Promise<Buffer>;
  readInto(offset: number, target: Buffer): Promise<void>;
  dataExtents(): Promise<Range[] | undefined>;
  write(offset: number, data: Buffer): Promise<void>;
  zero(ranges: Range[]): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** How a cycle opens its staging device. */
export interface OpenStagingOptions {
  /** Open for writing. */
  write: boolean;
  /**
   * The cycle's fencing token (from the row): raised on this appliance before the device is
   * handed out; every write is refused once a newer token is raised (sync/fence.ts).
   */
  fence: number;
  /** Runs before each write: the cycle renews a late lease there. Default: nothing. */
  beforeWrite?: () => Promise<void>;
  abortSignal?: AbortSignal;
}

export interface SyncContext {
  store: SourceStore;
  snapshots: SnapshotService;
  pageBlob: (sasUrl: string) => PageBlobClient;
  /** This daemon instance: the lease owner. */
  owner: string;
  devicePath: (source: Source) => string;
  openDevice: (path: string, options: OpenStagingOptions) => Promise<StagingDevice>;
  /** The enable checks run before a pending source's staging disk is first written. */
  checkTarget: (source: Source, devicePath: string) => Promise<void>;
  /** Zeroes signatures, then the whole device (prepare `wipe`). */
  wipe: (device: StagingDevice) => Promise<void>;
  budget: ByteBudget;
  logger: Logger;
  now: () => Date;
  tuning: SyncTuning;
  onProgress?: (sourceDiskId: string, progress: { bytesDone: number; bytesTotal: number }) => void;
  /** Recovery points in the DR region, taken after each applied point (sync/points.ts). Default: none taken. */
  points?: DrPointService;
}

/** Options of {@link syncSource}. */
export interface SyncSourceOptions {
  /** The row's disks whose source snapshots are requested together with this one's. Default: on its own. */
  group?: SnapshotGroup;
}

export interface SyncTuning {
  /** Lease length, in milliseconds. */
  leaseMs: number;
  readSizeInBytes: number;
  readConcurrency: number;
  diffSegmentBytes: number;
  verifyChunkBytes: number;
  /** Bytes of each delta read back and compared with its recovery point after the apply; 0 none. */
  sampleBytes: number;
}

export type CycleOutcome =
  /** Nothing to do (disabled, paused, degraded, or held by another daemon). */
  | { kind: "skipped"; reason: string }
  | { kind: "applied"; mode: "full" | "delta" | "seed"; point: RecoveryPoint; result: ApplyResult; verified?: boolean }
  /** The cycle stopped at a checkpoint (shutdown): `applying` is left for the next start. */
  | { kind: "interrupted" }
  | { kind: "failed"; error: SourceError; degraded: boolean }
  /** Another process took the source over during the cycle: this one stopped writing at once. */
  | { kind: "fenced"; reason: string };

/** Errors a person must act on: retrying alone will not fix them. */
const NEEDS_PERSON = new Set(["DeviceMissing", "TargetRejected", "TargetTooSmall", "VerifyMismatch"]);

/**
 * One sync cycle of one source, following the data path of the design: claim the lease; for a
 * pending source run the enable checks (and wipe); re-apply an interrupted `applying` before
 * anything else; otherwise take the next snapshot, record it as `applying`, copy (full backfill or
 * delta), fsync, and only then record it as `applied`; finally revoke the SAS and delete the
 * snapshot that is no longer needed. Never throws for a source's own failure: it records it on the
 * row and reports it (so one bad source never stops the others).
 */
export async function syncSource(
  stored: StoredSource,
  ctx: SyncContext,
  abortSignal?: AbortSignal,
  options: SyncSourceOptions = {},
): Promise<CycleOutcome> {
  try {
    return await syncSourceIn(stored, ctx, abortSignal, options.group);
  } finally {
    // However the cycle went, the row's other disks stop waiting for this one.
    options.group?.leave(stored.source.sourceDiskId);
  }
}

async function syncSourceIn(
  stored: StoredSource,
  ctx: SyncContext,
  abortSignal: AbortSignal | undefined,
  group: SnapshotGroup | undefined,
): Promise<CycleOutcome> {
  const src = stored.source;
  if (src.state === "disabled") return { kind: "skipped", reason: "disabled" };
  if (src.state === "degraded" && !src.applying)
    return { kind: "skipped", reason: "degraded: waiting for retry-backfill or check-health" };
  const log = ctx.logger.child({ sourceDiskId: src.sourceDiskId });
  if (src.paused && !src.applying) {
    // A lease this daemon still holds (a cycle that ended without releasing it) would keep a
    // failover waiting: give it up.
    if (src.lease?.owner === ctx.owner) {
      const row = new Row(stored, ctx.store, ctx.owner, ctx.tuning.leaseMs, ctx.now);
      if ((await begin(row, log)) === true) await releaseLease(row, log);
    }
    return { kind: "skipped", reason: "paused" };
  }
  const row = new Row(stored, ctx.store, ctx.owner, ctx.tuning.leaseMs, ctx.now);
  const taken = await begin(row, log);
  if (taken !== true) return taken;
  return underLease(row, log, abortSignal, (signal) => runCycle(row, ctx, log, signal, group));
}

/** Takes the row for a cycle (lease and a new fencing token); a skip when someone else holds it. */
async function begin(row: Row, log: Logger): Promise<true | { kind: "skipped"; reason: string }> {
  try {
    await row.begin();
    return true;
  } catch (e) {
    if (isFerryError(e) && (e.code === "LeaseHeld" || e.code === "ConcurrentUpdate" || e.code === "SourceDisabled")) {
      // The scheduler says once that another daemon holds the source; every tick would be noise.
      log.debug({ err: e }, "another process holds this source; not writing it");
      return { kind: "skipped", reason: e.message };
    }
    throw e;
  }
}

/**
 * Runs `work` while the lease is renewed, and gives the lease up at the end, whatever happened:
 * the row's `applying` says what the next owner must re-apply, and the fencing token (not the
 * lease) keeps this cycle's writes out of the next owner's way, so nobody has to wait for a
 * lease to run out.
 */
async function underLease<T extends CycleOutcome | CheckOutcome>(
  row: Row,
  log: Logger,
  abortSignal: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T | CycleOutcome> {
  const controller = new AbortController();
  const signal = abortSignal ? AbortSignal.any([abortSignal, controller.signal]) : controller.signal;
  const lease = row.keepLease(controller);
  let fenced = false;
  try {
    return await work(signal);
  } catch (e) {
    // A lost row shows as the renewal's abort reason as often as the error itself.
    const reason: unknown = controller.signal.reason;
    const error = controller.signal.aborted && isFenced(reason) ? reason : e;
    if (isFenced(error)) {
      fenced = true;
      log.error(
        { err: error, fence: row.fence },
        "fenced: another process took this source over; stopped writing its staging disk",
      );
      return { kind: "fenced", reason: (error as Error).message };
    }
    if (abortSignal?.aborted) return { kind: "interrupted" };
    if (
      isFerryError(error) &&
      (error.code === "SourceDisabled" || error.code === "PausedBeforeApply" || error.code === "VerifyRaced")
    )
      return { kind: "skipped", reason: error.message };
    if (isFerryError(error) && error.code === "DeviceHeld") {
      log.warn({ err: error }, "the staging disk is still inside an earlier writer's write; trying again later");
      return { kind: "skipped", reason: error.message };
    }
    return await recordFailure(row, error, log);
  } finally {
    lease.stop();
    if (!fenced) await releaseLease(row, log);
  }
}

function isFenced(e: unknown): boolean {
  return isFerryError(e) && e.code === "Fenced";
}

/** Opens the cycle's staging device under its fencing token. */
function openStaging(row: Row, ctx: SyncContext, write: boolean, signal: AbortSignal): Promise<StagingDevice> {
  return ctx.openDevice(ctx.devicePath(row.source), {
    write,
    fence: row.fence,
    beforeWrite: () => row.renewIfLate(),
    abortSignal: signal,
  });
}

async function releaseLease(row: Row, log: Logger): Promise<void> {
  await row.release().catch((e: unknown) => log.debug({ err: e }, "lease not released; it expires on its own"));
}

async function runCycle(
  row: Row,
  ctx: SyncContext,
  log: Logger,
  signal: AbortSignal,
  group: SnapshotGroup | undefined,
): Promise<CycleOutcome> {
  const path = ctx.devicePath(row.source);
  if (row.source.state === "pending") {
    await ctx.checkTarget(row.source, path);
    if (row.source.prepare === "wipe") {
      const device = await openStaging(row, ctx, true, signal);
      try {
        await ctx.wipe(device);
      } finally {
        await device.close();
      }
      log.info("staging disk wiped and zeroed");
    }
    await row.save({ state: "backfilling" });
  }

  const device = await openStaging(row, ctx, true, signal);
  try {
    let point = row.source.applying;
    let mode: "full" | "delta" | "seed" = row.source.applyingMode ?? (row.source.applied ? "delta" : "full");
    // The row group this cycle's source snapshot was taken in; none for a point an earlier run left.
    let inGroup: SnapshotGroup | undefined;
    if (point) {
      log.info(
        { snapshotId: point.snapshotId, mode },
        "re-applying the recovery point an earlier run left half-written",
      );
    } else {
      const next = await takeNext(row, ctx, device, { log, ...(group ? { group } : {}) });
      point = next.point;
      mode = next.mode;
      inGroup = next.inGroup;
    }
    let result: ApplyResult;
    try {
      result = await apply(row, ctx, device, point, mode, signal, log);
    } catch (e) {
      if (isFerryError(e) && e.code === "SampleMismatch") {
        // The disk does not hold what was just written to it: whatever did that may have touched
        // more than this delta's ranges, so the same point is copied again in full, then verified.
        await row.save({
          applyingMode: "full",
          prepare: "keep",
          state: "backfilling",
          lastError: errorOf(
            "SampleMismatch",
            `${e.message} Copying recovery point ${point.snapshotId} again in full.`,
            ctx,
          ),
        });
        throw e;
      }
      if (!isFerryError(e) || (e.code !== "DiffUnavailable" && e.code !== "SnapshotGone")) throw e;
      // The diff cannot be had, or the point vanished mid-apply: the device may be torn anywhere, so
      // start over from a new snapshot with a full backfill that also zeroes everything else.
      log.warn({ err: e }, "restarting with a full backfill");
      if (e.code === "SnapshotGone") {
        point = (await takeNext(row, ctx, device, { forceFull: true, reason: e.message, log })).point;
        // Taken alone, after the row's other disks took theirs.
        inGroup = undefined;
      } else
        await row.save({
          applyingMode: "full",
          prepare: "keep",
          lastError: errorOf("FullBackfillRestarted", `${e.message} Restarting with a full backfill.`, ctx),
        });
      mode = "full";
      result = await apply(row, ctx, device, point, "full", signal, log);
    }
    if (signal.aborted) throw signal.reason;
    // Durable first, then recorded: `applied` never claims more than the device holds.
    await device.sync();
    const base = row.source.applied;
    const now = ctx.now();
    await row.save({
      applied: point,
      applying: undefined,
      applyingMode: undefined,
      seed: undefined,
      // A backfill (or a seed) is checked before the source counts as healthy.
      state: mode !== "delta" || row.source.state === "backfilling" ? "verifying" : row.source.state,
      bytesCopied: row.source.bytesCopied + result.bytesRead,
      lagInMs: Math.max(0, now.getTime() - Date.parse(point.createdAt)),
      lastError: undefined,
      consecutiveFailures: 0,
    });
    log.info(
      { snapshotId: point.snapshotId, mode, bytesRead: result.bytesRead, bytesZeroed: result.bytesZeroed },
      "applied recovery point",
    );
    // A failover paused the source during the apply and waits for this boundary: the staging disk
    // is done with, so the lease goes now. The clean-up below touches no device and needs no lease
    // (it keeps the applied point the failover is about to hold). A backfill still has its
    // verification to read the device: that keeps the lease to the end.
    // The DR-side point is taken here, at the apply boundary: the device holds exactly `point` and this cycle
    // writes nothing more. A backfill's waits for its verification (which only reads): a point is never taken of
    // a disk that may not equal its source. Before the lease goes, so that no other writer can begin meanwhile.
    const drPoint = () => takeDrPoint(row, ctx, point, inGroup, signal, log);
    if (row.source.state !== "verifying") await drPoint();
    if (row.source.paused && row.source.state !== "verifying") await releaseLease(row, log);
    await cleanUp(row, ctx, point, base, log);
    let verified: boolean | undefined;
    if (row.source.state === "verifying") {
      verified = await verifyAndRecord(row, ctx, device, signal, log);
      if (verified) await drPoint();
    }
    return { kind: "applied", mode, point, result, ...(verified !== undefined ? { verified } : {}) };
  } finally {
    await device.close();
  }
}

/**
 * The recovery point of the DR region for the point just applied (sync/points.ts): never fails the cycle. It is
 * recorded only if, once the snapshot exists, this cycle still holds the row (its fencing token: no other process
 * began writing the disk) and the row still names `point` as applied with nothing being applied.
 */
async function takeDrPoint(
  row: Row,
  ctx: SyncContext,
  point: RecoveryPoint,
  group: SnapshotGroup | undefined,
  signal: AbortSignal,
  log: Logger,
): Promise<void> {
  if (!ctx.points) return;
  const outcome = await ctx.points.afterApply({
    source: row.source,
    point,
    group: group ? { id: group.id, spreadInMs: group.spreadInMs() } : undefined,
    confirm: async () => {
      const now = await row.save({});
      return !now.applying && now.applied?.snapshotId.toLowerCase() === point.snapshotId.toLowerCase();
    },
    logger: log.child({ component: "points" }),
    abortSignal: signal,
  });
  // Surfaced on the row for `ferry sources list`: the sync went on, but the DR region has no point of this apply.
  const pointError =
    outcome.kind === "failed"
      ? errorOf(
          isFerryError(outcome.error) ? outcome.error.code : "PointFailed",
          `The recovery point of ${point.snapshotId} in the DR region could not be taken: ` +
            `${(outcome.error as Error).message ?? String(outcome.error)}. The next applied point is tried again.`,
          ctx,
        )
      : undefined;
  if (pointError || (outcome.kind === "taken" && row.source.pointError)) {
    await row
      .save({ pointError })
      .catch((e: unknown) => log.debug({ err: e }, "could not record the recovery point's outcome on the row"));
  }
}

/** Takes the next snapshot and records it as `applying` before anything is written. */
async function takeNext(
  row: Row,
  ctx: SyncContext,
  device: StagingDevice,
  options: { forceFull?: boolean; reason?: string; log: Logger; group?: SnapshotGroup },
): Promise<{ point: RecoveryPoint; mode: "full" | "delta"; inGroup?: SnapshotGroup }> {
  // A process that was paused learns here, before it takes a snapshot, whether it still holds the row.
  await row.save({});
  const source = row.source;
  const disk = await ctx.snapshots.sourceDisk(source);
  if (disk.sizeBytes > device.sizeBytes) {
    throw new FerryError(
      `The source disk is now ${disk.sizeBytes} bytes but the staging disk holds ${device.sizeBytes}. Resize the staging disk to at least ${Math.ceil(disk.sizeBytes / 1024 ** 3)} GiB, then run retry-backfill.`,
      { code: "TargetTooSmall" },
    );
  }
  // The row's disks ask for their snapshots at once (sync/row-group.ts).
  const inGroup = options.group && (await options.group.arrive(source.sourceDiskId)) ? options.group : undefined;
  let snap;
  try {
    snap = await ctx.snapshots.take(source);
  } catch (e) {
    options.group?.leave(source.sourceDiskId);
    throw e;
  }
  inGroup?.report(source.sourceDiskId, snap.createdAt);
  // The row as written just before the snapshot was asked for: a request it holds was written before the snapshot.
  const point: RecoveryPoint = {
    snapshotId: snap.snapshotId,
    sourceDiskId: snap.sourceDiskId,
    createdAt: snap.createdAt,
    ...(source.syncRequestedAt ? { afterSyncRequest: source.syncRequestedAt } : {}),
  };
  let mode: "full" | "delta" = source.applied && !options.forceFull ? "delta" : "full";
  let reason = options.reason;
  if (mode === "delta") {
    const base = await ctx.snapshots.get(source.applied!.snapshotId);
    if (!base) {
      mode = "full";
      reason = `The applied recovery point ${source.applied!.snapshotId} no longer exists, so no diff can be taken.`;
    } else if (base.familyId !== snap.familyId) {
      mode = "full";
      reason =
        "The new snapshot belongs to another incremental family than the applied one (the disk was resized across 4 TiB or recreated), so no diff can be taken.";
    }
  }
  if (reason && !options.reason)
    options.log.warn({ snapshotId: point.snapshotId }, `${reason} Restarting with a full backfill.`);
  // Anything but the very first backfill of a known-empty disk must zero what the snapshot does not hold.
  const touched = source.applied !== undefined || source.applying !== undefined || source.bytesCopied > 0;
  try {
    await row.save(
      {
        applying: point,
        applyingMode: mode,
        desired: point,
        ...(mode === "full" ? { state: "backfilling" as const } : {}),
        ...(mode === "full" && touched ? { prepare: "keep" as const } : {}),
        ...(reason
          ? { lastError: errorOf("FullBackfillRestarted", `${reason} Restarting with a full backfill.`, ctx) }
          : {}),
      },
      // A failover paused the source before this point was marked applying (while the snapshot was being
      // taken, or even while this very write was on its way: the write is conditional on the row's ETag, and the
      // check is made on the row it replaces). Nothing is written yet: the cycle ends here rather than apply a
      // point the failover would have to wait for. A point already applying (re-taken after it vanished) goes on.
      { refuseIfPaused: !source.applying },
    );
  } catch (e) {
    if (isFerryError(e) && e.code === "PausedBeforeApply") {
      await ctx.snapshots
        .delete(snap.snapshotId)
        .catch((err: unknown) =>
          options.log.debug({ err, snapshotId: snap.snapshotId }, "snapshot left for the orphan clean-up"),
        );
    }
    throw e;
  }
  return { point, mode, ...(inGroup ? { inGroup } : {}) };
}

/** Copies a recovery point onto the device: its data ranges (full), or the diff from `applied` (delta). */
async function apply(
  row: Row,
  ctx: SyncContext,
  device: StagingDevice,
  point: RecoveryPoint,
  mode: "full" | "delta" | "seed",
  signal: AbortSignal,
  log: Logger,
): Promise<ApplyResult> {
  if (mode === "seed") {
    const seed = row.source.seed;
    if (!seed)
      throw new FerryError(`Source ${row.source.sourceDiskId} is being seeded but its row says from where.`, {
        code: "DiffUnavailable",
      });
    const r = await copyUnion({
      snapshots: ctx.snapshots,
      pageBlob: ctx.pageBlob,
      copyFrom: seed.copyFrom,
      deltas: seed.deltas,
      device,
      budget: ctx.budget,
      readSizeInBytes: ctx.tuning.readSizeInBytes,
      readConcurrency: ctx.tuning.readConcurrency,
      diffSegmentBytes: ctx.tuning.diffSegmentBytes,
      abortSignal: signal,
      onProgress: (p) => ctx.onProgress?.(row.source.sourceDiskId, p),
      logger: log,
    });
    log.info(
      { copyFrom: seed.copyFrom, unionBytes: r.unionBytes, bytesRead: r.bytesRead, full: r.full },
      "staging disk seeded from the failback's disk",
    );
    return r;
  }
  const snap = await ctx.snapshots.get(point.snapshotId);
  if (!snap) throw new FerryError(`The recovery point ${point.snapshotId} no longer exists.`, { code: "SnapshotGone" });
  const base = mode === "delta" ? row.source.applied : undefined;
  try {
    let sas = await ctx.snapshots.grantRead(point.snapshotId);
    const source = sasRangeSource({
      pageBlob: ctx.pageBlob,
      sasUrl: async () => sas,
      regrant: async () => (sas = await ctx.snapshots.grantRead(point.snapshotId)),
    });
    let plan: { copy: Range[]; zero: Range[] };
    if (!base) {
      const copy = await validRanges(ctx.pageBlob(sas), snap.sizeBytes, ctx.tuning.diffSegmentBytes, signal);
      plan = { copy, zero: row.source.prepare === "keep" ? complement(copy, snap.sizeBytes) : [] };
    } else {
      const baseSas = await ctx.snapshots.grantRead(base.snapshotId).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
        throw new FerryError(`The applied recovery point ${base.snapshotId} no longer exists.`, {
          code: "DiffUnavailable",
          cause: e,
        });
      });
      const diff = await changedRanges(ctx.pageBlob(sas), baseSas, snap.sizeBytes, ctx.tuning.diffSegmentBytes, signal);
      plan = { copy: diff.changed, zero: diff.cleared };
    }
    log.debug({ mode, copyRanges: plan.copy.length, zeroRanges: plan.zero.length }, "plan ready");
    const result = await applyPlan(plan, {
      source,
      device,
      budget: ctx.budget,
      readSizeInBytes: ctx.tuning.readSizeInBytes,
      concurrency: ctx.tuning.readConcurrency,
      abortSignal: signal,
      onProgress: (p) => ctx.onProgress?.(row.source.sourceDiskId, p),
    });
    // A backfill is verified whole afterwards; a delta is read back in part now.
    if (base && ctx.tuning.sampleBytes > 0) {
      const sample = await checkSample({
        plan,
        source,
        device,
        sampleBytes: ctx.tuning.sampleBytes,
        budget: ctx.budget,
        abortSignal: signal,
      });
      if (!sample.ok) {
        log.error(
          { snapshotId: point.snapshotId, offset: sample.firstDifferenceAt },
          "the staging disk does not hold what this delta just wrote to it",
        );
        throw new FerryError(
          `Read back after the apply, the staging disk differs from recovery point ${point.snapshotId} at byte offset ${sample.firstDifferenceAt}.`,
          { code: "SampleMismatch", details: { offset: sample.firstDifferenceAt } },
        );
      }
      log.debug({ snapshotId: point.snapshotId, bytesChecked: sample.bytesChecked }, "delta sample read back");
    }
    return result;
  } finally {
    // Azure lets only 5 snapshots of a family hold a SAS at once: end them whatever happened.
    await revokeQuietly(ctx.snapshots, log, point.snapshotId, base?.snapshotId);
  }
}

/** After a commit: the SAS granted for it end, and snapshots no longer needed go (the applied one stays). */
async function cleanUp(
  row: Row,
  ctx: SyncContext,
  point: RecoveryPoint,
  base: RecoveryPoint | undefined,
  log: Logger,
): Promise<void> {
  try {
    // Points a runbook holds stay until their hold ends.
    const now = ctx.now().getTime();
    const keep = new Set([
      point.snapshotId.toLowerCase(),
      ...(row.source.holds ?? []).filter((h) => Date.parse(h.until) > now).map((h) => h.snapshotId.toLowerCase()),
    ]);
    if (base && !keep.has(base.snapshotId.toLowerCase())) await ctx.snapshots.delete(base.snapshotId);
    // Snapshots a crash left behind (taken but never recorded, or applied but not yet deleted).
    // Only older ones than the point just committed: a newer one may be the point another process
    // is applying, if this one was paused and its source taken over since its commit.
    for (const id of await ctx.snapshots.listOwn(row.source, { createdBefore: point.createdAt })) {
      if (!keep.has(id.toLowerCase())) await ctx.snapshots.delete(id);
    }
  } catch (e) {
    // The point is applied; a snapshot left over is deleted by a later cycle.
    log.warn({ err: e }, "cleaning up snapshots failed; a later cycle retries");
  }
}

async function verifyAndRecord(
  row: Row,
  ctx: SyncContext,
  device: StagingDevice,
  signal: AbortSignal,
  log: Logger,
): Promise<boolean> {
  const point = row.source.applied!;
  const result = await verifyConfirmed(row, ctx, device, point, signal);
  await revokeQuietly(ctx.snapshots, log, point.snapshotId);
  await recordVerify(row, ctx, point, result, log);
  return result.ok;
}

/** Errors a passing verification answers: the disk is now known to equal its point. */
const VERIFY_ERRORS = new Set(["VerifyMismatch", "SampleMismatch"]);

async function recordVerify(
  row: Row,
  ctx: SyncContext,
  point: RecoveryPoint,
  result: VerifyResult,
  log: Logger,
): Promise<void> {
  if (result.ok) {
    const answered = row.source.lastError && VERIFY_ERRORS.has(row.source.lastError.code);
    await row.save({
      state: "healthy",
      lastVerifiedAt: ctx.now().toISOString(),
      ...(answered ? { lastError: undefined } : {}),
    });
    log.info(
      { snapshotId: point.snapshotId, bytesCompared: result.bytesCompared },
      "staging disk verified against its recovery point",
    );
    return;
  }
  await row.save({
    state: "degraded",
    lastError: errorOf(
      "VerifyMismatch",
      `The staging disk differs from recovery point ${point.snapshotId} first at byte offset ${result.firstDifferenceAt}. Run retry-backfill to copy it again.`,
      ctx,
    ),
  });
  log.error(
    { snapshotId: point.snapshotId, offset: result.firstDifferenceAt },
    "staging disk differs from its recovery point",
  );
}

/** A recovery point's bytes for a comparison: its data ranges, read through a SAS (zeros elsewhere). */
async function pointReader(ctx: SyncContext, point: RecoveryPoint, signal?: AbortSignal) {
  const snap = await ctx.snapshots.get(point.snapshotId);
  if (!snap) throw new FerryError(`The recovery point ${point.snapshotId} no longer exists.`, { code: "SnapshotGone" });
  let sas = await ctx.snapshots.grantRead(point.snapshotId);
  const ranges = await validRanges(ctx.pageBlob(sas), snap.sizeBytes, ctx.tuning.diffSegmentBytes, signal);
  const source = sasRangeSource({
    pageBlob: ctx.pageBlob,
    sasUrl: async () => sas,
    regrant: async () => (sas = await ctx.snapshots.grantRead(point.snapshotId)),
  });
  return { sizeBytes: snap.sizeBytes, ranges, source };
}

/** Compares the device with a recovery point (its data ranges, and zeros everywhere else). */
export async function verifyAgainst(
  ctx: SyncContext,
  device: StagingDevice,
  point: RecoveryPoint,
  signal?: AbortSignal,
): Promise<VerifyResult> {
  const { sizeBytes, ranges, source } = await pointReader(ctx, point, signal);
  const deviceExtents = await device.dataExtents();
  return verifyDevice({
    device,
    source,
    dataRanges: ranges,
    sizeBytes,
    chunkBytes: Math.min(ctx.tuning.verifyChunkBytes, ctx.budget.capacity / 2),
    budget: ctx.budget,
    ...(deviceExtents ? { deviceExtents } : {}),
    ...(signal ? { abortSignal: signal } : {}),
  });
}

/**
 * {@link verifyAgainst}, reporting a difference only when it holds up: the row still names this
 * point, nothing is being applied, this cycle still holds the row (its fencing token), and the
 * differing bytes read again from both sides still differ. Otherwise it throws "VerifyRaced":
 * something changed the disk or the row during the scan, and nothing is recorded.
 */
async function verifyConfirmed(
  row: Row,
  ctx: SyncContext,
  device: StagingDevice,
  point: RecoveryPoint,
  signal: AbortSignal,
): Promise<VerifyResult> {
  const result = await verifyAgainst(ctx, device, point, signal);
  if (result.ok) return result;
  const raced = (why: string) =>
    new FerryError(`The verification of ${point.snapshotId} raced a change (${why}); nothing was recorded.`, {
      code: "VerifyRaced",
    });
  // Renews the lease: throws Fenced when another process took the row meanwhile.
  const now = await row.save({});
  if (now.applying || now.applied?.snapshotId.toLowerCase() !== point.snapshotId.toLowerCase())
    throw raced("the row moved on to another recovery point");
  const { sizeBytes, ranges, source } = await pointReader(ctx, point, signal);
  const page = 4096;
  const start = Math.floor(result.firstDifferenceAt / page) * page;
  const window = { start, end: Math.min(sizeBytes, start + page) };
  const expected = Buffer.alloc(window.end - window.start);
  for (const r of intersect(ranges, [window]))
    await source.read(r, signal, expected.subarray(r.start - start, r.end - start));
  const actual = Buffer.alloc(expected.length);
  await device.readInto(start, actual);
  if (actual.equals(expected)) throw raced(`byte ${result.firstDifferenceAt} reads equal now`);
  return result;
}

async function recordFailure(row: Row, e: unknown, log: Logger): Promise<CycleOutcome> {
  const code = isFerryError(e)
    ? e.code
    : typeof (e as { code?: unknown }).code === "string"
      ? String((e as { code: string }).code)
      : "SyncFailed";
  const degraded = isUserError(e) || NEEDS_PERSON.has(code);
  const error: SourceError = { code, message: (e as Error).message ?? String(e), at: new Date().toISOString() };
  log.error({ err: e, degraded }, degraded ? "sync needs a person" : "sync cycle failed; retrying later");
  try {
    await row.save({
      lastError: error,
      consecutiveFailures: row.source.consecutiveFailures + 1,
      ...(degraded ? { state: "degraded" as const } : {}),
    });
  } catch (saveError) {
    log.error({ err: saveError }, "could not record the failure");
  }
  return { kind: "failed", error, degraded };
}

function errorOf(code: string, message: string, ctx: SyncContext): SourceError {
  return { code, message, at: ctx.now().toISOString() };
}

/** The outcome of a verification that ran to its end. */
export type CheckOutcome = { kind: "verified"; ok: boolean; firstDifferenceAt?: number };

/**
 * Check health: hashes the staging device against its applied recovery point and records the
 * outcome (healthy, or degraded with the first differing offset). Runs as a cycle does — under the
 * lease and a new fencing token, so no other process writes the disk meanwhile — and is read-only
 * on the device. Skips while a recovery point is being applied (the disk is torn then, by design)
 * or another process holds the source.
 */
export async function checkHealth(
  stored: StoredSource,
  ctx: SyncContext,
  abortSignal?: AbortSignal,
): Promise<CycleOutcome | CheckOutcome> {
  const src = stored.source;
  const log = ctx.logger.child({ sourceDiskId: src.sourceDiskId });
  const busy = (s: Source) =>
    !s.applied || s.applying
      ? ({ kind: "skipped", reason: s.applying ? "a recovery point is being applied" : "nothing applied yet" } as const)
      : undefined;
  if (busy(src)) return busy(src)!;
  const row = new Row(stored, ctx.store, ctx.owner, ctx.tuning.leaseMs, ctx.now);
  const taken = await begin(row, log);
  if (taken !== true) return taken;
  return underLease<CycleOutcome | CheckOutcome>(row, log, abortSignal, async (signal) => {
    // The row as taken: a cycle may have begun an apply since it was listed.
    const skip = busy(row.source);
    if (skip) return skip;
    const device = await openStaging(row, ctx, false, signal);
    try {
      const point = row.source.applied!;
      const result = await verifyConfirmed(row, ctx, device, point, signal);
      await revokeQuietly(ctx.snapshots, log, point.snapshotId);
      await recordVerify(row, ctx, point, result, log);
      return result.ok
        ? { kind: "verified", ok: true }
        : { kind: "verified", ok: false, firstDifferenceAt: result.firstDifferenceAt };
    } finally {
      await device.close();
    }
  });
}
