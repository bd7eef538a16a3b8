import { describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import {
  choosePoints,
  formatPointRequest,
  parsePointRequest,
  recordPointRequest,
  samePointRequest,
  type ListedPoint,
  type PointChoiceDisk,
} from "../../../core/point-choice";

const SUB = "/subscriptions/00000000-0000-0000-0000-000000000001";
const disk = (name: string) => `${SUB}/resourceGroups/prod/providers/Microsoft.Compute/disks/${name}`;
const snap = (name: string) => `${SUB}/resourceGroups/ferry-snapshots-ne/providers/Microsoft.Compute/snapshots/${name}`;

const DISKS: PointChoiceDisk[] = [
  { row: "web", sourceDiskId: disk("web-os"), label: "web OS disk" },
  { row: "web", sourceDiskId: disk("web-data"), label: "web data disk LUN 0" },
  { row: "db", sourceDiskId: disk("db-os"), label: "db OS disk" },
];

/** A point of `d` at minute `m` past 01:00 (plus `ms`), in group `g<m>`. */
function point(d: PointChoiceDisk, m: number, ms = 0): ListedPoint {
  const name = `${d.sourceDiskId.split("/").pop()}-p${m}`;
  const t = new Date(Date.UTC(2026, 11, 2, 1, m, 0, ms)).toISOString();
  return {
    key: `${t}_${name}`,
    point: {
      sourceDiskId: d.sourceDiskId,
      stagingDiskId: d.sourceDiskId.replace("/prod/", "/dr-rg/"),
      sourceSnapshotId: `${SUB}/resourceGroups/snaps/providers/Microsoft.Compute/snapshots/src-${name}`,
      pointTime: t,
      drSnapshotId: snap(name),
      takenAt: t,
      group: `${d.row}-g${m}`,
    },
  };
}

/** Points at minutes 10, 20, 30 for every disk; the web data disk's 3 s after its OS disk's. */
function lists(): Map<string, ListedPoint[]> {
  return new Map(
    DISKS.map((d) => [d.sourceDiskId, [10, 20, 30].map((m) => point(d, m, d.label.includes("data") ? 3000 : 0))]),
  );
}

const minuteOf = (p: ListedPoint | undefined) => new Date(p!.point.pointTime).getUTCMinutes();

function userErrorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    expect(isUserError(e)).toBe(true);
    return e as { code: string; message: string };
  }
  throw new Error("no error");
}

describe("parsePointRequest", () => {
  it("reads latest, an ISO time with a zone, and anything else as an id", () => {
    expect(parsePointRequest(undefined)).toEqual({ kind: "latest" });
    expect(parsePointRequest("latest")).toEqual({ kind: "latest" });
    expect(parsePointRequest("2026-12-02T01:30:00+01:00")).toEqual({
      kind: "time",
      at: new Date("2026-12-02T00:30:00Z"),
    });
    expect(parsePointRequest("web-g10")).toEqual({ kind: "id", id: "web-g10" });
  });

  it("refuses a time without a zone, saying how to write one", () => {
    const e = userErrorOf(() => parsePointRequest("2026-12-02T01:30:00"));
    expect(e.code).toBe("InvalidRecoveryPoint");
    expect(e.message).toContain("2026-12-02T01:30:00Z");
  });
});

