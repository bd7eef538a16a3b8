import { statSync } from "node:fs";
import { realpathSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { requestSync, setPaused } from "../../adapters/state/admin";
import { Row } from "../../sync/row";
import { pattern, readAt, writeAt } from "../helpers/bytes";
import { useAzurite } from "../helpers/azurite";
import { filesEqual } from "../helpers/compare";
import { useEmulator } from "../helpers/emulator";
import { spawnSync, waitFor } from "../helpers/processes";
import { createSyncEnv, DR, type SyncEnv } from "../helpers/sync-env";

const MiB = 1024 * 1024;

async function state(env: SyncEnv, lun = 0) {
  return (await env.store.get(env.sourceDiskId(lun)))!.source;
}

describe("sync: faults, rules and refusals", () => {
  const f = useEmulator();
  const a = useAzurite();
  const envs: SyncEnv[] = [];
  const countSnapshots = async () => {
    let n = 0;
    for await (const _ of f.azure.compute.snapshots.list()) n++;
    return n;
  };
  /** One source with 2 MiB of data, backfilled by a daemon that is handed back. */
  const backfilled = async (seed: number) => {
    const env = await make([{ lun: 0 }]);
    writeAt(env.sourceDevice(0), 3 * MiB, pattern(seed, 2 * MiB));
    await env.store.create(env.sourceRow(0));
    const rt = await env.runtime({ overrides: { sync: { intervalInSeconds: 43 } } });
    expect((await rt.daemon.tick()).get(env.sourceDiskId(0))?.kind).toBe("applied");
    return { env, rt };
  };
  const make = async (luns: Parameters<typeof createSyncEnv>[2]) => {
    const env = await createSyncEnv(f, a, luns);
    envs.push(env);
    return env;
  };

  it("keeps the staging disk byte-equal through throttling, 5xx, a refused SAS and dropped connections", async () => {
    const env = await make([{ lun: 0 }]);
    writeAt(env.sourceDevice(0), 10 * MiB, pattern(1, 8 * MiB));
    await env.store.create(env.sourceRow(0));
    const rt = await env.runtime({
      overrides: { sync: { intervalInSeconds: 43, readSizeMiB: 1, readConcurrency: 4 } },
    });
    const rules = [
      f.emu.faults.add({
        match: { operation: "Snapshots_CreateOrUpdate" },
        action: { kind: "throttle", retryAfterSeconds: 1, retryAfterMs: 20 },
        times: 2,
      }),
      f.emu.faults.add({ match: { operation: "Disks_Get" }, action: { kind: "error", status: 503 }, times: 1 }),
      f.emu.faults.add({
        match: { operation: "Snapshots_GrantAccess" },
        action: { kind: "throttle", retryAfterMs: 10 },
        times: 1,
      }),
      f.emu.faults.add({
        match: { operation: "Blob_Download" },
        action: { kind: "drop", afterBytes: 100_000 },
        times: 3,
      }),
      f.emu.faults.add({ match: { operation: "Blob_Download" }, action: { kind: "drop" }, times: 2 }),
      f.emu.faults.add({
        match: { operation: "Blob_Download" },
        action: { kind: "error", status: 403, code: "AuthenticationFailed" },
        times: 1,
      }),
    ];
    const grantsBefore = f.emu.requests.filter((r) => r.operationId === "Snapshots_GrantAccess").length;
    const out = await rt.daemon.tick();
    expect(out.get(env.sourceDiskId(0))?.kind).toBe("applied");
    expect(await filesEqual(env.sourceDevice(0), env.stagingDevice(0))).toBe(true);
    const fired = f.emu.faults.stats().filter((s) => rules.includes(s.id));
    expect(fired.every((s) => s.fired > 0)).toBe(true);
    // The refused SAS was granted again.
    expect(
      f.emu.requests.filter((r) => r.operationId === "Snapshots_GrantAccess").length - grantsBefore,
    ).toBeGreaterThanOrEqual(3);

    // A delta through dropped connections too.
    writeAt(env.sourceDevice(0), 500 * MiB, pattern(2, 3 * MiB));
    writeAt(env.sourceDevice(0), 12 * MiB, Buffer.alloc(MiB));
    await requestSync(env.store, env.sourceDiskId(0));
    f.emu.faults.add({ match: { operation: "Blob_Download" }, action: { kind: "drop", afterBytes: 4096 }, times: 2 });
    const again = await rt.daemon.tick();
    expect(again.get(env.sourceDiskId(0))?.kind).toBe("applied");
    expect(await filesEqual(env.sourceDevice(0), env.stagingDevice(0))).toBe(true);
    for (const r of rules) f.emu.faults.remove(r);
  });

  it("gives up a cycle paused while its snapshot was being taken: nothing applied, the snapshot deleted, the lease released", async () => {
    const { env, rt } = await backfilled(11);
    const before = await state(env);
    const snapshotsBefore = await countSnapshots();

    writeAt(env.sourceDevice(0), 40 * MiB, pattern(12, MiB));
    await requestSync(env.store, env.sourceDiskId(0));
    const slow = f.emu.faults.add({
      match: { operation: "Snapshots_CreateOrUpdate" },
      action: { kind: "delay", ms: 400 },
      times: 1,
    });
    const tick = rt.daemon.tick();
    await new Promise((r) => setTimeout(r, 150));
    await setPaused(env.store, env.sourceDiskId(0), true);
    const outcome = (await tick).get(env.sourceDiskId(0));
    expect(outcome).toMatchObject({
      kind: "skipped",
      reason: expect.stringMatching(/Paused by a runbook before the apply began/),
    });
    expect(f.emu.faults.stats().find((x) => x.id === slow)?.fired).toBe(1);
    const after = await state(env);
    expect(after.applying).toBeUndefined();
    expect(after.applied).toEqual(before.applied);
    expect(after.lease).toBeUndefined();
    expect(after.consecutiveFailures).toBe(0);
    expect(await countSnapshots()).toBe(snapshotsBefore);

    // Unpaused, the next cycle takes the writes over.
    await setPaused(env.store, env.sourceDiskId(0), false);
    expect((await rt.daemon.tick()).get(env.sourceDiskId(0))?.kind).toBe("applied");
    expect(await filesEqual(env.sourceDevice(0), env.stagingDevice(0))).toBe(true);
  });

  it("refuses to mark a point applying over a pause written after the cycle last read the row", async () => {
    const env = await make([{ lun: 0 }]);
    await env.store.create(env.sourceRow(0));
    const id = env.sourceDiskId(0);
    const row = new Row((await env.store.get(id))!, env.store, "appliance-x", 30_000, () => new Date());
    await row.begin();
    // The pause lands after the cycle's last read: the cycle's write is conditional on a stale ETag.
    await setPaused(env.store, id, true);
    const point = {
      snapshotId: id.replace(/\/disks\//i, "/snapshots/") + "-snap",
      sourceDiskId: id,
      createdAt: new Date().toISOString(),
    };
    await expect(row.save({ applying: point, applyingMode: "delta" }, { refuseIfPaused: true })).rejects.toMatchObject({
      code: "PausedBeforeApply",
    });
    const after = await state(env);
    expect(after.paused).toBe(true);
    expect(after.applying).toBeUndefined();
  });

  it("a point marked applying before the pause stays applying under it: the failover waits for its apply", async () => {
    const env = await make([{ lun: 0 }]);
    await env.store.create(env.sourceRow(0));
    const id = env.sourceDiskId(0);
    const row = new Row((await env.store.get(id))!, env.store, "appliance-x", 30_000, () => new Date());
    await row.begin();
    const point = {
      snapshotId: id.replace(/\/disks\//i, "/snapshots/") + "-snap",
      sourceDiskId: id,
      createdAt: new Date().toISOString(),
    };
    await row.save({ applying: point, applyingMode: "delta" }, { refuseIfPaused: true });
    await setPaused(env.store, id, true);
    const after = await state(env);
    expect(after.paused).toBe(true);
    expect(after.applying?.snapshotId).toBe(point.snapshotId);
  });

  it("paused during a delta's apply, gives the lease up as soon as the point is applied, before its clean-up", async () => {
    const { env, rt } = await backfilled(13);
    while ((await state(env)).state !== "healthy") await rt.daemon.tick({ force: true });

    writeAt(env.sourceDevice(0), 60 * MiB, pattern(14, MiB));
    await requestSync(env.store, env.sourceDiskId(0));
    f.emu.faults.add({ match: { operation: "Blob_Download" }, action: { kind: "delay", ms: 300 }, times: 1 });
    const slowDelete = f.emu.faults.add({
      match: { operation: "Snapshots_Delete" },
      action: { kind: "delay", ms: 1500 },
      times: 1,
    });
    let ended = false;
    const tick = rt.daemon.tick().finally(() => (ended = true));
    await waitFor(async () => (await state(env)).applying, "the apply to begin");
    await setPaused(env.store, env.sourceDiskId(0), true);
    let boundary: Awaited<ReturnType<typeof state>> | undefined;
    while (!ended) {
      const s = await state(env);
      if (!s.applying && !s.lease) {
        boundary = s;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    // The failover's boundary came while the daemon was still deleting the old snapshot.
    expect(boundary?.applied?.snapshotId).toBeDefined();
    expect(ended).toBe(false);
    expect((await tick).get(env.sourceDiskId(0))?.kind).toBe("applied");
    expect(f.emu.faults.stats().find((x) => x.id === slowDelete)?.fired).toBe(1);
    expect((await state(env)).lease).toBeUndefined();
    expect(await filesEqual(env.sourceDevice(0), env.stagingDevice(0))).toBe(true);
  });

  it("two daemons on the same source: one writes, the other refuses while it holds the source", async () => {
    const env = await make([{ lun: 0 }]);
    writeAt(env.sourceDevice(0), 0, pattern(3, 4 * MiB));
    await env.store.create(env.sourceRow(0));
    const first = await env.runtime({ overrides: { instanceId: "appliance-a" } });
    const second = await env.runtime({ overrides: { instanceId: "appliance-b" } });
    const [x, y] = await Promise.all([first.daemon.tick(), second.daemon.tick()]);
    const kinds = [x.get(env.sourceDiskId(0))?.kind, y.get(env.sourceDiskId(0))?.kind];
    // The loser either found the row taken (skipped) or saw the lease and did not start at all.
    expect(kinds.filter((k) => k === "applied")).toHaveLength(1);
    expect(kinds.filter((k) => k !== "applied").every((k) => k === "skipped" || k === undefined)).toBe(true);
    expect(await filesEqual(env.sourceDevice(0), env.stagingDevice(0))).toBe(true);
    // While another instance's lease lives, a daemon refuses even when told to sync now.
    const held = (await env.store.get(env.sourceDiskId(0)))!;
    const until = new Date(Date.now() + 60_000).toISOString();
    await env.store.update(held, { ...held.source, lease: { owner: "appliance-c", until } });
    const refused = await first.daemon.tick({ force: true });
    expect(refused.get(env.sourceDiskId(0))).toMatchObject({ kind: "skipped" });
    expect((refused.get(env.sourceDiskId(0)) as { reason: string }).reason).toMatch(/leased by "appliance-c"/);
  });

  it("gives the lease up when a cycle ends, so another daemon takes the source over at once", async () => {
    const env = await make([{ lun: 0 }]);
    writeAt(env.sourceDevice(0), 0, pattern(4, 2 * MiB));
    await env.store.create(env.sourceRow(0));
    // A lease far longer than the test: a takeover that waited for it would time out.
    const long = { sync: { intervalInSeconds: 43, leaseSeconds: 3600 } };
    const first = await env.runtime({ overrides: { instanceId: "appliance-a", ...long } });
    const second = await env.runtime({ overrides: { instanceId: "appliance-b", ...long } });
    expect((await first.daemon.tick()).get(env.sourceDiskId(0))?.kind).toBe("applied");
    expect((await state(env)).lease).toBeUndefined();
    writeAt(env.sourceDevice(0), 8 * MiB, pattern(5, MiB));
    await requestSync(env.store, env.sourceDiskId(0));
    const taken = (await second.daemon.tick()).get(env.sourceDiskId(0));
    expect(taken).toMatchObject({ kind: "applied", mode: "delta" });
    expect(await filesEqual(env.sourceDevice(0), env.stagingDevice(0))).toBe(true);
  });

  it("refuses a staging disk smaller than the source, and touches nothing", async () => {
    const env = await make([{ lun: 0, sizeGB: 2, stagingSizeGB: 1 }]);
    writeAt(env.sourceDevice(0), 0, pattern(4, MiB));
    const before = readAt(env.stagingDevice(0), 0, 2 * MiB);
    const mtime = statSync(env.stagingDevice(0)).mtimeMs;
    await env.store.create(env.sourceRow(0));
    const rt = await env.runtime();
    const out = await rt.daemon.tick();
    expect(out.get(env.sourceDiskId(0))).toMatchObject({ kind: "failed", degraded: true });
    const row = await state(env);
    expect(row.state).toBe("degraded");
    expect(row.lastError?.code).toBe("TargetRejected");
    expect(row.lastError?.message).toMatch(/less than the source/i);
    expect(row.lastError?.message).toMatch(/resize/i);
    expect(readAt(env.stagingDevice(0), 0, 2 * MiB).equals(before)).toBe(true);
    expect(statSync(env.stagingDevice(0)).mtimeMs).toBe(mtime);
    expect(f.emu.requests.some((r) => r.operationId === "Snapshots_CreateOrUpdate" && r.path.includes(env.appVm))).toBe(
      false,
    );
  });

  it("refuses a mounted staging disk, and touches nothing", async () => {
    const env = await make([{ lun: 0 }]);
    await env.store.create(env.sourceRow(0));
    const real = realpathSync(env.stagingDevice(0));
    const rt = await env.runtime({ readMounts: async () => `/dev/sda1 / ext4 rw 0 0\n${real} /mnt/data xfs rw 0 0\n` });
    const mtime = statSync(env.stagingDevice(0)).mtimeMs;
    await rt.daemon.tick();
    const row = await state(env);
    expect(row.state).toBe("degraded");
    expect(row.lastError?.message).toMatch(/mounted at \/mnt\/data/);
    expect(statSync(env.stagingDevice(0)).mtimeMs).toBe(mtime);
  });

  it("refuses a staging disk holding a filesystem unless wipe or keep was chosen; wipe erases it, keep zeroes around the data", async () => {
    const env = await make([{ lun: 0 }, { lun: 1 }, { lun: 2 }]);
    const ext4 = Buffer.alloc(2);
    ext4.writeUInt16LE(0xef53);
    for (const lun of [0, 1, 2]) {
      writeAt(env.sourceDevice(lun), 64 * MiB, pattern(10 + lun, 2 * MiB));
      // Old data on the staging disk: an ext4 superblock and some bytes where the source has none.
      writeAt(env.stagingDevice(lun), 1080, ext4);
      writeAt(env.stagingDevice(lun), 900 * MiB, pattern(20 + lun, MiB));
    }
    await env.store.create(env.sourceRow(0, { prepare: "empty" }));
    await env.store.create(env.sourceRow(1, { prepare: "wipe" }));
    await env.store.create(env.sourceRow(2, { prepare: "keep" }));
    const before = readAt(env.stagingDevice(0), 0, 4096);
    const rt = await env.runtime();
    const out = await rt.daemon.tick();
    expect(out.get(env.sourceDiskId(0))).toMatchObject({ kind: "failed", degraded: true });
    const refused = await state(env, 0);
    expect(refused.lastError?.message).toMatch(/ext[234] at offset 1080/);
    expect(refused.lastError?.message).toMatch(/wipe.*keep|keep.*wipe/);
    expect(readAt(env.stagingDevice(0), 0, 4096).equals(before)).toBe(true);
    for (const lun of [1, 2]) {
      expect(out.get(env.sourceDiskId(lun))?.kind).toBe("applied");
      expect((await state(env, lun)).state).toBe("healthy");
      expect(await filesEqual(env.sourceDevice(lun), env.stagingDevice(lun))).toBe(true);
    }
  });

  it("restarts with a full backfill, and says why, when the applied recovery point vanished", async () => {
    const env = await make([{ lun: 0 }]);
    writeAt(env.sourceDevice(0), 0, pattern(5, 2 * MiB));
    await env.store.create(env.sourceRow(0));
    const rt = await env.runtime();
    await rt.daemon.tick();
    const applied = (await state(env)).applied!;
    const [, , , , rg, , , , name] = applied.snapshotId.split("/");
    await f.azure.compute.snapshots.delete(rg!, name!);
    writeAt(env.sourceDevice(0), 700 * MiB, pattern(6, MiB));
    await requestSync(env.store, env.sourceDiskId(0));
    const out = await rt.daemon.tick();
    expect(out.get(env.sourceDiskId(0))).toMatchObject({ kind: "applied", mode: "full" });
    expect(env.logLines.some((l) => /no longer exists/.test(l) && /full backfill/.test(l))).toBe(true);
    expect(await filesEqual(env.sourceDevice(0), env.stagingDevice(0))).toBe(true);
    expect((await state(env)).state).toBe("healthy");
  });

  it("restarts with a full backfill, and says why, when a new snapshot is of another incremental family", async () => {
    const env = await make([{ lun: 0 }]);
    writeAt(env.sourceDevice(0), 0, pattern(8, 2 * MiB));
    await env.store.create(env.sourceRow(0));
    const rt = await env.runtime();
    await rt.daemon.tick();
    const applied = (await state(env)).applied!;
    // Azure starts a new family when a disk is resized across 4 TiB: the applied point reports another one.
    const snapshots = rt.ctx.snapshots;
    const get = snapshots.get.bind(snapshots);
    snapshots.get = async (id) => {
      const facts = await get(id);
      return facts && id.toLowerCase() === applied.snapshotId.toLowerCase()
        ? { ...facts, familyId: "an-older-family" }
        : facts;
    };
    writeAt(env.sourceDevice(0), 600 * MiB, pattern(9, MiB));
    await requestSync(env.store, env.sourceDiskId(0));
    const out = await rt.daemon.tick();
    expect(out.get(env.sourceDiskId(0))).toMatchObject({ kind: "applied", mode: "full" });
    expect(env.logLines.some((l) => /another incremental family/.test(l) && /full backfill/.test(l))).toBe(true);
    expect(await filesEqual(env.sourceDevice(0), env.stagingDevice(0))).toBe(true);
  });

  it("marks a source whose device disappeared degraded, and keeps syncing the others", async () => {
    const env = await make([{ lun: 0 }, { lun: 1 }]);
    for (const lun of [0, 1]) writeAt(env.sourceDevice(lun), 0, pattern(30 + lun, MiB));
    await env.store.create(env.sourceRow(0));
    await env.store.create(env.sourceRow(1));
    const rt = await env.runtime();
    await rt.daemon.tick();
    // The staging disk of LUN 0 is detached from the appliance behind the daemon's back.
    const applianceName = env.applianceId.split("/").pop()!;
    const vm = await f.azure.compute.virtualMachines.get(DR.rg, applianceName);
    await f.azure.compute.virtualMachines.createOrUpdate(
      DR.rg,
      applianceName,
      {
        ...vm,
        storageProfile: { ...vm.storageProfile, dataDisks: vm.storageProfile!.dataDisks!.filter((d) => d.lun !== 0) },
      },
      { updateIntervalInMs: 10 },
    );
    for (const lun of [0, 1]) writeAt(env.sourceDevice(lun), 5 * MiB, pattern(40 + lun, MiB));
    for (const lun of [0, 1]) await requestSync(env.store, env.sourceDiskId(lun));
    const out = await rt.daemon.tick();
    expect(out.get(env.sourceDiskId(0))).toMatchObject({ kind: "failed", degraded: true });
    const gone = await state(env, 0);
    expect(gone.state).toBe("degraded");
    expect(gone.lastError?.code).toBe("DeviceMissing");
    expect(out.get(env.sourceDiskId(1))?.kind).toBe("applied");
    expect(await filesEqual(env.sourceDevice(1), env.stagingDevice(1))).toBe(true);
  });

  it("verify finds the first differing byte and moves the source to degraded", async () => {
    const env = await make([{ lun: 0 }]);
    writeAt(env.sourceDevice(0), 0, pattern(7, 2 * MiB));
    await env.store.create(env.sourceRow(0));
    const rt = await env.runtime();
    await rt.daemon.tick();
    // A bit flips on the staging disk.
    writeAt(env.stagingDevice(0), MiB + 77, Buffer.from([0xff]));
    const { path, env: procEnv } = env.configFile();
    const verify = spawnSync(["verify", env.sourceDiskId(0), "--config", path, "--json"], procEnv);
    const exit = await verify.exited;
    expect(exit.code, verify.stderr.join("")).toBe(3);
    expect(JSON.parse(verify.stdout.at(-1)!)).toMatchObject({
      kind: "verified",
      ok: false,
      firstDifferenceAt: MiB + 77,
    });
    const row = await state(env);
    expect(row.state).toBe("degraded");
    expect(row.lastError?.message).toMatch(new RegExp(`offset ${MiB + 77}\\b`));
  });

  it("refuses a bad config with a clear message and exit code 2", async () => {
    const env = await make([{ lun: 0 }]);
    const { path, env: procEnv } = env.configFile({
      sync: { intervalInSeconds: 30, readConcurrency: 0 },
      deviceDir: 42,
    });
    const run = spawnSync(["run", "--config", path], procEnv);
    const exit = await run.exited;
    expect(exit.code).toBe(2);
    const err = run.stderr.join("");
    expect(err).toMatch(/sync\.intervalInSeconds: is below Azure's limit/);
    expect(err).toMatch(/sync\.readConcurrency/);
    expect(err).toMatch(/deviceDir/);
    expect(err).not.toMatch(/\n\s+at /);
  });

  afterAll(() => {
    // Nothing any daemon of this file logged carries a SAS signature or a bearer token.
    const lines = envs.flatMap((e) => e.logLines);
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.filter((l) => /sig=|Bearer\s+(?!<redacted>)\S/i.test(l))).toEqual([]);
  });
});
