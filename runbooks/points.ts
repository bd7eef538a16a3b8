import { UserError } from "../core/errors";
import { liveHolds, type StoredDrPoint } from "../adapters/state/points";
import type { Source } from "../core/schemas/source";
import type { RunbookContext } from "./context";
import { table } from "./commands/common";

/** One disk's share of a row-level point in `ferry points --json`. */
export interface PointDisk {
  /** `os` or `lun-<n>`. */
  disk: string;
  sourceDiskId: string;
  /** The source snapshot's time: the bytes are the source disk's at this moment (ISO 8601). */
  pointTime: string;
  /** When the DR-side snapshot was taken (ISO 8601). */
  takenAt: string;
  drSnapshotId: string;
  /** The point's key in the state store. */
  key: string;
  /** Live holds: operations that keep the point from retention. */
  holds: { by: string; until: string }[];
}

/** A row-level recovery point: the points of a row's disks taken together (one `group`), or one disk's alone. */
export interface RowPoint {
  /** The group id (`--recovery-point <id>`), or the point's key for a point taken alone. */
  id: string;
  /** The newest of its disks' point times: every disk's point was taken at or before it (ISO 8601). */
  time: string;
  /** now - time, in seconds. */
  ageSeconds: number;
  /**
   * The row-level consistency: max - min of its disks' point times, in milliseconds. Each disk's point is
   * crash-consistent on its own; the disks are within this of each other, not atomic.
   */
  spreadMs: number;
  /** Every disk of the row has a point in it. */
  complete: boolean;
  disks: PointDisk[];
}

/** One blueprint row in `ferry points --json`. */
export interface PointsRow {
  row: string;
  /** The row's protected disks, with how many points each has and its newest point's time. */
  disks: { disk: string; sourceDiskId: string; points: number; newestPointTime?: string }[];
  /** Newest first. */
  points: RowPoint[];
}

/** `ferry points <blueprint> --json`. */
export interface PointsReport {
  blueprint: string;
  /** When the report was made (ISO 8601). */
  at: string;
  rows: PointsRow[];
}

/**
 * The recovery points in the DR region of a blueprint's disks, by row, from the state store alone (the sources'
 * `protection` names their blueprint and row): it answers while the primary region is down.
 */
export async function listPoints(ctx: Pick<RunbookContext, "store" | "points" | "now">, blueprint: string) {
  const sources = (await ctx.store.list())
    .map((r) => r.source)
    .filter((s) => s.state !== "disabled" && s.protection?.blueprint === blueprint);
  if (sources.length === 0)
    throw new UserError(
      `No source of blueprint ${blueprint} is protected (or its sources were enabled before ferry recorded their ` +
        `blueprint). Check the name with \`ferry sources list\`; run \`ferry sources enable ${blueprint}\` to record it.`,
      { code: "UnknownBlueprint" },
    );
  const now = ctx.now();
  const byRow = new Map<string, { source: Source; points: StoredDrPoint[] }[]>();
  for (const source of sources) {
    const row = source.protection!.row;
    byRow.set(row, [...(byRow.get(row) ?? []), { source, points: await ctx.points.list(source.sourceDiskId) }]);
  }
  const rows = [...byRow.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([row, disks]) => pointsRow(row, disks, now));
  return { blueprint, at: now.toISOString(), rows } satisfies PointsReport;
}

/** One row's points, grouped into row-level points, newest first (pure). */
export function pointsRow(row: string, disks: { source: Source; points: StoredDrPoint[] }[], now: Date): PointsRow {
  const order = (d: string) => (d === "os" ? -1 : Number(d.replace("lun-", "")));
  const sorted = [...disks].sort((a, b) => order(a.source.protection!.disk) - order(b.source.protection!.disk));
  const groups = new Map<string, PointDisk[]>();
  for (const { source, points } of sorted) {
    for (const p of points) {
      const id = p.point.group ?? p.key;
      const disk: PointDisk = {
        disk: source.protection!.disk,
        sourceDiskId: source.sourceDiskId,
        pointTime: p.point.pointTime,
        takenAt: p.point.takenAt,
        drSnapshotId: p.point.drSnapshotId,
        key: p.key,
        holds: liveHolds(p.point, now),
      };
      groups.set(id, [...(groups.get(id) ?? []), disk]);
    }
  }
  const points = [...groups.entries()].map(([id, ds]): RowPoint => {
    const times = ds.map((d) => Date.parse(d.pointTime));
    const time = Math.max(...times);
    return {
      id,
      time: new Date(time).toISOString(),
      ageSeconds: Math.max(0, Math.round((now.getTime() - time) / 1000)),
      spreadMs: time - Math.min(...times),
      complete: sorted.every((d) => ds.some((x) => x.sourceDiskId === d.source.sourceDiskId)),
      disks: ds,
    };
  });
  points.sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  return {
    row,
    disks: sorted.map(({ source, points: ps }) => {
      const newest = ps
        .map((p) => p.point.pointTime)
        .sort((a, b) => Date.parse(a) - Date.parse(b))
        .pop();
      return {
        disk: source.protection!.disk,
        sourceDiskId: source.sourceDiskId,
        points: ps.length,
        ...(newest !== undefined ? { newestPointTime: newest } : {}),
      };
    }),
    points,
  };
}

/** `ferry points` for people: a table per row, a column per disk with its point's time. */
export function formatPoints(report: PointsReport): string {
  const out: string[] = [`Recovery points of ${report.blueprint} in the DR region (times UTC):`];
  for (const r of report.rows) {
    const roles = r.disks.map((d) => d.disk);
    out.push(
      "",
      `row ${r.row}: ${r.disks.map((d) => `${d.disk} ${d.points} point${d.points === 1 ? "" : "s"}`).join(", ")}`,
    );
    if (r.points.length === 0) {
      out.push("  no points yet (the daemon takes one after each applied point; see `ferry sources list`)");
      continue;
    }
    const rows = r.points.map((p) => [
      p.id,
      clock(p.time, false),
      age(p.ageSeconds),
      `${(p.spreadMs / 1000).toFixed(3)} s${p.complete ? "" : " (not every disk)"}`,
      ...roles.map((role) => {
        const d = p.disks.find((x) => x.disk === role);
        return d ? `${clock(d.pointTime, true)}${d.holds.length ? " held" : ""}` : undefined;
      }),
    ]);
    out.push(
      table(["point", "time", "age", "spread", ...roles], rows)
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n"),
    );
  }
  return out.join("\n");
}

/** `2026-12-02 02:05:01` (with milliseconds: `02:05:01.234`, the time alone). */
function clock(iso: string, timeOnly: boolean): string {
  const s = new Date(iso).toISOString();
  return timeOnly ? s.slice(11, 23) : `${s.slice(0, 10)} ${s.slice(11, 19)}`;
}

/** `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`. */
export function age(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86_400)} d ${Math.floor((seconds % 86_400) / 3600)} h`;
}
