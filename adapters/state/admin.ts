import type { AzureClients } from "../azure/clients";
import { normalizeResourceId, parseResourceId, sameResourceId } from "../../core/resource-id";
import { FerryError, isFerryError, isNotFound, UserError } from "../../core/errors";
import { nextSourceState, type SourceEvent } from "../../core/source-state";
import type { PrepareMode, Source, SourceProtection } from "../../core/schemas/source";
import type { SourceStore, StoredSource } from "./store";

/** Changes a runbook or an operator makes to sources; the daemon picks them up at its next tick. */

export interface EnableSourceInput {
  sourceDiskId: string;
  stagingDiskId: string;
  applianceId: string;
  applianceLun: number;
  prepare: PrepareMode;
  snapshotResourceGroup?: string;
  /** The group of the DR region the daemon takes the staging disk's recovery points in. Default: none (no points). */
  drSnapshotResourceGroup?: string;
  /** Its blueprint, row, disk role and RPO target, for labels and listings. Default: none. */
  protection?: SourceProtection;
}

/**
 * Registers a source as `pending` after the checks ARM can answer: both disks exist, the staging
 * disk is at least as large as the source and in another region, it is attached to the appliance at
 * that LUN, and no other source uses it. The daemon runs the device checks (mounted, signatures)
 * on the appliance before it writes anything.
 */
export async function enableSource(
  store: SourceStore,
  azure: AzureClients,
  input: EnableSourceInput,
  now = new Date(),
): Promise<StoredSource> {
  const problems: string[] = [];
  const disk = async (id: string, what: string) => {
    const p = parseResourceId(id);
    try {
      return await azure.compute.disks.get(p.resourceGroup, p.name);
    } catch (e) {
      if (isNotFound(e))
        problems.push(`The ${what} ${id} does not exist. Check the id (az disk show --query id -o tsv).`);
      else throw e;
      return undefined;
    }
  };
  const source = await disk(input.sourceDiskId, "source disk");
  const staging = await disk(input.stagingDiskId, "staging disk");
  const sizeOf = (d: NonNullable<typeof source>) => d.diskSizeBytes ?? (d.diskSizeGB ?? 0) * 1024 ** 3;
  if (source && staging) {
    if (sizeOf(staging) < sizeOf(source)) {
      problems.push(
        `The staging disk holds ${sizeOf(staging)} bytes, less than the source's ${sizeOf(source)}. Resize it to at least ${Math.ceil(sizeOf(source) / 1024 ** 3)} GiB.`,
      );
    }
    if (staging.location === source.location) {
      problems.push(
        `The staging disk is in ${staging.location}, the source's own region. Use a staging disk in the DR region.`,
      );
    }
    if (!staging.managedBy || !sameResourceId(staging.managedBy, input.applianceId)) {
      problems.push(
        staging.managedBy
          ? `The staging disk is attached to ${staging.managedBy}, not to the appliance ${input.applianceId}. Detach it there first.`
          : `The staging disk is not attached to the appliance. Attach it at LUN ${input.applianceLun}.`,
      );
    } else {
      const a = parseResourceId(input.applianceId);
      const vm = await azure.compute.virtualMachines.get(a.resourceGroup, a.name);
      const at = vm.storageProfile?.dataDisks?.find(
        (d) => d.managedDisk?.id && sameResourceId(d.managedDisk.id, input.stagingDiskId),
      );
      if (at && at.lun !== input.applianceLun)
        problems.push(
          `The staging disk is attached to the appliance at LUN ${at.lun}, not ${input.applianceLun}. Use --lun ${at.lun}.`,
        );
    }
  }
  for (const row of await store.list()) {
    if (
      sameResourceId(row.source.stagingDiskId, input.stagingDiskId) &&
      !sameResourceId(row.source.sourceDiskId, input.sourceDiskId)
    ) {
      problems.push(
        `The staging disk already serves source ${row.source.sourceDiskId}. Use another staging disk, or disable that source first.`,
      );
    }
  }
  if (await store.get(input.sourceDiskId))
    problems.push(`DR is already enabled for ${input.sourceDiskId}. Disable it first to enable it again.`);
  if (problems.length)
    throw new UserError(`Cannot enable DR for ${input.sourceDiskId}:\n  ${problems.join("\n  ")}`, {
      code: "EnableRefused",
      details: { problems },
    });
  return store.create({
    sourceDiskId: source!.id!,
    stagingDiskId: staging!.id!,
    applianceId: input.applianceId,
    applianceLun: input.applianceLun,
    state: nextSourceState("disabled", { type: "enable" }),
    prepare: input.prepare,
    sourceSizeBytes: sizeOf(source!),
    bytesCopied: 0,
    paused: false,
    consecutiveFailures: 0,
    updatedAt: now.toISOString(),
    ...(input.snapshotResourceGroup ? { snapshotResourceGroup: input.snapshotResourceGroup } : {}),
    ...(input.drSnapshotResourceGroup ? { drSnapshotResourceGroup: input.drSnapshotResourceGroup } : {}),
    ...(input.protection ? { protection: input.protection } : {}),
  });
}

