import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CHUNK_SIZE, diffManifests, Manifest, validRanges } from "../../storage/manifest";

/** A manifest from a map of chunk index → content seed (the hash only has to differ per seed). */
function manifest(sizeBytes: number, chunks: Record<number, string>): Manifest {
  const indices = Object.keys(chunks)
    .map(Number)
    .sort((a, b) => a - b);
  const hashes = Buffer.concat(indices.map((i) => createHash("sha1").update(chunks[i]!).digest()));
  return new Manifest(sizeBytes, Uint32Array.from(indices), hashes);
}

const C = CHUNK_SIZE;

describe("manifest diff", () => {
  it("reports new and rewritten chunks as changed, merged into inclusive ranges", () => {
    const a = manifest(16 * C, { 1: "x", 2: "y", 5: "z" });
    const b = manifest(16 * C, { 1: "x", 2: "Y", 3: "n", 7: "m" });
    const d = diffManifests(a, b);
    expect(d.changed).toEqual([
      { start: 2 * C, end: 4 * C - 1 },
      { start: 7 * C, end: 8 * C - 1 },
    ]);
    expect(d.cleared).toEqual([{ start: 5 * C, end: 6 * C - 1 }]);
  });

  it("is empty between identical manifests", () => {
    const a = manifest(8 * C, { 0: "a", 4: "b" });
    expect(diffManifests(a, a)).toEqual({ changed: [], cleared: [] });
  });

  it("restricts ranges to a byte window, clipping partial chunks", () => {
    const a = manifest(16 * C, {});
    const b = manifest(16 * C, { 2: "a", 3: "b", 9: "c" });
    const d = diffManifests(a, b, 2 * C + 100, 9 * C + 10);
    expect(d.changed).toEqual([
      { start: 2 * C + 100, end: 4 * C - 1 },
      { start: 9 * C, end: 9 * C + 9 },
    ]);
  });

  it("clips the last chunk of a size that is not a chunk multiple", () => {
    const size = 3 * C + 512;
    const b = manifest(size, { 3: "tail" });
    expect(validRanges(b)).toEqual([{ start: 3 * C, end: size - 1 }]);
  });

  it("round-trips through its file format", () => {
    const a = manifest(40 * C, { 0: "a", 17: "b", 39: "c" });
    const back = Manifest.parse(a.serialize());
    expect(back.sizeBytes).toBe(a.sizeBytes);
    expect([...back.indices]).toEqual([0, 17, 39]);
    expect(back.hashes.equals(a.hashes)).toBe(true);
    expect(back.usedBytes).toBe(3 * C);
  });

  it("refuses a file that is not a manifest", () => {
    expect(() => Manifest.parse(Buffer.from("not a manifest at all"))).toThrow(/not a manifest/);
  });
});
