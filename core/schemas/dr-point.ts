import { z } from "zod";
import { isoDateTime } from "./fields";
import { diskId, snapshotId } from "./ids";
import { SourceProtectionSchema } from "./source";

/**
 * A recovery point in the DR region: an incremental snapshot of a staging disk, taken by the sync daemon
 * once the staging disk durably held the source point `sourceSnapshotId` (applied and fsynced, `applying`
 * empty). Its bytes are the source disk's at `pointTime`. One state-store row per point, written only after
 * Azure reported the snapshot Succeeded: a record never claims a point that is not there.
 */
export const DrPointSchema = z.strictObject({
  /** ARM id of the protected disk in the primary region. */
  sourceDiskId: diskId,
  /** ARM id of the staging disk the snapshot was taken of. */
  stagingDiskId: diskId,
  /** The source-side incremental snapshot the staging disk held when the point was taken. */
  sourceSnapshotId: snapshotId,
  /** The point's time: when `sourceSnapshotId` was taken in the primary region (ISO 8601). */
  pointTime: isoDateTime,
  /** ARM id of the incremental snapshot of the staging disk (in the DR region, ferry's snapshot group). */
  drSnapshotId: snapshotId,
  /** When the DR-side snapshot was taken (ISO 8601). */
  takenAt: isoDateTime,
  /**
   * Shared by the points of one blueprint row's disks whose source snapshots were requested together; the
   * row-level point id an operator names (`--recovery-point <id>`). Absent: a point taken on its own.
   */
  group: z.string().min(1).optional(),
  /**
   * With `group`: how far apart the source snapshot times of the group's disks were (max - min, in milliseconds),
   * as the daemon saw them when it took this point; absent when it did not see them all.
   */
  spreadInMs: z.int().min(0).optional(),
  /** Blueprint, row and disk role of the source when the point was taken. */
  protection: SourceProtectionSchema.optional(),
  /**
   * Operations that need this point (a failover or drill that recovered from it, a failback that uses it as
   * its base), each until when (ISO 8601). Retention never deletes a point with a live hold.
   */
  holds: z
    .array(z.strictObject({ by: z.string().min(1), until: isoDateTime }))
    .max(20)
    .optional(),
});
export type DrPoint = z.infer<typeof DrPointSchema>;
