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
});
export type RecoveryPoint = z.infer<typeof RecoveryPointSchema>;
