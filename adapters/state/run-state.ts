import { isRestError, type RestError } from "@azure/core-rest-pipeline";
import { odata, type TableClient, type TableEntity } from "@azure/data-tables";
import { FerryError } from "../../core/errors";
import { redactDeep } from "../../core/redact";

// What the runbooks record at run time (operations, the operation lease of a blueprint, failback
// state, a blueprint's mode), kept as JSON documents in the sources' table, in partitions of their
// own ("run!<blueprint>": the source partition is "source", so the daemon never reads these rows).
// Every write is conditional on the ETag its writer last saw: a write that lost a race is refused
// with "ConcurrentUpdate", never applied over the other one. Every document is scrubbed by
// redactDeep before it is written, so no SAS, token or key reaches the table, whoever wrote it.

/** A document as read from (or just written to) the store, with the ETag its next write is conditional on. */
export interface StoredDocument<T> {
  doc: T;
  etag: string;
}

/** Options every {@link RunStateStore} call takes. */
export interface RunStateOperationOptions {
  /** Stops waiting for the request. Default: none. */
  abortSignal?: AbortSignal;
}

// A string property holds at most 64 KiB (32 K UTF-16 characters); an entity at most 1 MiB. A
// document is split over numbered columns below the first limit; an operation of a large
// blueprint (its steps and resource events) stays well under the second.
const chunkChars = 30_000;
const maxChunks = 30;

/** Run-time records of the runbooks in the state store's table (see the design: the store holds what happened). */
export class RunStateStore {
  /** `client` is the sources' table client; the table must exist (the landing zone creates it). */
  constructor(private readonly client: TableClient) {}

  /** The document at `key` of `blueprint`, or undefined when there is none. */
  async get<T>(
    blueprint: string,
    key: string,
    options: RunStateOperationOptions = {},
  ): Promise<StoredDocument<T> | undefined> {
    try {
      const entity = await this.client.getEntity<Record<string, unknown>>(
        partitionOf(blueprint),
        rowKeyOf(key),
        abortOf(options),
      );
      return { doc: this.decode<T>(entity, blueprint, key), etag: etagOf(entity["etag"]) };
    } catch (e) {
      if (isRestError(e) && e.statusCode === 404 && serviceCode(e) !== "TableNotFound") return undefined;
      throw e;
    }
  }

  /** Every document of `blueprint` whose key starts with `prefix`, in key order. */
  async list<T>(
    blueprint: string,
    prefix: string,
    options: RunStateOperationOptions = {},
  ): Promise<(StoredDocument<T> & { key: string })[]> {
    const pk = partitionOf(blueprint);
    const from = rowKeyOf(prefix);
    // Row keys of one prefix sort together: [prefix, prefix + "~") holds them all ("~" sorts after
    // every character rowKeyOf leaves in a key).
    const filter = odata`PartitionKey eq ${pk} and RowKey ge ${from} and RowKey lt ${`${from}~`}`;
    const out: (StoredDocument<T> & { key: string })[] = [];
    for await (const entity of this.client.listEntities<Record<string, unknown>>({
      ...abortOf(options),
      queryOptions: { filter },
    })) {
      const key = keyOf(String(entity.rowKey));
      out.push({ key, doc: this.decode<T>(entity, blueprint, key), etag: etagOf(entity.etag) });
    }
    return out;
  }

  /**
   * Writes a new document at `key`. Throws {@link FerryError} "ConcurrentUpdate" when one is there
   * already (another writer created it first).
   */
  async create<T>(blueprint: string, key: string, doc: T, options: RunStateOperationOptions = {}): Promise<string> {
    try {
      const r = await this.client.createEntity(this.encode(blueprint, key, doc), abortOf(options));
      return etagOf(r.etag);
    } catch (e) {
      throw conflictOr(e, blueprint, key, "created");
    }
  }

