import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { requestSync } from "../../adapters/state/admin";
import { parseResourceId } from "../../core/resource-id";
import { daemonPoints } from "../../local/dr-points";
import { runLocalCli as runCli } from "../../local/ferry";
import { EXIT } from "../../runbooks/commands/common";
import { failbackComplete } from "../../runbooks/failback/complete";
import { prepareFailback } from "../../runbooks/failback/prepare";
import { readFailbackState } from "../../runbooks/failback/state";
import { failbackSync } from "../../runbooks/failback/sync";
import { failover } from "../../runbooks/failover";
import { currentMode } from "../../runbooks/mode";
import { pattern, readAt, writeAt } from "../helpers/bytes";
import { firstDifference } from "../helpers/compare";
import { DR, PRIMARY, useDrWorld, type Workload } from "../helpers/dr-env";
import { tempDir } from "../helpers/emulator";

// A failback after a failover to an older recovery point: the primary disks are at (or after) the latest replicated
// point, the DR VM started from an older one. What the primary changed in between is read in the DR region, as
// the diff of two DR-side points of the staging disk; a point gone makes it a full copy, said everywhere.

const env = useDrWorld();
const f = env.f;
const world = () => env.world;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const diskIds = (w: Workload) => [w.osDiskId, ...w.dataDiskIds.values()];
const file = (diskId: string) => {
  const p = f.emu.diskFile(diskId);
  if (!p) throw new Error(`no disk ${diskId}`);
  return p;
};
/** A sparse copy of a disk's bytes as they are now. */
const keep = (diskId: string) => {
  const to = join(tempDir("ferry-fbo-copy-"), "disk");
  execFileSync("cp", ["--sparse=always", file(diskId), to]);
  return to;
};

/** Writes `seed`'s pattern on every disk: 2 MiB at 0 of the OS disk, 3 MiB at 1 MiB of data disk LUN 0. */
function write(w: Workload, seed: number): void {
  writeAt(w.sourceDevice("os"), 0, pattern(seed, 2 * MiB));
  writeAt(w.sourceDevice(0), MiB, pattern(seed + 1, 3 * MiB));
}

/** Syncs the workload's new writes to its staging disks (a new applied point of every disk). */
async function syncNow(w: Workload): Promise<void> {
  const ctx = world().ctx;
  const before = await Promise.all(diskIds(w).map(async (id) => (await ctx.store.get(id))!.source.applied?.snapshotId));
  for (const id of diskIds(w)) await requestSync(ctx.store, id);
  await world().syncUntil(
    async () =>
      (await Promise.all(diskIds(w).map((id) => ctx.store.get(id)))).every(
        (r, i) => !r!.source.applying && r!.source.applied?.snapshotId !== before[i],
      ),
    `a new point of every disk of ${w.stack}`,
    world().sourcesOf(w),
  );
}

/**
 * A protected VM (OS disk attached as is, data disk LUN 0 from a snapshot) with two points, seed 1 then seed 2,
 * failed over unplanned during a primary outage to the older one; then the DR VM writes.
 */
async function failedOverToOlder(name: string) {
  const w = await world().workload(name, { dataLuns: [0], osStrategy: "attachAsIs", dataStrategy: "fromSnapshot" });
  write(w, 1);
  await world().protect(w);
  const older = await daemonPoints(world().ctx, diskIds(w));
  write(w, 3);
  await syncNow(w);
  const latest = await daemonPoints(world().ctx, diskIds(w));
  const at = new Date(Math.min(...latest.map((p) => Date.parse(p.point.pointTime))) - 1).toISOString();
  f.emu.faults.setRegionOutage(PRIMARY.location, true);
  let op;
  try {
    op = await world().whileSyncing(
      () => failover(world().ctx, w.stack, { kind: "unplanned", recoveryPoint: at }),
      world().sourcesOf(w),
    );
  } finally {
    f.emu.faults.setRegionOutage(PRIMARY.location, false);
  }
  expect(op.status).toBe("succeeded");
  expect(op.details?.olderRows).toEqual([name]);
  // The DR VM writes: 256 KiB on its OS disk, 512 KiB on its data disk, away from what the points changed.
  writeAt(f.emu.devicePath(DR.rg, name, "os"), 10 * MiB, pattern(10, 256 * KiB));
  writeAt(f.emu.devicePath(DR.rg, name, 0), 20 * MiB, pattern(11, 512 * KiB));
  return { w, op, older, latest };
}

