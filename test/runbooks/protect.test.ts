import { beforeAll, describe, expect, it } from "vitest";
import { createEmptyDisk, createNic, createVm } from "@ferry/emulator/testing";
import { parseResourceId } from "../../core/resource-id";
import { EXIT } from "../../runbooks/commands/common";
import { recordMode } from "../../runbooks/mode";
import type { ProtectResult } from "../../runbooks/protect";
import { editBlueprint } from "../helpers/blueprint-edit";
import { useCliWorld } from "../helpers/cli-world";
import { PRIMARY, type DrWorld, type Workload } from "../helpers/dr-env";

// A short sync interval: the daemon takes a recovery point every cycle, so retention has points to prune.
const cli = useCliWorld({ syncIntervalSeconds: 1 });
let world: DrWorld;

beforeAll(() => {
  world = cli.world;
});

const ferry = (...args: string[]) => cli.ferry(args);

/** `ferry protect <stack> --json`, which must succeed. */
async function protect(stack: string): Promise<ProtectResult> {
  const r = await ferry("protect", stack, "--json");
  expect(r.code, r.err).toBe(EXIT.ok);
  const [result] = JSON.parse(r.out) as ProtectResult[];
  return result!;
}

const disksOf = (w: Workload) => w.vms.flatMap((v) => [v.osDiskId, ...v.dataDiskIds.values()]);

/** A workload protected by hand (new staging disks), every disk healthy at an applied point. */
async function protectedWorkload(name: string, vms = 1): Promise<Workload> {
  const w = await world.workload(name, { vms });
  await world.protect(w);
  return w;
}

/** A VM in the primary region that no blueprint has yet: an OS disk and a data disk at LUN 0. */
async function newSourceVm(name: string) {
  const subnet =
    `/subscriptions/${world.ctx.config.azure.subscriptionId}/resourceGroups/${PRIMARY.rg}` +
    "/providers/Microsoft.Network/virtualNetworks/prod-vnet/subnets/app";
  const b = world.builder;
  const nicId = await createNic(b, PRIMARY.rg, PRIMARY.location, `${name}-nic`, subnet);
  const osDiskId = await createEmptyDisk(b, PRIMARY.rg, PRIMARY.location, `${name}-os`, 1, { osType: "Linux" });
  const dataDiskId = await createEmptyDisk(b, PRIMARY.rg, PRIMARY.location, `${name}-data0`, 1);
  const vm = await createVm(b, PRIMARY.rg, PRIMARY.location, name, {
    osDiskId,
    nicId,
    dataDisks: [{ lun: 0, diskId: dataDiskId }],
    osType: "Linux",
  });
  return { vmId: vm.id!, osDiskId, dataDiskId };
}

