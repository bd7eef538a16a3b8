import { describe, expect, it } from "vitest";
import type { StoredDrPoint } from "../../../adapters/state/points";
import type { Source } from "../../../core/schemas/source";
import { age, formatPoints, pointsRow } from "../../../runbooks/points";

const sub = "/subscriptions/00000000-0000-0000-0000-000000000000";
const disk = (name: string) => `${sub}/resourceGroups/prod/providers/Microsoft.Compute/disks/${name}`;
const snap = (rg: string, name: string) => `${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/snapshots/${name}`;
const now = new Date("2026-12-02T12:00:00.000Z");
const at = (secondsAgo: number) => new Date(now.getTime() - secondsAgo * 1000).toISOString();

function source(role: string): Source {
  return {
    sourceDiskId: disk(`web-${role}`),
    stagingDiskId: disk(`web-${role}-staging`),
    applianceLun: 0,
    state: "healthy",
    prepare: "empty",
    bytesCopied: 0,
    updatedAt: at(0),
    applianceId: `${sub}/resourceGroups/dr/providers/Microsoft.Compute/virtualMachines/appliance`,
    sourceSizeBytes: 1024 ** 3,
    paused: false,
    consecutiveFailures: 0,
    protection: { blueprint: "web", row: "web", disk: role },
  };
}

function point(role: string, secondsAgo: number, group?: string, held = false): StoredDrPoint {
  const name = `p-${role}-${secondsAgo}`;
  return {
    key: name,
    etag: "e",
    point: {
      sourceDiskId: disk(`web-${role}`),
      stagingDiskId: disk(`web-${role}-staging`),
      sourceSnapshotId: snap("snaps", `s-${name}`),
      pointTime: at(secondsAgo),
      drSnapshotId: snap("points", name),
      takenAt: at(secondsAgo - 5),
      ...(group ? { group } : {}),
      ...(held ? { holds: [{ by: "drill-1", until: at(-600) }] } : {}),
    },
  };
}

describe("ferry points: a row's points", () => {
  const os = source("os");
  const data = source("lun-0");

  it("joins the disks' points of one group into a row-level point with their spread, newest first", () => {
    const row = pointsRow(
      "web",
      [
        { source: data, points: [point("lun-0", 600.4, "g1"), point("lun-0", 60, "g2")] },
        { source: os, points: [point("os", 600, "g1"), point("os", 61.25, "g2")] },
      ],
      now,
    );
    expect(row.points.map((p) => [p.id, p.ageSeconds, p.spreadMs, p.complete])).toEqual([
      ["g2", 60, 1250, true],
      ["g1", 600, 400, true],
    ]);
    expect(row.points[0]!.disks.map((d) => d.disk)).toEqual(["os", "lun-0"]);
    expect(row.disks).toEqual([
      { disk: "os", sourceDiskId: os.sourceDiskId, points: 2, newestPointTime: at(61.25) },
      { disk: "lun-0", sourceDiskId: data.sourceDiskId, points: 2, newestPointTime: at(60) },
    ]);
  });

  it("shows a point taken alone as its own row-level point, not complete when the row has other disks", () => {
    const row = pointsRow(
      "web",
      [
        { source: os, points: [point("os", 30)] },
        { source: data, points: [] },
      ],
      now,
    );
    expect(row.points).toHaveLength(1);
    expect(row.points[0]).toMatchObject({ id: "p-os-30", spreadMs: 0, complete: false });
  });

  it("lists live holds only", () => {
    const row = pointsRow("web", [{ source: os, points: [point("os", 30, undefined, true)] }], now);
    expect(row.points[0]!.disks[0]!.holds).toEqual([{ by: "drill-1", until: at(-600) }]);
  });

  it("prints a table per row with each disk's point time and the spread", () => {
    const text = formatPoints({
      blueprint: "web",
      at: now.toISOString(),
      rows: [
        pointsRow(
          "web",
          [
            { source: os, points: [point("os", 600, "g1", true)] },
            { source: data, points: [point("lun-0", 600.4, "g1")] },
          ],
          now,
        ),
      ],
    });
    const lines = text.split("\n");
    expect(lines[2]).toBe("row web: os 1 point, lun-0 1 point");
    expect(lines[3]).toMatch(/^ {2}point +time +age +spread +os +lun-0$/);
    expect(lines[4]).toMatch(/^ {2}g1 +2026-12-02 11:50:00 +10 min +0\.400 s +11:50:00\.000 held +11:49:59\.600$/);
  });

  it("says so when a row has no point yet", () => {
    const text = formatPoints({
      blueprint: "web",
      at: now.toISOString(),
      rows: [pointsRow("web", [{ source: os, points: [] }], now)],
    });
    expect(text).toMatch(/row web: os 0 points\n {2}no points yet/);
  });

  it("writes ages people read at a glance", () => {
    expect([age(45), age(600), age(3 * 3600 + 300), age(2 * 86_400 + 4 * 3600)]).toEqual([
      "45 s",
      "10 min",
      "3 h 5 min",
      "2 d 4 h",
    ]);
  });
});
