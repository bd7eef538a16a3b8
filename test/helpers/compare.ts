import { open } from "node:fs/promises";
import { dataExtents } from "@ferry/sparse";

/** Whether two files (or device paths) hold the same bytes (`length` of them, or both whole files). */
export async function filesEqual(a: string, b: string, length?: number): Promise<boolean> {
  return (await firstDifference(a, b, length)) === undefined;
}

/**
 * The first offset where two files differ, or undefined. Compares `length` bytes, or both whole files (sizes must
 * match).
 */
export async function firstDifference(a: string, b: string, length?: number): Promise<number | undefined> {
  const fa = await open(a, "r");
  const fb = await open(b, "r");
  try {
    const sa = (await fa.stat()).size;
    const sb = (await fb.stat()).size;
    const n = length ?? (sa === sb ? sa : Math.min(sa, sb));
    if (length === undefined && sa !== sb) return Math.min(sa, sb);
    const block = 8 * 1024 * 1024;
    const ba = Buffer.allocUnsafe(block);
    const bb = Buffer.allocUnsafe(block);
    // Where both files are holes they are equal (zeros) without being read.
    const ea = await dataExtents(a);
    const eb = await dataExtents(b);
    const hasData = (pos: number, end: number) => !ea || !eb || [...ea, ...eb].some(([s, e]) => s < end && e > pos);
    for (let pos = 0; pos < n; pos += block) {
      const len = Math.min(block, n - pos);
      if (!hasData(pos, pos + len)) continue;
      await fa.read(ba, 0, len, pos);
      await fb.read(bb, 0, len, pos);
      if (!ba.subarray(0, len).equals(bb.subarray(0, len))) {
        let i = 0;
        while (ba[i] === bb[i]) i++;
        return pos + i;
      }
    }
    return undefined;
  } finally {
    await fa.close();
    await fb.close();
  }
}
