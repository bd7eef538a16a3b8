import type { TokenCredential } from "@azure/core-auth";
import { isRestError, type RestError } from "@azure/core-rest-pipeline";
import {
  TableClient,
  odata,
  type TableEntity,
  type TableTransactionResponse,
  type TransactionAction,
} from "@azure/data-tables";
import type { AzureRetryOptions } from "../azure/clients";
import { normalizeResourceId } from "../../core/resource-id";
import { FerryError, UserError, isUserError } from "../../core/errors";
import { redactDeep, redactSecrets } from "../../core/redact";
import { AZURE_TABLE_NAME_RULE, isAzureTableName } from "../../core/schemas/fields";
import { SourceSchema, type Source } from "../../core/schemas/source";
import { parseWith, type ValidationIssue } from "../../core/validate";

// The source state store: one Azure Table storage row per protected source disk. Every row read
// is parsed back through SourceSchema, every write is conditional on the ETag the writer read, so
// two daemons (or a daemon and a runbook) never overwrite each other silently.

/** A source as read from (or just written to) the store, with the ETag its next write is conditional on. */
export interface StoredSource {
  source: Source;
  /** Opaque; changes on every write of the row. */
  etag: string;
}

/** Options every {@link SourceStore} call takes. */
export interface SourceStoreOperationOptions {
  /** Stops waiting for the request. Default: none. */
  abortSignal?: AbortSignal;
}

/** Options for {@link SourceStore.open}. */
export interface OpenSourceStoreOptions extends SourceStoreOperationOptions {
  /** Client of the table to keep sources in, from {@link sourceStoreClient}. */
  client: TableClient;
  /**
   * Creates the table when it is missing: for the local harness and tests only. Default: false. In Azure
   * the landing zone creates the table (`pulumi up` of its stack), and neither the daemon nor the runbooks
   * hold table-management rights: the appliance's role has table entity data actions only.
   */
  createTable?: boolean;
}

/** Filter for {@link SourceStore.list}. */
export interface ListSourcesFilter {
  /** Only sources kept by this sync appliance VM (ARM id, compared case-insensitively). Default: all. */
  applianceId?: string;
}

/** Options for {@link sourceStoreClient}. */
export type SourceStoreClientOptions =
  | {
      /**
       * A storage connection string, e.g. Azurite's. Holds the account key: read it from a secret
       * at the edge. Plain http is accepted for loopback endpoints only.
       */
      connectionString: string;
      /** Table name (3-63 letters and digits, starting with a letter). Default: "ferrySources". */
      tableName?: string;
      /** Handed to the SDK's own retry policy. Default: the SDK's (3 retries, exponential). */
      retryOptions?: AzureRetryOptions;
    }
  | {
      /** Table service endpoint, e.g. "https://<account>.table.core.windows.net". */
      url: string;
      /** Table name (3-63 letters and digits, starting with a letter). Default: "ferrySources". */
      tableName?: string;
      /** Entra identity (the appliance's managed identity) with "Storage Table Data Contributor"; no keys. */
      credential: TokenCredential;
      /** Handed to the SDK's own retry policy. Default: the SDK's (3 retries, exponential). */
      retryOptions?: AzureRetryOptions;
    };

/** Default name of the sources table. */
export const defaultSourceTableName = "ferrySources";

const partitionKey = "source";

/**
 * A TableClient for the sources table: from a connection string (Azurite, or a storage account
 * key) or from an endpoint and an Entra credential (real Azure, managed identity). Throws a
 * {@link UserError} "InvalidSourceStoreConfig" for a bad table name or connection string; the
 * message never repeats the connection string (it holds the key).
 */
