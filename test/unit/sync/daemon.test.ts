import { readFileSync } from "node:fs";
import { request } from "node:http";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../core/logger";
import type { DaemonHeartbeat } from "../../../core/schemas/heartbeat";
import type { Source } from "../../../core/schemas/source";
import type { SyncContext } from "../../../sync/cycle";
import { SyncDaemon } from "../../../sync/daemon";
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from "../../../sync/launch";
import { startMetricsServer, SyncMetrics } from "../../../sync/metrics";
import { ProgressPrinter } from "../../../sync/progress";

const disk = (name: string) =>
  `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/prod/providers/Microsoft.Compute/disks/${name}`;
const point = (at: string) => ({
  snapshotId: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/prod/providers/Microsoft.Compute/snapshots/s-${at}`,
  sourceDiskId: disk("d1"),
  createdAt: at,
});

function source(overrides: Partial<Source> = {}): Source {
  return {
    sourceDiskId: disk("d1"),
    stagingDiskId: disk("d1-staging"),
    applianceLun: 0,
    applianceId:
      "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/dr/providers/Microsoft.Compute/virtualMachines/app",
    state: "healthy",
    prepare: "empty",
    bytesCopied: 0,
    sourceSizeBytes: 1024,
    paused: false,
    consecutiveFailures: 0,
    updatedAt: "2026-01-01T00:00:00.000Z",
    ...overrides,
  };
}

/** The protection record of a disk of row web1 of blueprint web. */
const web = (role: string) => ({ blueprint: "web", row: "web1", disk: role });

const daemon = new SyncDaemon({ logger: createLogger({ level: "silent" }) } as unknown as SyncContext, {
  applianceId: "x",
  intervalInMs: 60_000,
  verifyIntervalInMs: 3_600_000,
  maxParallelSources: 4,
  tickInMs: 1000,
});
const T = Date.parse("2026-01-01T01:00:00.000Z");

describe("when a source is due", () => {
  it("never when disabled, paused or degraded (unless a copy was left half-done)", () => {
    expect(daemon.due(source({ state: "disabled" }), T)).toBe(false);
    expect(daemon.due(source({ paused: true, desired: point("2026-01-01T00:00:00.000Z") }), T)).toBe(false);
    expect(daemon.due(source({ state: "degraded" }), T)).toBe(false);
    expect(daemon.due(source({ paused: true, applying: point("2026-01-01T00:59:59.000Z") }), T)).toBe(true);
  });

  it("once more when paused but still leased by this daemon, so that the cycle gives the lease up", () => {
    const owned = new SyncDaemon(
      { logger: createLogger({ level: "silent" }), owner: "appliance-1" } as unknown as SyncContext,
      {
        applianceId: "x",
        intervalInMs: 60_000,
        verifyIntervalInMs: 3_600_000,
        maxParallelSources: 4,
        tickInMs: 1000,
      },
    );
    const lease = (owner: string) => ({ owner, until: "2026-01-01T01:05:00.000Z" });
    expect(owned.due(source({ paused: true, lease: lease("appliance-1") }), T)).toBe(true);
    expect(owned.due(source({ paused: true, lease: lease("appliance-2") }), T)).toBe(false);
    expect(owned.due(source({ paused: true }), T)).toBe(false);
  });

  it("never while another daemon's lease lives, even with a copy half-done; again once it ended", () => {
    const half = { applying: point("2026-01-01T00:59:59.000Z") };
    const lease = (until: string) => ({ lease: { owner: "appliance-2", until } });
    expect(daemon.due(source({ ...half, ...lease("2026-01-01T01:00:01.000Z") }), T)).toBe(false);
    expect(daemon.due(source({ state: "pending", ...lease("2026-01-01T01:00:01.000Z") }), T)).toBe(false);
    expect(daemon.due(source({ ...half, ...lease("2026-01-01T01:00:00.000Z") }), T)).toBe(true);
  });

  it("at once when pending, when a copy is half-done, or when a sync was asked for", () => {
    expect(daemon.due(source({ state: "pending" }), T)).toBe(true);
    expect(daemon.due(source({ applying: point("2026-01-01T00:59:59.000Z") }), T)).toBe(true);
    expect(
      daemon.due(
        source({
          desired: point("2026-01-01T00:59:59.000Z"),
          lastVerifiedAt: "2026-01-01T00:59:00.000Z",
          syncRequestedAt: "2026-01-01T00:59:59.500Z",
        }),
        T,
      ),
    ).toBe(true);
  });

  it("one interval after the last snapshot, longer after failures in a row", () => {
    const fresh = { lastVerifiedAt: "2026-01-01T00:59:00.000Z" };
    expect(daemon.due(source({ ...fresh, desired: point("2026-01-01T00:59:30.000Z") }), T)).toBe(false);
    expect(daemon.due(source({ ...fresh, desired: point("2026-01-01T00:59:00.000Z") }), T)).toBe(true);
    // Three failures: four intervals.
    expect(
      daemon.due(source({ ...fresh, desired: point("2026-01-01T00:57:30.000Z"), consecutiveFailures: 3 }), T),
    ).toBe(false);
    expect(
      daemon.due(source({ ...fresh, desired: point("2026-01-01T00:55:59.000Z"), consecutiveFailures: 3 }), T),
    ).toBe(true);
  });

  it("for a verification when a healthy source was last verified an interval ago", () => {
    const recent = point("2026-01-01T00:59:30.000Z");
    expect(daemon.due(source({ desired: recent, lastVerifiedAt: "2025-12-31T23:59:00.000Z" }), T)).toBe("verify");
    expect(daemon.due(source({ desired: recent, lastVerifiedAt: "2026-01-01T00:30:00.000Z" }), T)).toBe(false);
  });
});

describe("metrics and health", () => {
  it("renders per-source lag, bytes, state and errors in Prometheus' text format", () => {
    const m = new SyncMetrics();
    m.observe(
      source({ applied: point("2026-01-01T00:58:00.000Z"), bytesCopied: 4096, protection: web("os") }),
      new Date(T),
    );
    m.recordCycle(disk("d1"), true, new Date(T));
    m.recordCycle(disk("d1"), false, new Date(T));
    const text = m.render();
    expect(text).toContain('ferry_sync_lag_seconds{blueprint="web",row="web1",disk="os"} 120');
    expect(text).toContain('ferry_sync_bytes_copied_total{blueprint="web",row="web1",disk="os"} 4096');
    expect(text).toContain('ferry_sync_state{blueprint="web",row="web1",disk="os",state="healthy"} 1');
    expect(text).toContain('ferry_sync_state{blueprint="web",row="web1",disk="os",state="degraded"} 0');
    expect(text).toContain('ferry_sync_errors_total{blueprint="web",row="web1",disk="os"} 1');
    expect(text).toContain("# TYPE ferry_sync_cycles_total counter");
  });

  it("never puts an ARM id in a label", () => {
    const m = new SyncMetrics({ instanceId: "appliance-1" });
    m.observe(source({ protection: web("lun-2"), applied: point("2026-01-01T00:58:00.000Z") }), new Date(T));
    m.lastTickAt = T;
    expect(m.render()).not.toContain("/subscriptions/");
  });

  it("labels a source enabled before protection records with its disk's name", () => {
    const m = new SyncMetrics();
    m.observe(source({ applied: point("2026-01-01T00:58:00.000Z") }), new Date(T));
    expect(m.render()).toContain('ferry_sync_lag_seconds{disk="d1"} 120');
  });

  it("exports the RPO target once per blueprint row, and none for a blueprint without one", () => {
    const m = new SyncMetrics();
    m.observe(source({ protection: { ...web("os"), rpoTargetSeconds: 300 } }), new Date(T));
    m.observe(
      source({ sourceDiskId: disk("d2"), protection: { ...web("lun-0"), rpoTargetSeconds: 300 } }),
      new Date(T),
    );
    m.observe(
      source({ sourceDiskId: disk("d3"), protection: { blueprint: "db", row: "db1", disk: "os" } }),
      new Date(T),
    );
    const lines = m.render().split("\n");
    expect(lines.filter((l) => l.startsWith("ferry_sync_rpo_target_seconds"))).toEqual([
      'ferry_sync_rpo_target_seconds{blueprint="web",row="web1"} 300',
    ]);
  });

  it("shows the live source when a disabled one has the same labels", () => {
    const m = new SyncMetrics();
    m.observe(source({ state: "disabled", protection: web("os"), bytesCopied: 1 }), new Date(T));
    m.observe(source({ sourceDiskId: disk("d1-returned"), protection: web("os"), bytesCopied: 2 }), new Date(T));
    const lines = m.render().split("\n");
    expect(lines.filter((l) => l.startsWith("ferry_sync_bytes_copied_total{"))).toEqual([
      'ferry_sync_bytes_copied_total{blueprint="web",row="web1",disk="os"} 2',
    ]);
  });

  it("exports the last tick, the last heartbeat, the state store's reachability and the instance", () => {
    const m = new SyncMetrics({ instanceId: "appliance-1", version: "1.2.3" });
    m.lastTickAt = T;
    m.lastHeartbeatAt = T + 500;
    let text = m.render();
    expect(text).toContain(`ferry_sync_last_tick_timestamp_seconds ${T / 1000}`);
    expect(text).toContain(`ferry_sync_heartbeat_timestamp_seconds ${(T + 500) / 1000}`);
    expect(text).toContain("ferry_sync_state_store_up 1");
    expect(text).toContain('ferry_sync_info{instance_id="appliance-1",version="1.2.3"} 1');
    m.lastStoreError = "connection refused";
    text = m.render();
    expect(text).toContain("ferry_sync_state_store_up 0");
  });

  it("answers /healthz 200 while the daemon ticks and 503 when it stalled or lost the state store", async () => {
    const m = new SyncMetrics();
    let now = 1_000_000;
    const server = await startMetricsServer({
      host: "127.0.0.1",
      port: 0,
      metrics: m,
      staleAfterInMs: 30_000,
      now: () => now,
    });
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        request({ host: "127.0.0.1", port: server.port, path }, (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        })
          .on("error", reject)
          .end();
      });
    try {
      expect((await get("/healthz")).status).toBe(503);
      m.lastTickAt = now - 1000;
      expect(await get("/healthz")).toMatchObject({ status: 200 });
      m.lastStoreError = "connection refused";
      expect((await get("/healthz")).body).toContain("connection refused");
      m.lastStoreError = undefined;
      now += 60_000;
      expect((await get("/healthz")).status).toBe(503);
      expect((await get("/metrics")).body).toContain("# HELP ferry_sync_lag_seconds");
      expect((await get("/nope")).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe("terminal progress", () => {
  it("prints percent, rate and ETA per source on one line, rewritten in place", () => {
    let out = "";
    const stream = new Writable({
      write: (c: Buffer, _e, done) => ((out += c.toString()), done()),
    }) as unknown as NodeJS.WriteStream;
    let t = 0;
    const p = new ProgressPrinter(
      stream,
      (id) => id,
      () => t,
    );
    p.update("lun0", { bytesDone: 0, bytesTotal: 100 * 1024 * 1024 });
    t = 1000;
    p.update("lun0", { bytesDone: 50 * 1024 * 1024, bytesTotal: 100 * 1024 * 1024 });
    expect(out).toMatch(/\rlun0\s+50\.0%\s+50\.0\/100\.0 MiB\s+50\.0 MiB\/s\s+ETA 1 s/);
    t = 2000;
    p.update("lun0", { bytesDone: 100 * 1024 * 1024, bytesTotal: 100 * 1024 * 1024 });
    expect(out.endsWith("\n")).toBe(true);
  });
});

describe("how the daemon is launched", () => {
  it("the systemd unit starts the bundle with the flags and environment the memory benchmark measured", () => {
    const unit = readFileSync("sync/ferry-sync.service", "utf8");
    const exec = unit.split("\n").find((l) => l.startsWith("ExecStart="))!;
    for (const flag of DAEMON_NODE_FLAGS) expect(exec).toContain(flag);
    expect(exec).toMatch(/ferry-sync\.mjs run --config /);
    for (const [k, v] of Object.entries(DAEMON_ENV)) expect(unit).toContain(`Environment=${k}=${v}`);
    // SIGTERM's bound (30 s by default) fits in systemd's stop timeout.
    expect(Number(/TimeoutStopSec=(\d+)/.exec(unit)![1])).toBeGreaterThan(30);
  });

  it("the systemd unit's documentation is the file the README's install steps put on the appliance", () => {
    const unit = readFileSync("sync/ferry-sync.service", "utf8");
    const doc = /^Documentation=file:(\S+)$/m.exec(unit)?.[1];
    expect(doc).toBeDefined();
    expect(readFileSync("sync/README.md", "utf8")).toContain(`install -m 0644 sync/README.md ${doc}`);
  });
});

describe("heartbeat", () => {
  /** A daemon on a state store with no sources (or one that refuses), whose heartbeats land in `beats`. */
  function beating(options: { storeDown?: boolean } = {}) {
    const beats: DaemonHeartbeat[] = [];
    const ctx = {
      logger: createLogger({ level: "silent" }),
      owner: "appliance-1",
      now: () => new Date(T),
      store: {
        list: () => (options.storeDown ? Promise.reject(new Error("connection refused")) : Promise.resolve([])),
      },
    } as unknown as SyncContext;
    const d = new SyncDaemon(ctx, {
      applianceId: source().applianceId,
      intervalInMs: 60_000,
      verifyIntervalInMs: 0,
      maxParallelSources: 1,
      tickInMs: 1000,
      heartbeat: {
        store: { write: (hb) => (beats.push(hb), Promise.resolve()) },
        intervalInMs: 15_000,
        instanceId: "appliance-1",
        host: "vm1",
        pid: 4242,
        version: "1.2.3",
      },
    });
    return { d, beats };
  }

  it("is written at a tick that read the state store, at most once per interval", async () => {
    const { d, beats } = beating();
    await d.tick();
    await d.tick();
    expect(beats).toHaveLength(1);
    expect(beats[0]).toMatchObject({
      instanceId: "appliance-1",
      applianceId: source().applianceId,
      host: "vm1",
      pid: 4242,
      version: "1.2.3",
      at: new Date(T).toISOString(),
      intervalSeconds: 15,
    });
    expect(beats[0]!.lastTickAt).toBeDefined();
    expect(beats[0]!.stoppedAt).toBeUndefined();
  });

  it("is not written by a tick that could not read the state store", async () => {
    const { d, beats } = beating({ storeDown: true });
    await d.tick();
    expect(beats).toEqual([]);
  });

  it("says the daemon stopped when it stops", async () => {
    const { d, beats } = beating();
    await d.tick();
    await d.stop(1000);
    expect(beats.at(-1)).toMatchObject({ instanceId: "appliance-1", stoppedAt: new Date(T).toISOString() });
  });
});
