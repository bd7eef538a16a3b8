import { ByteBudget } from "./budget";
import { normalize, split, totalBytes, type Range } from "./ranges";

/** Reads exactly the bytes of a range of a recovery point. */
export interface RangeSource {
  /** The range's bytes: in `target` (exactly the range's length) when given, else in a new buffer. */
  read(range: Range, abortSignal?: AbortSignal, target?: Buffer): Promise<Buffer>;
}

/** The part of a staging device the copy writes to. */
export interface WritableDevice {
  write(offset: number, data: Buffer): Promise<void>;
  zero(ranges: Range[]): Promise<void>;
}

/** What to do to a staging device: copy these ranges from the recovery point, zero those. */
export interface ApplyPlan {
  copy: Range[];
  zero: Range[];
}

export interface ApplyOptions {
  source: RangeSource;
  device: WritableDevice;
  /**
   * Largest single read, in bytes. Default 4 MiB (one Put Page's worth; large reads reach a page blob's throughput).
   */
  readSizeInBytes?: number;
  /**
   * Reads in flight at once for this copy. Default 16 (small diff ranges need many in flight; the byte budget bounds
   * memory).
   */
  concurrency?: number;
  /** Bytes in flight, shared with other copies. Default: a budget of 64 MiB for this copy alone. */
  budget?: ByteBudget;
  abortSignal?: AbortSignal;
  /** Called after each piece is written, with bytes copied and zeroed so far against the total. */
  onProgress?: (progress: { bytesDone: number; bytesTotal: number }) => void;
}

export interface ApplyResult {
  /** Bytes read from the recovery point (and written at the same offsets). */
  bytesRead: number;
  bytesZeroed: number;
}

export const DEFAULT_READ_SIZE = 4 * 1024 * 1024;
export const DEFAULT_IN_FLIGHT = 64 * 1024 * 1024;

/**
 * Applies a plan to a staging device: zeroes the zero ranges, then reads the copy ranges (merged
 * when adjacent, cut into reads of at most `readSizeInBytes`) in parallel within the byte budget
 * and writes each at its own absolute offset. Idempotent: applying the same plan again gives the
 * same bytes, which is what crash recovery relies on. Does not fsync: the caller decides when the
 * device must be durable. On the first failure the other reads stop and the error is thrown.
 */
export async function applyPlan(plan: ApplyPlan, options: ApplyOptions): Promise<ApplyResult> {
  const budget = options.budget ?? new ByteBudget(DEFAULT_IN_FLIGHT);
  const readSize = Math.min(options.readSizeInBytes ?? DEFAULT_READ_SIZE, budget.capacity);
  const concurrency = Math.max(1, options.concurrency ?? 16);
  const zero = normalize(plan.zero);
  const pieces = split(normalize(plan.copy), readSize);
  const bytesZeroed = totalBytes(zero);
  const bytesTotal = totalBytes(pieces) + bytesZeroed;
  let bytesDone = 0;

  options.abortSignal?.throwIfAborted();
  if (zero.length) {
    await options.device.zero(zero);
    bytesDone += bytesZeroed;
    options.onProgress?.({ bytesDone, bytesTotal });
  }

  // One failure stops the rest: the others see this signal.
  const stop = new AbortController();
  const signal = options.abortSignal ? AbortSignal.any([options.abortSignal, stop.signal]) : stop.signal;
  let next = 0;
  let bytesRead = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < pieces.length) {
      const piece = pieces[next++]!;
      // A signal of its own per read: the SDK listens on the signal of each request, and sixteen
      // reads on one signal make Node warn of a listener leak (past ten).
      const pieceSignal = AbortSignal.any([signal]);
      const taken = await budget.take(piece.end - piece.start, pieceSignal);
      try {
        const data = await options.source.read(piece, pieceSignal, taken.buffer);
        if (data.length !== piece.end - piece.start) {
          throw new Error(`read of [${piece.start}, ${piece.end}) returned ${data.length} bytes`);
        }
        await options.device.write(piece.start, data);
        bytesRead += data.length;
        bytesDone += data.length;
        options.onProgress?.({ bytesDone, bytesTotal });
      } finally {
        taken.release();
      }
    }
  };
  const workers = Array.from({ length: Math.min(concurrency, pieces.length) }, () =>
    worker().catch((e: unknown) => {
      if (failure === undefined) failure = e;
      stop.abort(e);
    }),
  );
  await Promise.all(workers);
  if (failure !== undefined) throw options.abortSignal?.aborted ? options.abortSignal.reason : failure;
  return { bytesRead, bytesZeroed };
}
