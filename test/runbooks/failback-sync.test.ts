import { execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import { runLocalCli as runCli } from "../../local/ferry";
import { EXIT } from "../../runbooks/commands/common";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseResourceId } from "../../core/resource-id";
import type { Source } from "../../core/schemas/source";
import { requestSync } from "../../adapters/state/admin";
import { loadBlueprint } from "../../runbooks/blueprints";
import { currentMode } from "../../runbooks/mode";
import { cleanupFailback } from "../../runbooks/failback/cleanup";
import { failbackComplete } from "../../runbooks/failback/complete";
import { prepareFailback } from "../../runbooks/failback/prepare";
import { failbackRollback } from "../../runbooks/failback/rollback";
import { failbackStateStore, readFailbackState } from "../../runbooks/failback/state";
import { failbackSync } from "../../runbooks/failback/sync";
import { formatHistory, history } from "../../runbooks/history";
import { pattern, readAt, writeAt } from "../helpers/bytes";
import { firstDifference } from "../helpers/compare";
import { DR, PRIMARY, useDrWorld } from "../helpers/dr-env";
import { tempDir } from "../helpers/emulator";
import { waitFor } from "../helpers/processes";

const env = useDrWorld();
const f = env.f;
const world = () => env.world;
const KiB = 1024;
const MiB = 1024 * KiB;

/** A protected VM (OS disk attached as is, data disk LUN 0 from a snapshot), failed over unplanned. */
async function failedOver(name: string) {
  const w = await world().workload(name, { dataLuns: [0], osStrategy: "attachAsIs", dataStrategy: "fromSnapshot" });
  // Something on every disk before protection: the copy must not touch it.
  writeAt(w.sourceDevice("os"), 0, pattern(1, 256 * KiB));
  writeAt(w.sourceDevice(0), 0, pattern(2, 256 * KiB));
  await world().protect(w);
  return { w, op: await world().unplannedFailover(w) };
}

const file = (diskId: string) => {
  const p = f.emu.diskFile(diskId);
  if (!p) throw new Error(`no disk ${diskId}`);
  return p;
};
/** A sparse copy of a disk's bytes as they are now. */
const keep = (diskId: string) => {
  const to = join(tempDir("ferry-fb-copy-"), "disk");
  execFileSync("cp", ["--sparse=always", file(diskId), to]);
  return to;
};
const diskId = (rg: string, name: string) =>
  `/subscriptions/${f.emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/disks/${name}`;
const stagingRows = (w: { osDiskId: string }, extra: string[] = []) => {
  const ids = new Set(extra.map((x) => x.toLowerCase()));
  return (s: Source) =>
    ids.has(s.stagingDiskId.toLowerCase()) || s.sourceDiskId.toLowerCase() === w.osDiskId.toLowerCase();
};