/** Applies a state event (retry-backfill, check-health, disable) to a source row, under its ETag. */
export async function transitionSource(
  store: SourceStore,
  sourceDiskId: string,
  event: SourceEvent,
  now = new Date(),
): Promise<StoredSource> {
  const current = await store.get(sourceDiskId);
  if (!current)
    throw new UserError(`No source ${sourceDiskId} is registered. List them with \`ferry-sync list\`.`, {
      code: "SourceNotFound",
    });
  const s = current.source;
  if (s.applying && event.type === "checkHealth") {
    throw new UserError(
      `Recovery point ${s.applying.snapshotId} is being applied to ${sourceDiskId}; check its health once that ends.`,
      { code: "SourceBusy" },
    );
  }
  const next: Source = { ...s, state: nextSourceState(s.state, event), updatedAt: now.toISOString() };
  if (event.type === "retryBackfill") {
    // Copy everything again from a new snapshot, zeroing what it does not hold: the staging disk
    // may hold anything by now.
    delete next.applied;
    delete next.applying;
    delete next.applyingMode;
    delete next.seed;
    next.prepare = "keep";
    next.consecutiveFailures = 0;
    delete next.lastError;
  }
  // Both are asked of the daemon now, not at its next interval.
  if (event.type === "checkHealth" || event.type === "retryBackfill") next.syncRequestedAt = now.toISOString();
  // A cycle running now (it read the row before this change) must not go on writing the staging
  // disk nor record its point over this: a new fencing token stops it at its next row write or
  // lease renewal, and the daemon's next cycle starts from this row.
  // Its lease goes with it: the cycle it belonged to is fenced, and the next may begin at once.
  if (event.type === "retryBackfill" || event.type === "disable") {
    next.fence = (s.fence ?? 0) + 1;
    delete next.lease;
  }
  try {
    return await store.update(current, next);
  } catch (e) {
    throw e instanceof FerryError && e.code === "ConcurrentUpdate"
      ? new UserError(`${sourceDiskId} changed while it was being updated. Run the command again.`, {
          code: "ConcurrentUpdate",
          cause: e,
        })
      : e;
  }
}

/**
 * Sets `paused` (and, when resuming, asks for a sync at once). `read`, the row as the caller read it, spares the
 * first read: a write refused because the row changed since reads it again, as always.
 */
export async function setPaused(
  store: SourceStore,
  sourceDiskId: string,
  paused: boolean,
  now = new Date(),
  read?: StoredSource,
): Promise<StoredSource> {
  return updateSource(
    store,
    sourceDiskId,
    (s) => ({
      ...s,
      paused,
      ...(paused ? {} : { syncRequestedAt: now.toISOString() }),
      updatedAt: now.toISOString(),
    }),
    read,
  );
}

/**
 * Holds a recovery point for `by` (an operation) until `until`: the daemon does not delete that
 * snapshot before then. A hold of the same operation on the same point is renewed, not repeated.
 */
export async function holdPoint(
  store: SourceStore,
  sourceDiskId: string,
  snapshotId: string,
  by: string,
  until: Date,
  now = new Date(),
  options: {
    /** The row as the caller read it, with its ETag: written on with no read first (read again if it changed). */
    read?: StoredSource | undefined;
  } = {},
): Promise<StoredSource> {
  return updateSource(store, sourceDiskId, withHold(snapshotId, by, until, now), options.read);
}

/**
 * Holds a point of each of several sources for `by` until `until`, as {@link holdPoint} does one: written together
 * (one transaction per hundred rows) on the rows as the caller read them (`read`, by normalized disk id), or as read
 * now. When one of them changed since (the daemon wrote it), they are read again together and the holds re-applied.
 */
export async function holdPoints(
  store: SourceStore,
  points: { sourceDiskId: string; snapshotId: string }[],
  by: string,
  until: Date,
  now = new Date(),
  read?: ReadonlyMap<string, StoredSource>,
): Promise<StoredSource[]> {
  const snapshots = new Map(points.map((p) => [normalizeResourceId(p.sourceDiskId), p.snapshotId]));
  return updateSources(
    store,
    points.map((p) => p.sourceDiskId),
    (s) => withHold(snapshots.get(normalizeResourceId(s.sourceDiskId))!, by, until, now)(s),
    read,
  );
}

/** A source with `by`'s hold on `snapshotId` until `until` (renewed, not repeated), and without its lapsed holds. */
function withHold(snapshotId: string, by: string, until: Date, now: Date): (s: Source) => Source {
  return (s) => {
    const others = (s.holds ?? []).filter(
      (h) =>
        !(h.by === by && h.snapshotId.toLowerCase() === snapshotId.toLowerCase()) &&
        Date.parse(h.until) > now.getTime(),
    );
    return { ...s, holds: [...others, { snapshotId, by, until: until.toISOString() }], updatedAt: now.toISOString() };
  };
}

/** Ends the holds whose operation `by` matches (the daemon may then delete those points). */
export async function releaseHolds(
  store: SourceStore,
  sourceDiskId: string,
  by: (operation: string) => boolean,
  now = new Date(),
): Promise<StoredSource> {
  return updateSource(store, sourceDiskId, (s) => {
    const { holds: _old, ...rest } = s;
    const holds = (s.holds ?? []).filter((h) => !by(h.by) && Date.parse(h.until) > now.getTime());
    return { ...rest, ...(holds.length ? { holds } : {}), updatedAt: now.toISOString() };
  });
}

