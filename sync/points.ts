import type { Logger } from "pino";
import { randomBytes } from "node:crypto";
import type { AzureClients } from "../adapters/azure/clients";
import type { DrPointStore, StoredDrPoint } from "../adapters/state/points";
import { isFerryError, isNotFound } from "../core/errors";
import { parseResourceId, sameResourceId } from "../core/resource-id";
import { planRetention } from "../core/retention";
import type { DrPoint } from "../core/schemas/dr-point";
import type { RecoveryPoint } from "../core/schemas/recovery-point";
import {
  AZURE_SNAPSHOT_WINDOW_SECONDS,
  AZURE_SNAPSHOTS_PER_WINDOW,
  MAX_POINTS_PER_DISK,
  RetentionSchema,
} from "../core/schemas/retention";
import type { Source } from "../core/schemas/source";
import { TAG_APPLIANCE, TAG_ROLE, TAG_SOURCE } from "./snapshots";

/** Tag naming the staging disk a recovery point was taken of (with `ferry-role=point` and `ferry-source`). */
export const TAG_STAGING = "ferry-staging";
/** `ferry-role` of the DR-side recovery points. */
export const POINT_ROLE = "point";

/**
 * Points per staging disk per 5 minutes the daemon takes at most: Azure allows 7 snapshots of a disk in that
 * window, and one is left for a failover's or a drill's own snapshot of the staging disk.
 */
export const DEFAULT_POINTS_PER_WINDOW = AZURE_SNAPSHOTS_PER_WINDOW - 1;

/** What became of the point after one apply. */
export type PointOutcome =
  | { kind: "taken"; stored: StoredDrPoint }
  /** Not a failure: the next apply's point covers it (no group configured, the rate budget spent, …). */
  | { kind: "skipped"; reason: string }
  | { kind: "failed"; error: unknown };

/** Where the service reports what it did: the daemon's metrics. */
export interface PointMetricsSink {
  recordPoint(sourceDiskId: string, outcome: PointOutcome["kind"]): void;
  recordPruned(sourceDiskId: string, count: number): void;
  /** The points of a disk now: how many, and the newest one's time (ISO 8601). */
  observePoints(sourceDiskId: string, count: number, newestPointTime: string | undefined): void;
}

/** Options of {@link DrPointService}. */
export interface DrPointServiceOptions {
  /** Tag value naming the appliance that took a point. */
  applianceId: string;
  /** Polling interval of long-running operations, in milliseconds. Default 2000. */
  pollIntervalInMs?: number;
  /**
   * How old a DR snapshot tagged as a point of a source must be, in milliseconds, before the sweep deletes it for
   * having no record (a crash between the snapshot and its record, or a prune whose snapshot delete failed).
   * Default 900000 (15 minutes): far longer than a snapshot and its record take.
   */
  sweepGraceInMs?: number;
  /** Points per staging disk per `windowInMs` at most. Default 6: Azure's 7, less one for a failover's snapshot. */
  perWindow?: number;
  /** The rate window, in milliseconds. Default 300000 (Azure's 5 minutes). */
  windowInMs?: number;
  /** Recorded points per disk at most before new ones are skipped. Default 450 (core/schemas/retention.ts). */
  maxPerDisk?: number;
  now?: () => Date;
}

/** What the cycle hands over after an apply. */
export interface TakePointInput {
  /** The source row as the cycle holds it, with `applied` = the point just committed. */
  source: Source;
  point: RecoveryPoint;
  /** The row group the source snapshot was taken in, and its spread if known. */
  group?: { id: string; spreadInMs?: number | undefined } | undefined;
  /**
   * Called once the DR snapshot exists: resolves true only when the cycle still holds the source and the staging
   * disk still holds `point` (nothing wrote it since). False or a throw: the snapshot is deleted, nothing recorded.
   */
  confirm: () => Promise<boolean>;
  logger: Logger;
  abortSignal?: AbortSignal;
}

/**
 * Recovery points in the DR region: after an apply, an incremental snapshot of the staging disk, recorded in the
 * state store once Azure reports it Succeeded; then retention prunes (record first, snapshot after) and a sweep
 * deletes tagged snapshots that have no record past a grace period. Never throws: a point that cannot be had is
 * skipped or failed, logged and counted, and the sync goes on.
 */
export class DrPointService {
  private readonly poll: { updateIntervalInMs: number };
  private readonly now: () => Date;
  /**
   * When this process asked Azure for a snapshot of each staging disk (epoch ms), within the window, and the
   * snapshot's id once made: an attempt that was recorded is counted once, by its record.
   */
  private readonly attempts = new Map<string, { at: number; id?: string }[]>();
  /** Where counts go (the daemon's metrics, set once the daemon exists). Default: nowhere. */
  metrics: PointMetricsSink | undefined;

  constructor(
    private readonly azure: AzureClients,
    private readonly store: DrPointStore,
    private readonly options: DrPointServiceOptions,
  ) {
    this.poll = { updateIntervalInMs: options.pollIntervalInMs ?? 2000 };
    this.now = options.now ?? (() => new Date());
  }

