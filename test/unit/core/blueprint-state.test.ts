import { describe, expect, it } from "vitest";
import { currentSourceId, overlaySources, type SourcesRecord } from "../../../core/schemas/blueprint-state";
import { blueprint } from "../stacks/fixtures";

const disk = (name: string) => `/subscriptions/s/resourceGroups/prod-rg/providers/Microsoft.Compute/disks/${name}`;
const replaced = (pairs: [string, string][]): SourcesRecord => ({
  replaced: Object.fromEntries(
    pairs.map(([from, by]) => [from.toLowerCase(), { by, operation: "fb-1", at: "2026-11-23T00:00:00.000Z" }]),
  ),
});

describe("the current sources of a blueprint", () => {
  it("follow a chain of failbacks from the tracked id, or from an id committed part-way along it", () => {
    const record = replaced([
      [disk("os"), disk("os-fb1")],
      [disk("os-fb1"), disk("os-fb2")],
    ]);
    expect(currentSourceId(record, disk("os"))).toBe(disk("os-fb2"));
    expect(currentSourceId(record, disk("OS-FB1"))).toBe(disk("os-fb2"));
    expect(currentSourceId(record, disk("data"))).toBe(disk("data"));
    expect(currentSourceId(undefined, disk("os"))).toBe(disk("os"));
  });

  it("stop where a chain would loop back", () => {
    const record = replaced([
      [disk("a"), disk("b")],
      [disk("b"), disk("a")],
    ]);
    expect(currentSourceId(record, disk("a"))).toBe(disk("a"));
  });

  it("overlay the tracked blueprint's OS and data disks, leaving the rest as it is", () => {
    const b = blueprint();
    const os = b.rows[0]!.osDisk.sourceDiskId;
    const data = b.rows[0]!.dataDisks[0]!.sourceDiskId;
    const over = overlaySources(b, replaced([[data, disk("data-returned")]]));
    expect(over.rows[0]!.osDisk.sourceDiskId).toBe(os);
    expect(over.rows[0]!.dataDisks[0]!.sourceDiskId).toBe(disk("data-returned"));
    expect({ ...over, rows: [] }).toEqual({ ...b, rows: [] });
    expect(b.rows[0]!.dataDisks[0]!.sourceDiskId).toBe(data);
  });
});
