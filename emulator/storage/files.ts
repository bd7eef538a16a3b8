import { open, rm, truncate } from "node:fs/promises";
import { alignExtents, dataExtents } from "./extents";
import { CHUNK_SIZE } from "./manifest";

const ZERO = Buffer.alloc(CHUNK_SIZE);
const BLOCK = 16 * CHUNK_SIZE;

/** Creates a sparse file of `sizeBytes` (no blocks allocated). */
export async function createSparse(path: string, sizeBytes: number): Promise<void> {
  const fh = await open(path, "wx");
  try {
    await fh.truncate(sizeBytes);
  } finally {
    await fh.close();
  }
}

/** Grows a sparse file; the new tail reads as zeros. */
export async function growSparse(path: string, sizeBytes: number): Promise<void> {
  await truncate(path, sizeBytes);
}

export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** Copies the non-zero 64 KiB chunks of `from` into `to` (a new sparse file), so holes stay holes. */
export async function copySparse(from: string, to: string, sizeBytes: number): Promise<void> {
  const extents = alignExtents((await dataExtents(from)) ?? [[0, sizeBytes]], CHUNK_SIZE, sizeBytes);
  const src = await open(from, "r");
  const dst = await open(to, "r+");
  try {
    const block = Buffer.allocUnsafe(BLOCK);
    for (const [start, end] of extents) {
      for (let pos = start; pos < end; pos += BLOCK) {
        const want = Math.min(BLOCK, end - pos);
        const { bytesRead } = await src.read(block, 0, want, pos);
        for (let off = 0; off < bytesRead; off += CHUNK_SIZE) {
          const len = Math.min(CHUNK_SIZE, bytesRead - off);
          const chunk = block.subarray(off, off + len);
          if (chunk.equals(ZERO.subarray(0, len))) continue;
          await dst.write(chunk, 0, len, pos + off);
        }
      }
    }
    await dst.sync();
  } finally {
    await src.close();
    await dst.close();
  }
}
