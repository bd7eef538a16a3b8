import type { PageBlobClient } from "@azure/storage-blob";
import type { Logger } from "pino";
import { FerryError, isFerryError, isNotFound } from "../core/errors";
import { applyPlan, type ApplyResult, type WritableDevice } from "./apply";
import type { ByteBudget } from "./budget";
import { changedRanges, validRanges } from "./page-ranges";
import { complement, intersect, normalize, totalBytes, type Range } from "./ranges";
import { sasRangeSource } from "./sas-reader";
import { revokeQuietly, type SnapshotService } from "./snapshots";

/** Two snapshots of one disk (one incremental family): what changed from `from` to `to`. */
export interface Delta {
  from: string;
  to: string;
}

export interface UnionCopyOptions {
  snapshots: Pick<SnapshotService, "get" | "grantRead" | "revoke">;
  pageBlob: (sasUrl: string) => PageBlobClient;
  /** The snapshot the device is to equal once the copy is done. */
  copyFrom: string;
  /**
   * Where the device may differ from `copyFrom`: it equals `copyFrom` everywhere outside the union
   * of these deltas. Empty: the device already equals it. `undefined`: no delta is known, so the
   * whole snapshot is copied and the rest zeroed.
   */
  deltas: Delta[] | undefined;
  device: WritableDevice;
  budget: ByteBudget;
  readSizeInBytes: number;
  readConcurrency: number;
  diffSegmentBytes: number;
  abortSignal?: AbortSignal;
  onProgress?: (progress: { bytesDone: number; bytesTotal: number }) => void;
  logger?: Logger;
}

export interface UnionCopyResult extends ApplyResult {
  /** Bytes of the union of the deltas: what the copy had to make equal. */
  unionBytes: number;
  /** Whether a delta could not be had (a snapshot gone), so the whole disk was copied instead. */
  full: boolean;
  /** With `full` where deltas were given: why a delta could not be had. */
  fullReason?: string;
}

/**
 * Makes a device equal to a snapshot by copying only the union of known deltas: inside the union,
 * the snapshot's data ranges are copied and its empty ranges zeroed; outside it nothing is read or
 * written. This is failback's copy (the DR disk's writes since failover ∪ the primary's writes
 * after its last replicated point, into a disk made from that point) and reprotect's catch-up of
 * a staging disk. Idempotent like every apply: after a crash the same call finishes the job.
 */
export async function copyUnion(o: UnionCopyOptions): Promise<UnionCopyResult> {
  const granted: string[] = [];
  const grant = async (id: string) => {
    const sas = await o.snapshots.grantRead(id).catch((e: unknown) => {
      if (isNotFound(e))
        throw new FerryError(`The snapshot ${id} no longer exists.`, { code: "DiffUnavailable", cause: e });
      throw e;
    });
    granted.push(id);
    return sas;
  };
  try {
    const facts = await o.snapshots.get(o.copyFrom);
    if (!facts)
      throw new FerryError(`The snapshot to copy from, ${o.copyFrom}, no longer exists.`, { code: "SnapshotGone" });
    let sas = await grant(o.copyFrom);
    let union: Range[] | undefined;
    let fullReason: string | undefined;
    if (o.deltas) {
      try {
        const parts: Range[] = [];
        for (const d of o.deltas) {
          const toSas = d.to.toLowerCase() === o.copyFrom.toLowerCase() ? sas : await grant(d.to);
          const fromSas = await grant(d.from);
          const { changed, cleared } = await changedRanges(
            o.pageBlob(toSas),
            fromSas,
            facts.sizeBytes,
            o.diffSegmentBytes,
            o.abortSignal,
          );
          parts.push(...changed, ...cleared);
        }
        union = normalize(parts);
      } catch (e) {
        if (!isFerryError(e) || e.code !== "DiffUnavailable") throw e;
        o.logger?.warn({ err: e }, "a delta cannot be had; copying the whole disk instead");
        union = undefined;
        fullReason = e.message;
      }
    }
    const full = union === undefined;
    const scope = union ?? [{ start: 0, end: facts.sizeBytes }];
    // Where the snapshot holds data, asked only where the copy looks.
    const data = await validRanges(o.pageBlob(sas), facts.sizeBytes, o.diffSegmentBytes, o.abortSignal, scope);
    const plan = { copy: intersect(scope, data), zero: intersect(scope, complement(data, facts.sizeBytes)) };
    o.logger?.debug(
      { copyRanges: plan.copy.length, zeroRanges: plan.zero.length, unionBytes: totalBytes(scope) },
      "union copy planned",
    );
    const source = sasRangeSource({
      pageBlob: o.pageBlob,
      sasUrl: async () => sas,
      regrant: async () => (sas = await o.snapshots.grantRead(o.copyFrom)),
    });
    const result = await applyPlan(plan, {
      source,
      device: o.device,
      budget: o.budget,
      readSizeInBytes: o.readSizeInBytes,
      concurrency: o.readConcurrency,
      ...(o.abortSignal ? { abortSignal: o.abortSignal } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    return { ...result, unionBytes: totalBytes(scope), full, ...(fullReason ? { fullReason } : {}) };
  } finally {
    // Only 5 snapshots of a family may hold a SAS at once: end every one this copy opened.
    await revokeQuietly(o.snapshots, o.logger, ...new Set(granted));
  }
}
