import type { PageBlobClient } from "@azure/storage-blob";
import { FerryError } from "../core/errors";
import { fromPageRanges, intersect, normalize, segments, type Range } from "./ranges";

/** Azure answers page-range queries on large or fragmented disks in time only in segments. */
export const DEFAULT_SEGMENT_BYTES = 4 * 1024 ** 3;

/**
 * The ranges of a snapshot that hold data (a backfill copies only these). With `within`, only the
 * query windows that meet those ranges are asked (a union copy needs no more).
 */
export async function validRanges(
  blob: PageBlobClient,
  sizeBytes: number,
  segmentBytes = DEFAULT_SEGMENT_BYTES,
  abortSignal?: AbortSignal,
  within?: readonly Range[],
): Promise<Range[]> {
  const out: Range[] = [];
  const windows = segments(sizeBytes, segmentBytes).filter((seg) => !within || intersect([seg], within).length > 0);
  for (const seg of windows) {
    const answer = await blob.getPageRanges(seg.start, seg.end - seg.start, { abortSignal });
    out.push(...fromPageRanges(answer.pageRange));
  }
  return normalize(out);
}

/** What changed between the snapshot behind `prevSasUrl` and the one behind `blob`. */
export async function changedRanges(
  blob: PageBlobClient,
  prevSasUrl: string,
  sizeBytes: number,
  segmentBytes = DEFAULT_SEGMENT_BYTES,
  abortSignal?: AbortSignal,
): Promise<{ changed: Range[]; cleared: Range[] }> {
  const changed: Range[] = [];
  const cleared: Range[] = [];
  for (const seg of segments(sizeBytes, segmentBytes)) {
    let answer;
    try {
      answer = await blob.getPageRangesDiffForManagedDisks(seg.start, seg.end - seg.start, prevSasUrl, { abortSignal });
    } catch (e) {
      throw classifyDiffError(e);
    }
    changed.push(...fromPageRanges(answer.pageRange));
    cleared.push(...fromPageRanges(answer.clearRange));
  }
  return { changed: normalize(changed), cleared: normalize(cleared) };
}

/**
 * Diff failures that no retry fixes: the older snapshot is gone, or the two snapshots are not of
 * one incremental family (the disk was resized across 4 TiB, or recreated). The sync answers both
 * with a full backfill.
 */
export function classifyDiffError(e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (
    code === "PreviousSnapshotNotFound" ||
    code === "PreviousSnapshotOperationNotSupported" ||
    code === "PreviousSnapshotCannotBeNewer"
  ) {
    return new FerryError(`Azure cannot diff against the previous recovery point (${String(code)}).`, {
      code: "DiffUnavailable",
      cause: e,
    });
  }
  return e;
}
