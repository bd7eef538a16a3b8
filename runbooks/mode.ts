import { FerryError } from "../core/errors";
import {
  MODE_RECORD_KEY,
  ModeRecordSchema,
  overlaySources,
  SOURCES_RECORD_KEY,
  SourcesRecordSchema,
  type BlueprintMode,
  type DiskProgress,
  type ModeRecord,
  type SourcesRecord,
} from "../core/schemas/blueprint-state";
import type { Blueprint } from "../core/schemas/blueprint";
import type { RecoveryPoint } from "../core/schemas/recovery-point";
import type { StoredDocument } from "../adapters/state/run-state";
import type { RunbookContext } from "./context";

// A blueprint's mode, the recovery points its operation recovers and what has been done to each
// disk are run-time facts: they live in the run-state store, written by the runbook the moment each
// becomes true, and the Pulumi program reads them there (stacks/program.ts). Nothing of it is in
// the tracked stack file: a fresh clone on a fresh agent sees a failover another agent ran, and a
// bare `pulumi up` recovers the recorded point or refuses.

export type { BlueprintMode, DiskProgress, ModeRecord, SourcesRecord };

type Ctx = Pick<RunbookContext, "runState">;

async function readMode(ctx: Ctx, blueprint: string): Promise<StoredDocument<ModeRecord> | undefined> {
  const stored = await ctx.runState.get<unknown>(blueprint, MODE_RECORD_KEY);
  if (!stored) return undefined;
  return { doc: parse(ModeRecordSchema, stored.doc, blueprint, MODE_RECORD_KEY), etag: stored.etag };
}

function parse<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
  doc: unknown,
  blueprint: string,
  key: string,
): T {
  const r = schema.safeParse(doc);
  if (r.success) return r.data;
  throw new FerryError(
    `The ${key} record of blueprint ${blueprint} in the state store is not what ferry writes (edited by hand, ` +
      "or written by another version): restore it or delete the row",
    { code: "CorruptRecord", details: { blueprint, key } },
  );
}

/** The blueprint's mode record, or undefined for a blueprint no runbook has switched (standby). */
export async function modeRecord(ctx: Ctx, blueprint: string): Promise<ModeRecord | undefined> {
  return (await readMode(ctx, blueprint))?.doc;
}

/** The blueprint's current mode: the store's record, standby for a blueprint never switched. */
export async function currentMode(ctx: Ctx, blueprint: string): Promise<BlueprintMode> {
  return (await modeRecord(ctx, blueprint))?.mode ?? "standby";
}

/** Options of {@link recordMode}. */
export interface RecordModeOptions {
  /** Kind of the operation ("failover-unplanned"…): tells a bare `pulumi up` which command continues it. */
  operationKind?: string;
  /** The recovery point of each source disk (by ARM id). Default: none (standby). */
  recoveryPoints?: Record<string, RecoveryPoint>;
  /** The progress of each source disk as it is now (by ARM id). Default: none. */
  disks?: Record<string, DiskProgress>;
}

/**
 * Records that `operation` switches the blueprint to `mode`, at these recovery points, with this
 * progress per disk. A failed `up` after it leaves the stack part-way there, and guards treat it as
 * in the new mode. Conditional on the record read here: a switch by another host in between is
 * refused ("ConcurrentUpdate"), not overwritten.
 */
export async function recordMode(
  ctx: Pick<RunbookContext, "runState" | "now">,
  blueprint: string,
  mode: BlueprintMode,
  operation: string,
  options: RecordModeOptions = {},
): Promise<void> {
  const record: ModeRecord = {
    mode,
    since: ctx.now().toISOString(),
    operation,
    ...(options.operationKind ? { operationKind: options.operationKind } : {}),
    recoveryPoints: options.recoveryPoints ?? {},
    disks: Object.fromEntries(Object.entries(options.disks ?? {}).map(([id, p]) => [id.toLowerCase(), p])),
  };
  const current = await readMode(ctx, blueprint);
  if (current) await ctx.runState.replace(blueprint, MODE_RECORD_KEY, record, current.etag);
  else await ctx.runState.create(blueprint, MODE_RECORD_KEY, record);
}

