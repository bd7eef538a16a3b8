import { beforeAll, describe, expect, it } from "vitest";
import { packConfigFromFacts } from "../../policies/pack";
import { detachFromAppliance } from "../../runbooks/appliance";
import { landingZone, loadBlueprint, sourceDisks } from "../../runbooks/blueprints";
import { recordDiskProgress, recordMode } from "../../runbooks/mode";
import { precheck } from "../../runbooks/precheck";
import { pauseAtApplyBoundary } from "../../runbooks/wait";
import { DR, useDrWorld, type DrWorld, type Workload } from "../helpers/dr-env";
import { thrownBy } from "../helpers/errors";

// A bare `pulumi up` of a blueprint in failover mode, run by hand through the local deployer with no
// runbook around it: the program reads the mode record in the state store and recovers the recorded
// point only when the store shows each disk ready for its strategy, or refuses with the command.

const env = useDrWorld();
const f = env.f;
let world: DrWorld;

beforeAll(() => {
  world = env.world;
});

const vmExists = (name: string) =>
  f.azure.compute.virtualMachines.get(DR.rg, name).then(
    () => true,
    () => false,
  );

/** Waits until the row's NIC exists: the program has read the run state and its VM waits for the detach. */
const nicCreated = (name: string) =>
  expect
    .poll(
      () =>
        f.azure.network.networkInterfaces.get(DR.rg, name).then(
          () => true,
          () => false,
        ),
      { timeout: 30_000 },
    )
    .toBe(true);

/**
 * What a failover that died right after its precheck leaves in the store: the mode, the points and
 * the operation recorded; `pause` decides whether the sync was paused at an apply boundary first.
 */
async function recordFailover(w: Workload, operation: string, options: { pause: boolean }) {
  const ctx = world.ctx;
  const disks = sourceDisks((await loadBlueprint(ctx, w.stack)).blueprint);
  if (options.pause)
    await world.whileSyncing(
      () =>
        pauseAtApplyBoundary(
          ctx,
          disks.map((d) => d.sourceDiskId),
          "the test",
        ),
      world.sourcesOf(w),
    );
  const check = await precheck(ctx, w.stack, { mode: "failover", operation });
  expect(check.passed).toBe(true);
  await recordMode(ctx, w.stack, "failover", operation, {
    operationKind: "failover-unplanned",
    recoveryPoints: check.recoveryPoints,
    disks: Object.fromEntries(
      disks.map((d) => [
        d.sourceDiskId,
        options.pause ? { pausedAt: check.recoveryPoints[d.sourceDiskId]!.snapshotId } : {},
      ]),
    ),
  });
  return {
    check,
    policyConfig: packConfigFromFacts(check.facts!, { maxAgeMinutes: world.config.precheck.maxAgeMinutes }),
  };
}

