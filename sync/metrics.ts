import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Source } from "../core/schemas/source";
import { sourceStates } from "../core/schemas/source";
import { nameOf } from "../core/resource-id";
import { BUILD_INFO } from "../core/version";
import type { PointMetricsSink, PointOutcome } from "./points";

interface SourceMetrics {
  labels: SourceLabels;
  rpoTargetSeconds?: number;
  state: Source["state"];
  lagSeconds?: number;
  bytesCopied: number;
  errors: number;
  cycles: number;
  lastSuccessAt?: number;
  applying: boolean;
  /** Recovery points in the DR region: what this process did, and what the store holds (once known). */
  points: { taken: number; skipped: number; failed: number; pruned: number; count?: number; newestAt?: number };
}

/**
 * A source's labels: its blueprint, row and disk role (`os`, `lun-<n>`), short enough to read and alert on. A row
 * enabled before ferry recorded them has no blueprint or row, and its disk's own name as `disk`.
 */
export interface SourceLabels {
  blueprint: string;
  row: string;
  disk: string;
}

/** The labels of `source`: from its protection record, else the source disk's name. */
export function sourceLabels(source: Source): SourceLabels {
  const p = source.protection;
  return p
    ? { blueprint: p.blueprint, row: p.row, disk: p.disk }
    : { blueprint: "", row: "", disk: nameOf(source.sourceDiskId) };
}

/** What the metrics are, for the README and its test: name, type, labels and meaning. */
export const METRICS = {
  ferry_sync_lag_seconds: {
    type: "gauge",
    labels: ["blueprint", "row", "disk"],
    help: "Age of the recovery point on the staging disk, in seconds (the RPO a failover would get now).",
  },
  ferry_sync_rpo_target_seconds: {
    type: "gauge",
    labels: ["blueprint", "row"],
    help: "The blueprint's RPO target (rpoTargetSeconds), in seconds; only for blueprints that set one.",
  },
  ferry_sync_bytes_copied_total: {
    type: "counter",
    labels: ["blueprint", "row", "disk"],
    help: "Bytes copied to the staging disk since protection began.",
  },
  ferry_sync_state: {
    type: "gauge",
    labels: ["blueprint", "row", "disk", "state"],
    help: "1 for the state the source is in, 0 for the others.",
  },
  ferry_sync_applying: {
    type: "gauge",
    labels: ["blueprint", "row", "disk"],
    help: "1 while a recovery point is being written (the staging disk is torn).",
  },
  ferry_sync_cycles_total: {
    type: "counter",
    labels: ["blueprint", "row", "disk"],
    help: "Sync cycles run by this process.",
  },
  ferry_sync_errors_total: {
    type: "counter",
    labels: ["blueprint", "row", "disk"],
    help: "Sync cycles of this process that failed.",
  },
  ferry_sync_last_success_timestamp_seconds: {
    type: "gauge",
    labels: ["blueprint", "row", "disk"],
    help: "When a cycle of this process last succeeded, in seconds since the epoch.",
  },
  ferry_sync_points_taken_total: {
    type: "counter",
    labels: ["blueprint", "row", "disk"],
    help: "Recovery points this process took of the staging disk in the DR region and recorded.",
  },
  ferry_sync_points_skipped_total: {
    type: "counter",
    labels: ["blueprint", "row", "disk"],
    help: "Applied points this process took no recovery point of on purpose (Azure's snapshot rate, no DR group).",
  },
  ferry_sync_points_failed_total: {
    type: "counter",
    labels: ["blueprint", "row", "disk"],
    help: "Recovery points this process failed to take or record (the sync went on).",
  },
  ferry_sync_points_pruned_total: {
    type: "counter",
    labels: ["blueprint", "row", "disk"],
    help: "Recovery points this process deleted by the blueprint's retention.",
  },
  ferry_sync_points: {
    type: "gauge",
    labels: ["blueprint", "row", "disk"],
    help: "Recovery points of the disk kept in the DR region, as last counted.",
  },
  ferry_sync_newest_point_age_seconds: {
    type: "gauge",
    labels: ["blueprint", "row", "disk"],
    help: "Age of the disk's newest recovery point in the DR region (its source snapshot's time), in seconds.",
  },
  ferry_sync_last_tick_timestamp_seconds: {
    type: "gauge",
    labels: [],
    help: "When the daemon last read its sources from the state store, in seconds since the epoch.",
  },
  ferry_sync_heartbeat_timestamp_seconds: {
    type: "gauge",
    labels: [],
    help: "When the daemon last wrote its heartbeat to the state store, in seconds since the epoch.",
  },
  ferry_sync_state_store_up: {
    type: "gauge",
    labels: [],
    help: "1 when the daemon's last read of the state store succeeded, else 0.",
  },
  ferry_sync_info: {
    type: "gauge",
    labels: ["instance_id", "version"],
    help: "Always 1: which daemon instance and version this is.",
  },
} as const satisfies Record<string, { type: "gauge" | "counter"; labels: readonly string[]; help: string }>;