describe("failback sync, complete and cleanup", () => {
  it("copies only the union of the two deltas, makes the primary byte-identical to the DR disks, reverts the primary's own writes, keeps its previous disks, and resumes forward sync without a full backfill", async () => {
    const { w, op } = await failedOver("fe");
    const ctx = world().ctx;
    const drOs = diskId(DR.rg, "fe-os-staging");
    const drData = diskId(DR.rg, "fe-lun0-disk");
    const dataStaging = diskId(DR.rg, "fe-lun0-staging");

    // The DR VM writes.
    writeAt(f.emu.devicePath(DR.rg, "fe", "os"), 1 * MiB, pattern(10, 256 * KiB));
    writeAt(f.emu.devicePath(DR.rg, "fe", "os"), 100 * MiB, pattern(11, 128 * KiB));
    // …and discards what was there before protection: cleared on the DR side, zeroed on the way home.
    writeAt(f.emu.devicePath(DR.rg, "fe", "os"), 0, Buffer.alloc(64 * KiB));
    writeAt(f.emu.devicePath(DR.rg, "fe", 0), 2 * MiB, pattern(12, 512 * KiB));
    // The primary comes back and writes too: on the data disk (whose sync went on after a failover
    // from snapshots) some of it is replicated, overlapping a DR write; the rest never is.
    writeAt(w.sourceDevice(0), 300 * MiB, pattern(20, 256 * KiB));
    writeAt(w.sourceDevice(0), 2 * MiB + 256 * KiB, pattern(21, 512 * KiB));
    const base = op.recoveryPoints![w.dataDiskIds.get(0)!]!;
    await requestSync(ctx.store, w.dataDiskIds.get(0)!);
    await world().syncUntil(
      async () => (await ctx.store.get(w.dataDiskIds.get(0)!))!.source.applied!.snapshotId !== base,
      "the primary's data-disk writes replicated",
      world().sourcesOf(w),
    );
    writeAt(w.sourceDevice(0), 400 * MiB, pattern(22, 64 * KiB));
    writeAt(w.sourceDevice("os"), 200 * MiB, pattern(23, 64 * KiB));
    const previousOs = keep(w.osDiskId);
    const previousData = keep(w.dataDiskIds.get(0)!);

    await prepareFailback(ctx, w.stack);
    const progress: number[] = [];
    const { state } = await failbackSync(ctx, w.stack, { onProgress: (p) => progress.push(p.bytesDone) });
    const os = state.disks.find((d) => d.role === "os")!;
    const data = state.disks.find((d) => d.role === "data")!;
    // The OS disk: only the DR side's writes (its sync was paused since the failover, so the primary's
    // last replicated point is the failover's). The data disk: the DR writes ∪ the primary's replicated ones.
    expect(os.passes[0]).toMatchObject({ pass: 1, unionBytes: 448 * KiB, bytesZeroed: 64 * KiB });
    expect(data.passes[0]).toMatchObject({ pass: 1, unionBytes: 768 * KiB + 256 * KiB });
    for (const d of [os, data]) expect(d.passes[0]!.bytesRead + d.passes[0]!.bytesZeroed).toBe(d.passes[0]!.unionBytes);
    expect(progress.length).toBeGreaterThan(0);
    // A small delta ends the repeats after one pass.
    expect(os.passes).toHaveLength(1);
    expect(await firstDifference(file(os.newDiskId), file(drOs))).toBeUndefined();
    expect(await firstDifference(file(data.newDiskId), file(drData))).toBeUndefined();
    // The new disks are in the primary region, made from the primary's last replicated points.
    expect(parseResourceId(os.newDiskId).resourceGroup).toBe(PRIMARY.rg);
    expect(os.madeFrom.snapshotId).toBe(op.recoveryPoints![w.osDiskId]);
    expect(data.madeFrom.snapshotId).not.toBe(base);

    // The DR VM goes on writing until complete stops it.
    writeAt(f.emu.devicePath(DR.rg, "fe", "os"), 5 * MiB, pattern(13, 64 * KiB));
    writeAt(f.emu.devicePath(DR.rg, "fe", 0), 700 * MiB, pattern(14, 64 * KiB));
    const only = stagingRows(w, [drOs, dataStaging]);
    const done = await world().whileSyncing(() => failbackComplete(ctx, w.stack), only);
    const finalOs = keep(drOs);
    expect(done.state.phase).toBe("completed");
    // The final delta is what the DR VM wrote after the last pass.
    expect(done.state.disks.map((d) => d.passes.at(-1)!.unionBytes)).toEqual([64 * KiB, 64 * KiB]);

    // The primary VM runs on the returned disks, byte-identical to the DR disks at the final delta:
    // the primary's own writes after its last replicated point, and the replicated ones, are gone.
    const vm = await f.azure.compute.virtualMachines.get(PRIMARY.rg, "fe", { expand: "instanceView" });
    expect(vm.storageProfile!.osDisk!.managedDisk!.id!.toLowerCase()).toBe(os.newDiskId.toLowerCase());
    expect(vm.storageProfile!.dataDisks!.map((d) => [d.lun, d.managedDisk!.id!.toLowerCase()])).toEqual([
      [0, data.newDiskId.toLowerCase()],
    ]);
    expect(vm.instanceView!.statuses!.some((s) => s.code === "PowerState/running")).toBe(true);
    expect(await firstDifference(f.emu.devicePath(PRIMARY.rg, "fe", "os"), finalOs)).toBeUndefined();
    expect(readAt(f.emu.devicePath(PRIMARY.rg, "fe", 0), 700 * MiB, 64 * KiB).equals(pattern(14, 64 * KiB))).toBe(true);
    expect(readAt(f.emu.devicePath(PRIMARY.rg, "fe", 0), 400 * MiB, 64 * KiB).equals(Buffer.alloc(64 * KiB))).toBe(
      true,
    );
    expect(readAt(f.emu.devicePath(PRIMARY.rg, "fe", 0), 300 * MiB, 256 * KiB).equals(Buffer.alloc(256 * KiB))).toBe(
      true,
    );
    expect(readAt(f.emu.devicePath(PRIMARY.rg, "fe", 0), 2 * MiB, 512 * KiB).equals(pattern(12, 512 * KiB))).toBe(true);
    expect(
      readAt(f.emu.devicePath(PRIMARY.rg, "fe", 0), 2 * MiB + 512 * KiB, 256 * KiB).equals(Buffer.alloc(256 * KiB)),
    ).toBe(true);
    // The previous disks are intact, tagged, unattached.
    expect(await firstDifference(file(w.osDiskId), previousOs)).toBeUndefined();
    expect(await firstDifference(file(w.dataDiskIds.get(0)!), previousData)).toBeUndefined();
    const previous = await f.azure.compute.disks.get(PRIMARY.rg, "fe-os");
    expect(previous.tags?.["ferry-failback-previous"]).toBe(done.op.id);
    expect(previous.diskState).toBe("Unattached");

    // The blueprint now protects the returned disks; the stack is in standby; the DR VM is gone.
    const b = await loadBlueprint(ctx, w.stack);
    expect(await currentMode(ctx, w.stack)).toBe("standby");
    expect(b.blueprint.rows[0]!.osDisk.sourceDiskId).toBe(os.newDiskId);
    // In the state store: the stack's own config still holds the tracked (original) ids.
    const tracked = (await ctx.deployer.getConfig(w.stack)).blueprint as {
      rows: { osDisk: { sourceDiskId: string } }[];
    };
    expect(tracked.rows[0]!.osDisk.sourceDiskId).toBe(w.osDiskId);
    await expect(f.azure.compute.virtualMachines.get(DR.rg, "fe")).rejects.toMatchObject({ statusCode: 404 });

    // Reprotect without a full backfill: the staging disk the DR VM ran on needed nothing; the other
    // was caught up by the union of the deltas; both verified against the returned disks' first points.
    const osRow = (await ctx.store.get(os.newDiskId))!.source;
    const dataRow = (await ctx.store.get(data.newDiskId))!.source;
    expect([osRow.state, dataRow.state]).toEqual(["healthy", "healthy"]);
    expect(osRow.bytesCopied).toBe(0);
    expect(dataRow.bytesCopied).toBeLessThanOrEqual(768 * KiB + 256 * KiB + 64 * KiB + 64 * KiB);
    expect(await ctx.store.get(w.osDiskId)).toBeUndefined();
    expect(await firstDifference(file(dataStaging), file(data.newDiskId))).toBeUndefined();

    // Forward sync resumes from the returned disks: a write on the primary arrives as a delta.
    writeAt(f.emu.devicePath(PRIMARY.rg, "fe", 0), 600 * MiB, pattern(30, 64 * KiB));
    const first = dataRow.applied!.snapshotId;
    await requestSync(ctx.store, data.newDiskId);
    await world().syncUntil(
      async () => (await ctx.store.get(data.newDiskId))!.source.applied!.snapshotId !== first,
      "a forward sync of the returned data disk",
      only,
    );
    const after = (await ctx.store.get(data.newDiskId))!.source;
    expect(after.bytesCopied - dataRow.bytesCopied).toBe(64 * KiB);
    expect(readAt(file(dataStaging), 600 * MiB, 64 * KiB).equals(pattern(30, 64 * KiB))).toBe(true);

    // History shows the failback's steps, with times.
    const lines = await history(ctx, w.stack);
    const complete = lines.find((l) => l.kind === "failback-complete")!;
    expect(complete.status).toBe("succeeded");
    expect(complete.steps!.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        "stop the DR VMs",
        "final delta",
        "fe: deallocate the primary VM and swap its disks",
        "pulumi up (mode standby)",
      ]),
    );
    expect(complete.steps!.every((s) => typeof s.seconds === "number")).toBe(true);
    expect(lines.find((l) => l.kind === "failback-sync")!.steps!.map((s) => s.name)).toContain(
      "pass 1: copy the union of the deltas",
    );
    expect(lines.some((l) => l.source === "stack" && /failback of bp-fe complete/.test(l.message))).toBe(true);
    expect(formatHistory(lines)).toMatch(
      /failback-complete\s+succeeded[^\n]*(\n {8}[^\n]+)*\n {8}final delta {2}\d+\.\d s/,
    );

    // cleanup --failback removes the previous disks and the failback's snapshots.
    const { deleted } = await cleanupFailback(ctx, w.stack);
    expect(deleted.map((x) => x.toLowerCase()).sort()).toEqual(
      [w.osDiskId, w.dataDiskIds.get(0)!].map((x) => x.toLowerCase()).sort(),
    );
    await expect(f.azure.compute.disks.get(PRIMARY.rg, "fe-os")).rejects.toMatchObject({ statusCode: 404 });
    const left: string[] = [];
    for await (const s of f.azure.compute.snapshots.listByResourceGroup(DR.rg))
      if (s.tags?.["ferry-role"] === "failback") left.push(s.name!);
    expect(left).toEqual([]);
    expect((await readFailbackState(ctx, w.stack))?.phase).toBe("cleaned");
  }, 300_000);

  it("resumes a pass killed mid-copy, never writes a running primary's OS disk, and rolls back to where it started", async () => {
    const { w } = await failedOver("ff");
    const ctx = world().ctx;
    for (let i = 0; i < 24; i++) writeAt(f.emu.devicePath(DR.rg, "ff", 0), i * 8 * MiB, pattern(40 + i, 1 * MiB));
    await prepareFailback(ctx, w.stack);
    const configPath = join(tempDir("ferry-fb-"), "ferry.json");
    // A short lease: the killed process holds the blueprint's operation lease until it lapses.
    const leaseSeconds = 2;
    writeFileSync(configPath, JSON.stringify({ ...world().config, operations: { leaseSeconds } }));
    // Slow reads of the DR snapshots, so the copy is surely under way when the process is killed.
    const slow = f.emu.faults.add({
      match: { operation: "Blob_Download", plane: "data" },
      action: { kind: "delay", ms: 300 },
    });
    const run = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "local/ferry.ts",
        "failback",
        "sync",
        w.stack,
        "--config",
        configPath,
        "--log-format",
        "json",
      ],
      { env: world().env, stdio: ["ignore", "ignore", "pipe"] },
    );
    const lines: string[] = [];
    run.stderr!.on("data", (d: Buffer) => lines.push(...d.toString().split("\n")));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => run.once("exit", (_c, signal) => resolve(signal)));
    await waitFor(
      async () => lines.some((l) => /data disk LUN 0: pass 1 \d+ %/.test(l) && !/pass 1 100 %/.test(l)),
      "the copy of pass 1 under way",
      60_000,
    );
    run.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    f.emu.faults.remove(slow);
    const torn = (await readFailbackState(ctx, w.stack))!;
    const data = torn.disks.find((d) => d.role === "data")!;
    expect(data.applying).toBeDefined();
    expect(data.passes).toEqual([]);
    expect(await firstDifference(file(data.newDiskId), file(diskId(DR.rg, "ff-lun0-disk")))).toBeDefined();

    // The same pass again (through the CLI), from the same snapshot: the new disk ends equal to it,
    // once the killed process's lease has lapsed.
    await new Promise((r) => setTimeout(r, leaseSeconds * 1000 + 200));
    const out: string[] = [];
    const code = await runCli(["failback", "sync", w.stack, "--config", configPath], {
      out: (t) => out.push(t),
      logStream: new PassThrough(),
      logIsTty: false,
      env: world().env,
    });
    expect(code).toBe(EXIT.ok);
    expect(out.join("\n")).toMatch(
      /failback of bp-ff: synced[\s\S]*ff +LUN 0 +ff-data0-fb-\S+ +\d+ +[\d.]+ MiB +24\.0 MiB/,
    );
    const state = (await readFailbackState(ctx, w.stack))!;
    const resumed = state.disks.find((d) => d.role === "data")!;
    expect(resumed.passes[0]!.snapshotId).toBe(data.applying!.snapshotId);
    expect(await firstDifference(file(resumed.newDiskId), file(diskId(DR.rg, "ff-lun0-disk")))).toBeUndefined();

    // The state names the running primary's OS disk as the target: refused before a byte is written.
    const osBefore = keep(w.osDiskId);
    const tampered = {
      ...state,
      disks: state.disks.map((d) => (d.role === "os" ? { ...d, newDiskId: w.osDiskId, applied: undefined } : d)),
    };
    const states = failbackStateStore(ctx);
    await states.read(w.stack);
    await states.save(tampered);
    await expect(failbackSync(ctx, w.stack)).rejects.toMatchObject({
      code: "RunningOsDisk",
      message: expect.stringMatching(
        /Refusing to write ff-os: it is the OS disk of ff \(running\)\. A primary OS disk is never written/,
      ),
    });
    expect(await firstDifference(file(w.osDiskId), osBefore)).toBeUndefined();
    await states.read(w.stack);
    await states.save(state);

    // Rollback: the new disks and the failback's snapshots go, the DR VM still runs, the sync of
    // the from-snapshot disk resumes; the attach-as-is disk stays paused (its staging disk is the DR VM's).
    await failbackRollback(ctx, w.stack);
    for (const d of state.disks)
      await expect(f.azure.compute.disks.get(PRIMARY.rg, parseResourceId(d.newDiskId).name)).rejects.toMatchObject({
        statusCode: 404,
      });
    const dr = await f.azure.compute.virtualMachines.get(DR.rg, "ff", { expand: "instanceView" });
    expect(dr.instanceView!.statuses!.some((s) => s.code === "PowerState/running")).toBe(true);
    expect((await ctx.store.get(w.dataDiskIds.get(0)!))!.source.paused).toBe(false);
    expect((await ctx.store.get(w.osDiskId))!.source.paused).toBe(true);
    expect((await readFailbackState(ctx, w.stack))?.phase).toBe("rolledBack");
    await expect(failbackComplete(ctx, w.stack)).rejects.toMatchObject({ code: "NotSyncing" });
  });

  it("resumes a failed complete at the phase it recorded: the primary VM is started again, nothing before it is redone", async () => {
    const { w } = await failedOver("fh");
    const ctx = world().ctx;
    writeAt(f.emu.devicePath(DR.rg, "fh", 0), 1 * MiB, pattern(50, 64 * KiB));
    await prepareFailback(ctx, w.stack);
    await failbackSync(ctx, w.stack);
    const only = stagingRows(w, [diskId(DR.rg, "fh-os-staging"), diskId(DR.rg, "fh-lun0-staging")]);
    // The primary VM does not start, once: complete stops after the swap.
    f.emu.faults.add({
      match: {
        operation: "VirtualMachines_Start",
        pathIncludes: `/resourceGroups/${PRIMARY.rg}/providers/Microsoft.Compute/virtualMachines/fh/start`,
      },
      action: { kind: "lroFail", code: "AllocationFailed", message: "no capacity for fh" },
      times: 1,
    });
    await expect(world().whileSyncing(() => failbackComplete(ctx, w.stack), only)).rejects.toThrow(
      /no capacity for fh/,
    );
    const stopped = (await readFailbackState(ctx, w.stack))!;
    expect(stopped.phase).toBe("syncing");
    expect(stopped.complete).toMatchObject({ phase: "disksSwapped", swapped: ["fh"] });
    const passes = stopped.disks.map((d) => d.passes.length);

    const done = await world().whileSyncing(() => failbackComplete(ctx, w.stack), only);
    expect(done.state.phase).toBe("completed");
    expect(done.state.complete!.phase).toBe("succeeded");
    expect(done.op.steps!.map((s) => s.name)).toEqual([
      "start the primary VMs",
      "make the returned disks the blueprint's sources",
      "reprotect: catch up the staging disks of disks recovered from snapshots",
      "pulumi up (mode standby)",
      "reprotect: the staging disks the DR VMs ran on back on the appliance",
    ]);
    // No second final delta.
    expect(done.state.disks.map((d) => d.passes.length)).toEqual(passes);
    const vm = await f.azure.compute.virtualMachines.get(PRIMARY.rg, "fh", { expand: "instanceView" });
    expect(vm.instanceView!.statuses!.some((s) => s.code === "PowerState/running")).toBe(true);
    expect(readAt(f.emu.devicePath(PRIMARY.rg, "fh", 0), 1 * MiB, 64 * KiB).equals(pattern(50, 64 * KiB))).toBe(true);
  }, 300_000);
});
