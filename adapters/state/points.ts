import { isRestError } from "@azure/core-rest-pipeline";
import { odata, type TableClient } from "@azure/data-tables";
import { FerryError, UserError } from "../../core/errors";
import { DrPointSchema, type DrPoint } from "../../core/schemas/dr-point";
import { sourceRowKey } from "./store";

// Recovery points in the DR region (core/schemas/dr-point.ts): one row per point in the sources' table,
// in a partition per source disk ("point!<source row key>": the sources are in "source", the daemons'
// heartbeats in "daemon", the runbooks' records in "run!<blueprint>"), keyed by the point's time so a
// listing comes back oldest first. Writes are conditional on the ETag the writer read: a hold a runbook
// adds and a prune the daemon makes never overwrite each other; a held point is never deleted.

/** A point as read from (or just written to) the store, with the ETag its next write is conditional on. */
export interface StoredDrPoint {
  point: DrPoint;
  /** The row key: the point's time and its DR snapshot's name. Stable for the point's life. */
  key: string;
  /** Opaque; changes on every write of the row. */
  etag: string;
}

/** Options every {@link DrPointStore} call takes. */
export interface DrPointStoreOperationOptions {
  /** Stops waiting for the request. Default: none. */
  abortSignal?: AbortSignal;
}

/** The DR-side recovery points in the state store's table (which must exist: the landing zone creates it). */
export class DrPointStore {
  /** `client` is the sources' table client. */
  constructor(private readonly client: TableClient) {}

  /**
   * Records a point whose DR snapshot exists. Recording the same DR snapshot again returns the row already
   * there (a daemon that crashed after the write and before it noted it); another snapshot under the same
   * key is a {@link FerryError} "ConcurrentUpdate".
   */
  async add(point: DrPoint, options: DrPointStoreOperationOptions = {}): Promise<StoredDrPoint> {
    const parsed = DrPointSchema.parse(point);
    const key = pointKey(parsed);
    try {
      const r = await this.client.createEntity(
        { partitionKey: partitionOf(parsed.sourceDiskId), rowKey: key, doc: JSON.stringify(parsed) },
        abortOf(options),
      );
      return { point: parsed, key, etag: etagOf(r.etag) };
    } catch (e) {
      if (!(isRestError(e) && e.statusCode === 409)) throw e;
      const there = await this.get(parsed.sourceDiskId, key, options);
      if (there && sameId(there.point.drSnapshotId, parsed.drSnapshotId)) return there;
      throw new FerryError(`A different recovery point is recorded at ${key} for ${parsed.sourceDiskId}`, {
        code: "ConcurrentUpdate",
        cause: e,
        details: { key },
      });
    }
  }

  /** The point at `key` of a source disk, or undefined. */
  async get(
    sourceDiskId: string,
    key: string,
    options: DrPointStoreOperationOptions = {},
  ): Promise<StoredDrPoint | undefined> {
    try {
      const entity = await this.client.getEntity<{ doc?: unknown }>(partitionOf(sourceDiskId), key, abortOf(options));
      return { point: decode(entity.doc, key), key, etag: etagOf(entity.etag) };
    } catch (e) {
      if (isRestError(e) && e.statusCode === 404 && !tableMissing(e)) return undefined;
      throw e;
    }
  }

