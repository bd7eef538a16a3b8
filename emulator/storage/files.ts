import { open, rename, rm, truncate, writeFile } from "node:fs/promises";
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

/** JSON already serialised: a {@link JsonFileWriter}'s value that is written as it is. */
export class JsonText {
  constructor(readonly text: string) {}
}

/**
 * Keeps one JSON file in step with an in-memory value without stalling the event loop: `save()` marks the value
 * changed and resolves once a write that includes the change is on disk. Writes are coalesced: at most one is in
 * flight, and the next one takes every change made meanwhile. Each write goes to a temporary file that is then
 * renamed over the old one, so a crash leaves the old file or the new one, never half of one. No fsync (see
 * ChunkStore.materialize): the emulator outlives its process, not the machine, and disk bytes are not synced either.
 */
export class JsonFileWriter {
  /** Changes made so far (every `save()` is one). */
  private changes = 0;
  /** Changes included in the file on disk. */
  private written = 0;
  private inFlight: Promise<void> | undefined;

  /**
   * @param value what to write, read when a write starts (so it holds every change made until then): a value to
   * serialise, or a {@link JsonText} its owner serialised (reusing the text of parts that did not change)
   */
  constructor(
    private readonly path: string,
    private readonly value: () => unknown,
  ) {}

  /** Whether a change is not yet on disk. */
  get dirty(): boolean {
    return this.written < this.changes;
  }

  /** Records a change; resolves once it is on disk, rejects when the write that should hold it failed. */
  save(): Promise<void> {
    this.changes++;
    return this.durable();
  }

  /** Resolves once every change recorded so far is on disk (at once when there is none). */
  async durable(): Promise<void> {
    const target = this.changes;
    while (this.written < target) {
      this.inFlight ??= this.writeOnce().finally(() => (this.inFlight = undefined));
      await this.inFlight;
    }
  }

  private async writeOnce(): Promise<void> {
    const includes = this.changes;
    // Serialised synchronously, before any await: the file holds exactly the changes counted in `includes`.
    const value = this.value();
    const text = value instanceof JsonText ? value.text : JSON.stringify(value);
    const temp = `${this.path}.${process.pid}.tmp`;
    await writeFile(temp, text);
    await rename(temp, this.path);
    this.written = Math.max(this.written, includes);
  }
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
