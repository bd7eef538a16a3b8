import { z } from "zod";
import { isoDateTime } from "./fields";
import { diskId, snapshotId } from "./ids";

/**
 * A point a staging disk can be brought to: an incremental snapshot of a source disk. ferry only
 * ever takes incremental snapshots, so the id alone identifies the point.
 */
export const RecoveryPointSchema = z.strictObject({
  /** ARM id of the incremental snapshot. */
  snapshotId,
  /** ARM id of the disk the snapshot was taken of. */
  sourceDiskId: diskId,
  /** When the snapshot was taken (ISO 8601). */
  createdAt: isoDateTime,
  /**
   * The DR-side recovery point of this source point (an incremental snapshot of the staging disk, core/schemas/
   * dr-point.ts) a failover or drill recovers the disk from: a from-snapshot disk is copied from it, an attach-as-is
   * disk takes it as its failback base. Absent: the staging disk is snapshotted at the point instead.
   */
  drSnapshotId: snapshotId.optional(),
  /**
   * The row's sync request (its `syncRequestedAt`) that stood when the daemon asked for this point's snapshot: the
   * snapshot was taken after that request was written. A planned failover knows its final sync by it, with no
   * clock compared across machines. Absent: no request stood.
   */
  afterSyncRequest: isoDateTime.optional(),
  /**
   * The point is older than the one the staging disk holds (chosen by time or id): its row is recovered from
   * DR-side snapshots whatever its strategy, and its staging disks are not touched. Default false.
   */
  older: z.boolean().optional(),
});
export type RecoveryPoint = z.infer<typeof RecoveryPointSchema>;
