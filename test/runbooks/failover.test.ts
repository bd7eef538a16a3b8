import { execFileSync } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseResourceId } from "../../core/resource-id";
import { isFerryError } from "../../core/errors";
import { landingZone, loadBlueprint, sourceDisks } from "../../runbooks/blueprints";
import { currentMode, modeRecord } from "../../runbooks/mode";
import { cleanup, failover } from "../../runbooks/failover";
import { formatHistory, history } from "../../runbooks/history";
import type { Operation } from "../../runbooks/journal";
import { precheck } from "../../runbooks/precheck";
import { enableDr } from "../../runbooks/sources";
import { requestSync } from "../../adapters/state/admin";
import { planBlueprint, TAGS } from "../../stacks/plan";
import { pattern, readAt, writeAt } from "../helpers/bytes";
import { firstDifference } from "../helpers/compare";
import { DR, PRIMARY, useDrWorld, type DrWorld, type Workload } from "../helpers/dr-env";
import { tempDir } from "../helpers/emulator";
import { createEmptyDisk, createVm } from "../helpers/azure-env";

const env = useDrWorld();
const f = env.f;
let world: DrWorld;
const MiB = 1024 * 1024;

beforeAll(() => {
  world = env.world;
});

/** Writes a few MiB of distinct data into every disk of a workload. */
function writeWorkload(w: Workload, seed: number): void {
  for (const v of w.vms) {
    writeAt(v.sourceDevice("os"), 0, pattern(seed, 2 * MiB));
    for (const lun of v.dataDiskIds.keys())
      writeAt(v.sourceDevice(lun), (seed % 64) * MiB, pattern(seed + lun + 1, 3 * MiB));
  }
}

/** Enables DR for a workload and syncs until every disk is healthy at a recovery point. */
const protect = (w: Workload) => world.protect(w);

/** The disk id of a workload VM's disk: `"os"` or a data-disk LUN. */
const diskIdOf = (v: Workload["vms"][number], lun: number | "os") =>
  lun === "os" ? v.osDiskId : v.dataDiskIds.get(lun)!;

/** Copies each source disk of a workload (the disk's own file, readable while its VM is off too). */
function snapshotFiles(w: Workload): Map<string, string> {
  const dir = tempDir("ferry-expected-");
  const out = new Map<string, string>();
  for (const v of w.vms) {
    for (const lun of ["os" as const, ...v.dataDiskIds.keys()]) {
      const copy = join(dir, `${v.vm}-${lun}`);
      execFileSync("cp", ["--sparse=always", f.emu.diskFile(diskIdOf(v, lun))!, copy]);
      out.set(`${v.vm}/${lun}`, copy);
    }
  }
  return out;
}

/** The disk files of the source disks, by `vm/lun` (stable paths, whatever the VM's power state). */
function sourceFiles(w: Workload): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of w.vms)
    for (const lun of ["os" as const, ...v.dataDiskIds.keys()])
      out.set(`${v.vm}/${lun}`, f.emu.diskFile(diskIdOf(v, lun))!);
  return out;
}

/** Every recovered disk of a workload equals the expected file of its source disk. */
async function expectRecovered(w: Workload, vmSuffix: string, expected: Map<string, string>): Promise<void> {
  for (const v of w.vms) {
    for (const lun of ["os" as const, ...v.dataDiskIds.keys()]) {
      const device = f.emu.devicePath(DR.rg, `${v.vm}${vmSuffix}`, lun);
      expect(
        await firstDifference(expected.get(`${v.vm}/${lun}`)!, device),
        `${v.vm}${vmSuffix} ${lun}`,
      ).toBeUndefined();
    }
  }
}

async function drVms(stack: string) {
  const out = [];
  for await (const vm of f.azure.compute.virtualMachines.list(DR.rg))
    if (vm.tags?.[TAGS.blueprint] === stack) out.push(vm);
  return out;
}

