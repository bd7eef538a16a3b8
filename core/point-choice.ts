import { UserError } from "./errors";
import { sameResourceId } from "./resource-id";
import type { DrPoint } from "./schemas/dr-point";

// Which DR-side recovery point each disk of a blueprint is recovered at, from what the operator asked
// (`--recovery-point latest|<ISO time>|<id>`). Pure: the runbook lists the points, this chooses.

/** What `--recovery-point` asked for. */
export type PointRequest = { kind: "latest" } | { kind: "time"; at: Date } | { kind: "id"; id: string };

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * Parses `--recovery-point`: `latest`, an ISO 8601 time with its zone (`2026-12-02T01:30:00Z`), or an id (a row's
 * point group, or the ARM id or name of a DR-side snapshot). Throws {@link UserError} "InvalidRecoveryPoint" for a
 * time without a zone (it would mean a different instant on every agent) or an impossible one.
 */
export function parsePointRequest(value: string | undefined): PointRequest {
  const v = (value ?? "latest").trim();
  if (v === "" || v === "latest") return { kind: "latest" };
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const at = new Date(v);
    if (!ISO_TIME.test(v) || Number.isNaN(at.getTime())) {
      throw new UserError(
        `--recovery-point ${v} is not an ISO 8601 time with a zone. Write it as 2026-12-02T01:30:00Z (UTC) or ` +
          "with an offset (+01:00); list the points with `ferry points <blueprint>`.",
        { code: "InvalidRecoveryPoint" },
      );
    }
    return { kind: "time", at };
  }
  return { kind: "id", id: v };
}

/** A point as the runbook read it from the store: the record and its row key. */
export interface ListedPoint {
  point: DrPoint;
  key: string;
  /** The row's ETag as it was read: a hold written from this listing needs no second read. */
  etag?: string;
}

/** One disk of the blueprint the choice is made for. */
export interface PointChoiceDisk {
  row: string;
  sourceDiskId: string;
  /** How the disk is named to people ("app OS disk"). */
  label: string;
}

/** The point chosen for one disk. */
export interface ChosenPoint extends ListedPoint {
  /** The disk's newest point: what `latest` would have chosen. */
  newest: boolean;
}

/** The choice for a blueprint. */
export interface PointChoice {
  /** By source disk ARM id, as the blueprint spells it. */
  disks: Record<string, ChosenPoint>;
  /**
   * Per row: how far apart its disks' point times are, in milliseconds (0 for a one-disk row). The disks of a row
   * are each crash-consistent; together they are consistent only within this spread.
   */
  spreadInMs: Record<string, number>;
}

/**
 * Chooses each disk's point: for `latest` its newest; for a time its newest point at or before it; for an id the
 * point of that row group (or that DR snapshot: the other disks of its row then take the point of the same
 * group, or else the newest at or before its time). `points` holds every disk's points, oldest first.
 *
 * Throws {@link UserError}: "NoRecoveryPoints" (a disk has none yet), "NoPointBefore" (a time before a disk's
 * first point), "UnknownRecoveryPoint" (an id no disk has), "RecoveryPointIncomplete" (an id some disks of its
 * rows lack: pruned, or never taken).
 */
