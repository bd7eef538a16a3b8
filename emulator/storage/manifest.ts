/**
 * A manifest is the content of a disk or snapshot at 64 KiB granularity: the sorted indices of the
 * chunks that hold anything but zeros, with a SHA-1 of each. Unlisted chunks are zero.
 * Comparing two manifests gives Azure's page-range diff: changed chunks and cleared chunks.
 */
export const CHUNK_SIZE = 64 * 1024;
export const HASH_SIZE = 20;
const MAGIC = 0x464d4e31; // "FMN1"

export class Manifest {
  constructor(
    readonly sizeBytes: number,
    readonly indices: Uint32Array,
    readonly hashes: Buffer,
  ) {
    if (hashes.length !== indices.length * HASH_SIZE) throw new Error("manifest: hashes and indices differ in length");
  }

  static empty(sizeBytes: number): Manifest {
    return new Manifest(sizeBytes, new Uint32Array(0), Buffer.alloc(0));
  }

  get count(): number {
    return this.indices.length;
  }

  /** Bytes held in non-zero chunks. */
  get usedBytes(): number {
    let total = 0;
    for (let i = 0; i < this.indices.length; i++) total += chunkLength(this.indices[i]!, this.sizeBytes);
    return total;
  }

  hashAt(position: number): Buffer {
    return this.hashes.subarray(position * HASH_SIZE, (position + 1) * HASH_SIZE);
  }

  /** Position of a chunk index in the manifest, or -1 when the chunk is zero. */
  find(chunkIndex: number): number {
    let lo = 0;
    let hi = this.indices.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.indices[mid]!;
      if (v === chunkIndex) return mid;
      if (v < chunkIndex) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** First position whose chunk index is ≥ `chunkIndex`. */
  lowerBound(chunkIndex: number): number {
    let lo = 0;
    let hi = this.indices.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.indices[mid]! < chunkIndex) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  serialize(): Buffer {
    const header = Buffer.alloc(16);
    header.writeUInt32LE(MAGIC, 0);
    header.writeUInt32LE(this.indices.length, 4);
    header.writeBigUInt64LE(BigInt(this.sizeBytes), 8);
    const idx = Buffer.from(this.indices.buffer, this.indices.byteOffset, this.indices.byteLength);
    return Buffer.concat([header, idx, this.hashes]);
  }

  static parse(buf: Buffer): Manifest {
    if (buf.length < 16 || buf.readUInt32LE(0) !== MAGIC) throw new Error("manifest: not a manifest file");
    const count = buf.readUInt32LE(4);
    const sizeBytes = Number(buf.readBigUInt64LE(8));
    const idxBytes = count * 4;
    const indices = new Uint32Array(count);
    Buffer.from(indices.buffer).set(buf.subarray(16, 16 + idxBytes));
    const hashes = Buffer.from(buf.subarray(16 + idxBytes, 16 + idxBytes + count * HASH_SIZE));
    return new Manifest(sizeBytes, indices, hashes);
  }
}

/** Length of chunk `index` on a disk of `sizeBytes` (the last chunk may be short). */
export function chunkLength(index: number, sizeBytes: number): number {
  return Math.min(CHUNK_SIZE, sizeBytes - index * CHUNK_SIZE);
}

export function chunkCount(sizeBytes: number): number {
  return Math.ceil(sizeBytes / CHUNK_SIZE);
}

/** A byte range with an inclusive end, as Azure's `<Start>`/`<End>`. */
export interface PageRange {
  start: number;
  end: number;
}

export interface ManifestDiff {
  /** Ranges whose content differs and is not all zero in the newer manifest: copy these. */
  changed: PageRange[];
  /** Ranges that held data in the older manifest and are zero in the newer one: zero these. */
  cleared: PageRange[];
}

/** Ranges of chunks holding data, restricted to the byte window [from, to). */
export function validRanges(m: Manifest, from = 0, to = m.sizeBytes): PageRange[] {
  const out = new RangeBuilder(m.sizeBytes, from, to);
  for (let p = m.lowerBound(Math.floor(from / CHUNK_SIZE)); p < m.count; p++) {
    const index = m.indices[p]!;
    if (index * CHUNK_SIZE >= to) break;
    out.add(index);
  }
  return out.ranges;
}

/** The page-range diff from `older` to `newer`, restricted to the byte window [from, to). */
export function diffManifests(older: Manifest, newer: Manifest, from = 0, to = newer.sizeBytes): ManifestDiff {
  const changed = new RangeBuilder(newer.sizeBytes, from, to);
  const cleared = new RangeBuilder(newer.sizeBytes, from, to);
  const first = Math.floor(from / CHUNK_SIZE);
  let a = older.lowerBound(first);
  let b = newer.lowerBound(first);
  const stop = Math.ceil(Math.min(to, newer.sizeBytes) / CHUNK_SIZE);
  while (a < older.count || b < newer.count) {
    const ia = a < older.count ? older.indices[a]! : Number.POSITIVE_INFINITY;
    const ib = b < newer.count ? newer.indices[b]! : Number.POSITIVE_INFINITY;
    const next = Math.min(ia, ib);
    if (next >= stop) break;
    if (ia === ib) {
      if (!older.hashAt(a).equals(newer.hashAt(b))) changed.add(ib);
      a++;
      b++;
    } else if (ib < ia) {
      changed.add(ib);
      b++;
    } else {
      // Present before, zero now. Beyond a shrunk size there is nothing to clear.
      cleared.add(ia);
      a++;
    }
  }
  return { changed: changed.ranges, cleared: cleared.ranges };
}

/** Collects chunk indices in ascending order into merged byte ranges clipped to a window. */
class RangeBuilder {
  readonly ranges: PageRange[] = [];
  private lastChunk = -2;

  constructor(
    private readonly sizeBytes: number,
    private readonly from: number,
    private readonly to: number,
  ) {}

  add(index: number): void {
    const start = Math.max(index * CHUNK_SIZE, this.from);
    const end = Math.min((index + 1) * CHUNK_SIZE, this.sizeBytes, this.to) - 1;
    if (end < start) return;
    const last = this.ranges[this.ranges.length - 1];
    if (last && index === this.lastChunk + 1) last.end = end;
    else this.ranges.push({ start, end });
    this.lastChunk = index;
  }
}