  private get windowInMs(): number {
    return this.options.windowInMs ?? AZURE_SNAPSHOT_WINDOW_SECONDS * 1000;
  }

  /** Takes and records the point of `input.point` on the staging disk, then prunes and sweeps. */
  async afterApply(input: TakePointInput): Promise<PointOutcome> {
    const { source, logger: log } = input;
    const outcome = await this.take(input).catch((e: unknown): PointOutcome => ({ kind: "failed", error: e }));
    if (outcome.kind === "failed")
      log.warn({ err: outcome.error }, "taking the recovery point in the DR region failed; the next apply's covers it");
    else if (outcome.kind === "skipped") log.info({ reason: outcome.reason }, "no recovery point for this apply");
    else log.info({ drSnapshotId: outcome.stored.point.drSnapshotId }, "recovery point taken in the DR region");
    this.metrics?.recordPoint(source.sourceDiskId, outcome.kind);
    if (source.drSnapshotResourceGroup !== undefined && !input.abortSignal?.aborted) {
      await this.prune(source, log).catch((e: unknown) => log.warn({ err: e }, "pruning recovery points failed"));
      await this.sweep(source, log).catch((e: unknown) => log.warn({ err: e }, "sweeping recovery points failed"));
    }
    return outcome;
  }

  private async take(input: TakePointInput): Promise<PointOutcome> {
    const { source, point } = input;
    const group = source.drSnapshotResourceGroup;
    if (group === undefined)
      return { kind: "skipped", reason: "no snapshot group of the DR region on the source (ferry sources enable)" };
    if (input.abortSignal?.aborted) return { kind: "skipped", reason: "the daemon is stopping" };
    const recorded = await this.store.list(source.sourceDiskId);
    if (recorded.some((r) => sameResourceId(r.point.sourceSnapshotId, point.snapshotId)))
      return { kind: "skipped", reason: "this point is recorded already" };
    const limit = this.options.maxPerDisk ?? MAX_POINTS_PER_DISK;
    if (recorded.length >= limit)
      return {
        kind: "skipped",
        reason: `${recorded.length} points are kept of this disk, the most allowed (${limit})`,
      };
    const nowMs = this.now().getTime();
    const staging = source.stagingDiskId.toLowerCase();
    // Azure's window counts every snapshot created; this process's attempts and the points recorded (by any
    // process) are what the daemon can know of. A failover's snapshots of the staging disk are not counted:
    // Azure's refusal of one over the limit is a skip too (below).
    const since = nowMs - this.windowInMs;
    const ids = new Set(recorded.map((r) => r.point.drSnapshotId.toLowerCase()));
    const attempts = (this.attempts.get(staging) ?? []).filter((a) => a.at > since);
    const recent =
      recorded.filter((r) => Date.parse(r.point.takenAt) > since).length +
      attempts.filter((a) => a.id === undefined || !ids.has(a.id)).length;
    const perWindow = this.options.perWindow ?? DEFAULT_POINTS_PER_WINDOW;
    if (recent >= perWindow)
      return {
        kind: "skipped",
        reason:
          `${recent} snapshots of this staging disk in the last ${this.windowInMs / 1000} s, the most the daemon ` +
          `takes (Azure allows ${AZURE_SNAPSHOTS_PER_WINDOW})`,
      };
    const attempt: { at: number; id?: string } = { at: nowMs };
    this.attempts.set(staging, [...attempts, attempt]);

    const disk = parseResourceId(source.stagingDiskId);
    const location = (await this.azure.compute.disks.get(disk.resourceGroup, disk.name)).location;
    const name = pointSnapshotName(disk.name, this.now());
    let snapshotId: string | undefined;
    try {
      const snap = await this.azure.compute.snapshots.createOrUpdate(
        group,
        name,
        {
          location,
          incremental: true,
          creationData: { createOption: "Copy", sourceResourceId: source.stagingDiskId },
          tags: {
            [TAG_ROLE]: POINT_ROLE,
            [TAG_SOURCE]: source.sourceDiskId.toLowerCase(),
            [TAG_STAGING]: staging,
            [TAG_APPLIANCE]: this.options.applianceId.toLowerCase(),
          },
        },
        this.poll,
      );
      snapshotId = snap.id!;
      attempt.id = snapshotId.toLowerCase();
      if (snap.provisioningState !== undefined && snap.provisioningState !== "Succeeded")
        throw new Error(`the snapshot ${snapshotId} ended ${snap.provisioningState}`);
      if (!(await input.confirm())) {
        await this.deleteSnapshot(snapshotId);
        return { kind: "skipped", reason: "the staging disk moved on before the point was recorded" };
      }
      const dr: DrPoint = {
        sourceDiskId: source.sourceDiskId,
        stagingDiskId: source.stagingDiskId,
        sourceSnapshotId: point.snapshotId,
        pointTime: point.createdAt,
        drSnapshotId: snapshotId,
        takenAt: (snap.timeCreated ?? this.now()).toISOString(),
        ...(input.group ? { group: input.group.id } : {}),
        ...(input.group?.spreadInMs !== undefined ? { spreadInMs: Math.round(input.group.spreadInMs) } : {}),
        ...(source.protection ? { protection: source.protection } : {}),
      };
      const stored = await this.store.add(dr);
      return { kind: "taken", stored };
    } catch (e) {
      if (snapshotId !== undefined) {
        // Recorded or not, a failed record leaves the snapshot to the sweep if this delete fails too.
        await this.deleteSnapshot(snapshotId).catch(() => undefined);
      }
      if (isRateRefusal(e))
        return { kind: "skipped", reason: "Azure refused another snapshot of this disk now (its 5-minute limit)" };
      throw e;
    }
  }

