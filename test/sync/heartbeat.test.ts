import { readFileSync } from "node:fs";
import { TableClient } from "@azure/data-tables";
import { load } from "js-yaml";
import { afterAll, describe, expect, it } from "vitest";
import { HeartbeatStore } from "../../adapters/state/heartbeat";
import type { SourceProtection } from "../../core/schemas/source";
import { sourceLine } from "../../runbooks/sources";
import { METRICS } from "../../sync/metrics";
import { useAzurite } from "../helpers/azurite";
import { useEmulator } from "../helpers/emulator";
import { spawnSync as spawn, waitFor, type Spawned } from "../helpers/processes";
import { createSyncEnv, type SyncEnv } from "../helpers/sync-env";

const spawned: Spawned[] = [];
function spawnSync(args: string[], env: NodeJS.ProcessEnv): Spawned {
  const s = spawn(args, env);
  spawned.push(s);
  return s;
}

const protection: SourceProtection = { blueprint: "web", row: "web1", disk: "lun-0", rpoTargetSeconds: 300 };

/** The alert rules of sync/README.md: its one YAML block. */
function readmeAlertRules(): { alert: string; expr: string }[] {
  const readme = readFileSync("sync/README.md", "utf8");
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  expect(blocks).toHaveLength(1);
  const doc = load(blocks[0]!) as { groups: { rules: { alert: string; expr: string }[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

describe("sync: heartbeat and metrics of a running daemon", () => {
  afterAll(async () => {
    for (const s of spawned) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
    await Promise.all(spawned.map((s) => s.exited));
  });

  const f = useEmulator();
  const a = useAzurite();

  /** A protected source of a new appliance, its daemon running as a process with a fast heartbeat. */
  async function running(metrics = false): Promise<{ env: SyncEnv; daemon: Spawned; heartbeats: HeartbeatStore }> {
    const env = await createSyncEnv(f, a, [{ lun: 0 }]);
    await env.store.create(env.sourceRow(0, { protection }));
    const { path, env: procEnv } = env.configFile({
      sync: { intervalInSeconds: 43, tickSeconds: 0.05, leaseSeconds: 10, heartbeatSeconds: 0.2 },
      metrics: { enabled: metrics, port: 0 },
    });
    const daemon = spawnSync(["run", "--config", path], procEnv);
    const heartbeats = new HeartbeatStore(
      TableClient.fromConnectionString(env.connectionString, env.tableName, { allowInsecureConnection: true }),
    );
    return { env, daemon, heartbeats };
  }

  /** The source's health as `ferry sources list` shows it, with a 1 s threshold. */
  async function health(env: SyncEnv, heartbeats: HeartbeatStore) {
    const s = (await env.store.get(env.sourceDiskId(0)))!.source;
    return sourceLine(s, { now: new Date(), heartbeats: await heartbeats.list(), staleDaemonSeconds: 1 });
  }

  it(
    "a live daemon's sources show their state; killed with SIGKILL, they show stale",
    { timeout: 120_000 },
    async () => {
      const { env, daemon, heartbeats } = await running();
      const live = await waitFor(
        async () => {
          const l = await health(env, heartbeats);
          return l.state === "healthy" ? l : undefined;
        },
        "the source healthy",
        60_000,
      );
      expect(live.health).toBe("healthy");
      expect(live.daemon).toMatchObject({ instanceId: env.config().instanceId });
      daemon.child.kill("SIGKILL");
      await daemon.exited;
      const dead = await waitFor(
        async () => {
          const l = await health(env, heartbeats);
          return l.health === "stale" ? l : undefined;
        },
        "the source stale",
        10_000,
      );
      expect(dead.state).toBe("healthy");
      expect(dead.daemon?.stoppedAt).toBeUndefined();
    },
  );

  it("a daemon stopped with SIGTERM says so: its sources show stale at once", { timeout: 120_000 }, async () => {
    const { env, daemon, heartbeats } = await running();
    await waitFor(async () => (await health(env, heartbeats)).daemon ?? undefined, "a first heartbeat", 60_000);
    daemon.child.kill("SIGTERM");
    expect((await daemon.exited).code).toBe(0);
    const l = await health(env, heartbeats);
    expect(l.health).toBe("stale");
    expect(l.daemon?.stoppedAt).toBeDefined();
  });

  it(
    "/metrics carries short labels, the RPO target, the heartbeat, and every metric the README's alert rules name",
    { timeout: 120_000 },
    async () => {
      const { env, daemon } = await running(true);
      const port = await waitFor(async () => {
        const started = daemon.stdout.find((l) => l.includes("ferry-sync started"));
        return started ? (JSON.parse(started) as { metricsPort: number }).metricsPort : undefined;
      }, "the daemon to start");
      await waitFor(
        async () => (await env.store.get(env.sourceDiskId(0)))!.source.state === "healthy",
        "the source healthy",
        60_000,
      );
      const text = await waitFor(async () => {
        const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return /ferry_sync_lag_seconds\{/.test(t) && /ferry_sync_heartbeat_timestamp_seconds \d/.test(t)
          ? t
          : undefined;
      }, "the lag and the heartbeat in /metrics");
      expect(text).toMatch(/^ferry_sync_lag_seconds\{blueprint="web",row="web1",disk="lun-0"\} \d/m);
      expect(text).toMatch(/^ferry_sync_rpo_target_seconds\{blueprint="web",row="web1"\} 300$/m);
      expect(text).not.toContain("/subscriptions/");
      const exported = new Set([...text.matchAll(/^# TYPE (\w+) /gm)].map((m) => m[1]));
      const rules = readmeAlertRules();
      expect(rules.map((r) => r.alert)).toEqual(
        expect.arrayContaining(["FerryRpoOverTarget", "FerrySyncDown", "FerrySyncNoHeartbeat"]),
      );
      const named = new Set(rules.flatMap((r) => [...r.expr.matchAll(/\bferry_sync_\w+/g)].map((m) => m[0])));
      expect(named.size).toBeGreaterThan(0);
      for (const name of named) expect(exported, `${name} in /metrics`).toContain(name);
      // Every exported metric is in the README's table.
      const readme = readFileSync("sync/README.md", "utf8");
      for (const name of Object.keys(METRICS)) expect(readme).toContain(`| \`${name}\` |`);
      daemon.child.kill("SIGTERM");
      await daemon.exited;
    },
  );
});
