import { holdPoint } from "../adapters/state/admin";
import { pointKey } from "../adapters/state/points";
import { normalizeResourceId, sameResourceId } from "../core/resource-id";
import { settleAll } from "../core/settle";
import {
  choosePoints,
  spreadOf,
  type ListedPoint,
  type PointChoice,
  type PointRequest,
  type RecordedPointRequest,
} from "../core/point-choice";
import type { Source } from "../core/schemas/source";
import type { RecoveryPoint } from "../core/schemas/recovery-point";
import { diskLabel, type sourceDisks } from "./blueprints";
import type { RunbookContext } from "./context";
import type { Operation } from "./journal";

// The DR-side recovery points a failover or drill recovers from: read from the state store only (never the
// primary region), chosen by core/point-choice.ts, held for the operation while it needs them.

type Disk = ReturnType<typeof sourceDisks>[number];

/** Every recorded DR-side point of each disk, oldest first (by source disk id as the blueprint spells it). */
export async function listDrPoints(ctx: RunbookContext, disks: Disk[]): Promise<Map<string, ListedPoint[]>> {
  const lists = await Promise.all(
    disks.map(async (d) => [d.sourceDiskId, await ctx.points.list(d.sourceDiskId)] as const),
  );
  return new Map(lists);
}

/** What the operation recovers each disk at, and from where. */
export interface ResolvedPoints {
  /** The request was a time or an id: the operator chose the point, its age is not an RPO failure. */
  deliberate: boolean;
  /** The DR-side point of each disk that has one to recover from (by source disk id). */
  chosen: Record<string, ListedPoint>;
  /** Per row, the spread of its disks' point times, in milliseconds (rows all of whose disks have a point). */
  spreadInMs: Record<string, number>;
}

/**
 * The DR-side points a run recovers from, before any pause. For a time or an id: every disk's (or a
 * {@link import("../core/errors").UserError} that says why not). For `latest` in a drill: each disk's newest point,
 * for disks that have one (the others are snapshotted at an apply boundary, as before points existed). For `latest`
 * in a failover: none yet (the point must be the staging disk's applied one: see {@link matchApplied}).
 */
export async function resolvePoints(
  ctx: RunbookContext,
  disks: Disk[],
  request: PointRequest,
  mode: "failover" | "test",
): Promise<ResolvedPoints> {
  const choiceDisks = disks.map((d) => ({
    row: d.row,
    sourceDiskId: d.sourceDiskId,
    label: `${d.row} ${diskLabel(d)}`,
  }));
  if (request.kind === "latest" && mode === "failover") return { deliberate: false, chosen: {}, spreadInMs: {} };
  const lists = await listDrPoints(ctx, disks);
  if (request.kind !== "latest") {
    const c: PointChoice = choosePoints(choiceDisks, lists, request);
    return { deliberate: true, chosen: c.disks, spreadInMs: c.spreadInMs };
  }
  const having = choiceDisks.filter((d) => (lists.get(d.sourceDiskId) ?? []).length > 0);
  const c = choosePoints(having, lists, request);
  return { deliberate: false, chosen: c.disks, spreadInMs: c.spreadInMs };
}

/** Options of {@link latestDrPoints}. */
export interface LatestDrPointsOptions {
  /**
   * By normalized source disk id: only points whose source snapshot was taken at or after this time (Azure's, ms since
   * the epoch): a planned failover's final point of the disk. A disk not in it has no such bound. Default: none.
   */
  pointTimeAtLeast?: ReadonlyMap<string, number>;
}

/**
 * For a failover to `latest`, before any pause: each disk's newest DR-side point (no older than its bound in
 * `pointTimeAtLeast`, when given). An unplanned failover's latest point is the newest one recorded in the DR region; a
 * disk with none is left out (the failover pauses it and recovers what its staging disk holds).
 */
export async function latestDrPoints(
  ctx: RunbookContext,
  disks: Disk[],
  options: LatestDrPointsOptions = {},
): Promise<ResolvedPoints> {
  const lists = await listDrPoints(ctx, disks);
  const choiceDisks = disks
    .map((d) => ({ row: d.row, sourceDiskId: d.sourceDiskId, label: `${d.row} ${diskLabel(d)}` }))
    .filter((d) => {
      const since = options.pointTimeAtLeast?.get(normalizeResourceId(d.sourceDiskId)) ?? Number.NEGATIVE_INFINITY;
      return (lists.get(d.sourceDiskId) ?? []).some((p) => Date.parse(p.point.pointTime) >= since);
    });
  const c = choosePoints(choiceDisks, lists, { kind: "latest" });
  return { deliberate: false, chosen: c.disks, spreadInMs: c.spreadInMs };
}