async function applianceDisks(): Promise<string[]> {
  const vm = await f.azure.compute.virtualMachines.get(DR.rg, "ferry-appliance");
  return (vm.storageProfile?.dataDisks ?? []).map((d) => d.managedDisk!.id!.toLowerCase());
}

async function stagingIds(w: Workload): Promise<string[]> {
  const disks = sourceDisks((await loadBlueprint(world.ctx, w.stack)).blueprint);
  return Promise.all(
    disks.map(async (d) => (await world.ctx.store.get(d.sourceDiskId))!.source.stagingDiskId.toLowerCase()),
  );
}

function failing(r: Awaited<ReturnType<typeof precheck>>): string[] {
  return r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.message}`);
}

describe("precheck", () => {
  it("fails on each of its conditions with a message that says what to do, and passes once all hold", async () => {
    const w = await world.workload("pc");
    const ctx = world.ctx;

    let r = await precheck(ctx, w.stack);
    expect(r.passed).toBe(false);
    expect(failing(r)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /pc OS disk: DR enabled: DR is not enabled for .*pc-os\. Run `ferry sources enable bp-pc`/,
        ),
      ]),
    );
    expect(failing(r).filter((m) => m.includes("DR is not enabled"))).toHaveLength(2);

    await enableDr(ctx, w.stack, { prepare: "empty" });
    r = await precheck(ctx, w.stack);
    expect(failing(r)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/healthy: The source is pending\. Wait for the sync/),
        expect.stringMatching(/at a recovery point: Nothing has been applied yet: wait for the backfill/),
      ]),
    );

    writeWorkload(w, 3);
    await protect(w);
    r = await precheck(ctx, w.stack);
    expect(failing(r)).toEqual([]);
    expect(r.passed).toBe(true);
    expect(Object.keys(r.facts!.recoveryPoints)).toHaveLength(2);

    // A point being applied: the staging disk is torn until it ends.
    const os = (await ctx.store.get(w.osDiskId))!;
    const applying = { ...os.source.applied!, snapshotId: `${os.source.applied!.snapshotId}-next` };
    const torn = await ctx.store.update(os, { ...os.source, applying, desired: applying });
    r = await precheck(ctx, w.stack);
    expect(failing(r)).toEqual([
      expect.stringMatching(
        /pc OS disk: at a recovery point: Recovery point .*-next is being applied: the staging disk is torn until it ends\. Wait and run the precheck again\./,
      ),
    ]);

    // Applied is not the desired point.
    const behind = await ctx.store.update(torn, { ...torn.source, applying: undefined });
    r = await precheck(ctx, w.stack);
    expect(failing(r)).toEqual([
      expect.stringMatching(/at a recovery point: Applied .* is not the desired .*-next\. Wait for the sync\./),
    ]);

    // Degraded.
    const degraded = await ctx.store.update(behind, {
      ...behind.source,
      desired: behind.source.applied,
      state: "degraded",
      lastError: { code: "VerifyFailed", message: "differs at 4096", at: new Date().toISOString() },
    });
    r = await precheck(ctx, w.stack);
    expect(failing(r)).toEqual([
      expect.stringMatching(
        /healthy: The source is degraded \(VerifyFailed: differs at 4096\)\. Wait for the sync, or fix the cause and run `ferry sources retry-backfill`/,
      ),
    ]);
    await ctx.store.update(degraded, { ...degraded.source, state: "healthy", lastError: undefined });
    expect((await precheck(ctx, w.stack)).passed).toBe(true);

    // A VM of another owner holds the recovered VM's name.
    // Its NIC holds an address no row names: a dynamic one takes the lowest free, which may be a row's static IP.
    const squatter = await f.azure.network.networkInterfaces.beginCreateOrUpdateAndWait(DR.rg, "squatter-nic", {
      location: DR.location,
      ipConfigurations: [
        {
          name: "ipconfig1",
          subnet: { id: world.targetSubnetId },
          privateIPAllocationMethod: "Static",
          privateIPAddress: "10.1.3.200",
        },
      ],
    });
    const nic = squatter.id!;
    const disk = await createEmptyDisk(f.azure, DR.rg, DR.location, "squatter-os", 1, { osType: "Linux" });
    await createVm(f.azure, DR.rg, DR.location, "pc", { osDiskId: disk, nicId: nic });
    r = await precheck(ctx, w.stack);
    expect(failing(r)).toEqual([
      expect.stringMatching(
        /VM name pc free: A VM named pc already exists in dr-rg and is not this blueprint's\. Rename the row \(hostname\) or remove that VM\./,
      ),
    ]);
    await f.azure.compute.virtualMachines.beginDeleteAndWait(DR.rg, "pc", { updateIntervalInMs: 10 });
    expect((await precheck(ctx, w.stack)).passed).toBe(true);

    // Not enough vCPU quota in the DR region for the recovered VM (2 vCPUs).
    const cores = async () => {
      for await (const u of f.azure.compute.usage.list(DR.location))
        if (u.name.value === "cores") return u.currentValue;
      throw new Error("no cores usage");
    };
    f.emu.setCoresQuota(DR.location, (await cores()) + 1);
    try {
      r = await precheck(ctx, w.stack);
      expect(failing(r)).toEqual([
        expect.stringMatching(
          /regional vCPU quota: The recovered VMs need 2 vCPUs in northeurope; the quota leaves 1 .*Request a quota increase for northeurope/,
        ),
      ]);
    } finally {
      f.emu.setCoresQuota(DR.location, 10_000);
    }
    expect(r.checks.find((c) => c.name === "pc: VM size Standard_D2s_v5")).toMatchObject({
      ok: true,
      message: "2 vCPUs, up to 4 data disks",
    });

    // A blueprint whose landing zone is not the one ferry.json names: both places are named.
    const config = await ctx.deployer.getConfig(w.stack);
    await ctx.deployer.setConfig(w.stack, { landingZoneStack: "lz-westus" });
    r = await precheck(ctx, w.stack);
    expect(failing(r)).toEqual([
      expect.stringMatching(
        /^blueprint configuration: Stack bp-pc fails over into the landing zone lz-westus \(its ferry:landingZoneStack\), but ferry\.json's landingZoneStack is lz/,
      ),
    ]);
    await ctx.deployer.setConfig(w.stack, config);

    // ferry.json's subscription is not the landing zone's: both places are named.
    const elsewhere = "44444444-4444-4444-4444-444444444444";
    r = await precheck(
      { ...ctx, config: { ...ctx.config, azure: { ...ctx.config.azure, subscriptionId: elsewhere } } },
      w.stack,
    );
    expect(failing(r)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^landing zone: ferry\\.json's azure\\.subscriptionId is ${elsewhere}, but the landing-zone stack lz is in ` +
            `${f.emu.subscriptionId} \\(that stack's azure-native:subscriptionId\\)`,
        ),
      ),
    ]);

    // An incomplete blueprint: the path and the fix.
    const blueprint = config.blueprint as { target: Record<string, unknown> };
    await ctx.deployer.setConfig(w.stack, { blueprint: { ...blueprint, target: { vmSizes: [] } } });
    r = await precheck(ctx, w.stack);
    expect(r.passed).toBe(false);
    expect(failing(r)[0]).toMatch(/blueprint configuration: .*target\.vmSizes: needs at least 1/s);
    await ctx.deployer.setConfig(w.stack, config);
    expect((await precheck(ctx, w.stack, { mode: "test" })).passed).toBe(true);
  });
});