describe("choosePoints", () => {
  it("latest: each disk's newest point, marked newest", () => {
    const c = choosePoints(DISKS, lists(), { kind: "latest" });
    for (const d of DISKS) {
      expect(minuteOf(c.disks[d.sourceDiskId])).toBe(30);
      expect(c.disks[d.sourceDiskId]!.newest).toBe(true);
    }
  });

  it("a time: each disk's newest point at or before it, and each row's spread", () => {
    const c = choosePoints(DISKS, lists(), { kind: "time", at: new Date("2026-12-02T01:20:01Z") });
    expect(minuteOf(c.disks[disk("web-os")])).toBe(20);
    // Its point at 01:20:03 is after the time: the one before.
    expect(minuteOf(c.disks[disk("web-data")])).toBe(10);
    expect(c.disks[disk("web-os")]!.newest).toBe(false);
    expect(c.spreadInMs).toEqual({ web: 10 * 60_000 - 3000, db: 0 });
  });

  it("a time before a disk's first point is refused, naming the disk, its first point and `ferry points`", () => {
    const e = userErrorOf(() => choosePoints(DISKS, lists(), { kind: "time", at: new Date("2026-12-02T01:05:00Z") }));
    expect(e.code).toBe("NoPointBefore");
    expect(e.message).toContain("web OS disk (first point 2026-12-02T01:10:00.000Z)");
    expect(e.message).toContain("ferry points <blueprint>");
  });

  it("a group id: that group's point for its row's disks, the newest at or before it for other rows", () => {
    const c = choosePoints(DISKS, lists(), { kind: "id", id: "web-g20" });
    expect(minuteOf(c.disks[disk("web-os")])).toBe(20);
    expect(minuteOf(c.disks[disk("web-data")])).toBe(20);
    expect(minuteOf(c.disks[disk("db-os")])).toBe(20);
    expect(c.spreadInMs.web).toBe(3000);
  });

  it("a DR snapshot id or name: that point, and the rest of its group", () => {
    const byName = choosePoints(DISKS, lists(), { kind: "id", id: "web-data-p10" });
    expect(minuteOf(byName.disks[disk("web-os")])).toBe(10);
    const byId = choosePoints(DISKS, lists(), { kind: "id", id: snap("db-os-p30") });
    expect(minuteOf(byId.disks[disk("db-os")])).toBe(30);
    expect(minuteOf(byId.disks[disk("web-data")])).toBe(20);
  });

  it("an id no disk has is refused as unknown", () => {
    const e = userErrorOf(() => choosePoints(DISKS, lists(), { kind: "id", id: "nope" }));
    expect(e.code).toBe("UnknownRecoveryPoint");
    expect(e.message).toContain("ferry points <blueprint>");
  });

  it("a group one of its row's disks lacks (pruned) is refused as incomplete, naming the disk", () => {
    const l = lists();
    l.set(
      disk("web-data"),
      l.get(disk("web-data"))!.filter((p) => p.point.group !== "web-g20"),
    );
    const e = userErrorOf(() => choosePoints(DISKS, l, { kind: "id", id: "web-g20" }));
    expect(e.code).toBe("RecoveryPointIncomplete");
    expect(e.message).toContain("web data disk LUN 0");
  });

  it("a disk with no point at all is refused, pointing at latest from the staging disks", () => {
    const l = lists();
    l.set(disk("db-os"), []);
    const e = userErrorOf(() => choosePoints(DISKS, l, { kind: "latest" }));
    expect(e.code).toBe("NoRecoveryPoints");
    expect(e.message).toContain("db OS disk");
  });
});

describe("a recorded point request (what a resumed failover must ask for again)", () => {
  it("is the same request for the same instant in another zone, and for an ARM id in another case", () => {
    const time = recordPointRequest(parsePointRequest("2026-12-02T01:30:00Z"));
    expect(samePointRequest(parsePointRequest("2026-12-02T02:30:00+01:00"), time)).toBe(true);
    const id = recordPointRequest(parsePointRequest(snap("web-os-1")));
    expect(samePointRequest(parsePointRequest(snap("web-os-1").toUpperCase()), id)).toBe(true);
    expect(samePointRequest(parsePointRequest(undefined), { kind: "latest" })).toBe(true);
  });

  it("is another request for latest against a time, another instant, or another id", () => {
    const time = recordPointRequest(parsePointRequest("2026-12-02T01:30:00Z"));
    expect(samePointRequest(parsePointRequest("latest"), time)).toBe(false);
    expect(samePointRequest(parsePointRequest("2026-12-02T01:30:01Z"), time)).toBe(false);
    expect(samePointRequest(parsePointRequest("2026-12-02T01:30:00Z"), { kind: "latest" })).toBe(false);
    expect(samePointRequest(parsePointRequest("web-os-2"), { kind: "id", id: "web-os-1" })).toBe(false);
  });

  it("is written back as the --recovery-point value that asks for it", () => {
    expect(formatPointRequest(recordPointRequest(parsePointRequest("2026-12-02T02:30:00+01:00")))).toBe(
      "2026-12-02T01:30:00.000Z",
    );
    expect(formatPointRequest({ kind: "latest" })).toBe("latest");
    expect(formatPointRequest({ kind: "id", id: "web-os-1" })).toBe("web-os-1");
  });
});
