import { describe, expect, it } from "vitest";
import { complement, fromPageRanges, intersect, normalize, segments, split, totalBytes } from "../../../sync/ranges";

describe("ranges", () => {
  it("reads the SDK's page ranges with their inclusive end", () => {
    // Wire <Start>0</Start><End>511</End> is one 512-byte page; the SDK reports count 511.
    expect(
      fromPageRanges([
        { offset: 0, count: 511 },
        { offset: 65536, count: 65535 },
      ]),
    ).toEqual([
      { start: 0, end: 512 },
      { start: 65536, end: 131072 },
    ]);
    expect(fromPageRanges(undefined)).toEqual([]);
  });

  it("merges overlapping and touching ranges, in order, and drops empty ones", () => {
    expect(
      normalize([
        { start: 100, end: 200 },
        { start: 0, end: 50 },
        { start: 50, end: 60 },
        { start: 150, end: 300 },
        { start: 400, end: 400 },
      ]),
    ).toEqual([
      { start: 0, end: 60 },
      { start: 100, end: 300 },
    ]);
  });

  it("finds what the ranges leave uncovered", () => {
    expect(
      complement(
        [
          { start: 10, end: 20 },
          { start: 30, end: 40 },
        ],
        50,
      ),
    ).toEqual([
      { start: 0, end: 10 },
      { start: 20, end: 30 },
      { start: 40, end: 50 },
    ]);
    expect(complement([], 8)).toEqual([{ start: 0, end: 8 }]);
    expect(complement([{ start: 0, end: 100 }], 50)).toEqual([]);
  });

  it("intersects two range sets", () => {
    expect(
      intersect(
        [
          { start: 0, end: 100 },
          { start: 200, end: 300 },
        ],
        [{ start: 50, end: 250 }],
      ),
    ).toEqual([
      { start: 50, end: 100 },
      { start: 200, end: 250 },
    ]);
  });

  it("cuts ranges into bounded pieces and the disk into query segments", () => {
    expect(split([{ start: 0, end: 10 }], 4)).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 8, end: 10 },
    ]);
    expect(segments(10, 5)).toEqual([
      { start: 0, end: 5 },
      { start: 5, end: 10 },
    ]);
    expect(() => split([{ start: 0, end: 1 }], 0)).toThrow(/positive/);
    expect(totalBytes(split([{ start: 3, end: 1000 }], 7))).toBe(997);
  });
});