/**
 * A guest writer: an increasing counter written at `offset` of a source disk and made durable
 * (fsync) before it counts as acknowledged, each write through the VM's device path, as a guest
 * reaches its disk. It stops when the device is gone (the VM powered off) or when told.
 */
function startCounterWriter(device: string, offset: number) {
  const acked: { n: number; at: number }[] = [];
  let stop = false;
  const done = (async () => {
    for (let n = 1; !stop; n++) {
      let fd: number;
      try {
        fd = openSync(device, "r+");
      } catch {
        return; // no device: the VM is off
      }
      const buf = Buffer.alloc(512);
      buf.writeBigUInt64LE(BigInt(n));
      writeSync(fd, buf, 0, buf.length, offset);
      fsyncSync(fd);
      closeSync(fd);
      acked.push({ n, at: Date.now() });
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    acked,
    async stop() {
      stop = true;
      await done;
    },
  };
}

describe("planned failover", () => {
  const COUNTER_OFFSET = 40 * MiB;
  let w: Workload;
  let op: Operation;
  let expected: Map<string, string>;
  let staging: string[];
  let writer: ReturnType<typeof startCounterWriter>;

  beforeAll(async () => {
    w = await world.workload("web", { dataLuns: [0, 1] });
    writeWorkload(w, 11);
    await protect(w);
    // Writes after the last sync, and a writer that keeps acknowledging writes until the power-off:
    // a planned failover must lose none of them.
    writeWorkload(w, 12);
    staging = await stagingIds(w);
    expected = sourceFiles(w);
    writer = startCounterWriter(w.vms[0]!.sourceDevice("os"), COUNTER_OFFSET);
    try {
      op = await world.whileSyncing(() => failover(world.ctx, w.stack, { kind: "planned" }), world.sourcesOf(w));
    } finally {
      await writer.stop();
    }
  });

  it("loses no write acknowledged before the power-off: the last one is on the recovered disk", () => {
    const powerOff = op.steps.find((s) => s.name === "power off the source VMs")!;
    const ackedBefore = writer.acked.filter((a) => a.at <= Date.parse(powerOff.startedAt));
    expect(ackedBefore.length).toBeGreaterThan(0);
    const last = writer.acked.at(-1)!;
    const recovered = readAt(f.emu.devicePath(DR.rg, "web", "os"), COUNTER_OFFSET, 8).readBigUInt64LE();
    // Every acknowledged write, and so the last one, is on the recovered OS disk.
    expect(Number(recovered)).toBe(last.n);
    expect(last.n).toBeGreaterThanOrEqual(ackedBefore.at(-1)!.n);
  });

  it("powers the source off and recovers every disk byte for byte as the source stood then", async () => {
    const source = await f.azure.compute.virtualMachines.instanceView(PRIMARY.rg, "web");
    expect(source.statuses?.map((s) => s.code)).toContain("PowerState/stopped");
    await expectRecovered(w, "", expected);
  });

  it("brings the VM up on its staging disks, which have left the appliance", async () => {
    const vms = await drVms(w.stack);
    expect(vms.map((v) => v.name)).toEqual(["web"]);
    const attached = [
      vms[0]!.storageProfile!.osDisk!.managedDisk!.id!,
      ...vms[0]!.storageProfile!.dataDisks!.map((d) => d.managedDisk!.id!),
    ].map((id) => id.toLowerCase());
    expect(attached.sort()).toEqual([...staging].sort());
    expect((await applianceDisks()).filter((id) => staging.includes(id))).toEqual([]);
  });

  it("journals its steps, the row's RTO and an RPO", () => {
    expect(op.status).toBe("succeeded");
    expect(op.steps.map((s) => s.name)).toEqual([
      "power off the source VMs",
      "final sync",
      "pause the sync at an apply boundary",
      "precheck",
      "detach attach-as-is staging disks from the appliance",
      "pulumi up (mode failover)",
    ]);
    expect(op.rto).toEqual([
      expect.objectContaining({ row: "web", vm: "web", strategy: "attachAsIs", vmCreatedSeconds: expect.any(Number) }),
    ]);
    expect(op.rto[0]!.vmCreatedSeconds).toBeGreaterThan(0);
    expect(op.rpoSeconds).toBeGreaterThanOrEqual(0);
  });

  it("logs source selection, NIC, VM and completion per row", () => {
    const rowLogs = world.logLines
      .map((l) => JSON.parse(l) as { msg: string; operation?: string })
      .filter((l) => l.operation === op.id)
      .map((l) => l.msg);
    expect(rowLogs).toEqual(
      expect.arrayContaining(["source selected", "web: NIC created", "web: VM created", "web: recovered"]),
    );
  });

  it("shows in the history, from the journal and the stack", async () => {
    const lines = await history(world.ctx, w.stack);
    expect(lines.find((l) => l.source === "runbook")).toMatchObject({
      kind: "failover-planned",
      source: "runbook",
      status: "succeeded",
      rto: [expect.objectContaining({ row: "web" })],
    });
    expect(
      lines.some(
        (l) => l.source === "stack" && /planned failover of bp-web/.test(l.message) && l.status === "succeeded",
      ),
    ).toBe(true);
    expect(formatHistory(lines)).toMatch(/failover-planned\s+succeeded .* RTO web [\d.]+ s/);
  });
});

describe("planned failover racing the daemon", () => {
  it("takes as its final sync no snapshot the daemon asked for before the power-off ended", async () => {
    const w = await world.workload("late", { osStrategy: "fromSnapshot", dataStrategy: "fromSnapshot", dataLuns: [] });
    await protect(w);
    const writer = startCounterWriter(w.vms[0]!.sourceDevice("os"), 40 * MiB);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // The power-off takes 1.5 s, the guest writing all along; meanwhile the daemon snapshots the running disk and
    // records the point only 2.5 s later, after the failover has read the rows and asked for its final sync.
    f.emu.faults.add({
      match: { operation: "VirtualMachines_PowerOff" },
      action: { kind: "delay", ms: 1500 },
      times: 1,
    });
    const fo = failover(world.ctx, w.stack, { kind: "planned" });
    let op: Operation;
    try {
      await sleep(800);
      const slowRecord = f.emu.faults.add({
        match: { operation: "Snapshots_Get" },
        action: { kind: "delay", ms: 2500 },
        times: 1,
      });
      const early = world.sync.daemon.tick({ filter: world.sourcesOf(w), force: true });
      op = await world.whileSyncing(() => fo, world.sourcesOf(w));
      await early;
      expect(f.emu.faults.stats().find((r) => r.id === slowRecord)?.fired).toBe(1);
    } finally {
      await writer.stop();
    }
    expect(op.status).toBe("succeeded");
    // The race took place: a snapshot of the source disk was asked for while the power-off was under way.
    const powerOff = op.steps.find((s) => s.name === "power off the source VMs")!;
    const snapshotsDuring = f.emu.requests.filter(
      (r) =>
        r.operationId === "Snapshots_CreateOrUpdate" &&
        r.path.toLowerCase().includes("late-os") &&
        Date.parse(r.at) > Date.parse(powerOff.startedAt) &&
        Date.parse(r.at) < Date.parse(powerOff.endedAt!),
    );
    expect(snapshotsDuring.length).toBeGreaterThan(0);
    // Every write the guest acknowledged, the last one too, is on the recovered disk.
    const recovered = readAt(f.emu.devicePath(DR.rg, "late", "os"), 40 * MiB, 8).readBigUInt64LE();
    expect(Number(recovered)).toBe(writer.acked.at(-1)!.n);
  }, 120_000);
});

describe("planned failover without a final point", () => {
  it("runs out of time naming each disk short of its final point and why; replication is left running", async () => {
    const w = await world.workload("nofinal", { dataLuns: [0] });
    await protect(w);
    // No daemon runs: nothing answers the run's sync request.
    const ctx = {
      ...world.ctx,
      config: { ...world.ctx.config, timeouts: { ...world.ctx.config.timeouts, finalSyncSeconds: 1 } },
    };
    const e = await failover(ctx, w.stack, { kind: "planned" }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isFerryError(e) && e.code).toBe("Timeout");
    const message = (e as Error).message;
    expect(message).toMatch(/Timed out after 1 s waiting for the final sync/);
    expect(message).toMatch(/nofinal OS disk: no recovery point answering this run's request .*ferry-sync list/);
    expect(message).toMatch(/nofinal data disk LUN 0: no recovery point answering/);
    for (const id of [w.osDiskId, w.dataDiskIds.get(0)!])
      expect((await world.ctx.store.get(id))!.source.paused ?? false).toBe(false);
  }, 120_000);
});

describe("failover", () => {
  it("unplanned: fails over from the last applied point during an outage of the primary region, with no call to it", async () => {
    const w = await world.workload("db", { osStrategy: "attachAsIs", dataStrategy: "fromSnapshot" });
    writeWorkload(w, 21);
    await protect(w);
    const expected = snapshotFiles(w);
    // Lost with the region: written after the last recovery point.
    writeWorkload(w, 22);
    // The data disk is copied from its DR-side point and never paused: a sync asked for now makes the daemon's
    // next cycle meet the outage while the failover runs.
    await requestSync(world.ctx.store, w.dataDiskIds.get(0)!, new Date());

    f.emu.faults.setRegionOutage(PRIMARY.location, true);
    const from = f.emu.requests.length;
    let op;
    try {
      // The daemon goes on (and fails where it needs the primary region); the failover does not need it.
      op = await world.whileSyncing(() => failover(world.ctx, w.stack, { kind: "unplanned" }), world.sourcesOf(w));
    } finally {
      f.emu.faults.setRegionOutage(PRIMARY.location, false);
    }
    // The runbook's own calls (the daemon goes on, and fails, on its side).
    const calls = f.emu.requests.slice(from).filter((c) => c.userAgent.startsWith("ferry "));
    expect(f.emu.requests.slice(from).some((c) => c.userAgent.startsWith("ferry-sync "))).toBe(true);
    expect(calls.length).toBeGreaterThan(10);
    expect(
      calls.filter((c) => c.regions.includes(PRIMARY.location)).map((c) => `${c.method} ${c.path} ${c.status}`),
    ).toEqual([]);
    expect(calls.filter((c) => c.path.toLowerCase().includes(`/resourcegroups/${PRIMARY.rg}/`))).toEqual([]);

    expect(op.status).toBe("succeeded");
    expect(op.steps.map((s) => s.name)).not.toContain("power off the source VMs");
    await expectRecovered(w, "", expected);
    // The data disk came from a snapshot of its staging disk, which went back to the sync; the OS disk's stays with the
    // VM.
    const data = (await world.ctx.store.get(w.dataDiskIds.get(0)!))!.source;
    const os = (await world.ctx.store.get(w.osDiskId))!.source;
    expect(data.paused).toBe(false);
    expect(os.paused).toBe(true);
    expect(await applianceDisks()).toContain(data.stagingDiskId.toLowerCase());
    expect(await applianceDisks()).not.toContain(os.stagingDiskId.toLowerCase());
    const vm = (await drVms(w.stack))[0]!;
    expect(vm.storageProfile!.dataDisks![0]!.managedDisk!.id!.toLowerCase()).not.toBe(data.stagingDiskId.toLowerCase());
    expect(op.recoveryPoints![w.osDiskId]).toBe(os.applied!.snapshotId);
  });

  it("test: copies from snapshots in the test network while replication goes on; cleanup removes them", async () => {
    const w = await world.workload("app");
    writeWorkload(w, 31);
    await protect(w);
    const expected = snapshotFiles(w);
    const staging = await stagingIds(w);
    const zone = await world.ctx.deployer.outputs("lz");

    const op = await world.whileSyncing(() => failover(world.ctx, w.stack, { kind: "test" }), world.sourcesOf(w));
    expect(op.steps.map((s) => s.name)).not.toContain("detach attach-as-is staging disks from the appliance");
    const [vm] = await drVms(w.stack);
    expect(vm!.name).toBe("app-test");
    expect(vm!.tags?.[TAGS.role]).toBe("test");
    const nic = await f.azure.network.networkInterfaces.get(
      DR.rg,
      parseResourceId(vm!.networkProfile!.networkInterfaces![0]!.id!).name,
    );
    expect(nic.ipConfigurations![0]!.subnet!.id!.toLowerCase()).toBe(String(zone.testSubnetId).toLowerCase());
    await expectRecovered(w, "-test", expected);
    // The staging disks never moved, and the sync goes on.
    expect((await applianceDisks()).filter((id) => staging.includes(id)).sort()).toEqual([...staging].sort());
    for (const d of [w.osDiskId, w.dataDiskIds.get(0)!])
      expect((await world.ctx.store.get(d))!.source.paused).toBe(false);
    writeWorkload(w, 32);
    const after = snapshotFiles(w);
    await world.sync.daemon.tick({ force: true, filter: world.sourcesOf(w) });
    const os = (await world.ctx.store.get(w.osDiskId))!.source;
    expect(os.applied!.snapshotId).not.toBe(op.recoveryPoints![w.osDiskId]);
    const osStaging = f.emu.devicePath(DR.rg, "ferry-appliance", os.applianceLun);
    expect(await firstDifference(after.get("app/os")!, osStaging)).toBeUndefined();
    // The drill's recovery point is held while the test runs: the sync moved on without deleting it.
    const held = op.recoveryPoints![w.osDiskId]!;
    const snapshotExists = (id: string) =>
      f.azure.compute.snapshots.get(parseResourceId(id).resourceGroup, parseResourceId(id).name).then(
        () => true,
        () => false,
      );
    expect(os.holds).toEqual([expect.objectContaining({ snapshotId: held, by: op.id })]);
    expect(await snapshotExists(held)).toBe(true);

    const done = await cleanup(world.ctx, w.stack);
    expect(done.status).toBe("succeeded");
    expect(await drVms(w.stack)).toEqual([]);
    const left = [];
    for await (const d of f.azure.compute.disks.listByResourceGroup(DR.rg))
      if (d.tags?.[TAGS.blueprint] === w.stack && d.tags?.[TAGS.role] === "test") left.push(d.name);
    for await (const s of f.azure.compute.snapshots.listByResourceGroup(DR.rg))
      if (s.tags?.[TAGS.blueprint] === w.stack) left.push(s.name);
    expect(left).toEqual([]);
    expect(await currentMode(world.ctx, w.stack)).toBe("standby");
    // Cleanup ends the hold; the next cycle deletes the old point.
    expect((await world.ctx.store.get(w.osDiskId))!.source.holds).toBeUndefined();
    writeWorkload(w, 33);
    await world.sync.daemon.tick({ force: true, filter: world.sourcesOf(w) });
    expect(await snapshotExists(held)).toBe(false);
    expect((await applianceDisks()).filter((id) => staging.includes(id)).sort()).toEqual([...staging].sort());
  });

  it("a failure in one row is reported with its cause, the other row comes up, and a re-run converges without duplicates", async () => {
    const w = await world.workload("mix", { vms: 2 });
    writeWorkload(w, 41);
    await protect(w);
    const expected = snapshotFiles(w);
    const fault = f.emu.faults.add({
      match: { operation: "VirtualMachines_CreateOrUpdate", pathIncludes: "/virtualMachines/mixb" },
      action: { kind: "lroFail", code: "AllocationFailed", message: "No capacity for Standard_D2s_v5 in northeurope." },
      times: 1,
    });

    const first = await world
      .whileSyncing(() => failover(world.ctx, w.stack, { kind: "unplanned" }), world.sourcesOf(w))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isFerryError(first)).toBe(true);
    expect((first as Error).message).toMatch(
      /VirtualMachine mixb: .*AllocationFailed|VirtualMachine mixb: .*No capacity/,
    );
    expect(f.emu.faults.stats().find((s) => s.id === fault)?.fired).toBe(1);
    const failed = (await world.ctx.journal.list(w.stack))[0]!;
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/mixb/);
    expect(failed.rto.map((r) => r.row)).toEqual(["mixa"]);
    expect((await drVms(w.stack)).map((v) => v.name)).toContain("mixa");

    const again = await world.whileSyncing(
      () => failover(world.ctx, w.stack, { kind: "unplanned" }),
      world.sourcesOf(w),
    );
    expect(again.status).toBe("succeeded");
    expect(again.details).toMatchObject({ resumes: failed.id });
    expect((await drVms(w.stack)).map((v) => v.name).sort()).toEqual(["mixa", "mixb"]);
    await expectRecovered(w, "", expected);
    const plan = planBlueprint((await loadBlueprint(world.ctx, w.stack)).blueprint, await landingZone(world.ctx), {
      mode: "failover",
      recoveryPoints: (await modeRecord(world.ctx, w.stack))!.recoveryPoints,
    });
    expect(plan.rows.map((r) => r.vmName)).toEqual(["mixa", "mixb"]);
  });

  it("readiness: the RTO runs on to OS ready and app ready; an app that never answers fails the run with its probe, and a re-run re-checks", async () => {
    const w = await world.workload("rdy", { vms: 2 });
    await protect(w);
    // The application of rdya: a TCP listener that comes up a moment after the failover starts.
    const app = createServer((s) => s.end());
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", () => r()));
    const port = (app.address() as AddressInfo).port;
    await new Promise<void>((r) => app.close(() => r()));
    const config = await world.ctx.deployer.getConfig(w.stack);
    const blueprint = config.blueprint as { rows: Record<string, unknown>[] };
    blueprint.rows[0]!.readiness = { os: true, app: { kind: "tcp", port, host: "127.0.0.1" }, timeoutSeconds: 1 };
    blueprint.rows[1]!.readiness = { os: true };
    await world.ctx.deployer.setConfig(w.stack, { ...config, blueprint });

    const first = await world
      .whileSyncing(() => failover(world.ctx, w.stack, { kind: "unplanned" }), world.sourcesOf(w))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isFerryError(first) && first.code).toBe("NotReady");
    expect((first as Error).message).toMatch(
      new RegExp(
        `rdya: the application of rdya did not answer TCP 127\\.0\\.0\\.1:${port} within 1 s \\(last: .*ECONNREFUSED`,
      ),
    );
    expect((first as Error).message).not.toMatch(/rdyb/);
    const failed = (await world.ctx.journal.list(w.stack))[0]!;
    expect(failed.rto.find((r) => r.row === "rdyb")).toMatchObject({ osReadySeconds: expect.any(Number) });
    expect(failed.rto.find((r) => r.row === "rdya")?.appReadySeconds).toBeUndefined();
    expect((await drVms(w.stack)).map((v) => v.name).sort()).toEqual(["rdya", "rdyb"]);

    await new Promise<void>((r) => app.listen(port, "127.0.0.1", () => r()));
    try {
      const again = await world.whileSyncing(
        () => failover(world.ctx, w.stack, { kind: "unplanned" }),
        world.sourcesOf(w),
      );
      expect(again.status).toBe("succeeded");
      for (const r of again.rto) {
        expect(r.osReadySeconds!).toBeGreaterThanOrEqual(r.vmCreatedSeconds!);
        if (r.row === "rdya") expect(r.appReadySeconds!).toBeGreaterThanOrEqual(r.osReadySeconds!);
        else expect(r.appReadySeconds).toBeUndefined();
      }
      expect(again.steps.map((st) => st.name)).toContain("readiness checks (OS ready, app ready)");
    } finally {
      await new Promise<void>((r) => app.close(() => r()));
    }
  });
});