export function sourceStoreClient(options: SourceStoreClientOptions): TableClient {
  const tableName = options.tableName ?? defaultSourceTableName;
  if (!isAzureTableName(tableName)) {
    throw new UserError(`"${tableName}" is not a valid Azure table name. ${AZURE_TABLE_NAME_RULE}`, {
      code: "InvalidSourceStoreConfig",
      details: { tableName },
    });
  }
  const retryOptions = options.retryOptions === undefined ? {} : { retryOptions: options.retryOptions };
  if ("credential" in options) {
    return new TableClient(options.url, tableName, options.credential, retryOptions);
  }
  const endpoint = /(?:^|;)\s*TableEndpoint=([^;]+)/i.exec(options.connectionString)?.[1]?.trim();
  // Shared-key requests over plain http would expose the table's data on the wire: only Azurite
  // on this machine gets that.
  const allowInsecureConnection = endpoint !== undefined && isLoopbackHttp(endpoint);
  try {
    return TableClient.fromConnectionString(options.connectionString, tableName, {
      ...retryOptions,
      allowInsecureConnection,
    });
  } catch (e) {
    // The SDK's messages do not echo the string today; scrubbed all the same, and no cause kept.
    throw new UserError(
      `The source store connection string is not usable: ${redactSecrets(e instanceof Error ? e.message : String(e))}. ` +
        "Copy it again from the storage account's Access keys (or Azurite's well-known string)",
      { code: "InvalidSourceStoreConfig" },
    );
  }
}

function isLoopbackHttp(endpoint: string): boolean {
  try {
    const url = new URL(endpoint);
    return url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  } catch {
    return false;
  }
}

