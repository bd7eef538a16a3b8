import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Source } from "../core/schemas/source";
import { sourceStates } from "../core/schemas/source";

interface SourceMetrics {
  state: Source["state"];
  lagSeconds?: number;
  bytesCopied: number;
  errors: number;
  cycles: number;
  lastSuccessAt?: number;
  applying: boolean;
}

/** What the daemon knows about its sources, in Prometheus' text format. */
export class SyncMetrics {
  private readonly sources = new Map<string, SourceMetrics>();
  lastTickAt: number | undefined;
  lastStoreError: string | undefined;

  observe(source: Source, now: Date): void {
    const m = this.entry(source.sourceDiskId);
    m.state = source.state;
    m.bytesCopied = source.bytesCopied;
    m.applying = source.applying !== undefined;
    if (source.applied) m.lagSeconds = Math.max(0, (now.getTime() - Date.parse(source.applied.createdAt)) / 1000);
  }

  recordCycle(sourceDiskId: string, ok: boolean, at: Date): void {
    const m = this.entry(sourceDiskId);
    m.cycles++;
    if (ok) m.lastSuccessAt = at.getTime() / 1000;
    else m.errors++;
  }

  private entry(id: string): SourceMetrics {
    let m = this.sources.get(id);
    if (!m) {
      m = { state: "pending", bytesCopied: 0, errors: 0, cycles: 0, applying: false };
      this.sources.set(id, m);
    }
    return m;
  }

  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, rows: [Record<string, string>, number | undefined][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of rows) {
        if (value === undefined) continue;
        const l = Object.entries(labels)
          .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`)
          .join(",");
        lines.push(`${name}{${l}} ${value}`);
      }
    };
    const all = [...this.sources.entries()];
    metric(
      "ferry_sync_lag_seconds",
      "gauge",
      "Age of the recovery point on the staging disk.",
      all.map(([id, m]) => [{ source: id }, m.lagSeconds]),
    );
    metric(
      "ferry_sync_bytes_copied_total",
      "counter",
      "Bytes copied to the staging disk since protection began.",
      all.map(([id, m]) => [{ source: id }, m.bytesCopied]),
    );
    metric(
      "ferry_sync_state",
      "gauge",
      "1 for the state the source is in.",
      all.flatMap(([id, m]) =>
        sourceStates.map((s) => [{ source: id, state: s }, m.state === s ? 1 : 0] as [Record<string, string>, number]),
      ),
    );
    metric(
      "ferry_sync_applying",
      "gauge",
      "1 while a recovery point is being written (the staging disk is torn).",
      all.map(([id, m]) => [{ source: id }, m.applying ? 1 : 0]),
    );
    metric(
      "ferry_sync_cycles_total",
      "counter",
      "Sync cycles run.",
      all.map(([id, m]) => [{ source: id }, m.cycles]),
    );
    metric(
      "ferry_sync_errors_total",
      "counter",
      "Sync cycles that failed.",
      all.map(([id, m]) => [{ source: id }, m.errors]),
    );
    metric(
      "ferry_sync_last_success_timestamp_seconds",
      "gauge",
      "When a cycle last succeeded.",
      all.map(([id, m]) => [{ source: id }, m.lastSuccessAt]),
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
