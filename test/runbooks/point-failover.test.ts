import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isUserError, unlessNotFound } from "../../core/errors";
import { parseResourceId } from "../../core/resource-id";
import { cleanup, failover } from "../../runbooks/failover";
import { currentMode } from "../../runbooks/mode";
import { verifyAgainstPoint } from "../../runbooks/verify";
import { TAGS } from "../../stacks/plan";
import { pattern, writeAt } from "../helpers/bytes";
import { firstDifference } from "../helpers/compare";
import { DR, PRIMARY, useDrWorld, type DrWorld, type Workload } from "../helpers/dr-env";
import { daemonPoints, syncNewPoints } from "../../local/dr-points";
import { guestFsUnavailable } from "../../local/guest-fs";
import {
  compareLedger,
  LEDGER_FILES,
  readLedgerFiles,
  writeLedgerFiles,
  type LedgerRead,
} from "../../local/ledger-files";
import { tempDir } from "../helpers/emulator";

const env = useDrWorld();
const f = env.f;
let world: DrWorld;
const MiB = 1024 * 1024;

beforeAll(() => {
  world = env.world;
});

function diskIds(w: Workload): string[] {
  return [w.osDiskId, ...w.dataDiskIds.values()];
}

function write(w: Workload, seed: number): void {
  writeAt(w.sourceDevice("os"), 0, pattern(seed, 2 * MiB));
  for (const lun of w.dataDiskIds.keys()) writeAt(w.sourceDevice(lun), MiB, pattern(seed + 1 + lun, 3 * MiB));
}

/** Copies of the source disks' files now, by `os` / LUN. */
function copies(w: Workload): Map<string, string> {
  const dir = tempDir("ferry-point-");
  const out = new Map<string, string>();
  for (const [lun, id] of [["os", w.osDiskId] as const, ...[...w.dataDiskIds].map(([l, id]) => [String(l), id])]) {
    const copy = join(dir, lun);
    execFileSync("cp", ["--sparse=always", f.emu.diskFile(id)!, copy]);
    out.set(lun, copy);
  }
  return out;
}

/** Syncs the workload's new writes to its staging disks (a new point of every disk). */
async function syncNow(w: Workload): Promise<void> {
  await syncNewPoints(world, w);
}

async function drVm(name: string) {
  return f.azure.compute.virtualMachines.get(DR.rg, name);
}

async function drVmOrNone(name: string) {
  return unlessNotFound(drVm(name));
}

/** Azure refuses every VM create until the faults are cleared. */
function refuseVmCreates(): void {
  f.emu.faults.add({
    match: { plane: "arm", operation: "VirtualMachines_CreateOrUpdate" },
    action: { kind: "error", status: 403, code: "AuthorizationFailed", message: "The client has no role here." },
  });
}

