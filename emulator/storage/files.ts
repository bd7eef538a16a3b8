import { renameSync, writeFileSync } from "node:fs";
import { open, rm, truncate } from "node:fs/promises";
import { alignExtents, dataExtents } from "@ferry/sparse";
import { CHUNK_SIZE } from "./manifest";

const ZERO = Buffer.alloc(CHUNK_SIZE);
const BLOCK = 16 * CHUNK_SIZE;

/** Whether a chunk (at most 64 KiB) holds only zeros. */
export function isZero(chunk: Buffer): boolean {
  return chunk.equals(ZERO.subarray(0, chunk.length));
}

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

/**
 * Replaces `path` with `value` as JSON through a temporary file and a rename, so a crash of the
 * emulator leaves the old file or the new one, never half of one. No fsync (see
 * ChunkStore.materialize): the emulator outlives its process, not the machine, and it saves after
 * every change.
 */
export function writeJsonAtomic(path: string, value: unknown): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(value));
  renameSync(temp, path);
}

export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/**
 * Every 64 KiB chunk of a file that holds anything but zeros, with its offset, read from the file's
 * data extents only (holes are skipped unread). The buffer is reused: use it before the next step.
 */
export async function* nonZeroChunks(
  path: string,
  sizeBytes: number,
): AsyncGenerator<{ offset: number; chunk: Buffer }> {
  const extents = alignExtents((await dataExtents(path)) ?? [[0, sizeBytes]], CHUNK_SIZE, sizeBytes);
  const fh = await open(path, "r");
  try {
    const block = Buffer.allocUnsafe(BLOCK);
    for (const [start, end] of extents) {
      for (let pos = start; pos < end; pos += BLOCK) {
        const want = Math.min(BLOCK, end - pos);
        const { bytesRead } = await fh.read(block, 0, want, pos);
        if (bytesRead < want) block.fill(0, bytesRead, want);
        for (let off = 0; off < want; off += CHUNK_SIZE) {
          const len = Math.min(CHUNK_SIZE, want - off);
          const chunk = block.subarray(off, off + len);
          if (!isZero(chunk)) yield { offset: pos + off, chunk };
        }
      }
    }
  } finally {
    await fh.close();
  }
}

/** Writes chunks (a capture of another disk) into `to`, a new sparse file, so holes stay holes. */
export async function writeChunks(
  chunks: AsyncIterable<{ offset: number; chunk: Buffer }>,
  to: string,
  sizeBytes: number,
): Promise<void> {
  const dst = await open(to, "r+");
  try {
    for await (const { offset, chunk } of chunks) {
      if (offset >= sizeBytes) break;
      await dst.write(chunk, 0, Math.min(chunk.length, sizeBytes - offset), offset);
    }
    // No fsync (see ChunkStore.materialize): the page cache outlives the emulator's process.
  } finally {
    await dst.close();
  }
}
