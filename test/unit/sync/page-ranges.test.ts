import type { PageBlobClient } from "@azure/storage-blob";
import { describe, expect, it } from "vitest";
import { validRanges } from "../../../sync/page-ranges";

const GiB = 1024 ** 3;

/** A page blob whose data is one 1 MiB range at the start of every GiB; it records what it was asked. */
function fakeBlob(asked: [number, number][]): PageBlobClient {
  return {
    getPageRanges: async (offset: number, count: number) => {
      asked.push([offset, count]);
      const pageRange = [];
      // The SDK reports `count` as the last byte's offset from the first (an inclusive end).
      for (let g = Math.ceil(offset / GiB) * GiB; g < offset + count; g += GiB)
        pageRange.push({ offset: g, count: 1024 ** 2 - 1 });
      return { pageRange };
    },
  } as unknown as PageBlobClient;
}

describe("validRanges", () => {
  it("asks every window of the disk, or only the windows that meet `within`", async () => {
    const all: [number, number][] = [];
    expect(await validRanges(fakeBlob(all), 8 * GiB, 2 * GiB)).toHaveLength(8);
    expect(all).toEqual([0, 2, 4, 6].map((g) => [g * GiB, 2 * GiB]));

    const some: [number, number][] = [];
    const ranges = await validRanges(fakeBlob(some), 8 * GiB, 2 * GiB, undefined, [
      { start: 5 * GiB, end: 5 * GiB + 4096 },
    ]);
    expect(some).toEqual([[4 * GiB, 2 * GiB]]);
    expect(ranges).toEqual([
      { start: 4 * GiB, end: 4 * GiB + 1024 ** 2 },
      { start: 5 * GiB, end: 5 * GiB + 1024 ** 2 },
    ]);

    const none: [number, number][] = [];
    expect(await validRanges(fakeBlob(none), 8 * GiB, 2 * GiB, undefined, [])).toEqual([]);
    expect(none).toEqual([]);
  });
});