/**
 * Puts back the mode record `operation` replaced (`previous`; none: the record goes), when the
 * operation failed before it changed anything the record describes. A record another operation
 * wrote since is left alone.
 */
export async function restoreMode(
  ctx: Ctx,
  blueprint: string,
  operation: string,
  previous: ModeRecord | undefined,
): Promise<void> {
  const current = await readMode(ctx, blueprint);
  if (!current || current.doc.operation !== operation) return;
  if (previous) await ctx.runState.replace(blueprint, MODE_RECORD_KEY, previous, current.etag);
  else await ctx.runState.delete(blueprint, MODE_RECORD_KEY, current.etag);
}

/**
 * Records progress of source disks of the operation that holds the mode record (merged into what
 * each disk has). Refused ("ModeChanged") when another operation switched the blueprint since, and
 * "ConcurrentUpdate" when the record changed under this write.
 */
export async function recordDiskProgress(
  ctx: Ctx,
  blueprint: string,
  operation: string,
  progress: Record<string, DiskProgress>,
): Promise<void> {
  const current = await readMode(ctx, blueprint);
  if (!current || current.doc.operation !== operation) {
    throw new FerryError(
      `The mode of ${blueprint} is no longer set by operation ${operation} (now: ` +
        `${current ? `${current.doc.mode} by ${current.doc.operation}` : "none"}): its progress is not recorded`,
      { code: "ModeChanged", details: { blueprint, operation } },
    );
  }
  const disks = { ...current.doc.disks };
  for (const [id, p] of Object.entries(progress)) {
    const merged: DiskProgress = { ...disks[id.toLowerCase()], ...p };
    // A progress cleared (a resumed sync no longer paused, a detach done or withdrawn): the key goes, not an
    // undefined value.
    for (const [k, v] of Object.entries(p)) if (v === undefined) delete merged[k as keyof DiskProgress];
    disks[id.toLowerCase()] = merged;
  }
  await ctx.runState.replace(blueprint, MODE_RECORD_KEY, { ...current.doc, disks }, current.etag);
}

/** The blueprint's current-sources record (the disks failbacks returned), or undefined. */
export async function sourcesRecord(ctx: Ctx, blueprint: string): Promise<SourcesRecord | undefined> {
  const stored = await ctx.runState.get<unknown>(blueprint, SOURCES_RECORD_KEY);
  return stored ? parse(SourcesRecordSchema, stored.doc, blueprint, SOURCES_RECORD_KEY) : undefined;
}

/** The tracked blueprint with the disks failbacks returned in place of its tracked sources. */
export async function currentBlueprint(ctx: Ctx, tracked: Blueprint): Promise<Blueprint> {
  return overlaySources(tracked, await sourcesRecord(ctx, tracked.name));
}

/**
 * Records that `operation` replaced source disks (current id → the disk that holds its data now),
 * so runbooks and the program read the new disks on any clone. Changes no tracked file.
 */
export async function recordReplacedSources(
  ctx: Pick<RunbookContext, "runState" | "now">,
  blueprint: string,
  operation: string,
  replaced: Record<string, string>,
): Promise<void> {
  const stored = await ctx.runState.get<unknown>(blueprint, SOURCES_RECORD_KEY);
  const record: SourcesRecord = stored
    ? parse(SourcesRecordSchema, stored.doc, blueprint, SOURCES_RECORD_KEY)
    : { replaced: {} };
  const at = ctx.now().toISOString();
  let changed = false;
  for (const [from, by] of Object.entries(replaced)) {
    if (from.toLowerCase() === by.toLowerCase() || record.replaced[from.toLowerCase()]?.by === by) continue;
    record.replaced[from.toLowerCase()] = { by, operation, at };
    changed = true;
  }
  if (!changed) return;
  if (stored) await ctx.runState.replace(blueprint, SOURCES_RECORD_KEY, record, stored.etag);
  else await ctx.runState.create(blueprint, SOURCES_RECORD_KEY, record);
}
