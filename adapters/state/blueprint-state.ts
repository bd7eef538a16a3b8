import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";
import type { TableClient } from "@azure/data-tables";
import { FerryError } from "../../core/errors";
import type { Blueprint } from "../../core/schemas/blueprint";
import {
  MODE_RECORD_KEY,
  ModeRecordSchema,
  overlaySources,
  SOURCES_RECORD_KEY,
  SourcesRecordSchema,
  type BlueprintRunState,
  type BlueprintStateReader,
  type ReadRunStateOptions,
  type SourceSyncStatus,
} from "../../core/schemas/blueprint-state";
import type { z } from "zod";
import { RunStateStore } from "./run-state";
import { SourceStore, sourceStoreClient, type StoredSource } from "./store";
import { normalizeResourceId } from "../../core/resource-id";

// What a blueprint's Pulumi program reads from the state store (see core/schemas/blueprint-state):
// its mode record, its current sources, and the sync of each source disk. Reads only: the program
// signs in with table data rights, and never writes what the runbooks record.

/** Reads a blueprint's run state through `client` (the sources' table, which the runbooks' records share). */
export async function readBlueprintRunState(
  client: TableClient,
  blueprint: Blueprint,
  options: ReadRunStateOptions = {},
): Promise<BlueprintRunState> {
  const runState = new RunStateStore(client);
  const store = SourceStore.existing(client);
  // The blueprint's own disks are read beside its records (one round trip, not two; one query for up to 14 disks); a
  // disk a failback put in place of one (the sources record) is read after them.
  const syncOf = (stored: StoredSource): SourceSyncStatus => {
    const s = stored.source;
    const sync: SourceSyncStatus = { paused: s.paused };
    if (s.applying) sync.applying = s.applying.snapshotId;
    if (s.applied) sync.applied = s.applied.snapshotId;
    return sync;
  };
  const diskIds = (b: Blueprint) =>
    b.rows.flatMap((r) => [r.osDisk.sourceDiskId, ...r.dataDisks.map((d) => d.sourceDiskId)]);
  const [mode, sources, tracked] = await Promise.all([
    runState.get<unknown>(blueprint.name, MODE_RECORD_KEY),
    options.modeOnly ? undefined : runState.get<unknown>(blueprint.name, SOURCES_RECORD_KEY),
    options.modeOnly ? undefined : store.getMany(diskIds(blueprint)),
  ]);
  const state: BlueprintRunState = { sync: {} };
  if (mode) state.mode = parseRecord(ModeRecordSchema, mode.doc, blueprint.name, MODE_RECORD_KEY, client);
  if (options.modeOnly) return state;
  if (sources)
    state.sources = parseRecord(SourcesRecordSchema, sources.doc, blueprint.name, SOURCES_RECORD_KEY, client);
  const current = diskIds(overlaySources(blueprint, state.sources)).map(normalizeResourceId);
  const returned = current.filter((id) => !tracked!.has(id));
  const rows = returned.length ? new Map([...tracked!, ...(await store.getMany(returned))]) : tracked!;
  for (const id of current) {
    const row = rows.get(id);
    if (row) state.sync[id] = syncOf(row);
  }
  return state;
}

function parseRecord<S extends z.ZodType>(
  schema: S,
  doc: unknown,
  blueprint: string,
  key: string,
  client: TableClient,
): z.output<S> {
  const r = schema.safeParse(doc);
  if (r.success) return r.data;
  throw new FerryError(
    `The ${key} record of blueprint ${blueprint} in table "${client.tableName}" is not what ferry writes ` +
      `(${r.error.issues[0]?.message ?? "invalid"}): written by another version of ferry, or edited by hand`,
    { code: "CorruptRecord", details: { blueprint, key } },
  );
}

/** Options of {@link azureBlueprintStateReader}. */
export interface AzureBlueprintStateReaderOptions {
  /** How the program signs in to the table. Default: `DefaultAzureCredential` (the pipeline's identity). */
  credential?: TokenCredential;
}

/**
 * The reader a Pulumi program uses under the real engine: the landing zone's table (its
 * `stateStore` output), signed in with an Entra identity that has table data rights on it.
 */
export function azureBlueprintStateReader(options: AzureBlueprintStateReaderOptions = {}): BlueprintStateReader {
  let credential = options.credential;
  return (blueprint, location, readOptions) => {
    credential ??= new DefaultAzureCredential();
    const client = sourceStoreClient({ url: location.url, tableName: location.tableName, credential });
    return readBlueprintRunState(client, blueprint, readOptions);
  };
}