describe("ferry protect", () => {
  it("writes a changed retention into each disk's record, and the daemon's next cycles prune by it", async () => {
    const w = await protectedWorkload("pr-ret");
    const os = w.osDiskId;
    await world.syncUntil(
      async () => (await world.ctx.points.list(os)).length >= 3,
      "three recovery points of the OS disk",
      world.sourcesOf(w),
    );
    const none = { allForSeconds: 0, hourlyForSeconds: 0, dailyForSeconds: 0 };
    await editBlueprint<{ retention?: unknown }>(world, w.stack, (b) => {
      b.retention = none;
    });
    const result = await protect(w.stack);
    expect(result.disks.map((d) => [d.role, d.action, d.changed])).toEqual([
      ["os", "updated", ["retention"]],
      ["lun-0", "updated", ["retention"]],
    ]);
    for (const id of disksOf(w)) expect((await world.ctx.store.get(id))!.source.protection?.retention).toEqual(none);
    // Only the newest point is kept by a policy of zeros: the daemon read it from the record.
    await world.syncUntil(
      async () => (await world.ctx.points.list(os)).length === 1,
      "one recovery point of the OS disk",
      world.sourcesOf(w),
    );
  });

  it("writes a changed RPO target into each disk's record", async () => {
    const w = await protectedWorkload("pr-rpo");
    await editBlueprint<{ rpoTargetSeconds?: number }>(world, w.stack, (b) => {
      b.rpoTargetSeconds = 120;
    });
    const result = await protect(w.stack);
    expect(result.disks.every((d) => d.action === "updated" && d.changed?.join() === "rpoTargetSeconds")).toBe(true);
    for (const id of disksOf(w)) expect((await world.ctx.store.get(id))!.source.protection?.rpoTargetSeconds).toBe(120);
  });

  it("gives a new row staging disks, enables them as empty, and the sync makes them healthy", async () => {
    const w = await protectedWorkload("pr-new");
    const vm = await newSourceVm("pr-new-b");
    await editBlueprint(world, w.stack, (b) => {
      b.rows.push({
        ...b.rows[0]!,
        name: "pr-new-b",
        sourceVmId: vm.vmId,
        osDisk: { ...(b.rows[0]!.osDisk as object), sourceDiskId: vm.osDiskId },
        dataDisks: [{ lun: 0, sourceDiskId: vm.dataDiskId, sizeGiB: 1 }],
        privateIpAddress: "10.1.3.200",
      });
    });
    const result = await protect(w.stack);
    expect(result.update.ran).toBe(true);
    expect(result.update.changes.create).toBeGreaterThanOrEqual(2);
    expect(result.disks.filter((d) => d.row === "pr-new-b").map((d) => [d.role, d.action, d.prepare])).toEqual([
      ["os", "enabled", "empty"],
      ["lun-0", "enabled", "empty"],
    ]);
    expect(result.disks.filter((d) => d.row === "pr-new").map((d) => d.action)).toEqual(["unchanged", "unchanged"]);
    const outputs = await world.ctx.deployer.outputs(w.stack);
    const staging = (outputs.stagingDisks as { sourceDiskId: string }[]).map((d) => d.sourceDiskId.toLowerCase());
    expect(staging).toEqual(expect.arrayContaining([vm.osDiskId.toLowerCase(), vm.dataDiskId.toLowerCase()]));
    const ids = new Set([vm.osDiskId, vm.dataDiskId].map((id) => id.toLowerCase()));
    await world.syncUntil(
      async () =>
        (await Promise.all([...ids].map((id) => world.ctx.store.get(id)))).every(
          (r) => r?.source.state === "healthy" && r.source.applied !== undefined,
        ),
      "the new row's disks healthy",
      (s) => ids.has(s.sourceDiskId.toLowerCase()),
    );
  });

  it("changes nothing when run again: no stack update, no record written, nothing attached", async () => {
    const w = await protectedWorkload("pr-idem");
    await editBlueprint<{ rpoTargetSeconds?: number }>(world, w.stack, (b) => {
      b.rpoTargetSeconds = 600;
    });
    await protect(w.stack);
    const etags = await Promise.all(disksOf(w).map(async (id) => (await world.ctx.store.get(id))!.etag));
    const history = (await world.ctx.deployer.history(w.stack)).length;
    const a = parseResourceId((await world.ctx.store.get(w.osDiskId))!.source.applianceId);
    const attached = async () =>
      (await world.builder.compute.virtualMachines.get(a.resourceGroup, a.name)).storageProfile?.dataDisks?.length;
    const before = await attached();

    const again = await protect(w.stack);
    expect(again.update.ran).toBe(false);
    expect(again.disks.map((d) => d.action)).toEqual(["unchanged", "unchanged"]);
    expect(await Promise.all(disksOf(w).map(async (id) => (await world.ctx.store.get(id))!.etag))).toEqual(etags);
    expect((await world.ctx.deployer.history(w.stack)).length).toBe(history);
    expect(await attached()).toBe(before);
  });

  it("refuses a blueprint whose drill is up, naming ferry cleanup, and changes nothing", async () => {
    const w = await protectedWorkload("pr-mode");
    await editBlueprint<{ rpoTargetSeconds?: number }>(world, w.stack, (b) => {
      b.rpoTargetSeconds = 900;
    });
    await recordMode(world.ctx, w.stack, "test", "failover-test-20260101T000000Z");
    const history = (await world.ctx.deployer.history(w.stack)).length;

    const r = await ferry("protect", w.stack);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain(`Blueprint ${w.stack} is in test mode: a drill's test failover is up`);
    expect(r.err).toContain(`End it with \`ferry cleanup ${w.stack}\``);
    expect(r.err).toContain("Nothing was changed");
    expect((await world.ctx.deployer.history(w.stack)).length).toBe(history);
    expect((await world.ctx.store.get(w.osDiskId))!.source.protection?.rpoTargetSeconds).toBeUndefined();
  });

  it("refuses a removed row whose disks are protected until they are disabled, then keeps its staging disks", async () => {
    const w = await protectedWorkload("pr-rm", 2);
    const gone = w.vms[1]!;
    await editBlueprint(world, w.stack, (b) => {
      b.rows = b.rows.filter((r) => r.name !== gone.vm);
    });

    const refused = await ferry("protect", w.stack);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.err).toContain("no longer has the row(s) of 2 protected disk(s)");
    expect(refused.err).toContain(`ferry sources disable ${gone.osDiskId} --yes`);
    expect((await world.ctx.store.get(gone.osDiskId))!.source.state).toBe("healthy");

    for (const id of [gone.osDiskId, ...gone.dataDiskIds.values()])
      expect((await ferry("sources", "disable", id, "--yes")).code).toBe(EXIT.ok);
    const result = await protect(w.stack);
    expect(result.released.map((x) => x.sourceDiskId.toLowerCase()).sort()).toEqual(
      [gone.osDiskId, ...gone.dataDiskIds.values()].map((id) => id.toLowerCase()).sort(),
    );
    // Out of the stack, still in Azure: the program retains staging disks.
    for (const x of result.released) {
      const p = parseResourceId(x.stagingDiskId);
      expect((await world.builder.compute.disks.get(p.resourceGroup, p.name)).id).toBe(x.stagingDiskId);
    }
  });

  it("enables a staging disk that existed but was never enabled as keep, never as empty", async () => {
    // The stack was updated by hand (world.workload's `up`) and never enabled.
    const w = await world.workload("pr-keep");
    const result = await protect(w.stack);
    expect(result.update.ran).toBe(false);
    expect(result.disks.map((d) => [d.role, d.action, d.prepare])).toEqual([
      ["os", "enabled", "keep"],
      ["lun-0", "enabled", "keep"],
    ]);
    for (const id of disksOf(w)) expect((await world.ctx.store.get(id))!.source.prepare).toBe("keep");
  });

  it("leaves a disk disabled by hand disabled", async () => {
    const w = await protectedWorkload("pr-off");
    const data = w.dataDiskIds.get(0)!;
    expect((await ferry("sources", "disable", data, "--yes")).code).toBe(EXIT.ok);
    const result = await protect(w.stack);
    expect(result.disks.map((d) => [d.role, d.action])).toEqual([
      ["os", "unchanged"],
      ["lun-0", "disabled"],
    ]);
    expect((await world.ctx.store.get(data))!.source.state).toBe("disabled");
  });

  it("--all protects every blueprint stack, and one refused does not stop the others", async () => {
    const ok = await protectedWorkload("pr-all-ok");
    const refused = await protectedWorkload("pr-all-no");
    for (const w of [ok, refused])
      await editBlueprint<{ rpoTargetSeconds?: number }>(world, w.stack, (b) => {
        b.rpoTargetSeconds = 240;
      });
    await recordMode(world.ctx, refused.stack, "failover", "failover-unplanned-20260101T000000Z");

    const r = await ferry("protect", "--all", "--json");
    expect(r.code).not.toBe(EXIT.ok);
    expect(r.err).toContain(`${refused.stack}: Blueprint ${refused.stack} is in failover mode`);
    const results = JSON.parse(r.out) as ProtectResult[];
    expect(results.map((x) => x.stack)).toContain(ok.stack);
    expect(results.map((x) => x.stack)).not.toContain(refused.stack);
    expect((await world.ctx.store.get(ok.osDiskId))!.source.protection?.rpoTargetSeconds).toBe(240);
    expect((await world.ctx.store.get(refused.osDiskId))!.source.protection?.rpoTargetSeconds).toBeUndefined();
  });
});
