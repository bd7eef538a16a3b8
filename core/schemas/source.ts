import { z } from "zod";
import { normalizeResourceId } from "../resource-id";
import { isoDateTime } from "./fields";
import { diskId, snapshotId, virtualMachineId } from "./ids";
import { resourceGroupName } from "./fields";
import { RecoveryPointSchema } from "./recovery-point";
import { RetentionSchema } from "./retention";
import { evenWithFieldIssues } from "./refine";

/** Life cycle of a protected source disk; see core/source-state.ts for the transitions. */
export const sourceStates = ["disabled", "pending", "backfilling", "verifying", "healthy", "degraded"] as const;
export type SourceState = (typeof sourceStates)[number];
export const SourceStateSchema = z.enum(sourceStates);

/**
 * How the staging disk is prepared before the first sync: "wipe" zeroes it, "keep" continues
 * without wiping (ranges outside the source's valid ranges are zeroed during backfill), "empty"
 * skips both because the target is known to be new and empty.
 */
export const prepareModes = ["wipe", "keep", "empty"] as const;
export type PrepareMode = (typeof prepareModes)[number];
export const PrepareModeSchema = z.enum(prepareModes);

/** A data-disk LUN on a VM: 0-63. */
export const lun = z
  .int()
  .min(0, "is not a LUN. Use an integer from 0 to 63")
  .max(63, "is not a LUN. Use an integer from 0 to 63");

/** The last failure recorded for a source, for people and precheck output. */
export const SourceErrorSchema = z.strictObject({
  /** Stable error code, e.g. "SnapshotFailed". */
  code: z.string().min(1),
  message: z.string(),
  /** When it happened (ISO 8601). */
  at: isoDateTime,
});
export type SourceError = z.infer<typeof SourceErrorSchema>;

/**
 * Which disk of which blueprint a source is: short names for the sync daemon's metrics labels and for listings,
 * where a full ARM id is too long to read or to alert on.
 */
export const SourceProtectionSchema = z.strictObject({
  blueprint: z.string().min(1),
  /** The blueprint row (the VM). */
  row: z.string().min(1),
  /** `os`, or `lun-<n>` for a data disk (its LUN on the recovered VM). */
  disk: z.string().regex(/^(os|lun-\d+)$/, "is not a disk role. Use os or lun-<n>"),
  /** The blueprint's RPO target when the source was last enabled, in seconds. Absent: no target. */
  rpoTargetSeconds: z.int().min(1).optional(),
  /** The blueprint's retention of recovery points when the source was last enabled. Absent: the defaults. */
  retention: RetentionSchema.optional(),
});
export type SourceProtection = z.infer<typeof SourceProtectionSchema>;