export function choosePoints(
  disks: PointChoiceDisk[],
  points: ReadonlyMap<string, ListedPoint[]>,
  request: PointRequest,
): PointChoice {
  const listOf = (d: PointChoiceDisk) =>
    [...points].find(([k]) => sameResourceId(k, d.sourceDiskId))?.[1] ?? ([] as ListedPoint[]);
  const hint = "List the points with `ferry points <blueprint>`";
  const chosen: Record<string, ChosenPoint> = {};
  const none = disks.filter((d) => listOf(d).length === 0);
  if (none.length) {
    throw new UserError(
      `No recovery point in the DR region is recorded for ${none.map((d) => d.label).join(", ")}: the sync ` +
        "daemon takes one after each apply. Wait for the next apply, or fail over to --recovery-point latest " +
        `from the staging disks. ${hint}.`,
      { code: "NoRecoveryPoints", details: { disks: none.map((d) => d.sourceDiskId) } },
    );
  }
  const atOrBefore = (list: ListedPoint[], t: number) => list.filter((p) => Date.parse(p.point.pointTime) <= t).pop();
  const pick = (d: PointChoiceDisk, p: ListedPoint) => {
    const list = listOf(d);
    chosen[d.sourceDiskId] = { ...p, newest: list[list.length - 1]!.key === p.key };
  };
  if (request.kind === "latest") {
    for (const d of disks) pick(d, listOf(d).at(-1)!);
  } else if (request.kind === "time") {
    const t = request.at.getTime();
    const early = disks.filter((d) => !atOrBefore(listOf(d), t));
    if (early.length) {
      const first = early.map((d) => `${d.label} (first point ${listOf(d)[0]!.point.pointTime})`);
      throw new UserError(
        `No recovery point at or before ${request.at.toISOString()} for ${first.join(", ")}. Pick a later time ` +
          `(retention may have removed older points). ${hint}.`,
        { code: "NoPointBefore", details: { disks: early.map((d) => d.sourceDiskId) } },
      );
    }
    for (const d of disks) pick(d, atOrBefore(listOf(d), t)!);
  } else {
    const id = request.id;
    const bySnapshot = (p: ListedPoint) =>
      sameResourceId(p.point.drSnapshotId, id) ||
      (p.point.drSnapshotId.split("/").pop() ?? "").toLowerCase() === id.toLowerCase();
    const inGroup = (p: ListedPoint, group: string) => p.point.group === group;
    // The group the id names: itself, or the group of the DR snapshot it names.
    let group: string | undefined = disks.some((d) => listOf(d).some((p) => inGroup(p, id))) ? id : undefined;
    let anchor: ListedPoint | undefined;
    if (!group) {
      for (const d of disks) anchor ??= listOf(d).find(bySnapshot);
      if (!anchor) {
        throw new UserError(
          `Recovery point ${id} is not recorded for any disk of the blueprint (no point group and no DR snapshot ` +
            `of that name; retention may have removed it). ${hint} and name a point that is listed, or a time.`,
          { code: "UnknownRecoveryPoint" },
        );
      }
      group = anchor.point.group;
    }
    const rows = new Set(
      disks.filter((d) => listOf(d).some((p) => (group ? inGroup(p, group) : p === anchor))).map((d) => d.row),
    );
    const missing: string[] = [];
    const time = Date.parse((anchor ?? firstOfGroup(disks, listOf, group!))!.point.pointTime);
    for (const d of disks) {
      const list = listOf(d);
      const own = group ? list.find((p) => inGroup(p, group)) : list.find((p) => p === anchor);
      if (own) pick(d, own);
      else if (rows.has(d.row) && group) missing.push(d.label);
      else {
        // A disk of another row (or of a point taken on its own): its newest point at or before the named one.
        const p = atOrBefore(list, time);
        if (!p) missing.push(`${d.label} (no point at or before ${new Date(time).toISOString()})`);
        else pick(d, p);
      }
    }
    if (missing.length) {
      throw new UserError(
        `Recovery point ${id} is not complete: ${missing.join(", ")} has no point of it (retention removed it, or ` +
          `it was never taken). ${hint} and pick a point every disk has, or a time.`,
        { code: "RecoveryPointIncomplete", details: { missing } },
      );
    }
  }
  return { disks: chosen, spreadInMs: spreadOf(disks, chosen) };
}

function firstOfGroup(
  disks: PointChoiceDisk[],
  listOf: (d: PointChoiceDisk) => ListedPoint[],
  group: string,
): ListedPoint | undefined {
  for (const d of disks) {
    const p = listOf(d).find((x) => x.point.group === group);
    if (p) return p;
  }
  return undefined;
}

/** Per row: the largest difference between its disks' point times, in milliseconds. */
export function spreadOf(disks: PointChoiceDisk[], chosen: Record<string, ListedPoint>): Record<string, number> {
  const times = new Map<string, number[]>();
  for (const d of disks) {
    const p = chosen[d.sourceDiskId];
    if (p) times.set(d.row, [...(times.get(d.row) ?? []), Date.parse(p.point.pointTime)]);
  }
  return Object.fromEntries([...times].map(([row, t]) => [row, Math.max(...t) - Math.min(...t)]));
}

/** A {@link PointRequest} as it is recorded in an operation (JSON) and written back on the command line. */
export type RecordedPointRequest = { kind: "latest" } | { kind: "time"; at: string } | { kind: "id"; id: string };

/** The request as an operation records it. */
export function recordPointRequest(request: PointRequest): RecordedPointRequest {
  if (request.kind === "time") return { kind: "time", at: request.at.toISOString() };
  return request.kind === "id" ? { kind: "id", id: request.id } : { kind: "latest" };
}

/** The `--recovery-point` value that asks for a recorded request again. */
export function formatPointRequest(request: RecordedPointRequest): string {
  return request.kind === "time" ? request.at : request.kind === "id" ? request.id : "latest";
}

/** Whether a request asks for what a recorded one asked: the same instant, or the same id (ARM ids in any case). */
export function samePointRequest(request: PointRequest, recorded: RecordedPointRequest): boolean {
  if (request.kind === "latest" || recorded.kind === "latest") return request.kind === recorded.kind;
  if (request.kind === "time") return recorded.kind === "time" && request.at.getTime() === Date.parse(recorded.at);
  return recorded.kind === "id" && sameResourceId(request.id, recorded.id);
}