export type MetricName = keyof typeof METRICS;

/** Options of {@link SyncMetrics}. */
export interface SyncMetricsOptions {
  /** The daemon's `instanceId`, in `ferry_sync_info`. Default: none (no info metric). */
  instanceId?: string;
  /** ferry-sync's version, in `ferry_sync_info`. Default: package.json's. */
  version?: string;
  /** The clock the newest point's age is measured by, in epoch milliseconds. Default: Date.now. */
  now?: () => number;
}

/** What the daemon knows about its sources, in Prometheus' text format. */
export class SyncMetrics implements PointMetricsSink {
  private readonly sources = new Map<string, SourceMetrics>();
  /** When the daemon last read its sources (epoch milliseconds). */
  lastTickAt: number | undefined;
  /** When the daemon last wrote its heartbeat to the state store (epoch milliseconds). */
  lastHeartbeatAt: number | undefined;
  lastStoreError: string | undefined;

  constructor(private readonly options: SyncMetricsOptions = {}) {}

  observe(source: Source, now: Date): void {
    const m = this.entry(source);
    m.labels = sourceLabels(source);
    const target = source.protection?.rpoTargetSeconds;
    if (target !== undefined) m.rpoTargetSeconds = target;
    else delete m.rpoTargetSeconds;
    m.state = source.state;
    m.bytesCopied = source.bytesCopied;
    m.applying = source.applying !== undefined;
    if (source.applied) m.lagSeconds = Math.max(0, (now.getTime() - Date.parse(source.applied.createdAt)) / 1000);
  }

  recordCycle(sourceDiskId: string, ok: boolean, at: Date): void {
    const m = this.sources.get(sourceDiskId.toLowerCase());
    if (!m) return;
    m.cycles++;
    if (ok) m.lastSuccessAt = at.getTime() / 1000;
    else m.errors++;
  }

  recordPoint(sourceDiskId: string, outcome: PointOutcome["kind"]): void {
    const m = this.sources.get(sourceDiskId.toLowerCase());
    if (m) m.points[outcome]++;
  }

  recordPruned(sourceDiskId: string, count: number): void {
    const m = this.sources.get(sourceDiskId.toLowerCase());
    if (m) m.points.pruned += count;
  }

  observePoints(sourceDiskId: string, count: number, newestPointTime: string | undefined): void {
    const m = this.sources.get(sourceDiskId.toLowerCase());
    if (!m) return;
    m.points.count = count;
    if (newestPointTime !== undefined) m.points.newestAt = Date.parse(newestPointTime);
    else delete m.points.newestAt;
  }

  private entry(source: Source): SourceMetrics {
    const id = source.sourceDiskId.toLowerCase();
    let m = this.sources.get(id);
    if (!m) {
      m = {
        labels: sourceLabels(source),
        state: "pending",
        bytesCopied: 0,
        errors: 0,
        cycles: 0,
        applying: false,
        points: { taken: 0, skipped: 0, failed: 0, pruned: 0 },
      };
      this.sources.set(id, m);
    }
    return m;
  }

  /**
   * One series per label set: a disk replaced in its blueprint (a failback returns new source disks) leaves its
   * disabled row behind with the same labels, and the live source is the one to show.
   */
  private series(): SourceMetrics[] {
    const byLabels = new Map<string, SourceMetrics>();
    for (const m of this.sources.values()) {
      const k = JSON.stringify(m.labels);
      const other = byLabels.get(k);
      if (!other || (other.state === "disabled" && m.state !== "disabled")) byLabels.set(k, m);
    }
    return [...byLabels.values()];
  }