/**
 * Read, change, write under the row's ETag; a concurrent write (the daemon's) is read again and the change re-applied.
 */
async function updateSource(
  store: SourceStore,
  sourceDiskId: string,
  change: (s: Source) => Source,
  read?: StoredSource,
): Promise<StoredSource> {
  for (let attempt = 0; ; attempt++) {
    const current = attempt === 0 && read ? read : await store.get(sourceDiskId);
    if (!current) throw new UserError(`No source ${sourceDiskId} is registered.`, { code: "SourceNotFound" });
    try {
      return await store.update(current, change(current.source));
    } catch (e) {
      if (!(isFerryError(e) && e.code === "ConcurrentUpdate") || attempt >= 5) throw e;
    }
  }
}

/**
 * {@link updateSource} for several rows at once: read together (unless `read` has them all, by normalized disk id),
 * written together (SourceStore.updateMany). When one row changed since it was read, every row is read again and the
 * change re-applied: `change` must be one that can be applied twice (a transaction of an earlier chunk may have
 * landed).
 */
async function updateSources(
  store: SourceStore,
  sourceDiskIds: string[],
  change: (s: Source) => Source,
  read?: ReadonlyMap<string, StoredSource>,
): Promise<StoredSource[]> {
  const ids = sourceDiskIds.map(normalizeResourceId);
  let rows = read && ids.every((id) => read.has(id)) ? read : undefined;
  for (let attempt = 0; ; attempt++) {
    rows ??= await store.getMany(ids);
    const current = ids.map((id) => {
      const row = rows!.get(id);
      if (!row) throw new UserError(`No source ${id} is registered.`, { code: "SourceNotFound" });
      return row;
    });
    try {
      return await store.updateMany(current.map((c) => ({ current: c, next: change(c.source) })));
    } catch (e) {
      if (!(isFerryError(e) && e.code === "ConcurrentUpdate") || attempt >= 5) throw e;
      rows = undefined;
    }
  }
}

/**
 * Sets the group the sync takes a source's snapshots in, from its next cycle on (for a source enabled
 * before snapshot groups). Its earlier snapshots stay where they are.
 */
export async function setSnapshotResourceGroup(
  store: SourceStore,
  sourceDiskId: string,
  snapshotResourceGroup: string,
  now = new Date(),
): Promise<StoredSource> {
  return updateSource(store, sourceDiskId, (s) => ({ ...s, snapshotResourceGroup, updatedAt: now.toISOString() }));
}

/**
 * Sets (or, with undefined, clears) the group of the DR region the daemon takes a source's recovery points in, from
 * its next applied point on. An unchanged group is not written again.
 */
export async function setDrSnapshotResourceGroup(
  store: SourceStore,
  sourceDiskId: string,
  drSnapshotResourceGroup: string | undefined,
  now = new Date(),
): Promise<StoredSource> {
  const current = await store.get(sourceDiskId);
  if (current && current.source.drSnapshotResourceGroup === drSnapshotResourceGroup) return current;
  return updateSource(store, sourceDiskId, (s) => {
    const { drSnapshotResourceGroup: _old, ...rest } = s;
    return {
      ...rest,
      ...(drSnapshotResourceGroup !== undefined ? { drSnapshotResourceGroup } : {}),
      updatedAt: now.toISOString(),
    };
  });
}

/**
 * Records which blueprint disk a source is (and the blueprint's RPO target): the daemon's metrics carry it from its
 * next tick. Unchanged labels are not written again.
 */
export async function setProtection(
  store: SourceStore,
  sourceDiskId: string,
  protection: SourceProtection,
  now = new Date(),
): Promise<StoredSource> {
  const same = (s: Source) => JSON.stringify(s.protection ?? null) === JSON.stringify(protection);
  const current = await store.get(sourceDiskId);
  if (current && same(current.source)) return current;
  return updateSource(store, sourceDiskId, (s) => (same(s) ? s : { ...s, protection, updatedAt: now.toISOString() }));
}

/** Asks the daemon for a sync cycle at its next tick instead of at the next interval. */
export async function requestSync(store: SourceStore, sourceDiskId: string, now = new Date()): Promise<StoredSource> {
  return updateSource(store, sourceDiskId, syncRequested(now));
}

/**
 * {@link requestSync} for many disks, in one transaction per 100 rows, written on the rows as the caller read them
 * (`read`, by normalized id) when it has every one; read again when one changed since.
 */
export async function requestSyncs(
  store: SourceStore,
  sourceDiskIds: string[],
  now = new Date(),
  read?: ReadonlyMap<string, StoredSource>,
): Promise<StoredSource[]> {
  return updateSources(store, sourceDiskIds, syncRequested(now), read);
}

function syncRequested(now: Date): (s: Source) => Source {
  return (s) => ({ ...s, syncRequestedAt: now.toISOString(), updatedAt: now.toISOString() });
}