  /**
   * Replaces the document at `key`, on condition that nobody wrote it since `etag`. Throws
   * {@link FerryError} "ConcurrentUpdate" when someone did, or deleted it.
   */
  async replace<T>(
    blueprint: string,
    key: string,
    doc: T,
    etag: string,
    options: RunStateOperationOptions = {},
  ): Promise<string> {
    try {
      const r = await this.client.updateEntity(this.encode(blueprint, key, doc), "Replace", {
        ...abortOf(options),
        etag,
      });
      return etagOf(r.etag);
    } catch (e) {
      throw conflictOr(e, blueprint, key, "changed");
    }
  }

  /** Deletes the document at `key` on the same condition as {@link RunStateStore.replace}. */
  async delete(blueprint: string, key: string, etag: string, options: RunStateOperationOptions = {}): Promise<void> {
    try {
      await this.client.deleteEntity(partitionOf(blueprint), rowKeyOf(key), { ...abortOf(options), etag });
    } catch (e) {
      throw conflictOr(e, blueprint, key, "changed");
    }
  }

  private encode<T>(blueprint: string, key: string, doc: T): TableEntity<Record<string, unknown>> {
    const text = JSON.stringify(redactDeep(doc));
    const chunks = Math.max(1, Math.ceil(text.length / chunkChars));
    if (chunks > maxChunks) {
      throw new FerryError(
        `The record ${key} of ${blueprint} is ${text.length} characters of JSON, more than a table row holds ` +
          `(${maxChunks * chunkChars}). This is a bug: records must stay small`,
        { code: "RecordTooLarge", details: { blueprint, key, chars: text.length } },
      );
    }
    const entity: TableEntity<Record<string, unknown>> = {
      partitionKey: partitionOf(blueprint),
      rowKey: rowKeyOf(key),
      chunks,
    };
    for (let i = 0; i < chunks; i++) entity[`doc${i}`] = text.slice(i * chunkChars, (i + 1) * chunkChars);
    return entity;
  }

  private decode<T>(entity: Record<string, unknown>, blueprint: string, key: string): T {
    const chunks = Number(entity["chunks"]);
    let text = "";
    for (let i = 0; i < chunks; i++) text += String(entity[`doc${i}`] ?? "");
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new FerryError(
        `The record ${key} of ${blueprint} in table "${this.client.tableName}" is not valid JSON ` +
          "(edited by hand?). Delete the row; ferry writes it again",
        { code: "CorruptRecord", details: { blueprint, key } },
      );
    }
  }
}

// Keys must not hold / \ # ? or control characters: escaped as source row keys are (percent-
// encoding with "!" for "%"), which keeps the order of plain keys and is reversible.
function escapeKey(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll("%", "!");
}

function partitionOf(blueprint: string): string {
  return `run!${escapeKey(blueprint)}`;
}

function rowKeyOf(key: string): string {
  return escapeKey(key);
}

function keyOf(rowKey: string): string {
  return decodeURIComponent(rowKey.replaceAll("!", "%"));
}

function abortOf(options: RunStateOperationOptions): { abortSignal?: AbortSignal } {
  return options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal };
}

function etagOf(etag: unknown): string {
  if (typeof etag === "string" && etag !== "") return etag;
  throw new FerryError("The table service answered a run-state write without an ETag", { code: "MissingEtag" });
}

function conflictOr(e: unknown, blueprint: string, key: string, what: "created" | "changed"): unknown {
  // 409: created by another writer first; 412: written since it was read; 404: deleted since.
  if (
    !isRestError(e) ||
    !(e.statusCode === 409 || e.statusCode === 412 || (e.statusCode === 404 && serviceCode(e) !== "TableNotFound"))
  )
    return e;
  return new FerryError(
    `The record ${key} of ${blueprint} was ${what} by another writer (another host or run). ` +
      "Read it again and decide on what is there now",
    { code: "ConcurrentUpdate", cause: e, details: { blueprint, key, status: e.statusCode } },
  );
}

function serviceCode(e: RestError): string | undefined {
  const body = (e.response as { parsedBody?: { odataError?: { code?: unknown } } } | undefined)?.parsedBody;
  const code = body?.odataError?.code;
  return typeof code === "string" ? code : e.code;
}