  render(): string {
    const lines: string[] = [];
    const metric = (name: MetricName, rows: [Record<string, string>, number | undefined][]) => {
      const { type, help } = METRICS[name];
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of rows) {
        if (value === undefined) continue;
        // An empty label is no label in Prometheus: left out.
        const l = Object.entries(labels)
          .filter(([, v]) => v !== "")
          .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
          .join(",");
        lines.push(l ? `${name}{${l}} ${value}` : `${name} ${value}`);
      }
    };
    const all = this.series();
    const per = (value: (m: SourceMetrics) => number | undefined) =>
      all.map((m): [Record<string, string>, number | undefined] => [{ ...m.labels }, value(m)]);
    metric(
      "ferry_sync_lag_seconds",
      per((m) => m.lagSeconds),
    );
    const targets = new Map<string, [Record<string, string>, number]>();
    for (const m of all)
      if (m.rpoTargetSeconds !== undefined && m.labels.blueprint !== "")
        targets.set(`${m.labels.blueprint}\n${m.labels.row}`, [
          { blueprint: m.labels.blueprint, row: m.labels.row },
          m.rpoTargetSeconds,
        ]);
    metric("ferry_sync_rpo_target_seconds", [...targets.values()]);
    metric(
      "ferry_sync_bytes_copied_total",
      per((m) => m.bytesCopied),
    );
    metric(
      "ferry_sync_state",
      all.flatMap((m) =>
        sourceStates.map((s): [Record<string, string>, number] => [{ ...m.labels, state: s }, m.state === s ? 1 : 0]),
      ),
    );
    metric(
      "ferry_sync_applying",
      per((m) => (m.applying ? 1 : 0)),
    );
    metric(
      "ferry_sync_cycles_total",
      per((m) => m.cycles),
    );
    metric(
      "ferry_sync_errors_total",
      per((m) => m.errors),
    );
    metric(
      "ferry_sync_last_success_timestamp_seconds",
      per((m) => m.lastSuccessAt),
    );
    metric(
      "ferry_sync_points_taken_total",
      per((m) => m.points.taken),
    );
    metric(
      "ferry_sync_points_skipped_total",
      per((m) => m.points.skipped),
    );
    metric(
      "ferry_sync_points_failed_total",
      per((m) => m.points.failed),
    );
    metric(
      "ferry_sync_points_pruned_total",
      per((m) => m.points.pruned),
    );
    metric(
      "ferry_sync_points",
      per((m) => m.points.count),
    );
    const nowMs = (this.options.now ?? Date.now)();
    metric(
      "ferry_sync_newest_point_age_seconds",
      per((m) => (m.points.newestAt === undefined ? undefined : Math.max(0, (nowMs - m.points.newestAt) / 1000))),
    );
    const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
    metric("ferry_sync_last_tick_timestamp_seconds", [[{}, seconds(this.lastTickAt)]]);
    metric("ferry_sync_heartbeat_timestamp_seconds", [[{}, seconds(this.lastHeartbeatAt)]]);
    metric("ferry_sync_state_store_up", [
      [{}, this.lastStoreError !== undefined ? 0 : this.lastTickAt !== undefined ? 1 : undefined],
    ]);
    metric(
      "ferry_sync_info",
      this.options.instanceId === undefined
        ? []
        : [[{ instance_id: this.options.instanceId, version: this.options.version ?? BUILD_INFO.version }, 1]],
    );
    return `${lines.join("\n")}\n`;
  }
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  metrics: SyncMetrics;
  /** The daemon is healthy while it ticks: no tick for this long answers 503. In milliseconds. */
  staleAfterInMs: number;
  now?: () => number;
}

/** `/healthz` and `/metrics` over HTTP, on loopback unless configured otherwise. */
export async function startMetricsServer(
  options: MetricsServerOptions,
): Promise<{ port: number; close(): Promise<void> }> {
  const now = options.now ?? Date.now;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/metrics") {
      const body = options.metrics.render();
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (req.method === "GET" && path === "/healthz") {
      const last = options.metrics.lastTickAt;
      const fresh = last !== undefined && now() - last < options.staleAfterInMs;
      const ok = fresh && options.metrics.lastStoreError === undefined;
      const body = JSON.stringify({
        status: ok ? "ok" : "unhealthy",
        lastTickAt: last === undefined ? null : new Date(last).toISOString(),
        ...(options.metrics.lastStoreError ? { stateStore: options.metrics.lastStoreError } : {}),
      });
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("GET /healthz or /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
