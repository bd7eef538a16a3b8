import type { ApplyPlan, RangeSource } from "./apply";
import type { ByteBudget } from "./budget";
import { normalize, split, type Range } from "./ranges";

/** Options of {@link checkSample}. */
export interface SampleCheckOptions {
  /** What was just applied to the device. */
  plan: ApplyPlan;
  /** The recovery point's bytes. */
  source: RangeSource;
  device: { readInto(offset: number, target: Buffer): Promise<void> };
  /** Bytes of copied ranges compared at most; a quarter of that again of zeroed ranges. 0 checks nothing. */
  sampleBytes: number;
  /** Largest piece compared at once, in bytes. Default 256 KiB (many small pieces spread the sample). */
  pieceBytes?: number;
  /** Where the two piece buffers come from. Default: allocated for this check. */
  budget?: ByteBudget;
  /** In [0, 1): which pieces are picked. Default Math.random. */
  random?: () => number;
  abortSignal?: AbortSignal;
}

export type SampleCheckResult =
  { ok: true; bytesChecked: number } | { ok: false; bytesChecked: number; firstDifferenceAt: number };

/**
 * Reads back a random sample of what an apply wrote — pieces of the copied ranges, compared with
 * the recovery point, and of the zeroed ranges, which must read as zeros — so that a staging disk
 * that does not hold what was just written to it (another writer, a device that drops writes) is
 * caught in the cycle that wrote it, not at the next full verification.
 */
export async function checkSample(options: SampleCheckOptions): Promise<SampleCheckResult> {
  const pieceBytes = options.pieceBytes ?? 256 * 1024;
  const random = options.random ?? Math.random;
  const copy = pick(split(normalize(options.plan.copy), pieceBytes), options.sampleBytes, random);
  const zero = pick(split(normalize(options.plan.zero), pieceBytes), options.sampleBytes / 4, random);
  if (copy.length === 0 && zero.length === 0) return { ok: true, bytesChecked: 0 };
  const taken = options.budget
    ? [
        await options.budget.take(pieceBytes, options.abortSignal),
        await options.budget.take(pieceBytes, options.abortSignal),
      ]
    : undefined;
  const expectedBuf = taken?.[0]!.buffer ?? Buffer.allocUnsafe(pieceBytes);
  const actualBuf = taken?.[1]!.buffer ?? Buffer.allocUnsafe(pieceBytes);
  let bytesChecked = 0;
  try {
    for (const [pieces, zeros] of [
      [copy, false],
      [zero, true],
    ] as const) {
      for (const r of pieces) {
        options.abortSignal?.throwIfAborted();
        const len = r.end - r.start;
        const expected = expectedBuf.subarray(0, len);
        if (zeros) expected.fill(0);
        else await options.source.read(r, options.abortSignal, expected);
        const actual = actualBuf.subarray(0, len);
        await options.device.readInto(r.start, actual);
        if (!actual.equals(expected)) {
          let i = 0;
          while (actual[i] === expected[i]) i++;
          return { ok: false, bytesChecked: bytesChecked + i, firstDifferenceAt: r.start + i };
        }
        bytesChecked += len;
      }
    }
    return { ok: true, bytesChecked };
  } finally {
    for (const t of taken ?? []) t.release();
  }
}

/** Up to `bytes` worth of `pieces`, chosen at random, in offset order. */
function pick(pieces: Range[], bytes: number, random: () => number): Range[] {
  const chosen: Range[] = [];
  let total = 0;
  const left = [...pieces];
  while (left.length > 0 && total < bytes) {
    const i = Math.floor(random() * left.length);
    const [r] = left.splice(i, 1);
    chosen.push(r!);
    total += r!.end - r!.start;
  }
  return chosen.sort((a, b) => a.start - b.start);
}