/**
 * For a failover to `latest`, once the sync is paused: the DR-side point of each disk taken at exactly the point its
 * staging disk holds (the daemon's point of its last apply), where there is one.
 */
export async function matchApplied(
  ctx: RunbookContext,
  disks: Disk[],
  applied: Record<string, RecoveryPoint>,
): Promise<Record<string, ListedPoint>> {
  const lists = await listDrPoints(ctx, disks);
  const out: Record<string, ListedPoint> = {};
  for (const d of disks) {
    const point = Object.entries(applied).find(([k]) => sameResourceId(k, d.sourceDiskId))?.[1];
    const match = (lists.get(d.sourceDiskId) ?? []).findLast(
      (p) => point !== undefined && sameResourceId(p.point.sourceSnapshotId, point.snapshotId),
    );
    if (match) out[d.sourceDiskId] = match;
  }
  return out;
}

/** A DR-side point as the recovery point a plan recovers: its source point, with its DR snapshot. */
export function asRecoveryPoint(p: ListedPoint, source: Source | undefined): RecoveryPoint {
  const applied = source?.applied;
  // Older than the staging disk: any point but the one it holds now (the row then comes from DR-side snapshots).
  const older = !applied || !sameResourceId(applied.snapshotId, p.point.sourceSnapshotId);
  return {
    snapshotId: p.point.sourceSnapshotId,
    sourceDiskId: p.point.sourceDiskId,
    createdAt: p.point.pointTime,
    drSnapshotId: p.point.drSnapshotId,
    ...(older ? { older: true } : {}),
  };
}

/** Ends operation `by`'s holds on the DR-side points it recovered from (a point already gone is fine). */
export async function releaseDrPoints(ctx: RunbookContext, by: string, points: RecoveryPoint[]): Promise<void> {
  await settleAll(
    points
      .filter((p) => p.drSnapshotId !== undefined)
      .map((p) =>
        ctx.points.release(
          p.sourceDiskId,
          pointKey({ pointTime: p.createdAt, drSnapshotId: p.drSnapshotId! }),
          by,
          ctx.now(),
        ),
      ),
  );
}

/**
 * The DR-side points an operation recorded it recovered from (its `details.drPoints`), and those a failover to an
 * older point holds for its failback (`details.failbackBridges`), as recovery points.
 */
export function drPointsOf(op: Pick<Operation, "details"> | undefined): RecoveryPoint[] {
  const recorded = (op?.details?.drPoints ?? {}) as Record<string, { drSnapshotId?: string; pointTime?: string }>;
  const bridges = (op?.details?.failbackBridges ?? {}) as Record<string, Partial<FailbackBridge>>;
  return [...Object.entries(recorded), ...Object.entries(bridges)]
    .filter(([, p]) => p.drSnapshotId && p.pointTime)
    .map(([sourceDiskId, p]) => ({
      sourceDiskId,
      snapshotId: p.drSnapshotId!,
      createdAt: p.pointTime!,
      drSnapshotId: p.drSnapshotId!,
    }));
}

/**
 * For a disk failed over to an older point: the newest DR-side point of its staging disk when the failover ran. The
 * diff of the older point's DR snapshot to this one is what the primary changed between them, read in the DR region
 * (both are snapshots of one staging disk: one incremental family); from this one on, the failback diffs the
 * primary's own snapshots, from `sourceSnapshotId` to its last replicated point, as after any failover.
 */
export interface FailbackBridge {
  drSnapshotId: string;
  pointTime: string;
  /** The primary-side snapshot the staging disk held at this point (held on the source row for the failback). */
  sourceSnapshotId: string;
}