describe("failover to a recovery point", () => {
  it("recovers an older point by time, from its DR-side snapshots, byte for byte, during a primary outage", async () => {
    const w = await world.workload("pit", { osStrategy: "attachAsIs", dataStrategy: "attachAsIs" });
    write(w, 1);
    await world.protect(w);
    const good = copies(w);
    const first = await daemonPoints(world.ctx, diskIds(w));
    write(w, 2);
    await syncNow(w);
    const second = await daemonPoints(world.ctx, diskIds(w));
    // Before any disk's second point (each disk's source snapshot has its own time).
    const at = new Date(Math.min(...second.map((p) => Date.parse(p.point.pointTime))) - 1).toISOString();

    f.emu.faults.setRegionOutage(PRIMARY.location, true);
    const from = f.emu.requests.length;
    let op;
    try {
      op = await world.whileSyncing(
        () => failover(world.ctx, w.stack, { kind: "unplanned", recoveryPoint: at }),
        world.sourcesOf(w),
      );
    } finally {
      f.emu.faults.setRegionOutage(PRIMARY.location, false);
    }
    const calls = f.emu.requests.slice(from).filter((c) => c.userAgent.startsWith("ferry "));
    expect(calls.filter((c) => c.regions.includes(PRIMARY.location)).map((c) => `${c.method} ${c.path}`)).toEqual([]);
    expect(op.status).toBe("succeeded");
    expect(op.details?.olderRows).toEqual(["pit"]);
    expect(op.steps.map((s) => s.name)).not.toContain("detach attach-as-is staging disks from the appliance");

    const vm = await drVm("pit");
    expect(vm.tags?.[TAGS.osStrategy]).toBe("fromSnapshot");
    const byLun = new Map<string, { disk: string; point: (typeof first)[number] }>([
      ["os", { disk: vm.storageProfile!.osDisk!.managedDisk!.id!, point: first[0]! }],
      ...[...w.dataDiskIds.keys()].map((lun, i) => {
        const disk = vm.storageProfile!.dataDisks!.find((d) => d.lun === lun)!.managedDisk!.id!;
        return [String(lun), { disk, point: first[i + 1]! }] as const;
      }),
    ]);
    for (const [lun, { disk, point }] of byLun) {
      const file = f.emu.diskFile(disk)!;
      // Exactly the DR-side snapshot's bytes, which are the source's when the first point was taken.
      const r = await verifyAgainstPoint(world.ctx, { devicePath: file }, point.point.drSnapshotId);
      expect(r.ok, `${lun} against ${point.point.drSnapshotId}`).toBe(true);
      expect(await firstDifference(good.get(lun)!, file), lun).toBeUndefined();
      expect(op.recoveryPoints![point.point.sourceDiskId]).toBe(point.point.sourceSnapshotId);
      // The staging disks were not used: they are still the appliance's, and still sync.
      const s = (await world.ctx.store.get(point.point.sourceDiskId))!.source;
      expect(disk.toLowerCase()).not.toBe(s.stagingDiskId.toLowerCase());
      expect(s.paused).toBe(false);
      // Held by the failover for as long as its failback needs it.
      const held = await world.ctx.points.get(point.point.sourceDiskId, point.key);
      expect(held!.point.holds?.map((h) => h.by)).toEqual([op.id]);
    }
    expect(world.logLines.some((l) => l.includes("an older point, recovered from its DR-side snapshot"))).toBe(true);
  });

  it("a re-run past the detach recovers the failed run's points, and refuses another point, naming it", async () => {
    const w = await world.workload("presume", { osStrategy: "attachAsIs", dataStrategy: "fromSnapshot" });
    write(w, 31);
    await world.protect(w);
    await daemonPoints(world.ctx, diskIds(w));
    // The VM is refused once the staging disks are off the appliance: the failover can only go forward.
    refuseVmCreates();
    let failedRun: unknown;
    try {
      failedRun = await world
        .whileSyncing(() => failover(world.ctx, w.stack, { kind: "unplanned" }), world.sourcesOf(w))
        .catch((e: unknown) => e);
    } finally {
      f.emu.faults.clear();
    }
    expect(failedRun).toBeInstanceOf(Error);
    const failed = (await world.ctx.journal.list(w.stack))[0]!;
    expect(failed.status).toBe("failed");
    expect(failed.phase).toBe("stagingDetached");
    expect(failed.details?.pointRequest).toEqual({ kind: "latest" });
    const used = failed.details!.resolvedPoints as Record<string, { snapshotId: string; drSnapshotId?: string }>;
    const dataId = [...w.dataDiskIds.values()][0]!;
    const dataPoint = Object.entries(used).find(([k]) => k.toLowerCase() === dataId.toLowerCase())![1];

    // The data disk, copied from its DR-side point, syncs on: it gets a newer point than the one the run recovers.
    writeAt(w.sourceDevice([...w.dataDiskIds.keys()][0]!), 0, pattern(32, MiB));
    await world.syncUntil(
      async () => (await world.ctx.points.list(dataId)).some((p) => p.point.sourceSnapshotId !== dataPoint.snapshotId),
      "a newer DR-side point of the data disk",
      world.sourcesOf(w),
    );
    const newer = (await world.ctx.points.list(dataId)).at(-1)!;

    // Another point: refused before anything changes, naming the run's point and how to go on.
    const refused = await failover(world.ctx, w.stack, {
      kind: "unplanned",
      recoveryPoint: newer.point.pointTime,
    }).catch((e: unknown) => e);
    expect(isUserError(refused)).toBe(true);
    expect((refused as { code: string }).code).toBe("RecoveryPointChanged");
    expect((refused as Error).message).toContain(`Failover ${failed.id} of ${w.stack}`);
    expect((refused as Error).message).toContain(`ferry failover ${w.stack} --unplanned --recovery-point latest`);
    expect((refused as Error).message).toContain("fail back");
    expect(await drVmOrNone("presume")).toBeUndefined();

    // The same request continues at the recorded points, not at the newer one.
    const op = await world.whileSyncing(() => failover(world.ctx, w.stack, { kind: "unplanned" }), world.sourcesOf(w));
    expect(op.status).toBe("succeeded");
    expect(op.recoveryPoints![dataId]).toBe(dataPoint.snapshotId);
    expect(op.recoveryPoints![dataId]).not.toBe(newer.point.sourceSnapshotId);
    const vm = await drVm("presume");
    const disk = await f.azure.compute.disks.get(
      DR.rg,
      parseResourceId(vm.storageProfile!.dataDisks![0]!.managedDisk!.id!).name,
    );
    expect(disk.creationData?.sourceResourceId?.toLowerCase()).toBe(dataPoint.drSnapshotId!.toLowerCase());
  }, 180_000);

  it("a failover that fails before any detach gives back its holds on the points it chose", async () => {
    const w = await world.workload("pgiveback", { osStrategy: "fromSnapshot", dataStrategy: "fromSnapshot" });
    write(w, 41);
    await world.protect(w);
    await daemonPoints(world.ctx, diskIds(w));
    refuseVmCreates();
    try {
      const failedRun = await failover(world.ctx, w.stack, { kind: "unplanned" }).catch((e: unknown) => e);
      expect(failedRun).toBeInstanceOf(Error);
    } finally {
      f.emu.faults.clear();
    }
    const failed = (await world.ctx.journal.list(w.stack))[0]!;
    expect(failed.status).toBe("failed");
    // It chose a DR-side point of every disk, and holds none of them, nor any source point.
    const used = failed.details!.resolvedPoints as Record<string, { drSnapshotId?: string }>;
    expect(Object.values(used).every((p) => p.drSnapshotId !== undefined)).toBe(true);
    for (const id of diskIds(w)) {
      for (const p of await world.ctx.points.list(id))
        expect((p.point.holds ?? []).map((h) => h.by)).not.toContain(failed.id);
      const row = (await world.ctx.store.get(id))!.source;
      expect((row.holds ?? []).map((h) => h.by)).not.toContain(failed.id);
      expect(row.paused).toBe(false);
    }
  }, 120_000);

  it("refuses a time before the first point and an unknown id, naming `ferry points`, and changes nothing", async () => {
    const w = await world.workload("pbad");
    write(w, 5);
    await world.protect(w);
    const [p] = await daemonPoints(world.ctx, diskIds(w));
    const before = new Date(Date.parse(p!.point.pointTime) - 60_000).toISOString();
    for (const [recoveryPoint, code] of [
      [before, "NoPointBefore"],
      ["no-such-point", "UnknownRecoveryPoint"],
      ["2026-12-02T01:30:00", "InvalidRecoveryPoint"],
    ] as const) {
      const e = await failover(world.ctx, w.stack, { kind: "unplanned", recoveryPoint }).catch((x: unknown) => x);
      expect(isUserError(e), recoveryPoint).toBe(true);
      expect((e as { code: string }).code).toBe(code);
      expect((e as Error).message).toContain("ferry points");
    }
    expect(await currentMode(world.ctx, w.stack)).toBe("standby");
    for (const id of diskIds(w)) expect((await world.ctx.store.get(id))!.source.paused).toBe(false);
  });

  it("a test failover takes its disks from DR-side points and never pauses the sync: applies go on during it", async () => {
    const w = await world.workload("live", { osStrategy: "attachAsIs", dataStrategy: "fromSnapshot" });
    write(w, 11);
    await world.protect(w);
    const points = await daemonPoints(world.ctx, diskIds(w));

    let done = false;
    let seed = 20;
    const applied = new Set<string>();
    let pausedSeen = false;
    // The workload keeps writing and the daemon keeps applying while the drill runs.
    const load = (async () => {
      while (!done) {
        write(w, seed++);
        await world.sync.daemon.tick({ force: true, filter: world.sourcesOf(w) });
        for (const id of diskIds(w)) {
          const s = (await world.ctx.store.get(id))!.source;
          if (s.paused) pausedSeen = true;
          if (s.applied) applied.add(s.applied.snapshotId.toLowerCase());
        }
      }
    })();
    const startApplied = (await world.ctx.store.get(w.osDiskId))!.source.applied!.snapshotId.toLowerCase();
    let op;
    try {
      op = await failover(world.ctx, w.stack, { kind: "test" });
    } finally {
      done = true;
      await load;
    }
    expect(op.status).toBe("succeeded");
    expect(op.steps.map((s) => s.name)).not.toContain("pause the sync at an apply boundary");
    expect(pausedSeen).toBe(false);
    // Points other than the one the drill started from were applied while it ran.
    expect([...applied].filter((id) => id !== startApplied).length).toBeGreaterThan(0);
    // Every test disk is its DR-side point, byte for byte.
    const vm = await drVm("live-test");
    const testDisks = [
      vm.storageProfile!.osDisk!.managedDisk!.id!,
      ...vm.storageProfile!.dataDisks!.map((d) => d.managedDisk!.id!),
    ];
    for (const [i, disk] of testDisks.entries()) {
      const r = await verifyAgainstPoint(
        world.ctx,
        { devicePath: f.emu.diskFile(disk)! },
        points[i]!.point.drSnapshotId,
      );
      expect(r.ok, disk).toBe(true);
    }
    // No snapshot was taken of a staging disk by the drill.
    for await (const s of f.azure.compute.snapshots.listByResourceGroup(DR.rg))
      expect(s.tags?.[TAGS.blueprint] === w.stack ? s.name : undefined).toBeUndefined();
    for (const p of points)
      expect((await world.ctx.points.get(p.point.sourceDiskId, p.key))!.point.holds?.map((h) => h.by)).toEqual([op.id]);

    await cleanup(world.ctx, w.stack);
    for (const p of points)
      expect((await world.ctx.points.get(p.point.sourceDiskId, p.key))!.point.holds).toBeUndefined();
    expect(parseResourceId(points[0]!.point.drSnapshotId).resourceGroup).toBe(DR.snapshotRg);
  });
});

