import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { parseResourceId } from "../../core/resource-id";
import { isUserError } from "../../core/errors";
import { stagingDiskOf } from "../../runbooks/blueprints";
import { runLocalCli as runCli } from "../../local/ferry";
import { EXIT } from "../../runbooks/commands/common";
import { checkPrimary } from "../../runbooks/failback/check-primary";
import { prepareFailback } from "../../runbooks/failback/prepare";
import { failbackComplete } from "../../runbooks/failback/complete";
import { failbackSync } from "../../runbooks/failback/sync";
import { pattern, readAt, writeAt } from "../helpers/bytes";
import { history } from "../../runbooks/history";
import { DR, PRIMARY, useDrWorld, type DrWorld } from "../helpers/dr-env";
import { tempDir } from "../helpers/emulator";

const env = useDrWorld();
const f = env.f;
const world = () => env.world;

async function failedOver(name: string, options: Parameters<DrWorld["workload"]>[1] = {}) {
  const w = await world().workload(name, { dataLuns: [0, 1], ...options });
  await world().protect(w);
  return { w, op: await world().unplannedFailover(w) };
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected a refusal");
    },
    (e: unknown) => {
      expect(isUserError(e)).toBe(true);
      return (e as Error).message;
    },
  );

describe("failback prepare and check-primary", () => {
  it("maps each DR disk back to its primary disk from the failover's recovery points, refusing while the primary region is down or before any failover", async () => {
    const standby = await world().workload("fbs");
    expect(await refusal(prepareFailback(world().ctx, standby.stack))).toMatch(
      /is in standby, not failover: there is nothing to fail back/,
    );

    const { w, op } = await failedOver("fb", { osStrategy: "attachAsIs", dataStrategy: "fromSnapshot" });
    f.emu.faults.setRegionOutage(PRIMARY.location, true);
    try {
      expect(await refusal(prepareFailback(world().ctx, w.stack))).toMatch(
        /fb: the primary region westeurope does not answer .*Fail back once it is back/,
      );
    } finally {
      f.emu.faults.setRegionOutage(PRIMARY.location, false);
    }
    expect(await refusal(prepareFailback(world().ctx, w.stack, { operation: "failover-unplanned-nope" }))).toMatch(
      /No failover failover-unplanned-nope of bp-fb in the journal\. Its failovers: failover-unplanned-\S+ \(succeeded\)/,
    );

    const { plan } = await prepareFailback(world().ctx, w.stack);
    expect(plan.failover).toBe(op.id);
    const drVm = await f.azure.compute.virtualMachines.get(DR.rg, "fb");
    const staging = await stagingDiskOf(world().ctx, w.stack, w.osDiskId);
    expect(
      plan.disks.map((d) => [d.role, d.lun, d.primaryDiskId, d.drDiskId.toLowerCase(), d.basePointId, d.restore]),
    ).toEqual([
      ["os", undefined, w.osDiskId, staging.toLowerCase(), op.recoveryPoints![w.osDiskId], "inPlace"],
      ...[0, 1].map((lun) => [
        "data",
        lun,
        w.dataDiskIds.get(lun),
        drVm.storageProfile!.dataDisks!.find((d) => d.lun === lun)!.managedDisk!.id!.toLowerCase(),
        op.recoveryPoints![w.dataDiskIds.get(lun)!],
        "inPlace",
      ]),
    ]);
    // From-snapshot data disks are new disks, not the staging disks: failover sources, never new primary sources.
    for (const d of plan.disks.filter((x) => x.role === "data")) expect(d.drDiskId).toMatch(/\/disks\/fb-lun\d-disk$/);
    const lines = await history(world().ctx, w.stack);
    expect(lines.find((l) => l.kind === "failback-prepare")).toMatchObject({ status: "succeeded" });
  });

  it("blocks on a running primary VM and a disk in use, warns of what it will replace, and passes once they are stopped and free", async () => {
    const { w } = await failedOver("fc");
    await prepareFailback(world().ctx, w.stack);
    const vm = parseResourceId(w.vmId);
    const data0 = parseResourceId(w.dataDiskIds.get(0)!);
    const blocked = await checkPrimary(world().ctx, w.stack);
    expect(blocked.passed).toBe(false);
    const byName = (r: typeof blocked, n: string) => r.checks.find((c) => c.name === n);
    expect(byName(blocked, "fc: primary VM fc not running")).toMatchObject({
      level: "blocker",
      message: expect.stringMatching(/it is running\. Stop it .*az vm deallocate -g prod -n fc/),
    });
    expect(blocked.checks.filter((c) => c.level === "blocker")).toHaveLength(1);
    expect(blocked.checks.filter((c) => c.level === "warning").map((c) => c.name)).toEqual([
      "fc: OS disk fc-os replaced",
      "fc: data disk LUN 0 fc-data0 replaced",
      "fc: data disk LUN 1 fc-data1 replaced",
    ]);

    // Through the CLI: exit 3 and a table.
    const configPath = join(tempDir("ferry-fb-"), "ferry.json");
    writeFileSync(configPath, JSON.stringify(world().config));
    const out: string[] = [];
    const code = await runCli(["failback", "check-primary", w.stack, "--config", configPath], {
      out: (t) => out.push(t),
      logStream: new PassThrough(),
      logIsTty: false,
      env: world().env,
    });
    expect(code).toBe(EXIT.refused);
    expect(out.join("\n")).toMatch(/primary side of bp-fc: BLOCKED[\s\S]*BLOCK +fc: primary VM fc not running/);

    // Stopped, but something reads a disk through a SAS (possible once the VM no longer runs).
    await f.azure.compute.virtualMachines.beginDeallocateAndWait(vm.resourceGroup, vm.name);
    await f.azure.compute.disks.beginGrantAccessAndWait(data0.resourceGroup, data0.name, {
      access: "Read",
      durationInSeconds: 600,
    });
    const inUse = await checkPrimary(world().ctx, w.stack);
    expect(inUse.checks.filter((c) => c.level === "blocker")).toEqual([
      expect.objectContaining({
        name: "fc: data disk LUN 0 fc-data0 free",
        message: expect.stringMatching(/ActiveSAS: .*revoke the SAS/),
      }),
    ]);

    await f.azure.compute.disks.beginRevokeAccessAndWait(data0.resourceGroup, data0.name);
    const ready = await checkPrimary(world().ctx, w.stack);
    expect(ready.checks.filter((c) => c.level === "blocker")).toEqual([]);
    expect(ready.passed).toBe(true);
    expect(byName(ready, "fc: primary VM fc not running")?.message).toBe("deallocated");
    expect(byName(ready, "fc: size Standard_D2s_v5 offered in westeurope")?.level).toBe("ok");
  });

  it("refuses a row whose primary VM is gone unless told to restore it into a new VM", async () => {
    const { w } = await failedOver("fd");
    const vm = parseResourceId(w.vmId);
    const nicBefore = await f.azure.network.networkInterfaces.get(PRIMARY.rg, "fd-nic");
    await f.azure.compute.virtualMachines.beginDeleteAndWait(vm.resourceGroup, vm.name);
    expect(await refusal(prepareFailback(world().ctx, w.stack))).toMatch(
      /fd: the primary VM .*virtualMachines\/fd no longer exists, so there is nothing to fail back into\. Use --to-new-vm/,
    );
    // A new VM needs a subnet for its NIC, in the primary region.
    expect(await refusal(prepareFailback(world().ctx, w.stack, { toNewVm: true }))).toMatch(
      /fd: a new VM needs a subnet for its NIC\. Add --subnet <the id of a subnet in westeurope>/,
    );
    const drSubnet = world().targetSubnetId;
    expect(await refusal(prepareFailback(world().ctx, w.stack, { toNewVm: true, subnetId: drSubnet }))).toMatch(
      /fd: the subnet is in northeurope, not in the primary region westeurope/,
    );
    const subnet = `/subscriptions/${f.emu.subscriptionId}/resourceGroups/${PRIMARY.rg}/providers/Microsoft.Network/virtualNetworks/prod-vnet/subnets/app`;
    const { plan } = await prepareFailback(world().ctx, w.stack, { toNewVm: true, subnetId: subnet });
    expect(new Set(plan.disks.map((d) => d.restore))).toEqual(new Set(["newVm"]));
    const r = await checkPrimary(world().ctx, w.stack);
    expect(r).toMatchObject({
      passed: true,
      checks: [
        { name: "fd: primary VM", level: "warning" },
        { name: "fd: size Standard_D2s_v5 offered in westeurope", level: "ok" },
        { name: "new VMs in westeurope: 2 vCPUs free", level: "ok" },
      ],
    });
    // Without the quota for the new VM, a blocker.
    f.emu.setCoresQuota(PRIMARY.location, 1);
    try {
      const short = await checkPrimary(world().ctx, w.stack);
      expect(short.passed).toBe(false);
      expect(short.checks.find((c) => c.level === "blocker")).toMatchObject({
        name: "new VMs in westeurope: 2 vCPUs free",
        message: expect.stringMatching(/regional vCPUs are free\. Ask for more quota in westeurope/),
      });
    } finally {
      f.emu.setCoresQuota(PRIMARY.location, 10_000);
    }

    // The DR VM writes; the failback restores it into a new VM with the primary's name, on the returned disks.
    writeAt(f.emu.devicePath(DR.rg, "fd", 1), 3 * 1024 ** 2, pattern(77, 128 * 1024));
    const ctx = world().ctx;
    await world().whileSyncing(() => failbackSync(ctx, w.stack), world().sourcesOf(w));
    const { state } = await world().whileSyncing(() => failbackComplete(ctx, w.stack));
    const restored = await f.azure.compute.virtualMachines.get(PRIMARY.rg, "fd", { expand: "instanceView" });
    expect(restored.instanceView!.statuses!.some((st) => st.code === "PowerState/running")).toBe(true);
    expect(restored.storageProfile!.osDisk!.managedDisk!.id!.toLowerCase()).toBe(
      state.disks.find((d) => d.role === "os")!.newDiskId.toLowerCase(),
    );
    expect(restored.storageProfile!.dataDisks!.map((d) => d.lun)).toEqual([0, 1]);
    expect(
      readAt(f.emu.devicePath(PRIMARY.rg, "fd", 1), 3 * 1024 ** 2, 128 * 1024).equals(pattern(77, 128 * 1024)),
    ).toBe(true);
    // The NIC the deleted VM left behind is reused as it was (its address kept).
    const nic = await f.azure.network.networkInterfaces.get(PRIMARY.rg, "fd-nic");
    expect(nic.virtualMachine?.id?.toLowerCase()).toBe(restored.id!.toLowerCase());
    expect(nic.ipConfigurations![0]!.privateIPAddress).toBe(nicBefore.ipConfigurations![0]!.privateIPAddress);
    expect(nic.ipConfigurations![0]!.subnet!.id!.toLowerCase()).toBe(subnet.toLowerCase());
    // The disks the deleted VM left behind are the previous disks, kept and tagged.
    expect((await f.azure.compute.disks.get(PRIMARY.rg, "fd-os")).tags?.["ferry-failback-previous"]).toMatch(
      /^failback-complete-/,
    );
  });

  it("brings back a data disk deleted from a primary VM that still exists, at its LUN, without a new VM", async () => {
    const { w } = await failedOver("fg", { dataLuns: [0] });
    const ctx = world().ctx;
    const vm = parseResourceId(w.vmId);
    const data0 = parseResourceId(w.dataDiskIds.get(0)!);
    const before = await f.azure.compute.virtualMachines.get(vm.resourceGroup, vm.name);
    await f.azure.compute.virtualMachines.beginUpdateAndWait(vm.resourceGroup, vm.name, {
      storageProfile: { dataDisks: [] },
    });
    await f.azure.compute.disks.beginDeleteAndWait(data0.resourceGroup, data0.name);
    expect(await refusal(prepareFailback(ctx, w.stack))).toMatch(
      /fg: the primary data disk LUN 0 .*fg-data0 no longer exists/,
    );
    // The VM is there: no subnet is needed.
    await prepareFailback(ctx, w.stack, { toNewVm: true });
    writeAt(f.emu.devicePath(DR.rg, "fg", 0), 5 * 1024 ** 2, pattern(88, 64 * 1024));
    await world().whileSyncing(() => failbackSync(ctx, w.stack), world().sourcesOf(w));
    const { state } = await world().whileSyncing(() => failbackComplete(ctx, w.stack));
    const back = await f.azure.compute.virtualMachines.get(vm.resourceGroup, vm.name);
    expect(back.storageProfile!.dataDisks!.map((d) => [d.lun, d.managedDisk!.id!.toLowerCase()])).toEqual([
      [0, state.disks.find((d) => d.role === "data")!.newDiskId.toLowerCase()],
    ]);
    expect(readAt(f.emu.devicePath(PRIMARY.rg, "fg", 0), 5 * 1024 ** 2, 64 * 1024).equals(pattern(88, 64 * 1024))).toBe(
      true,
    );
    // The same VM, its disk returned: no new VM was made.
    expect(before.vmId).toMatch(/^[0-9a-f-]{36}$/);
    expect(back.vmId).toBe(before.vmId);
  });
});
