/**
 * Byte-range arithmetic for the data path. A range is [start, end): `end` is exclusive, unlike
 * Azure's page ranges whose `End` is inclusive (the JS SDK reports `{ offset: Start, count: End -
 * Start }`, so a range's length is `count + 1`). Pure, no I/O.
 */
export interface Range {
  start: number;
  end: number;
}

/** Page ranges as `@azure/storage-blob` reports them, converted to [start, end). */
export function fromPageRanges(ranges: readonly { offset: number; count?: number }[] | undefined): Range[] {
  return (ranges ?? []).map((r) => ({ start: r.offset, end: r.offset + (r.count ?? 0) + 1 }));
}

export function length(r: Range): number {
  return r.end - r.start;
}

export function totalBytes(ranges: readonly Range[]): number {
  let n = 0;
  for (const r of ranges) n += r.end - r.start;
  return n;
}

/** Sorted, with overlapping and touching ranges merged, empty ones dropped. */
export function normalize(ranges: readonly Range[]): Range[] {
  const sorted = ranges.filter((r) => r.end > r.start).sort((a, b) => a.start - b.start);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** What of [0, size) the ranges do not cover. */
export function complement(ranges: readonly Range[], size: number): Range[] {
  const out: Range[] = [];
  let pos = 0;
  for (const r of normalize(ranges)) {
    if (r.start >= size) break;
    if (r.start > pos) out.push({ start: pos, end: r.start });
    pos = Math.max(pos, r.end);
  }
  if (pos < size) out.push({ start: pos, end: size });
  return out;
}

/** The parts of `a` that `b` covers. */
export function intersect(a: readonly Range[], b: readonly Range[]): Range[] {
  const x = normalize(a);
  const y = normalize(b);
  const out: Range[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const start = Math.max(x[i]!.start, y[j]!.start);
    const end = Math.min(x[i]!.end, y[j]!.end);
    if (end > start) out.push({ start, end });
    if (x[i]!.end < y[j]!.end) i++;
    else j++;
  }
  return out;
}

/** Every range cut into pieces of at most `maxBytes` (for reads of a bounded size). */
export function split(ranges: readonly Range[], maxBytes: number): Range[] {
  if (!(maxBytes > 0)) throw new RangeError(`maxBytes must be positive, got ${maxBytes}`);
  const out: Range[] = [];
  for (const r of ranges) {
    for (let s = r.start; s < r.end; s += maxBytes) out.push({ start: s, end: Math.min(r.end, s + maxBytes) });
  }
  return out;
}

/** [0, size) cut into windows of `segmentBytes`, for page-range queries Azure answers in time. */
export function segments(size: number, segmentBytes: number): Range[] {
  return split([{ start: 0, end: size }], segmentBytes);
}