describe("a bare up of a blueprint in failover mode", () => {
  it("is refused while the store shows the sync running, naming each disk and the command; no VM", async () => {
    const w = await world.workload("bare1", { osStrategy: "attachAsIs", dataStrategy: "fromSnapshot" });
    await world.protect(w);
    const { policyConfig } = await recordFailover(w, "hand-1", { pause: false });
    const e = await thrownBy(world.ctx.deployer.up(w.stack, { message: "pulumi up by hand", policyConfig }));
    expect(e).toMatchObject({ code: "NotReadyToRecover" });
    expect(e.message).toContain(`bare1 OS disk (${w.osDiskId}, attachAsIs): its sync is syncing (not paused)`);
    expect(e.message).toContain(`bare1 data disk LUN 0 (${w.dataDiskIds.get(0)!}, fromSnapshot): its sync is syncing`);
    expect(e.message).toContain(`Run \`ferry failover ${w.stack} --unplanned\``);
    expect(await vmExists("bare1")).toBe(false);
    expect((await world.ctx.deployer.history(w.stack))[0]).toMatchObject({
      message: "pulumi up by hand",
      result: "failed",
      resourceChanges: { create: 0 },
    });
  });

  it("is refused while an attach-as-is staging disk is still on the appliance, though the sync is paused", async () => {
    const w = await world.workload("bare2", { osStrategy: "attachAsIs", dataStrategy: "fromSnapshot" });
    await world.protect(w);
    const { policyConfig } = await recordFailover(w, "hand-2", { pause: true });
    const e = await thrownBy(world.ctx.deployer.up(w.stack, { message: "pulumi up by hand", policyConfig }));
    expect(e).toMatchObject({ code: "NotReadyToRecover" });
    expect(e.message).toContain(
      `bare2 OS disk (${w.osDiskId}, attachAsIs): the store does not record its staging disk as detached`,
    );
    // The from-snapshot disk is ready (paused at its point): only the attach-as-is one is named.
    expect(e.message).not.toContain("data disk LUN 0");
    expect(await vmExists("bare2")).toBe(false);
  });

  it("recovers exactly the recorded point once the store shows the pause and the detach", async () => {
    const w = await world.workload("bare3", { osStrategy: "attachAsIs", dataStrategy: "fromSnapshot" });
    await world.protect(w);
    const { check, policyConfig } = await recordFailover(w, "hand-3", { pause: true });
    const source = (await world.ctx.store.get(w.osDiskId))!.source;
    await detachFromAppliance(world.ctx, (await landingZone(world.ctx)).applianceId, [source.stagingDiskId]);
    await recordDiskProgress(world.ctx, w.stack, "hand-3", { [w.osDiskId]: { detached: true } });

    const up = await world.ctx.deployer.up(w.stack, { message: "pulumi up by hand", policyConfig });
    expect(up.changes.create).toBeGreaterThan(0);
    const vm = await f.azure.compute.virtualMachines.get(DR.rg, "bare3");
    expect(vm.tags?.["ferry-operation"]).toBe("hand-3");
    expect(vm.tags?.["ferry-recovery-point"]).toBe(check.recoveryPoints[w.osDiskId]!.snapshotId);
    expect(vm.storageProfile?.osDisk?.managedDisk?.id?.toLowerCase()).toBe(source.stagingDiskId.toLowerCase());
    // The data disk comes from a snapshot of its staging disk, taken while the store showed that disk
    // paused at its recorded point.
    const dataStaging = (await world.ctx.store.get(w.dataDiskIds.get(0)!))!.source;
    expect(dataStaging.paused).toBe(true);
    expect(dataStaging.applied?.snapshotId).toBe(check.recoveryPoints[w.dataDiskIds.get(0)!]!.snapshotId);
    const snapshot = await f.azure.compute.snapshots.get(DR.rg, "bare3-lun0-snapshot");
    expect(snapshot.creationData?.sourceResourceId?.toLowerCase()).toBe(dataStaging.stagingDiskId.toLowerCase());
  });

  it("while the store shows a runbook detaching the disk, creates the NIC and holds the VM until the detach", async () => {
    const w = await world.workload("bare4", { osStrategy: "attachAsIs", dataStrategy: "fromSnapshot" });
    await world.protect(w);
    const { policyConfig } = await recordFailover(w, "hand-4", { pause: true });
    const until = new Date(Date.now() + 600_000).toISOString();
    await recordDiskProgress(world.ctx, w.stack, "hand-4", { [w.osDiskId]: { detachingUntil: until } });
    const up = world.ctx.deployer.up(w.stack, { message: "pulumi up by hand", policyConfig });
    up.catch(() => undefined);
    await nicCreated("bare4-nic");
    expect(await vmExists("bare4")).toBe(false);

    const source = (await world.ctx.store.get(w.osDiskId))!.source;
    await detachFromAppliance(world.ctx, (await landingZone(world.ctx)).applianceId, [source.stagingDiskId]);
    await recordDiskProgress(world.ctx, w.stack, "hand-4", {
      [w.osDiskId]: { detached: true, detachingUntil: undefined },
    });
    expect((await up).changes.create).toBeGreaterThan(0);
    const vm = await f.azure.compute.virtualMachines.get(DR.rg, "bare4");
    expect(vm.storageProfile?.osDisk?.managedDisk?.id?.toLowerCase()).toBe(source.stagingDiskId.toLowerCase());
  });

  it("fails, with no VM, when the runbook withdraws the detach it recorded", async () => {
    const w = await world.workload("bare5", { osStrategy: "attachAsIs", dataStrategy: "fromSnapshot" });
    await world.protect(w);
    const { policyConfig } = await recordFailover(w, "hand-5", { pause: true });
    const until = new Date(Date.now() + 600_000).toISOString();
    await recordDiskProgress(world.ctx, w.stack, "hand-5", { [w.osDiskId]: { detachingUntil: until } });
    const up = thrownBy(world.ctx.deployer.up(w.stack, { message: "pulumi up by hand", policyConfig }));
    // Withdrawn once the program has read the record and its VM waits, not before its first read.
    await nicCreated("bare5-nic");
    await recordDiskProgress(world.ctx, w.stack, "hand-5", { [w.osDiskId]: { detachingUntil: undefined } });
    const e = await up;
    expect(e.message).toMatch(/its detach was withdrawn/);
    expect(await vmExists("bare5")).toBe(false);
  });
});