  /** Every point of a source disk, oldest first. */
  async list(sourceDiskId: string, options: DrPointStoreOperationOptions = {}): Promise<StoredDrPoint[]> {
    const out: StoredDrPoint[] = [];
    for await (const entity of this.client.listEntities<{ doc?: unknown }>({
      ...abortOf(options),
      queryOptions: { filter: odata`PartitionKey eq ${partitionOf(sourceDiskId)}` },
    })) {
      const key = String(entity.rowKey);
      out.push({ point: decode(entity.doc, key), key, etag: etagOf(entity.etag) });
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  /**
   * Holds a point for operation `by` until `until`: retention keeps it until then. A hold of the same
   * operation is renewed, not repeated; expired holds are dropped. Throws {@link UserError} "PointNotFound"
   * when the point is gone (pruned before the hold landed: pick another).
   */
  async hold(
    sourceDiskId: string,
    key: string,
    by: string,
    until: Date,
    now = new Date(),
    options: DrPointStoreOperationOptions & {
      /** The point as listed with its ETag: the hold is written on it, with no read first (read if it changed). */
      read?: StoredDrPoint;
    } = {},
  ): Promise<StoredDrPoint> {
    return this.change(
      sourceDiskId,
      key,
      options,
      (p) => {
        const others = liveHolds(p, now).filter((h) => h.by !== by);
        return { ...p, holds: [...others, { by, until: until.toISOString() }] };
      },
      options.read,
    );
  }

  /** Ends operation `by`'s hold on a point (a point already gone is fine: nothing holds it). */
  async release(
    sourceDiskId: string,
    key: string,
    by: string,
    now = new Date(),
    options: DrPointStoreOperationOptions = {},
  ): Promise<void> {
    try {
      await this.change(sourceDiskId, key, options, (p) => {
        const { holds: _old, ...rest } = p;
        const holds = liveHolds(p, now).filter((h) => h.by !== by);
        return holds.length ? { ...rest, holds } : rest;
      });
    } catch (e) {
      if (!(e instanceof UserError && e.code === "PointNotFound")) throw e;
    }
  }

  /**
   * Deletes a point's record, on condition that nobody wrote it since it was read (a hold added since makes
   * this a {@link FerryError} "ConcurrentUpdate"). Throws {@link FerryError} "PointHeld" when it has a live
   * hold. The caller deletes the DR snapshot after this succeeds, never before a hold could land.
   */
  async delete(stored: StoredDrPoint, now = new Date(), options: DrPointStoreOperationOptions = {}): Promise<void> {
    const held = liveHolds(stored.point, now);
    if (held.length > 0) {
      throw new FerryError(`Recovery point ${stored.key} is held by ${held.map((h) => h.by).join(", ")}`, {
        code: "PointHeld",
        details: { key: stored.key, holds: held },
      });
    }
    try {
      await this.client.deleteEntity(partitionOf(stored.point.sourceDiskId), stored.key, {
        ...abortOf(options),
        etag: stored.etag,
      });
    } catch (e) {
      if (isRestError(e) && e.statusCode === 404 && !tableMissing(e)) return;
      if (isRestError(e) && e.statusCode === 412) {
        throw new FerryError(`Recovery point ${stored.key} changed since it was read`, {
          code: "ConcurrentUpdate",
          cause: e,
          details: { key: stored.key },
        });
      }
      throw e;
    }
  }

  private async change(
    sourceDiskId: string,
    key: string,
    options: DrPointStoreOperationOptions,
    edit: (p: DrPoint) => DrPoint,
    read?: StoredDrPoint,
  ): Promise<StoredDrPoint> {
    for (let attempt = 0; ; attempt++) {
      const current = attempt === 0 && read ? read : await this.get(sourceDiskId, key, options);
      if (!current) {
        throw new UserError(
          `Recovery point ${key} of ${sourceDiskId} is not recorded (retention removed it, or it never was). ` +
            "List the points with `ferry points <blueprint>` and pick one that is there",
          { code: "PointNotFound" },
        );
      }
      const point = DrPointSchema.parse(edit(current.point));
      try {
        const r = await this.client.updateEntity(
          { partitionKey: partitionOf(sourceDiskId), rowKey: key, doc: JSON.stringify(point) },
          "Replace",
          { ...abortOf(options), etag: current.etag },
        );
        return { point, key, etag: etagOf(r.etag) };
      } catch (e) {
        // 412: written since it was read (a hold, a release): read again and apply the change to that.
        if (!(isRestError(e) && e.statusCode === 412) || attempt >= 5) throw e;
      }
    }
  }
}

/** The holds of `point` still live at `now`. */
export function liveHolds(point: DrPoint, now: Date): NonNullable<DrPoint["holds"]> {
  return (point.holds ?? []).filter((h) => Date.parse(h.until) > now.getTime());
}

/** A point's row key: its time (ISO 8601, which sorts by time) and its DR snapshot's name. */
export function pointKey(point: Pick<DrPoint, "pointTime" | "drSnapshotId">): string {
  const name = point.drSnapshotId.split("/").pop() ?? point.drSnapshotId;
  return escapeKey(`${new Date(point.pointTime).toISOString()}_${name.toLowerCase()}`);
}

function partitionOf(sourceDiskId: string): string {
  return `point!${sourceRowKey(sourceDiskId)}`;
}

// Keys must not hold / \ # ? or control characters: percent-encoded, "%" written as "!" (as source keys are).
function escapeKey(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll("%", "!");
}

function decode(doc: unknown, key: string): DrPoint {
  let json: unknown;
  try {
    json = JSON.parse(String(doc));
  } catch {
    json = undefined;
  }
  const parsed = DrPointSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  throw new FerryError(`The recovery point record ${key} does not parse (edited by hand?). Delete the row`, {
    code: "CorruptRecord",
    details: { key },
  });
}

function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function tableMissing(e: { response?: unknown }): boolean {
  const body = (e.response as { parsedBody?: { odataError?: { code?: unknown } } } | undefined)?.parsedBody;
  return body?.odataError?.code === "TableNotFound";
}

function abortOf(options: DrPointStoreOperationOptions): { abortSignal?: AbortSignal } {
  return options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal };
}

function etagOf(etag: unknown): string {
  if (typeof etag === "string" && etag !== "") return etag;
  throw new FerryError("The table service answered a recovery-point write without an ETag", { code: "MissingEtag" });
}
