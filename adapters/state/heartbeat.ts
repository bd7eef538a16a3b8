import { odata, type TableClient } from "@azure/data-tables";
import { DaemonHeartbeatSchema, type DaemonHeartbeat } from "../../core/schemas/heartbeat";

// The sync daemons' heartbeats: one row per daemon instance in the sources' table, in a partition of
// their own ("daemon": the sources are in "source", the runbooks' records in "run!<blueprint>"), so
// neither the daemon's source listing nor the runbooks' records ever read them. A heartbeat is written
// whole (upsert, no ETag): only its own instance writes it, and the last write is the one that counts.

const partitionKey = "daemon";

/** Options every {@link HeartbeatStore} call takes. */
export interface HeartbeatStoreOperationOptions {
  /** Stops waiting for the request. Default: none. */
  abortSignal?: AbortSignal;
}

/** The daemons' heartbeats in the state store's table (which must exist: the landing zone creates it). */
export class HeartbeatStore {
  constructor(private readonly client: TableClient) {}

  /** Writes `heartbeat` as its instance's row, replacing what was there. */
  async write(heartbeat: DaemonHeartbeat, options: HeartbeatStoreOperationOptions = {}): Promise<void> {
    await this.client.upsertEntity(
      { partitionKey, rowKey: rowKeyOf(heartbeat.instanceId), doc: JSON.stringify(heartbeat) },
      "Replace",
      options.abortSignal ? { abortSignal: options.abortSignal } : {},
    );
  }

  /** Every daemon's last heartbeat. A row that does not parse (edited by hand) is left out: it proves nothing. */
  async list(options: HeartbeatStoreOperationOptions = {}): Promise<DaemonHeartbeat[]> {
    const out: DaemonHeartbeat[] = [];
    for await (const entity of this.client.listEntities<{ doc?: unknown }>({
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
    })) {
      let doc: unknown;
      try {
        doc = JSON.parse(String(entity.doc));
      } catch {
        continue;
      }
      const parsed = DaemonHeartbeatSchema.safeParse(doc);
      if (parsed.success) out.push(parsed.data);
    }
    return out;
  }
}

// Keys must not hold / \ # ? or control characters: percent-encoded, "%" written as "!" (as source keys are).
function rowKeyOf(instanceId: string): string {
  return encodeURIComponent(instanceId)
    .replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll("%", "!");
}