  /**
   * Deletes what the source's retention no longer keeps: each point's record (conditional on its ETag; a held
   * point, or one written since it was read, is kept), then its snapshot. Returns how many went.
   */
  async prune(source: Source, log: Logger): Promise<number> {
    const points = await this.store.list(source.sourceDiskId);
    const policy = RetentionSchema.parse(source.protection?.retention ?? {});
    const now = this.now();
    // The point the staging disk holds is in use whatever its age: a failover from the staging disk recovers it.
    const inUse = points
      .filter((p) => source.applied && sameResourceId(p.point.sourceSnapshotId, source.applied.snapshotId))
      .map((p) => p.key);
    const plan = planRetention(
      points.map((p) => ({ ...p, pointTime: p.point.pointTime, holds: p.point.holds })),
      policy,
      now,
      { inUse },
    );
    let pruned = 0;
    for (const p of plan.prune) {
      const stored: StoredDrPoint = { point: p.point, key: p.key, etag: p.etag };
      try {
        await this.store.delete(stored, now);
      } catch (e) {
        if (isFerryError(e) && (e.code === "PointHeld" || e.code === "ConcurrentUpdate")) {
          log.debug({ err: e, key: p.key }, "recovery point kept: held or changed since read");
          continue;
        }
        throw e;
      }
      pruned++;
      // The record is gone: a snapshot whose delete fails now has none, and the sweep deletes it later.
      await this.deleteSnapshot(p.point.drSnapshotId).catch((e: unknown) =>
        log.warn(
          { err: e, drSnapshotId: p.point.drSnapshotId },
          "deleting a pruned point's snapshot failed; swept later",
        ),
      );
    }
    if (pruned > 0) {
      log.info({ pruned, kept: plan.keep.length }, "recovery points pruned by the blueprint's retention");
      this.metrics?.recordPruned(source.sourceDiskId, pruned);
    }
    const newest = plan.keep
      .map((k) => k.point.pointTime)
      .sort()
      .pop();
    this.metrics?.observePoints(source.sourceDiskId, points.length - pruned, newest);
    return pruned;
  }

  /**
   * Deletes the snapshots of the source's points in its DR snapshot group that no record names and that are older
   * than the grace period. Returns how many went.
   */
  async sweep(source: Source, log: Logger): Promise<number> {
    const group = source.drSnapshotResourceGroup;
    if (group === undefined) return 0;
    const recorded = new Set(
      (await this.store.list(source.sourceDiskId)).map((p) => p.point.drSnapshotId.toLowerCase()),
    );
    const before = this.now().getTime() - (this.options.sweepGraceInMs ?? 15 * 60_000);
    let swept = 0;
    for await (const s of this.azure.compute.snapshots.listByResourceGroup(group)) {
      const tag = s.tags?.[TAG_SOURCE];
      if (s.tags?.[TAG_ROLE] !== POINT_ROLE || tag === undefined || !sameResourceId(tag, source.sourceDiskId)) continue;
      if (recorded.has(s.id!.toLowerCase())) continue;
      if ((s.timeCreated?.getTime() ?? 0) >= before) continue;
      await this.deleteSnapshot(s.id!);
      swept++;
      log.info({ drSnapshotId: s.id }, "deleted a recovery point's snapshot that has no record");
    }
    return swept;
  }

  private async deleteSnapshot(snapshotId: string): Promise<void> {
    const s = parseResourceId(snapshotId);
    try {
      await this.azure.compute.snapshots.delete(s.resourceGroup, s.name, this.poll);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

/** Azure's refusal of a snapshot over the per-disk limits (OperationNotAllowed, or a 429). */
function isRateRefusal(e: unknown): boolean {
  const err = e as { statusCode?: unknown; code?: unknown; message?: unknown } | null;
  if (err?.statusCode === 429) return true;
  return err?.code === "OperationNotAllowed" && /snapshots/i.test(String(err.message));
}

/** `ferry-pt-<staging disk>-<UTC time>-<4 hex>`, within Azure's 80 characters. */
export function pointSnapshotName(diskName: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `ferry-pt-${diskName.slice(0, 45)}-${stamp}-${randomBytes(2).toString("hex")}`;
}