/** A source disk under protection and where its staging disk stands (one state-store row). */
export const SourceSchema = z
  .strictObject({
    /** ARM id of the protected disk in the primary region. */
    sourceDiskId: diskId,
    /** ARM id of the staging disk in the DR region that mirrors it. */
    stagingDiskId: diskId,
    /** LUN of the staging disk on the sync appliance. */
    applianceLun: lun,
    state: SourceStateSchema,
    prepare: PrepareModeSchema,
    /** Newest snapshot the staging disk should reach. */
    desired: RecoveryPointSchema.optional(),
    /** Snapshot being written; while set, the staging disk is torn (at no recovery point). */
    applying: RecoveryPointSchema.optional(),
    /** Snapshot durably on the staging disk. */
    applied: RecoveryPointSchema.optional(),
    /** Bytes written to the staging disk since protection began. */
    bytesCopied: z.int().min(0),
    /** Age of `applied` when last measured, in milliseconds. */
    lagInMs: z.number().min(0).optional(),
    lastError: SourceErrorSchema.optional(),
    /**
     * Why the daemon could not take the last recovery point in the DR region (the sync itself went on); cleared
     * by the next point it takes.
     */
    pointError: SourceErrorSchema.optional(),
    /** When this record last changed (ISO 8601). */
    updatedAt: isoDateTime,
    /** ARM id of the sync appliance VM whose daemon keeps this source in sync. */
    applianceId: virtualMachineId,
    /** Size of the source disk in bytes when it was enabled; the staging disk is at least this large. */
    sourceSizeBytes: z.int().min(1),
    /**
     * Resource group (in the source's subscription and region) that holds ferry's snapshots: the landing
     * zone's snapshot group of the disk's region, set by `ferry sources enable`. Default: the source
     * disk's group (rows from before snapshot groups; the landing zone's roles allow no snapshots there).
     */
    snapshotResourceGroup: resourceGroupName.optional(),
    /**
     * Resource group (in the staging disk's subscription and region, the DR region) that holds the recovery points
     * the daemon takes of the staging disk: the landing zone's snapshot group of the DR region
     * (`ferry:snapshotResourceGroups.<DR region>`), set by `ferry sources enable`. Absent: no points are taken.
     */
    drSnapshotResourceGroup: resourceGroupName.optional(),
    /**
     * Its blueprint, row and disk role (and the blueprint's RPO target), written by `ferry sources enable`, again on
     * each enable of the blueprint. Absent on rows from before it: the daemon's labels then use the disk's name.
     */
    protection: SourceProtectionSchema.optional(),
    /** Set by a runbook to stop syncing at the next apply boundary (attach-as-is failover). */
    paused: z.boolean().default(false),
    /** Set by a runbook to ask for a sync cycle now instead of at the next interval (ISO 8601). */
    syncRequestedAt: isoDateTime.optional(),
    /** What `applying` is: a full copy of the snapshot's data (backfill) or the diff from `applied`. */
    applyingMode: z.enum(["full", "delta", "seed"]).optional(),
    /**
     * With applyingMode "seed" (a failback's reprotect): the staging disk is brought to `applying`
     * by copying from `copyFrom` (a snapshot with the same bytes) only the union of `deltas`, the
     * ranges where the staging disk may differ from it; without deltas, the whole snapshot.
     */
    seed: z
      .strictObject({
        copyFrom: snapshotId,
        deltas: z.array(z.strictObject({ from: snapshotId, to: snapshotId })).optional(),
      })
      .optional(),
    /** The daemon instance that may write this source's staging disk, until when (ISO 8601). */
    lease: z
      .strictObject({
        owner: z.string().min(1),
        until: isoDateTime,
        /**
         * The process of the owner that holds it (host boot, pid, start time): another process of
         * the same instance waits for it as for another owner, unless it is known to have exited.
         */
        session: z.string().min(1).optional(),
      })
      .optional(),
    /**
     * Fencing token: raised by one under the row's ETag by every cycle that takes the source (and by
     * retry-backfill and disable), never lowered. A writer whose token is no longer the row's, or no
     * longer the newest on its appliance, stops writing (sync/README.md, "Fencing"). Absent: 0.
     */
    fence: z.int().min(0).optional(),
    /** Sync cycles that failed in a row (reset by a success). */
    consecutiveFailures: z.int().min(0).default(0),
    /** When the staging disk was last hashed against its applied snapshot and matched (ISO 8601). */
    lastVerifiedAt: isoDateTime.optional(),
    /**
     * Recovery points a runbook still needs (a failover's, to verify or inspect what it recovered):
     * the daemon keeps these snapshots until `until`, then deletes them as any other old point.
     */
    holds: z
      .array(z.strictObject({ snapshotId, until: isoDateTime, by: z.string().min(1) }))
      .max(20)
      .optional(),
  })
  .superRefine((source, ctx) => {
    if (typeof source.sourceDiskId !== "string") return;
    const own = normalizeResourceId(source.sourceDiskId);
    if (typeof source.stagingDiskId === "string" && normalizeResourceId(source.stagingDiskId) === own) {
      ctx.addIssue({
        code: "custom",
        path: ["stagingDiskId"],
        message: "is the source disk itself. Use a separate disk in the DR region as the staging disk",
      });
    }
    for (const key of ["desired", "applying", "applied"] as const) {
      const point: unknown = source[key];
      const pointDisk = (point as { sourceDiskId?: unknown } | undefined)?.sourceDiskId;
      if (typeof pointDisk === "string" && normalizeResourceId(pointDisk) !== own) {
        ctx.addIssue({
          code: "custom",
          path: [key, "sourceDiskId"],
          message: "is a snapshot of another disk. A recovery point must be a snapshot of this source's sourceDiskId",
        });
      }
    }
  }, evenWithFieldIssues);
export type Source = z.infer<typeof SourceSchema>;
