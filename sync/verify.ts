import type { RangeSource } from "./apply";
import type { ByteBudget } from "./budget";
import { intersect, type Range } from "./ranges";

export interface VerifyInput {
  device: { readInto(offset: number, target: Buffer): Promise<void> };
  /** Reads the recovery point's bytes. */
  source: RangeSource;
  /** Where the recovery point holds data; everything else must read as zeros. */
  dataRanges: Range[];
  /** Bytes of the recovery point (the device may be larger; beyond this it is not compared). */
  sizeBytes: number;
  /** Where the device holds data, when it can tell (file-backed devices); elsewhere it reads as zeros unread. */
  deviceExtents?: Range[];
  /** Bytes compared per step. Default 4 MiB. */
  chunkBytes?: number;
  /** Where the two chunk buffers come from. Default: allocated for this scan. */
  budget?: ByteBudget;
  abortSignal?: AbortSignal;
}

export type VerifyResult =
  { ok: true; bytesCompared: number } | { ok: false; firstDifferenceAt: number; bytesCompared: number };

/**
 * Compares a staging device with a recovery point, chunk by chunk: the recovery point's data
 * ranges read through its SAS, zeros elsewhere. Stops at the first difference and gives its
 * absolute byte offset. Memory: two chunks.
 */
export async function verifyDevice(input: VerifyInput): Promise<VerifyResult> {
  const chunk = input.chunkBytes ?? 4 * 1024 * 1024;
  // Two buffers for the whole scan (allocating per chunk costs more than reading), from the shared
  // budget when there is one, so that verifications count in the daemon's memory bound.
  const taken = input.budget
    ? [await input.budget.take(chunk, input.abortSignal), await input.budget.take(chunk, input.abortSignal)]
    : undefined;
  try {
    return await compare(
      input,
      chunk,
      taken?.[0]!.buffer ?? Buffer.allocUnsafe(chunk),
      taken?.[1]!.buffer ?? Buffer.allocUnsafe(chunk),
    );
  } finally {
    for (const t of taken ?? []) t.release();
  }
}

async function compare(
  input: VerifyInput,
  chunk: number,
  expectedBuf: Buffer,
  actualBuf: Buffer,
): Promise<VerifyResult> {
  let compared = 0;
  for (let pos = 0; pos < input.sizeBytes; pos += chunk) {
    input.abortSignal?.throwIfAborted();
    const len = Math.min(chunk, input.sizeBytes - pos);
    const expected = expectedBuf.subarray(0, len).fill(0);
    for (const r of intersect(input.dataRanges, [{ start: pos, end: pos + len }])) {
      await input.source.read(r, input.abortSignal, expected.subarray(r.start - pos, r.end - pos));
    }
    const actual = actualBuf.subarray(0, len);
    const window = [{ start: pos, end: pos + len }];
    if (input.deviceExtents && intersect(input.deviceExtents, window).length === 0) actual.fill(0);
    else await input.device.readInto(pos, actual);
    if (!actual.equals(expected)) {
      let i = 0;
      while (i < len && actual[i] === expected[i]) i++;
      return { ok: false, firstDifferenceAt: pos + i, bytesCompared: compared + i };
    }
    compared += len;
  }
  return { ok: true, bytesCompared: compared };
}