const noGuestFs = guestFsUnavailable();
if (noGuestFs) console.log(`ransomware drill skipped: ${noGuestFs}`);

describe.skipIf(noGuestFs !== undefined)("ransomware drill", () => {
  /** fsck and the ledger of a recovered disk, read from a copy of its file (the disk itself stays as it was made). */
  function readRecovered(diskId: string): LedgerRead {
    const copy = join(tempDir("ferry-ransom-"), "disk");
    execFileSync("cp", ["--sparse=always", f.emu.diskFile(diskId)!, copy]);
    return readLedgerFiles(copy);
  }

  async function drill(w: Workload, recoveryPoint: string): Promise<LedgerRead> {
    const op = await failover(world.ctx, w.stack, { kind: "test", recoveryPoint });
    expect(op.status).toBe("succeeded");
    const vm = await drVm("rw-test");
    const data = vm.storageProfile!.dataDisks!.find((d) => d.lun === 0)!.managedDisk!.id!;
    try {
      return readRecovered(data);
    } finally {
      await cleanup(world.ctx, w.stack);
    }
  }

  it("a failover to a time before the damage recovers the good files; latest has the garbage", async () => {
    const w = await world.workload("rw", { dataLuns: [0] });
    const good = writeLedgerFiles(w.sourceDevice(0), { format: true });
    await world.protect(w);
    const goodPoints = await daemonPoints(world.ctx, diskIds(w));
    // The attack: every file overwritten in place with garbage.
    const bad = writeLedgerFiles(w.sourceDevice(0));
    expect(compareLedger(bad, good, bad)).toEqual({ files: LEDGER_FILES, good: 0, garbage: LEDGER_FILES, other: [] });
    const badPoints = await syncNewPoints(world, w);
    // Points on both sides of the damage.
    for (const [i, id] of diskIds(w).entries()) {
      const times = (await world.ctx.points.list(id)).map((p) => Date.parse(p.point.pointTime));
      expect(times.some((t) => t <= Date.parse(goodPoints[i]!.point.pointTime))).toBe(true);
      expect(times.some((t) => t >= Date.parse(badPoints[i]!.point.pointTime))).toBe(true);
    }
    expect(badPoints.map((p) => p.key)).not.toEqual(goodPoints.map((p) => p.key));

    const before = new Date(Math.min(...badPoints.map((p) => Date.parse(p.point.pointTime))) - 1).toISOString();
    expect(Date.parse(before)).toBeGreaterThanOrEqual(Date.parse(goodPoints[1]!.point.pointTime));
    const restored = await drill(w, before);
    expect(restored.fsckExitCode).toBe(0);
    expect(restored.files).toEqual(good);

    const latest = await drill(w, "latest");
    expect(latest.fsckExitCode).toBe(0);
    expect(latest.files).toEqual(bad);
  }, 300_000);
});
