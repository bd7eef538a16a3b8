import { z } from "zod";
import { sameResourceId } from "../resource-id";
import type { Blueprint } from "./blueprint";
import { isoDateTime } from "./fields";
import { RecoveryPointSchema } from "./recovery-point";

// What the runbooks record at run time about a blueprint, that its Pulumi program reads too: the
// mode, the operation, the recovery points, what has been done to each source disk, and the disks
// that replaced its tracked sources after a failback. Kept in the state store (the run partition
// of the blueprint), never in a tracked file: a fresh clone on a fresh agent sees the same record.

/** The modes a blueprint stack is in. */
export const blueprintModes = ["standby", "failover", "test", "failback"] as const;
export type BlueprintMode = (typeof blueprintModes)[number];

/** The key of a blueprint's mode record in its run partition. */
export const MODE_RECORD_KEY = "mode";
/** The key of a blueprint's current-sources record in its run partition. */
export const SOURCES_RECORD_KEY = "sources";

/**
 * What the runbook has done to one source disk that the program relies on, each set at the moment
 * it became true.
 */
export const DiskProgressSchema = z.object({
  /** Snapshot id of the recovery point the disk's sync was paused at (cleared when it resumes). */
  pausedAt: z.string().optional(),
  /** The staging disk has left the appliance (attach-as-is disks of a failover). */
  detached: z.boolean().optional(),
  /**
   * A runbook is detaching the staging disk from the appliance now, beside its `up`, and records it detached by
   * this time (ISO 8601): until then the program declares the row's other resources and holds its VM for the
   * detach. Cleared when the detach is recorded, or withdrawn when it fails.
   */
  detachingUntil: isoDateTime.optional(),
  /** The DR snapshot of the staging disk at the recovery point exists (from-snapshot disks). */
  snapshotTaken: z.boolean().optional(),
});
export type DiskProgress = z.output<typeof DiskProgressSchema>;

/** The mode record of a blueprint: its mode, since when, set by which operation, and at which points. */
export const ModeRecordSchema = z.object({
  mode: z.enum(blueprintModes),
  /** When the mode was recorded (ISO 8601). */
  since: isoDateTime,
  /** Id of the operation that set it. */
  operation: z.string(),
  /** Kind of that operation ("failover-unplanned", "cleanup"…): which command continues it. */
  operationKind: z.string().optional(),
  /** The recovery point of each source disk (by its ARM id) the operation recovers; empty in standby. */
  recoveryPoints: z.record(z.string(), RecoveryPointSchema).default({}),
  /** Progress per source disk (by its ARM id, lower case). */
  disks: z.record(z.string(), DiskProgressSchema).default({}),
});
export type ModeRecord = z.output<typeof ModeRecordSchema>;

/** One source disk replaced by a failback: the disk that now holds its data. */
export const ReplacedSourceSchema = z.object({
  by: z.string(),
  operation: z.string(),
  /** When it was replaced (ISO 8601). */
  at: isoDateTime,
});

/**
 * The blueprint's current sources: each disk a failback replaced (by its ARM id, lower case), and
 * its replacement. Replacements chain (a second failback replaces the first one's disk), so a
 * tracked blueprint with the original ids, or with ids an operator committed later, resolves to
 * the same current disks.
 */
export const SourcesRecordSchema = z.object({
  replaced: z.record(z.string(), ReplacedSourceSchema).default({}),
});
export type SourcesRecord = z.output<typeof SourcesRecordSchema>;

/** The disk that holds `sourceDiskId`'s data now: the end of its replacement chain. */
export function currentSourceId(record: SourcesRecord | undefined, sourceDiskId: string): string {
  let id = sourceDiskId;
  const seen = new Set<string>();
  for (;;) {
    const key = id.toLowerCase();
    const next = record?.replaced[key];
    // A cycle (a disk replaced by one it replaced) cannot come from a failback: stop where it closes.
    if (!next || seen.has(key)) return id;
    seen.add(key);
    id = next.by;
  }
}

/** The blueprint with each tracked source disk id replaced by its current disk (see {@link SourcesRecordSchema}). */
export function overlaySources(blueprint: Blueprint, record: SourcesRecord | undefined): Blueprint {
  if (!record || Object.keys(record.replaced).length === 0) return blueprint;
  const current = (id: string) => currentSourceId(record, id);
  return {
    ...blueprint,
    rows: blueprint.rows.map((r) => ({
      ...r,
      osDisk: { ...r.osDisk, sourceDiskId: current(r.osDisk.sourceDiskId) },
      dataDisks: r.dataDisks.map((d) => ({ ...d, sourceDiskId: current(d.sourceDiskId) })),
    })),
  };
}

/** The progress of a source disk in a mode record (ids compare case-insensitively). */
export function diskProgressOf(record: Pick<ModeRecord, "disks"> | undefined, sourceDiskId: string): DiskProgress {
  if (!record) return {};
  const key = Object.keys(record.disks).find((k) => sameResourceId(k, sourceDiskId));
  return key === undefined ? {} : (record.disks[key] ?? {});
}

/** A source disk's sync as the state store shows it (snapshot ids of its points). */
export interface SourceSyncStatus {
  paused: boolean;
  /** The point being written to the staging disk now, if any. */
  applying?: string;
  /** The last point fully written to the staging disk. */
  applied?: string;
}

/**
 * What a blueprint's program reads from the state store: the mode record (none: the blueprint was
 * never switched, standby), the current sources, and the sync of each current source disk.
 */
export interface BlueprintRunState {
  mode?: ModeRecord;
  sources?: SourcesRecord;
  /** By current source disk ARM id, lower case; a disk with no source row is absent. */
  sync: Record<string, SourceSyncStatus>;
}

/** Where a landing zone's state store is (its `stateStore` output). */
export interface StateStoreLocation {
  /** Table service endpoint, e.g. "https://<account>.table.core.windows.net". */
  url: string;
  tableName: string;
}

/** Reads a blueprint's run state from the state store at `stateStore`. */
/** What a read of a blueprint's run state may leave out. */
export interface ReadRunStateOptions {
  /** The mode record only (no current sources, no source rows): what a wait on the runbook's progress reads. */
  modeOnly?: boolean;
}

export type BlueprintStateReader = (
  blueprint: Blueprint,
  stateStore: StateStoreLocation,
  options?: ReadRunStateOptions,
) => Promise<BlueprintRunState>;
