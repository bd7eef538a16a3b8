import { describe, expect, it } from "vitest";
import { requestSync, transitionSource } from "../../adapters/state/admin";
import { pattern, writeAt } from "../helpers/bytes";
import { useAzurite } from "../helpers/azurite";
import { filesEqual } from "../helpers/compare";
import { useEmulator } from "../helpers/emulator";
import { waitFor } from "../helpers/processes";
import { createSyncEnv, type SyncEnv } from "../helpers/sync-env";

const MiB = 1024 * 1024;

describe("sync: a daemon notices what others do to its source", () => {
  const f = useEmulator();
  const a = useAzurite();

  const row = async (env: SyncEnv) => (await env.store.get(env.sourceDiskId(0)))!;
  const fast = {
    sync: { intervalInSeconds: 43, tickSeconds: 0.05, leaseSeconds: 2, readConcurrency: 2, readSizeMiB: 1 },
  };

  /** A healthy source, and a delta of 12 MiB waiting on the source disk. */
  async function withDelta(seed: number) {
    const env = await createSyncEnv(f, a, [{ lun: 0 }]);
    writeAt(env.sourceDevice(0), 0, pattern(seed, 2 * MiB));
    await env.store.create(env.sourceRow(0));
    const rt = await env.runtime({ overrides: fast });
    expect((await rt.daemon.tick()).get(env.sourceDiskId(0))?.kind).toBe("applied");
    for (let i = 0; i < 12; i++) writeAt(env.sourceDevice(0), (100 + i * 20) * MiB, pattern(seed + i + 1, MiB));
    await requestSync(env.store, env.sourceDiskId(0));
    return { env, rt };
  }

  it("records on a point the sync request that stood when its snapshot was asked for", async () => {
    const { env, rt } = await withDelta(31);
    const asked = new Date(Date.now() + 5);
    await requestSync(env.store, env.sourceDiskId(0), asked);
    expect((await rt.daemon.tick()).get(env.sourceDiskId(0))?.kind).toBe("applied");
    expect((await row(env)).source.applied?.afterSyncRequest).toBe(asked.toISOString());
  });

  it("does not claim for a point a request written after its snapshot was taken", async () => {
    const { env, rt } = await withDelta(41);
    const before = (await row(env)).source.syncRequestedAt;
    // The snapshot is taken, then its record waits 1.5 s: a request written meanwhile came after it.
    const slow = f.emu.faults.add({
      match: { operation: "Snapshots_Get" },
      action: { kind: "delay", ms: 1500 },
      times: 1,
    });
    const cycle = rt.daemon.tick();
    await waitFor(
      async () => f.emu.faults.stats().find((r) => r.id === slow)?.fired === 1,
      "the snapshot's record on its way",
      10_000,
    );
    const later = new Date();
    await requestSync(env.store, env.sourceDiskId(0), later);
    expect((await cycle).get(env.sourceDiskId(0))?.kind).toBe("applied");
    const applied = (await row(env)).source.applied!;
    expect(applied.afterSyncRequest).toBe(before);
    expect(Date.parse(applied.createdAt)).toBeLessThan(later.getTime());
  });

  it("says once, not every tick, that another daemon holds a source", async () => {
    const env = await createSyncEnv(f, a, [{ lun: 0 }]);
    const until = new Date(Date.now() + 60_000).toISOString();
    await env.store.create(env.sourceRow(0, { lease: { owner: "another-appliance", until } }));
    const rt = await env.runtime({ overrides: fast });
    for (let i = 0; i < 5; i++) {
      await requestSync(env.store, env.sourceDiskId(0));
      expect((await rt.daemon.tick()).get(env.sourceDiskId(0))).toBeUndefined();
    }
    const said = env.logLines.filter((l) => l.includes("another daemon holds this source"));
    expect(said).toHaveLength(1);
    expect(JSON.parse(said[0]!)).toMatchObject({ level: 40, holder: "another-appliance" });
    expect((await row(env)).source.state).toBe("pending");
  });

  it("stops writing at once, and says so, when another process takes its row over mid-cycle", async () => {
    const { env, rt } = await withDelta(30);
    const slow = f.emu.faults.add({ match: { operation: "Blob_Download" }, action: { kind: "delay", ms: 200 } });
    const tick = rt.daemon.tick();
    const taken = await waitFor(async () => ((await row(env)).source.applying ? row(env) : undefined), "the apply");
    // What another daemon's claim writes: its lease and the next fencing token.
    const until = new Date(Date.now() + 60_000).toISOString();
    const intruder = { ...taken.source, lease: { owner: "intruder", until }, fence: (taken.source.fence ?? 0) + 1 };
    await env.store.update(taken, intruder);
    const outcome = (await tick).get(env.sourceDiskId(0));
    f.emu.faults.remove(slow);
    expect(outcome?.kind).toBe("fenced");
    expect((outcome as { reason: string }).reason).toMatch(/taken over by "intruder"/);
    expect(env.logLines.some((l) => l.includes('"msg":"fenced: another process took this source over'))).toBe(true);
    // Nothing recorded over the other process's row.
    const after = (await row(env)).source;
    expect(after.lease?.owner).toBe("intruder");
    expect(after.applying).toEqual(taken.source.applying);
    expect(after.applied).toEqual(taken.source.applied);
    expect(after.lastError).toBeUndefined();
  });

  it("retry-backfill during a cycle stops that cycle, and the next cycle backfills from the changed row", async () => {
    const { env, rt } = await withDelta(40);
    const slow = f.emu.faults.add({ match: { operation: "Blob_Download" }, action: { kind: "delay", ms: 200 } });
    const tick = rt.daemon.tick();
    await waitFor(async () => (await row(env)).source.applying, "the apply");
    await transitionSource(env.store, env.sourceDiskId(0), { type: "retryBackfill" });
    expect((await tick).get(env.sourceDiskId(0))?.kind).toBe("fenced");
    f.emu.faults.remove(slow);
    // The retry's row stands: the cycle recorded nothing over it.
    const retried = (await row(env)).source;
    expect(retried.applied).toBeUndefined();
    expect(retried.applying).toBeUndefined();
    const next = (await rt.daemon.tick()).get(env.sourceDiskId(0));
    expect(next).toMatchObject({ kind: "applied", mode: "full", verified: true });
    expect(await filesEqual(env.sourceDevice(0), env.stagingDevice(0))).toBe(true);
  });

  it("reads back a sample of each delta: a disk that does not hold what was written is copied again in full", async () => {
    const { env, rt } = await withDelta(50);
    // Something else writes over every piece right after the daemon wrote it.
    const open = rt.ctx.openDevice;
    let foreign = true;
    rt.ctx.openDevice = async (path, options) => {
      const device = await open(path, options);
      return {
        ...device,
        write: async (offset, data) => {
          await device.write(offset, data);
          if (foreign) writeAt(env.stagingDevice(0), offset, Buffer.alloc(512, 0xee));
        },
      };
    };
    const outcome = (await rt.daemon.tick()).get(env.sourceDiskId(0));
    expect(outcome).toMatchObject({ kind: "failed", error: { code: "SampleMismatch" } });
    const caught = (await row(env)).source;
    expect(caught.applying).toBeDefined();
    expect(caught.applyingMode).toBe("full");
    expect(caught.lastError?.code).toBe("SampleMismatch");
    foreign = false;
    const again = (await rt.daemon.tick()).get(env.sourceDiskId(0));
    expect(again).toMatchObject({ kind: "applied", mode: "full", verified: true });
    expect(await filesEqual(env.sourceDevice(0), env.stagingDevice(0))).toBe(true);
  });
});