/**
 * Holds, for the failover `by`, what its failback needs of each disk recovered at an older point: the newest DR-side
 * point of the disk (retention then keeps it) and the primary-side snapshot of that point (the sync then keeps it
 * as it applies newer ones). Reads the state store only: nothing of the primary region. Returns each disk's
 * bridge, by source disk id in lower case; a disk whose newest point is the one it recovered has none. A re-run of
 * the failover passes the bridges it recorded (`recorded`): those are held again, not replaced by newer points
 * (which nothing would release).
 */
export async function holdFailbackBridges(
  ctx: RunbookContext,
  by: string,
  chosen: Record<string, RecoveryPoint>,
  until: Date,
  recorded: Record<string, FailbackBridge> = {},
): Promise<Record<string, FailbackBridge>> {
  const out: Record<string, FailbackBridge> = {};
  await settleAll(
    Object.entries(chosen)
      .filter(([, p]) => p.older && p.drSnapshotId)
      .map(async ([sourceDiskId, p]) => {
        let bridge = recorded[sourceDiskId.toLowerCase()];
        if (!bridge) {
          const newest = (await ctx.points.list(sourceDiskId)).at(-1);
          if (!newest || sameResourceId(newest.point.drSnapshotId, p.drSnapshotId!)) return;
          bridge = {
            drSnapshotId: newest.point.drSnapshotId,
            pointTime: newest.point.pointTime,
            sourceSnapshotId: newest.point.sourceSnapshotId,
          };
        }
        await ctx.points.hold(sourceDiskId, pointKey(bridge), by, until, ctx.now());
        await holdPoint(ctx.store, sourceDiskId, bridge.sourceSnapshotId, by, until, ctx.now());
        out[sourceDiskId.toLowerCase()] = bridge;
      }),
  );
  return out;
}

/**
 * The points a drill's precheck judges: the DR-side points the test failover would recover (`request`), each as a
 * recovery point; disks without one are judged on their staging disk, as the failover then pauses them.
 */
export async function drillPoints(
  ctx: RunbookContext,
  disks: Disk[],
  request: PointRequest,
): Promise<{ points: Record<string, RecoveryPoint>; deliberate: boolean }> {
  const resolved = await resolvePoints(ctx, disks, request, "test");
  const points: Record<string, RecoveryPoint> = {};
  for (const d of disks) {
    const c = resolved.chosen[d.sourceDiskId];
    if (c) points[d.sourceDiskId] = asRecoveryPoint(c, (await ctx.store.get(d.sourceDiskId))?.source);
  }
  return { points, deliberate: resolved.deliberate };
}

/** What a failover recorded it recovers: the request as asked and the point each disk resolved to. */
export interface RecordedPoints {
  request: RecordedPointRequest;
  /** By source disk ARM id: the recovery point the run recovers (as its precheck judged it). */
  points: Record<string, RecoveryPoint>;
}

/**
 * The request and points a failover recorded (`details.pointRequest`, `details.resolvedPoints`), or undefined for an
 * operation recorded before they were (a re-run of it resolves its points again).
 */
export function recordedPointsOf(op: Pick<Operation, "details">): RecordedPoints | undefined {
  const request = op.details?.pointRequest as RecordedPointRequest | undefined;
  const points = op.details?.resolvedPoints as Record<string, RecoveryPoint> | undefined;
  return request && points ? { request, points } : undefined;
}

/**
 * The DR-side points a resumed failover holds again: those its recorded points name (the run it continues holds them,
 * so retention has kept them). A disk whose point has no DR-side snapshot is left out.
 */
export async function recordedDrPoints(
  ctx: RunbookContext,
  disks: Disk[],
  points: Record<string, RecoveryPoint>,
): Promise<ResolvedPoints> {
  const lists = await listDrPoints(ctx, disks);
  const chosen: Record<string, ListedPoint> = {};
  for (const d of disks) {
    const p = Object.entries(points).find(([k]) => sameResourceId(k, d.sourceDiskId))?.[1];
    const match = p?.drSnapshotId
      ? (lists.get(d.sourceDiskId) ?? []).find((x) => sameResourceId(x.point.drSnapshotId, p.drSnapshotId!))
      : undefined;
    if (match) chosen[d.sourceDiskId] = match;
  }
  const choiceDisks = disks.map((d) => ({ row: d.row, sourceDiskId: d.sourceDiskId, label: d.sourceDiskId }));
  return { deliberate: false, chosen, spreadInMs: spreadOf(choiceDisks, chosen) };
}
