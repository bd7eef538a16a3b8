import { afterAll, describe, expect, it } from "vitest";
import { requestSync } from "../../adapters/state/admin";
import { pattern, writeAt } from "../helpers/bytes";
import { useAzurite } from "../helpers/azurite";
import { filesEqual } from "../helpers/compare";
import { useEmulator } from "../helpers/emulator";
import { spawnSync as spawn, waitFor, type Spawned } from "../helpers/processes";
import { createSyncEnv, type SyncEnv } from "../helpers/sync-env";

const MiB = 1024 * 1024;

/** Scattered extents: 24 × 4 MiB, so a copy takes many reads. */
function writeScattered(env: SyncEnv, seed: number): void {
  for (let i = 0; i < 24; i++)
    writeAt(env.sourceDevice(0), ((i * 37 + seed) % 1000) * MiB, pattern(seed * 100 + i, 4 * MiB));
}

const spawned: Spawned[] = [];
function spawnSync(args: string[], env: NodeJS.ProcessEnv): Spawned {
  const s = spawn(args, env);
  spawned.push(s);
  return s;
}

describe("sync: crash safety (kill -9) and graceful stop", () => {
  afterAll(async () => {
    // A test that failed half-way leaves its daemon running: it must not outlive the file.
    for (const s of spawned) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
    await Promise.all(spawned.map((s) => s.exited));
    // The daemons' own logs (pino JSON; on stderr for --json commands) never carry a SAS signature
    // or a bearer token.
    const lines = spawned.flatMap((s) => [...s.stdout, ...s.stderr.join("").split("\n")]);
    expect(lines.some((l) => l.includes("applied recovery point"))).toBe(true);
    expect(lines.filter((l) => /sig=|Bearer\s+(?!<redacted>)\S/i.test(l))).toEqual([]);
  });

  const f = useEmulator();
  const a = useAzurite();
  // Slow reads make a copy last long enough to be interrupted in the middle.
  const slowReads = () =>
    f.emu.faults.add({ match: { operation: "Blob_Download" }, action: { kind: "delay", ms: 60 } });

  // Four daemon processes each: on a loaded 2-core machine that takes well over the default minute.
  it(
    "a daemon killed with SIGKILL during backfill and during a delta apply re-applies the same recovery point, and converges",
    { timeout: 240_000 },
    async () => {
      const env = await createSyncEnv(f, a, [{ lun: 0 }]);
      writeScattered(env, 1);
      await env.store.create(env.sourceRow(0));
      const { path, env: procEnv } = env.configFile({
        sync: { intervalInSeconds: 43, tickSeconds: 0.05, leaseSeconds: 10, readConcurrency: 2, readSizeMiB: 1 },
      });
      const slow = slowReads();

      for (const phase of ["backfill", "delta"] as const) {
        if (phase === "delta") {
          writeScattered(env, 2);
          await requestSync(env.store, env.sourceDiskId(0));
        }
        const before = (await env.store.get(env.sourceDiskId(0)))!.source;
        const daemon = spawnSync(["run", "--config", path], procEnv);
        // Wait until the copy is under way: `applying` recorded and some reads served.
        const applying = await waitFor(
          async () => {
            const s = (await env.store.get(env.sourceDiskId(0)))!.source;
            const reads = f.emu.requests.filter((r) => r.operationId === "Blob_Download" && r.status === 206).length;
            return s.applying &&
              s.applying.snapshotId !== before.applied?.snapshotId &&
              reads > (phase === "backfill" ? 3 : 30)
              ? s.applying
              : undefined;
          },
          `the ${phase} to start`,
          120_000,
        );
        daemon.child.kill("SIGKILL");
        expect((await daemon.exited).signal).toBe("SIGKILL");
        const torn = (await env.store.get(env.sourceDiskId(0)))!.source;
        expect(torn.applying?.snapshotId).toBe(applying.snapshotId);
        expect(torn.applied?.snapshotId).toBe(before.applied?.snapshotId);
        expect(await filesEqual(env.sourceDevice(0), env.stagingDevice(0))).toBe(false);

        const again = spawnSync(["once", "--config", path, "--json"], procEnv);
        const done = await again.exited;
        expect(done.code, again.stderr.join("")).toBe(0);
        const after = (await env.store.get(env.sourceDiskId(0)))!.source;
        // The interrupted point is what got applied: `applying` was honoured before anything else.
        expect(after.applied?.snapshotId).toBe(applying.snapshotId);
        expect(after.applying).toBeUndefined();
        expect(after.state).toBe("healthy");
        expect(await filesEqual(env.sourceDevice(0), env.stagingDevice(0))).toBe(true);
        // Snapshots the killed run took or left are cleaned up: only the applied point remains.
        const own: string[] = [];
        for await (const snap of f.azure.compute.snapshots.listByResourceGroup("prod")) {
          if (snap.tags?.["ferry-source"] === env.sourceDiskId(0).toLowerCase()) own.push(snap.id!.toLowerCase());
        }
        expect(own).toEqual([after.applied!.snapshotId.toLowerCase()]);
      }
      f.emu.faults.remove(slow);
    },
  );

  it(
    "SIGTERM stops a copy at a checkpoint, exits 0, and the next run finishes the same point",
    { timeout: 240_000 },
    async () => {
      const env = await createSyncEnv(f, a, [{ lun: 0 }]);
      writeScattered(env, 3);
      await env.store.create(env.sourceRow(0));
      const { path, env: procEnv } = env.configFile({
        shutdownTimeoutInSeconds: 20,
        sync: { intervalInSeconds: 43, tickSeconds: 0.05, leaseSeconds: 10, readConcurrency: 2, readSizeMiB: 1 },
      });
      const slow = slowReads();
      const daemon = spawnSync(["run", "--config", path], procEnv);
      const applying = await waitFor(
        async () => {
          const s = (await env.store.get(env.sourceDiskId(0)))!.source;
          return s.applying &&
            f.emu.requests.filter((r) => r.operationId === "Blob_Download" && r.status === 206).length > 3
            ? s.applying
            : undefined;
        },
        "the backfill to start",
        120_000,
      );
      daemon.child.kill("SIGTERM");
      const exit = await daemon.exited;
      expect(exit.code, daemon.stderr.join("")).toBe(0);
      const stopped = (await env.store.get(env.sourceDiskId(0)))!.source;
      expect(stopped.applying?.snapshotId).toBe(applying.snapshotId);
      f.emu.faults.remove(slow);
      const again = spawnSync(["once", "--config", path], procEnv);
      expect((await again.exited).code, again.stderr.join("")).toBe(0);
      const after = (await env.store.get(env.sourceDiskId(0)))!.source;
      expect(after.applied?.snapshotId).toBe(applying.snapshotId);
      expect(await filesEqual(env.sourceDevice(0), env.stagingDevice(0))).toBe(true);
    },
  );
});
