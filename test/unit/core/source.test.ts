import { describe, expect, it } from "vitest";
import { RecoveryPointSchema, SourceSchema } from "../../../core/schemas";
import { parseWith } from "../../../core/validate";
import { diskIdOf, expectOneProblem, validRecoveryPoint, validSource } from "./fixtures";
import type { Json } from "./fixtures";

describe("RecoveryPointSchema", () => {
  it("parses a compliant recovery point", () => {
    expect(parseWith(RecoveryPointSchema, validRecoveryPoint())).toEqual(validRecoveryPoint());
  });

  const cases: [string, (p: Json) => void, string, ...string[]][] = [
    [
      "snapshot id of a disk",
      (p) => (p.snapshotId = diskIdOf("os1")),
      "snapshotId",
      "Microsoft.Compute/snapshots/<name>",
      "az snapshot show",
    ],
    [
      "source disk id of a snapshot",
      (p) => (p.sourceDiskId = validRecoveryPoint().snapshotId),
      "sourceDiskId",
      "is the id of a Microsoft.Compute/snapshots",
    ],
    ["date without time", (p) => (p.createdAt = "2025-03-01"), "createdAt", "ISO 8601", "2025-01-31T12:00:00Z"],
    ["missing creation time", (p) => delete p.createdAt, "createdAt", 'Add "createdAt"'],
  ];
  it.each(cases)("refuses %s", (_, change, path, ...hints) => {
    const point = validRecoveryPoint();
    change(point);
    expectOneProblem(RecoveryPointSchema, point, path, ...hints);
  });
});

describe("SourceSchema", () => {
  it("parses a compliant source", () => {
    const source = parseWith(SourceSchema, validSource());
    expect(source.state).toBe("healthy");
    expect(source.applied?.snapshotId).toMatch(/snapshots\/os1-0001$/);
  });

  it("accepts a freshly enabled source without recovery points", () => {
    const source = validSource();
    source.state = "pending";
    source.prepare = "empty";
    source.bytesCopied = 0;
    delete source.desired;
    delete source.applied;
    delete source.lagInMs;
    expect(parseWith(SourceSchema, source).applied).toBeUndefined();
  });

  const cases: [string, (s: Json) => void, string, ...string[]][] = [
    [
      "unknown state",
      (s) => (s.state = "syncing"),
      "state",
      '"disabled", "pending", "backfilling", "verifying", "healthy", "degraded"',
    ],
    ["unknown prepare mode", (s) => (s.prepare = "zero"), "prepare", '"wipe", "keep", "empty"'],
    ["LUN above 63", (s) => (s.applianceLun = 64), "applianceLun", "0 to 63"],
    ["negative LUN", (s) => (s.applianceLun = -1), "applianceLun", "0 to 63"],
    ["fractional bytes", (s) => (s.bytesCopied = 1.5), "bytesCopied", "integer"],
    ["negative bytes", (s) => (s.bytesCopied = -1), "bytesCopied", "at least 0"],
    ["negative lag", (s) => (s.lagInMs = -5), "lagInMs", "at least 0"],
    [
      "staging disk is the source",
      (s) => (s.stagingDiskId = s.sourceDiskId.toLowerCase()),
      "stagingDiskId",
      "separate disk",
    ],
    [
      "applied point of another disk",
      (s) => (s.applied.sourceDiskId = diskIdOf("other")),
      "applied.sourceDiskId",
      "snapshot of another disk",
    ],
    [
      "bad nested snapshot id",
      (s) => (s.applying = { ...validRecoveryPoint(), snapshotId: "snap-1" }),
      "applying.snapshotId",
      "is not the ARM id",
    ],
    [
      "last error without code",
      (s) => (s.lastError = { message: "boom", at: "2025-03-01T10:00:00Z" }),
      "lastError.code",
      'Add "code"',
    ],
    ["unknown key", (s) => (s.lunNumber = 3), "lunNumber", "is not a recognised key"],
  ];
  it.each(cases)("refuses %s", (_, change, path, ...hints) => {
    const source = validSource();
    change(source);
    expectOneProblem(SourceSchema, source, path, ...hints);
  });
});
