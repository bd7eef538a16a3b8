import { createHash } from "node:crypto";
import { existsSync, readFileSync, readSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { JsonFileWriter, nonZeroChunks } from "./files";
import { CHUNK_SIZE, HASH_SIZE, Manifest, chunkLength } from "./manifest";

interface Entry {
  slot: number;
  refs: number;
}

/**
 * Content-addressed store of 64 KiB chunks, shared by every snapshot: an incremental snapshot costs
 * only the chunks that changed, as in Azure. Chunks are reference-counted by manifests and their
 * slots reused once no manifest refers to them.
 */
export class ChunkStore {
  private readonly index = new Map<string, Entry>();
  private readonly free: number[] = [];
  private nextSlot = 0;
  private readonly pending = new Map<string, Promise<void>>();
  private dirty = false;
  private readonly indexFile: JsonFileWriter;

  private constructor(
    dir: string,
    private readonly file: FileHandle,
  ) {
    this.indexFile = new JsonFileWriter(join(dir, "index.json"), () => ({
      nextSlot: this.nextSlot,
      entries: [...this.index.entries()].map(([h, e]) => [h, e.slot, e.refs]),
    }));
  }

  static async open(dir: string): Promise<ChunkStore> {
    const file = await open(join(dir, "store.bin"), existsSync(join(dir, "store.bin")) ? "r+" : "w+");
    const store = new ChunkStore(dir, file);
    const indexPath = join(dir, "index.json");
    if (existsSync(indexPath)) {
      const saved = JSON.parse(readFileSync(indexPath, "utf8")) as {
        nextSlot: number;
        entries: [string, number, number][];
      };
      store.nextSlot = saved.nextSlot;
      const used = new Set<number>();
      for (const [hash, slot, refs] of saved.entries) {
        store.index.set(hash, { slot, refs });
        used.add(slot);
      }
      for (let s = 0; s < saved.nextSlot; s++) if (!used.has(s)) store.free.push(s);
    }
    return store;
  }

  /** Chunks currently stored (for tests and metrics). */
  get size(): number {
    return this.index.size;
  }

  async close(): Promise<void> {
    await Promise.all(this.pending.values());
    await this.save();
    await this.file.close();
  }

  /**
   * Writes the index if it changed since the last save (atomic rename, coalesced, off the event loop); resolves once
   * the file holds every change made before the call.
   */
  save(): Promise<void> {
    if (!this.dirty) return this.indexFile.durable();
    this.dirty = false;
    return this.indexFile.save();
  }

  /** Adds one reference to a chunk, storing its bytes when they are new. */
  async put(hash: Buffer, data: Buffer): Promise<void> {
    const key = hash.toString("hex");
    const entry = this.index.get(key);
    this.dirty = true;
    if (entry) {
      entry.refs++;
      await this.pending.get(key);
      return;
    }
    const slot = this.free.pop() ?? this.nextSlot++;
    this.index.set(key, { slot, refs: 1 });
    const write = this.file.write(data, 0, data.length, slot * CHUNK_SIZE).then(() => undefined);
    this.pending.set(key, write);
    try {
      await write;
    } finally {
      this.pending.delete(key);
    }
  }

  /** Adds one reference to every chunk of a manifest (a copy shares its chunks). */
  refAll(m: Manifest): void {
    for (let p = 0; p < m.count; p++) {
      const entry = this.index.get(m.hashAt(p).toString("hex"));
      if (!entry) throw new Error("chunk store: manifest refers to a missing chunk");
      entry.refs++;
    }
    this.dirty = true;
  }

  /** Drops one reference to every chunk of a manifest; chunks no manifest refers to free their slot. */
  unrefAll(m: Manifest): void {
    for (let p = 0; p < m.count; p++) {
      const key = m.hashAt(p).toString("hex");
      const entry = this.index.get(key);
      if (!entry) continue;
      if (--entry.refs <= 0) {
        this.index.delete(key);
        this.free.push(entry.slot);
      }
    }
    this.dirty = true;
  }

  /** Reads `length` bytes of one chunk, starting `offsetInChunk` into it, into `target` at `targetOffset`. */
  async readChunk(
    hash: Buffer,
    offsetInChunk: number,
    length: number,
    target: Buffer,
    targetOffset: number,
  ): Promise<void> {
    const entry = this.index.get(hash.toString("hex"));
    if (!entry) throw new Error("chunk store: missing chunk");
    const pending = this.pending.get(hash.toString("hex"));
    if (pending) await pending;
    // A chunk is at most 64 KiB and the store is hot in the page cache: a synchronous read costs
    // microseconds, while a trip through libuv's thread pool costs more than the read.
    readSync(this.file.fd, target, targetOffset, length, entry.slot * CHUNK_SIZE + offsetInChunk);
  }

  /** Reads [offset, offset+length) of the content a manifest describes. */
  async readRange(m: Manifest, offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    let pos = offset;
    const end = offset + length;
    let p = m.lowerBound(Math.floor(offset / CHUNK_SIZE));
    while (pos < end && p < m.count) {
      const index = m.indices[p]!;
      const chunkStart = index * CHUNK_SIZE;
      if (chunkStart >= end) break;
      const from = Math.max(pos, chunkStart);
      const to = Math.min(end, chunkStart + chunkLength(index, m.sizeBytes));
      await this.readChunk(m.hashAt(p), from - chunkStart, to - from, out, from - offset);
      pos = to;
      p++;
    }
    return out;
  }

  /**
   * Reads a disk file and returns its manifest without storing its chunks (a scan of a disk for a
   * diff). The file is read as it is while being read: only a disk no guest writes gives a point.
   */
  async scanFile(path: string, sizeBytes: number): Promise<Manifest> {
    return this.ingest(nonZeroChunks(path, sizeBytes), sizeBytes, false);
  }

  /**
   * The manifest of a disk's non-zero chunks (ascending offsets, e.g. a capture), storing each
   * chunk unless `store` is false.
   */
  async ingest(
    chunks: AsyncIterable<{ offset: number; chunk: Buffer }>,
    sizeBytes: number,
    store = true,
  ): Promise<Manifest> {
    const indices: number[] = [];
    const hashes: Buffer[] = [];
    for await (const { offset, chunk } of chunks) {
      const hash = createHash("sha1").update(chunk).digest();
      if (store) await this.put(hash, chunk);
      indices.push(offset / CHUNK_SIZE);
      hashes.push(hash);
    }
    return new Manifest(sizeBytes, Uint32Array.from(indices), Buffer.concat(hashes, hashes.length * HASH_SIZE));
  }

  /** Writes the content a manifest describes into a (new, sparse) disk file of at least its size. */
  async materialize(m: Manifest, path: string): Promise<void> {
    const fh = await open(path, "r+");
    try {
      // Runs of consecutive chunks go out in one write of up to 4 MiB: one trip through libuv per
      // chunk made a 4 GiB disk take many seconds; holes between runs stay holes.
      const RUN = 64;
      const buf = Buffer.allocUnsafe(RUN * CHUNK_SIZE);
      let runStart = -1;
      let runLength = 0;
      const flush = async () => {
        if (runLength > 0) await fh.write(buf, 0, runLength, runStart * CHUNK_SIZE);
        runStart = -1;
        runLength = 0;
      };
      for (let p = 0; p < m.count; p++) {
        const index = m.indices[p]!;
        const len = chunkLength(index, m.sizeBytes);
        const contiguous =
          runStart >= 0 &&
          index === runStart + runLength / CHUNK_SIZE &&
          runLength + len <= buf.length &&
          runLength % CHUNK_SIZE === 0;
        if (!contiguous) {
          await flush();
          runStart = index;
        }
        await this.readChunk(m.hashAt(p), 0, len, buf, runLength);
        runLength += len;
      }
      await flush();
      // No fsync: like Azure's lazily hydrated copies, a new disk costs no physical write of its whole
      // size; its bytes are in the page cache, which outlives the emulator's process.
    } finally {
      await fh.close();
    }
  }
}