describe("failback after a failover to an older point", () => {
  it("copies only the DR VM's writes and the primary's changes since the older point; the primary ends equal to the DR disks", async () => {
    const { w, op, older, latest } = await failedOverToOlder("fbo");
    const ctx = world().ctx;
    // The failover holds what the failback diffs: the older points and the latest ones, in the DR region.
    for (const p of [...older, ...latest])
      expect((await ctx.points.get(p.point.sourceDiskId, p.key))!.point.holds?.map((h) => h.by)).toEqual([op.id]);

    // The primary is back and writes: on the data disk some of it is replicated (the row's sync went on after
    // the failover), the rest never is; the OS disk writes are never replicated.
    writeAt(w.sourceDevice(0), 30 * MiB, pattern(20, 256 * KiB));
    await requestSync(ctx.store, w.dataDiskIds.get(0)!);
    const bridge = latest[1]!.point.sourceSnapshotId;
    await world().syncUntil(
      async () => (await ctx.store.get(w.dataDiskIds.get(0)!))!.source.applied!.snapshotId !== bridge,
      "the primary's data-disk write replicated",
      world().sourcesOf(w),
    );
    writeAt(w.sourceDevice(0), 40 * MiB, pattern(21, 64 * KiB));
    writeAt(w.sourceDevice("os"), 50 * MiB, pattern(22, 64 * KiB));

    const { plan } = await prepareFailback(ctx, w.stack);
    expect(plan.disks.map((d) => d.older?.pointDrSnapshotId)).toEqual(older.map((p) => p.point.drSnapshotId));
    const { op: syncOp, state } = await failbackSync(ctx, w.stack);
    const [os, data] = [state.disks.find((d) => d.role === "os")!, state.disks.find((d) => d.role === "data")!];
    // The OS disk: what the points changed (2 MiB) ∪ the DR VM's 256 KiB. The data disk: 3 MiB ∪ 512 KiB ∪ the
    // primary's replicated 256 KiB. Nothing else of the 1 GiB disks moves.
    expect(os.passes[0]).toMatchObject({ pass: 1, unionBytes: 2 * MiB + 256 * KiB });
    expect(data.passes[0]).toMatchObject({ pass: 1, unionBytes: 3 * MiB + 512 * KiB + 256 * KiB });
    for (const d of [os, data]) expect(d.passes[0]!.full).toBeUndefined();
    expect(syncOp.details?.bytesMoved).toBe(6 * MiB);
    expect(syncOp.details?.bytesMoved as number).toBeLessThan(GiB / 100);
    expect(syncOp.details?.fullCopies).toBeUndefined();
    expect(await firstDifference(file(os.newDiskId), file(diskId(DR.rg, "fbo-os-disk")))).toBeUndefined();
    expect(await firstDifference(file(data.newDiskId), file(diskId(DR.rg, "fbo-lun0-disk")))).toBeUndefined();
    // The DR disks as the DR VM left them (the standby up deletes them).
    const [drOs, drData] = [keep(os.drDiskId), keep(data.drDiskId)];

    // The daemon syncs the staging disks, which the returned disks' new rows keep.
    const staging = new Set(state.disks.map((d) => d.stagingDiskId.toLowerCase()));
    const done = await world().whileSyncing(
      () => failbackComplete(ctx, w.stack),
      (s) => staging.has(s.stagingDiskId.toLowerCase()),
    );
    expect(done.state.phase).toBe("completed");
    expect(await currentMode(ctx, w.stack)).toBe("standby");
    // The primary VM runs on disks byte-identical to the DR disks: the older point, the DR VM's writes, and
    // none of the primary's writes after it (replicated or not).
    const vm = await f.azure.compute.virtualMachines.get(PRIMARY.rg, "fbo");
    expect(vm.storageProfile!.osDisk!.managedDisk!.id!.toLowerCase()).toBe(os.newDiskId.toLowerCase());
    expect(await firstDifference(file(os.newDiskId), drOs)).toBeUndefined();
    expect(await firstDifference(file(data.newDiskId), drData)).toBeUndefined();
    expect(readAt(file(os.newDiskId), 0, 2 * MiB).equals(pattern(1, 2 * MiB))).toBe(true);
    expect(readAt(file(data.newDiskId), 30 * MiB, 256 * KiB).equals(Buffer.alloc(256 * KiB))).toBe(true);
    // The failover's holds end with the failback.
    for (const p of [...older, ...latest])
      expect((await ctx.points.get(p.point.sourceDiskId, p.key))?.point.holds ?? []).toEqual([]);
  }, 300_000);

  it("copies the whole disk when a needed DR-side point was deleted, and says so in the log, the record and the output", async () => {
    const { w, latest } = await failedOverToOlder("fbz");
    const ctx = world().ctx;
    // Someone deleted the DR snapshot of the OS disk's latest point (held, but Azure knows nothing of holds).
    const gone = latest[0]!.point.drSnapshotId;
    const p = parseResourceId(gone);
    await f.azure.compute.snapshots.beginDeleteAndWait(p.resourceGroup, p.name, { updateIntervalInMs: 10 });

    await prepareFailback(ctx, w.stack);
    const configPath = join(tempDir("ferry-fbo-"), "ferry.json");
    writeFileSync(configPath, JSON.stringify(world().config));
    const out: string[] = [];
    const log: string[] = [];
    const logStream = new PassThrough();
    logStream.on("data", (c: Buffer) => log.push(...c.toString().split("\n")));
    const code = await runCli(["failback", "sync", w.stack, "--config", configPath], {
      out: (t) => out.push(t),
      logStream,
      logIsTty: false,
      env: world().env,
    });
    expect(code).toBe(EXIT.ok);
    const syncOp = (await ctx.journal.list(w.stack)).find((o) => o.kind === "failback-sync")!;
    const { disks } = (await readFailbackState(ctx, w.stack))!;
    const [os, data] = [disks.find((d) => d.role === "os")!, disks.find((d) => d.role === "data")!];
    // The OS disk is copied whole: every byte the DR disk holds (the older point's 2 MiB and the DR VM's
    // 256 KiB) is read, the rest zeroed. The data disk still moves only its delta.
    expect(os.passes[0]).toMatchObject({ full: true, bytesRead: 2 * MiB + 256 * KiB });
    expect(os.passes[0]!.fullReason).toContain(gone);
    expect(data.passes[0]).toMatchObject({ unionBytes: 3 * MiB + 512 * KiB });
    expect(data.passes[0]!.full).toBeUndefined();
    expect(syncOp.details?.fullCopies).toEqual([
      { disk: "fbz OS disk", reason: expect.stringContaining(gone) as string, bytesToMove: 2 * MiB + 256 * KiB },
    ]);
    expect(await firstDifference(file(os.newDiskId), file(diskId(DR.rg, "fbz-os-disk")))).toBeUndefined();
    expect(await firstDifference(file(data.newDiskId), file(diskId(DR.rg, "fbz-lun0-disk")))).toBeUndefined();
    expect(
      log.some((l) => l.includes("fbz OS disk") && l.includes("copies the whole disk") && l.includes(p.name)),
    ).toBe(true);
    expect(out.join("\n")).toMatch(/fbz OS disk: a full copy, 2\.3 MiB to move \(.*no longer exists/);
  }, 300_000);
});

function diskId(rg: string, name: string): string {
  return `/subscriptions/${f.emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/disks/${name}`;
}