/** The row key of a source: its normalized disk id, escaped into what Table storage allows in a key. */
export function sourceRowKey(sourceDiskId: string): string {
  // ARM ids are case-insensitive, so `normalizeResourceId` (lowercase, no trailing slash) is the
  // identity. Keys may not hold / \ # ? or control characters: percent-encode everything but
  // [A-Za-z0-9-_.], escaping !'()*~ too (encodeURIComponent keeps them; ' would need quoting
  // in filters and entity paths), then write "%" as "!", which no longer occurs on its own. The
  // result is collision-free and reversible: replace "!" by "%" and decodeURIComponent.
  const escaped = encodeURIComponent(normalizeResourceId(sourceDiskId)).replace(
    /[!'()*~]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return escaped.replaceAll("%", "!");
}

// Table storage limits a key to 1 KiB; taken as UTF-16 (512 characters), the stricter reading.
// An ARM disk id escapes to well under this.
const maxRowKeyChars = 512;

/**
 * How each Source field is stored. Listed for every field (a new field in SourceSchema fails the
 * typecheck here until it is given a column).
 * - "int64": Edm.Int64, sent as a string. A bare JS number is sent without a type, which Azure
 *   reads as Int32 (or, beyond it, not as Int64): bytes and sizes pass 2^31 quickly. SourceSchema's
 *   `z.int()` keeps values within 2^53, so the SDK's BigInt converts back exactly.
 * - "double": Edm.Double, for a non-integer number (JS numbers round-trip exactly).
 * - "json": a JSON string, for nested objects; Table storage has no nested properties.
 * - Timestamps stay strings: Edm.DateTime would drop the offset and re-format the text.
 */
type Column = "string" | "boolean" | "int32" | "int64" | "double" | "json";

const columns: { [K in keyof Source]-?: Column } = {
  sourceDiskId: "string",
  stagingDiskId: "string",
  applianceLun: "int32",
  state: "string",
  prepare: "string",
  desired: "json",
  applying: "json",
  seed: "json",
  applied: "json",
  bytesCopied: "int64",
  lagInMs: "double",
  lastError: "json",
  pointError: "json",
  updatedAt: "string",
  applianceId: "string",
  sourceSizeBytes: "int64",
  snapshotResourceGroup: "string",
  drSnapshotResourceGroup: "string",
  protection: "json",
  paused: "boolean",
  syncRequestedAt: "string",
  applyingMode: "string",
  lease: "json",
  fence: "int64",
  consecutiveFailures: "int64",
  lastVerifiedAt: "string",
  holds: "json",
};

// Not part of a Source: the normalized applianceId, so list() filters on the service and
// case-insensitively (ARM ids are). Written on every write, never read back into the Source.
const applianceKeyColumn = "applianceKey";
// Service columns the SDK hands back with an entity.
const serviceColumns = new Set(["partitionKey", "rowKey", "etag", "timestamp", applianceKeyColumn]);

/** The state store of protected source disks (see the data path in the design). */
export class SourceStore {
  /**
   * The last row read of each row key, as its columns' text, and the source it parsed to. The daemon lists every
   * source at each tick and runbooks poll them: parsing each unchanged row through the schema again cost a plan of
   * ten failovers about a second of CPU. A row whose columns are the same text parses to the same source.
   */
  private readonly parsed = new Map<string, { columns: string; source: Source }>();

  private constructor(private readonly client: TableClient) {}

  /** Name of the table the store keeps its rows in. */
  get tableName(): string {
    return this.client.tableName;
  }

  /**
   * Opens the store on `client`'s table, which must exist (unless `createTable`). Throws a
   * {@link UserError} "StateTableMissing" when it does not, and a {@link FerryError}
   * "SourceStoreUnavailable" when it cannot be reached or read.
   */
  static async open(options: OpenSourceStoreOptions): Promise<SourceStore> {
    const { client } = options;
    const where = `"${client.tableName}" at ${redactSecrets(client.url)}`;
    const unavailable = (e: unknown) =>
      new FerryError(
        `Cannot open the source store table ${where}: ${describeRestError(e)}. Check the endpoint and that this ` +
          'identity may read and write its entities (the appliance\'s role, or "Storage Table Data Contributor")',
        { code: "SourceStoreUnavailable", cause: e, details: { table: client.tableName } },
      );
    if (options.createTable) {
      try {
        // createTable ignores TableAlreadyExists itself; checked again in case that ever changes.
        await client.createTable(operationOptions(options));
      } catch (e) {
        if (!(isRestError(e) && e.statusCode === 409 && serviceCode(e) === "TableAlreadyExists")) throw unavailable(e);
      }
      return new SourceStore(client);
    }
    try {
      // One entity at most: proves the table is there and readable, with entity read rights alone.
      await client
        .listEntities({ ...operationOptions(options), queryOptions: { select: ["RowKey"] } })
        .byPage({ maxPageSize: 1 })
        .next();
    } catch (e) {
      if (isRestError(e) && e.statusCode === 404 && serviceCode(e) === "TableNotFound") {
        throw new UserError(
          `The state store table ${where} does not exist. The landing zone creates it: run \`pulumi up\` on the ` +
            "landing-zone stack (its ferry:stateStore names the account and the table), and check that " +
            "stateStore.tableName here names the same table.",
          { code: "StateTableMissing", cause: e, details: { table: client.tableName } },
        );
      }
      throw unavailable(e);
    }
    return new SourceStore(client);
  }

  /**
   * Every source, or those of one appliance, in row-key order. A row that does not parse fails the
   * whole call, unless `onCorrupt` takes it (the daemon skips such a row and keeps the others syncing).
   */
  async list(
    filter: ListSourcesFilter = {},
    options: SourceStoreOperationOptions & { onCorrupt?: (rowKey: string, error: unknown) => void } = {},
  ): Promise<StoredSource[]> {
    const query =
      filter.applianceId === undefined
        ? odata`PartitionKey eq ${partitionKey}`
        : // The column name is literal: odata`` would quote an interpolated one as a string.
          odata`PartitionKey eq ${partitionKey} and applianceKey eq ${normalizeResourceId(filter.applianceId)}`;
    const stored: StoredSource[] = [];
    const entities = this.client.listEntities<Record<string, unknown>>({
      ...operationOptions(options),
      queryOptions: { filter: query },
    });
    for await (const entity of entities) {
      try {
        stored.push(this.fromEntity(entity));
      } catch (e) {
        if (!options.onCorrupt) throw e;
        options.onCorrupt(String(entity.rowKey), e);
      }
    }
    return stored;
  }

  /** The source of this disk (ARM id, any case), or undefined when it has no row. */
  async get(sourceDiskId: string, options: SourceStoreOperationOptions = {}): Promise<StoredSource | undefined> {
    try {
      const entity = await this.client.getEntity<Record<string, unknown>>(
        partitionKey,
        sourceRowKey(sourceDiskId),
        operationOptions(options),
      );
      return this.fromEntity(entity);
    } catch (e) {
      // A missing table is also a 404: that is not "no such source".
      if (isRestError(e) && e.statusCode === 404 && serviceCode(e) !== "TableNotFound") return undefined;
      throw e;
    }
  }

  /**
   * The sources of these disks (ARM ids, any case), by normalized id; a disk with no row is absent. One query per
   * {@link ROW_KEYS_PER_QUERY} disks, side by side: a failover reads every disk of its blueprint on its critical path,
   * where a read per disk would be a request per disk. A row that does not parse fails the call, as in `get`.
   */
  async getMany(
    sourceDiskIds: string[],
    options: SourceStoreOperationOptions = {},
  ): Promise<Map<string, StoredSource>> {
    const keys = [...new Set(sourceDiskIds.map(sourceRowKey))];
    const found = new Map<string, StoredSource>();
    const pages = await Promise.all(
      chunksOf(keys, ROW_KEYS_PER_QUERY).map(async (chunk) => {
        const rows: StoredSource[] = [];
        const entities = this.client.listEntities<Record<string, unknown>>({
          ...operationOptions(options),
          queryOptions: {
            filter: `${odata`PartitionKey eq ${partitionKey}`} and (${chunk.map((k) => odata`RowKey eq ${k}`).join(" or ")})`,
          },
        });
        for await (const entity of entities) rows.push(this.fromEntity(entity));
        return rows;
      }),
    );
    for (const rows of pages) for (const row of rows) found.set(normalizeResourceId(row.source.sourceDiskId), row);
    return found;
  }

  /**
   * The store on `client`'s table as it is, for a reader that must not create it (a Pulumi program
   * signed in with table data rights only). A missing table fails its first read.
   */
  static existing(client: TableClient): SourceStore {
    return new SourceStore(client);
  }

  /**
   * Adds a row for a newly protected source. Throws {@link FerryError} "SourceExists" when the disk
   * already has one (in any id case), and "InvalidSource" (before writing) when `source` does not
   * parse.
   */
  async create(source: Source, options: SourceStoreOperationOptions = {}): Promise<StoredSource> {
    const valid = this.validate(source);
    const entity = this.toEntity(valid);
    try {
      const response = await this.client.createEntity(entity, operationOptions(options));
      return { source: valid, etag: requireEtag(response.etag, "create") };
    } catch (e) {
      if (isRestError(e) && e.statusCode === 409) {
        throw new FerryError(
          `Source disk ${valid.sourceDiskId} already has a row in the source store (table "${this.tableName}"). ` +
            "Read it and update it instead of creating it again",
          { code: "SourceExists", cause: e, details: { table: this.tableName, sourceDiskId: valid.sourceDiskId } },
        );
      }
      throw e;
    }
  }

  /**
   * Replaces the row of `current` with `next`, on condition that nobody wrote it since `current`
   * was read. Throws {@link FerryError} "ConcurrentUpdate" when someone did (or deleted it): read
   * again, and decide again. "InvalidSource" (before writing) when `next` does not parse or names
   * another disk. `updatedAt` is the caller's to set.
   */
  async update(current: StoredSource, next: Source, options: SourceStoreOperationOptions = {}): Promise<StoredSource> {
    const valid = this.validateChange(current, next);
    try {
      // Replace, not Merge: a field cleared in `next` (applying, lease, lastError) must go.
      const response = await this.client.updateEntity(this.toEntity(valid), "Replace", {
        ...operationOptions(options),
        etag: current.etag,
      });
      return { source: valid, etag: requireEtag(response.etag, "update") };
    } catch (e) {
      throw this.concurrentOr(e, "update", current);
    }
  }

  /**
   * Replaces several rows at once, each on condition that nobody wrote it since it was read: one entity group
   * transaction per {@link ROWS_PER_TRANSACTION} rows (every source row is in one partition), so that a change to every
   * disk of a blueprint is one request, not one per disk. A transaction is all or nothing: when one of its rows
   * changed since it was read, none of its rows is written, and the call throws {@link FerryError}
   * "ConcurrentUpdate" (read again, and redo the change). Transactions of more than one chunk are independent: an
   * earlier one may have landed when a later one is refused. Returns the rows as written, in the order given.
   */
  async updateMany(
    changes: { current: StoredSource; next: Source }[],
    options: SourceStoreOperationOptions = {},
  ): Promise<StoredSource[]> {
    const valid = changes.map(({ current, next }) => ({ current, next: this.validateChange(current, next) }));
    const keys = new Set(valid.map((c) => sourceRowKey(c.current.source.sourceDiskId)));
    if (keys.size !== valid.length)
      throw new FerryError("An update of several sources names one disk twice", { code: "InvalidSource" });
    // Within both limits of a transaction: 100 entities, and 4 MiB of payload (counted here as the entities' JSON,
    // with room for the batch's own framing).
    const entities = valid.map((c) => ({ ...c, entity: this.toEntity(c.next) }));
    const chunks: (typeof entities)[] = [];
    let bytes = 0;
    for (const c of entities) {
      const size = Buffer.byteLength(
        JSON.stringify(c.entity, (_k, v: unknown) => (typeof v === "bigint" ? `${v}` : v)),
      );
      const last = chunks.at(-1);
      if (!last || last.length >= ROWS_PER_TRANSACTION || bytes + size > TRANSACTION_PAYLOAD_BYTES) {
        chunks.push([c]);
        bytes = size;
      } else {
        last.push(c);
        bytes += size;
      }
    }
    const written = await Promise.all(
      chunks.map(async (chunk) => {
        let response: TableTransactionResponse;
        try {
          response = await this.client.submitTransaction(
            chunk.map(({ current, entity }) => [
              "update",
              entity,
              "Replace",
              { etag: current.etag },
            ]) as TransactionAction[],
            operationOptions(options),
          );
        } catch (e) {
          throw this.concurrentOr(e, "update", chunk[0]!.current, chunk.length);
        }
        // The change set's responses come in the order of its operations; an update's names no row key.
        return chunk.map(({ next }, i) => ({
          source: next,
          etag: requireEtag(response.subResponses[i]?.etag, "update"),
        }));
      }),
    );
    return written.flat();
  }

  /** Deletes the row of `current`, on the same condition as {@link SourceStore.update}. */
  async delete(current: StoredSource, options: SourceStoreOperationOptions = {}): Promise<void> {
    try {
      await this.client.deleteEntity(partitionKey, sourceRowKey(current.source.sourceDiskId), {
        ...operationOptions(options),
        etag: current.etag,
      });
    } catch (e) {
      throw this.concurrentOr(e, "delete", current);
    }
  }

  private concurrentOr(e: unknown, operation: "update" | "delete", current: StoredSource, rows = 1): unknown {
    // 412: written since it was read; 404: deleted since. Either way the caller decided on a stale
    // row. (A missing table is a 404 too, but not a race.)
    if (!isRestError(e) || !(e.statusCode === 412 || (e.statusCode === 404 && serviceCode(e) !== "TableNotFound")))
      return e;
    const what = e.statusCode === 412 ? "changed" : "deleted";
    const which =
      rows === 1
        ? `source ${current.source.sourceDiskId}: its row was`
        : `${rows} sources (from ${current.source.sourceDiskId}): one of their rows was`;
    return new FerryError(
      `Cannot ${operation} ${which} ${what} by another writer since it was read. ` +
        "Read it again and redo the change on what is there now",
      {
        code: "ConcurrentUpdate",
        cause: e,
        details: { table: this.tableName, sourceDiskId: current.source.sourceDiskId, operation, reason: what },
      },
    );
  }

  /** `next` validated as the next state of `current`'s row: it must parse and name the same disk. */
  private validateChange(current: StoredSource, next: Source): Source {
    const valid = this.validate(next);
    if (normalizeResourceId(valid.sourceDiskId) !== normalizeResourceId(current.source.sourceDiskId)) {
      throw new FerryError(
        `An update of source ${current.source.sourceDiskId} cannot change its sourceDiskId to ${valid.sourceDiskId}: ` +
          "the disk id is the row's identity. Delete the row and create one for the other disk",
        {
          code: "InvalidSource",
          details: { sourceDiskId: current.source.sourceDiskId, nextSourceDiskId: valid.sourceDiskId },
        },
      );
    }
    return valid;
  }

  private validate(source: Source): Source {
    let valid: Source;
    try {
      valid = parseWith(SourceSchema, source, { what: "source" });
    } catch (e) {
      if (!isUserError(e)) throw e;
      // The caller built this value: a bug, not the operator's to fix, hence not a UserError.
      throw new FerryError(`Refusing to write an invalid source to the source store. ${e.message}`, {
        code: "InvalidSource",
        cause: e,
        ...(e.details === undefined ? {} : { details: e.details }),
      });
    }
    const rowKey = sourceRowKey(valid.sourceDiskId);
    if (rowKey.length > maxRowKeyChars) {
      throw new FerryError(
        `The disk id ${valid.sourceDiskId} is too long to be a row key (${rowKey.length} characters escaped; at most ${maxRowKeyChars})`,
        {
          code: "InvalidSource",
          details: { sourceDiskId: valid.sourceDiskId },
        },
      );
    }
    return valid;
  }

  private toEntity(source: Source): TableEntity<Record<string, unknown>> {
    const entity: TableEntity<Record<string, unknown>> = {
      partitionKey,
      rowKey: sourceRowKey(source.sourceDiskId),
      [applianceKeyColumn]: normalizeResourceId(source.applianceId),
    };
    for (const [name, column] of Object.entries(columns) as [keyof Source, Column][]) {
      const value = source[name];
      // Absent fields are absent columns (Replace removes what the row had).
      if (value === undefined) continue;
      // An error message may quote a URL with its SAS: redacted at rest as in the logs.
      entity[name] = encode(column, name === "lastError" ? redactDeep(value) : value);
    }
    return entity;
  }

  private fromEntity(entity: Record<string, unknown>): StoredSource {
    const rowKey = String(entity["rowKey"]);
    const shownId = typeof entity["sourceDiskId"] === "string" ? entity["sourceDiskId"] : undefined;
    const what = `source row "${rowKey}"${shownId === undefined ? "" : ` (${shownId})`} in table "${this.tableName}"`;
    const corrupt = (message: string, issues: ValidationIssue[], cause?: unknown) =>
      new UserError(
        `The ${what} is not a valid source. ${message}\nFix the row, or delete it and enable the source again`,
        {
          code: "CorruptSourceRow",
          ...(cause === undefined ? {} : { cause }),
          details: {
            table: this.tableName,
            rowKey,
            ...(shownId === undefined ? {} : { sourceDiskId: shownId }),
            issues,
          },
        },
      );

    const fields = Object.entries(entity).filter(([name]) => !serviceColumns.has(name) && !name.startsWith("odata."));
    const text = JSON.stringify(fields, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
    const seen = this.parsed.get(rowKey);
    // A copy: callers own what they are given, as they do a source parsed afresh.
    if (seen?.columns === text)
      return { source: structuredClone(seen.source), etag: requireEtag(entity["etag"], "read") };
    const row: Record<string, unknown> = {};
    for (const [name, raw] of fields) {
      const column = (columns as Record<string, Column | undefined>)[name];
      if (column === "json" && typeof raw === "string") {
        try {
          row[name] = JSON.parse(raw);
        } catch {
          // No cause: a SyntaxError quotes the text.
          const issue = { path: name, code: "invalid_json", message: "is not valid JSON." };
          throw corrupt(`${name}: ${issue.message}`, [issue]);
        }
      } else if (typeof raw === "bigint") {
        // An Int64 outside JS's exact range stays a bigint, which the schema refuses by name.
        row[name] = Number.isSafeInteger(Number(raw)) ? Number(raw) : raw;
      } else {
        // Anything unexpected (an unknown column, a wrong type) goes to the schema as it is.
        row[name] = raw;
      }
    }

    let source: Source;
    try {
      source = parseWith(SourceSchema, row, { what });
    } catch (e) {
      if (!isUserError(e)) throw e;
      const issues = (e.details?.["issues"] ?? []) as ValidationIssue[];
      throw corrupt(issues.map((i) => `${i.path}: ${i.message}`).join("\n"), issues, e);
    }
    if (sourceRowKey(source.sourceDiskId) !== rowKey) {
      const issue = {
        path: "sourceDiskId",
        code: "custom",
        message: "does not match the row key (the row was edited or copied by hand).",
      };
      throw corrupt(`${issue.path}: ${issue.message}`, [issue]);
    }
    const etag = requireEtag(entity["etag"], "read");
    this.parsed.set(rowKey, { columns: text, source: structuredClone(source) });
    return { source, etag };
  }
}

function encode(column: Column, value: unknown): unknown {
  switch (column) {
    case "int64":
      return { value: String(value), type: "Int64" };
    case "double":
      return { value, type: "Double" };
    case "json":
      return JSON.stringify(value);
    default:
      return value;
  }
}

/**
 * Row keys one query names: Table storage allows at most 15 discrete comparisons in a `$filter` ("Querying tables and
 * entities", Azure Storage REST reference); the partition's is one.
 */
export const ROW_KEYS_PER_QUERY = 14;

/**
 * Rows one entity group transaction writes: at most 100 entities, all of one partition ("Performing entity group
 * transactions", Azure Storage REST reference).
 */
export const ROWS_PER_TRANSACTION = 100;

/** What ferry puts in one transaction at most: below the 4 MiB Azure allows, for the batch's own framing. */
const TRANSACTION_PAYLOAD_BYTES = 3 * 1024 * 1024;

function chunksOf<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

function operationOptions(options: SourceStoreOperationOptions): { abortSignal?: AbortSignal } {
  return options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal };
}

function requireEtag(etag: unknown, operation: string): string {
  if (typeof etag === "string" && etag !== "") return etag;
  throw new FerryError(`The table service answered a source ${operation} without an ETag`, { code: "MissingEtag" });
}

// The Tables error code ("TableNotFound", "UpdateConditionNotSatisfied") is in the OData body;
// RestError.code is often unset.
function serviceCode(e: RestError): string | undefined {
  // core-client puts the parsed body on the response; the PipelineResponse type does not say so.
  const body = (e.response as { parsedBody?: { odataError?: { code?: unknown } } } | undefined)?.parsedBody;
  const code = body?.odataError?.code;
  return typeof code === "string" ? code : e.code;
}

function describeRestError(e: unknown): string {
  if (isRestError(e)) {
    const code = serviceCode(e);
    return `${e.statusCode ?? "no answer"}${code === undefined ? "" : ` ${code}`}`;
  }
  return redactSecrets(e instanceof Error ? e.message : String(e));
}
