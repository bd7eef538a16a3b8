import { beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../core/errors";
import { parseResourceId } from "../../core/resource-id";
import { createTrustedLaunchDisk } from "@ferry/emulator/testing";
import { failover } from "../../runbooks/failover";
import { formatPrecheck, precheck } from "../../runbooks/precheck";
import { enableDr } from "../../runbooks/sources";
import { TAGS } from "../../stacks/plan";
import { failBackIntoNewVm } from "../helpers/failback";
import { editBlueprint } from "../helpers/blueprint-edit";
import { DR, PRIMARY, useDrWorld, type DrWorld } from "../helpers/dr-env";

const env = useDrWorld();
const f = env.f;
let world: DrWorld;

beforeAll(() => {
  world = env.world;
});

/** The error a call was refused with (fails the test when it succeeds). */
async function refusal(call: Promise<unknown>): Promise<Error> {
  const outcome = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(outcome instanceof Error)) throw new Error("expected a refusal");
  return outcome;
}

/** The OS disk a recovered VM runs on. */
async function osDiskOf(vm: string) {
  const v = await f.azure.compute.virtualMachines.get(DR.rg, vm);
  const p = parseResourceId(v.storageProfile!.osDisk!.managedDisk!.id!);
  return { vm: v, disk: await f.azure.compute.disks.get(p.resourceGroup, p.name) };
}

describe("Trusted Launch", () => {
  it("a Trusted Launch Gen2 source recovers as a Trusted Launch Gen2 VM that boots, as is and from a snapshot", async () => {
    const w = await world.workload("tl", {
      trustedLaunch: true,
      strategies: [
        { os: "attachAsIs", data: "attachAsIs" },
        { os: "fromSnapshot", data: "fromSnapshot" },
      ],
    });
    await editBlueprint(world, w.stack, (b) => {
      for (const row of b.rows) row.readiness = { os: true };
    });
    await world.protect(w);
    const op = await world.whileSyncing(() => failover(world.ctx, w.stack, { kind: "unplanned" }), world.sourcesOf(w));
    expect(op.status).toBe("succeeded");
    for (const v of w.vms) {
      const view = await f.azure.compute.virtualMachines.instanceView(DR.rg, v.vm);
      const { vm, disk } = await osDiskOf(v.vm);
      expect({
        vm: v.vm,
        security: vm.securityProfile,
        generation: view.hyperVGeneration,
        agent: view.vmAgent?.statuses?.[0]?.displayStatus,
        disk: disk.securityProfile?.securityType,
        role: disk.tags?.[TAGS.role],
      }).toEqual({
        vm: v.vm,
        security: { securityType: "TrustedLaunch", uefiSettings: { secureBootEnabled: true, vTpmEnabled: true } },
        generation: "V2",
        agent: "Ready",
        disk: "TrustedLaunch",
        role: v.strategies.os === "attachAsIs" ? "staging" : expect.not.stringMatching(/^staging$/),
      });
    }
  });

  it("a failback into a new VM, the primary VM being gone, makes it Trusted Launch as the row states", async () => {
    const w = await world.workload("tlnew", { trustedLaunch: true });
    await world.protect(w);
    await failBackIntoNewVm(world, w);
    const vm = await f.azure.compute.virtualMachines.get(PRIMARY.rg, w.vm);
    expect(vm.securityProfile).toEqual({
      securityType: "TrustedLaunch",
      uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
    });
    const view = await f.azure.compute.virtualMachines.instanceView(PRIMARY.rg, w.vm);
    expect(view.hyperVGeneration).toBe("V2");
  });

  it("the precheck passes a Trusted Launch row and warns that the vTPM's contents are not carried", async () => {
    const w = await world.workload("tlwarn", { trustedLaunch: true });
    const r = await precheck(world.ctx, w.stack);
    expect(r.checks.find((c) => c.name === "tlwarn: Trusted Launch")).toMatchObject({
      ok: true,
      message: "Standard_D2s_v5 takes Trusted Launch",
    });
    const warning = r.checks.find((c) => c.name === "tlwarn: VM guest state");
    expect(warning).toMatchObject({ ok: true, warning: true });
    expect(warning?.message).toContain("Windows asks for the BitLocker recovery key");
    expect(formatPrecheck(r)).toMatch(/^WARN {2}tlwarn: VM guest state /m);
  });

  it("the precheck refuses a Trusted Launch row on a size without Trusted Launch, naming sizes with it", async () => {
    const w = await world.workload("tlsize", { trustedLaunch: true });
    await editBlueprint(world, w.stack, (b) => {
      b.rows[0]!.vmSize = "Standard_NC6s_v3";
      b.target.vmSizes = ["Standard_NC6s_v3"];
    });
    const r = await precheck(world.ctx, w.stack);
    const check = r.checks.find((c) => c.name === "tlsize: Trusted Launch");
    expect(check?.ok).toBe(false);
    expect(check?.message).toMatch(/^Standard_NC6s_v3 does not take Trusted Launch/);
    const named = check!.message
      .replace(/.*rows\[\]\.vmSize: /, "")
      .replace(/( and \d+ more)?\.$/, "")
      .split(", ");
    expect(named).toContain("Standard_D4s_v5");
    expect(named).not.toContain("Standard_D2_v3");
    expect(r.passed).toBe(false);
  });

  it("enable refuses a Trusted Launch source whose row states Standard, and enables nothing", async () => {
    const w = await world.workload("tlnone", { trustedLaunch: true });
    await editBlueprint(world, w.stack, (b) => {
      delete (b.rows[0]!.osDisk as Record<string, unknown>).securityType;
    });
    const refused = await refusal(enableDr(world.ctx, w.stack, { prepare: "empty" }));
    expect(isFerryError(refused) && refused.code).toBe("SecurityTypeMismatch");
    expect(refused.message).toContain("is TrustedLaunch, but the blueprint states Standard");
    expect(refused.message).toContain("without Secure Boot and vTPM");
    expect(await world.ctx.store.get(w.osDiskId)).toBeUndefined();
  });

  it("enable refuses a row whose UEFI settings are not the source VM's", async () => {
    const w = await world.workload("tluefi", { trustedLaunch: true });
    await editBlueprint(world, w.stack, (b) => {
      (b.rows[0]!.osDisk as Record<string, unknown>).uefiSettings = { secureBootEnabled: false, vTpmEnabled: true };
    });
    const refused = await refusal(enableDr(world.ctx, w.stack, { prepare: "empty" }));
    expect(isFerryError(refused) && refused.code).toBe("SecurityTypeMismatch");
    expect(refused.message).toContain("{ secureBootEnabled: true, vTpmEnabled: true }");
  });

  it("enable refuses a Confidential VM source with the reason", async () => {
    const w = await world.workload("cvm", { hyperVGeneration: "V2" });
    const cvmDisk = await createTrustedLaunchDisk(world.builder, PRIMARY.rg, PRIMARY.location, "cvm-os-2", 1, {
      osType: "Linux",
      securityProfile: { securityType: "ConfidentialVM_VMGuestStateOnlyEncryptedWithPlatformKey" },
    });
    await editBlueprint(world, w.stack, (b) => {
      (b.rows[0]!.osDisk as Record<string, unknown>).sourceDiskId = cvmDisk;
    });
    const refused = await refusal(enableDr(world.ctx, w.stack, { prepare: "empty" }));
    expect(isFerryError(refused) && refused.code).toBe("ConfidentialVmUnsupported");
    expect(refused.message).toContain("a block-by-block sync does not carry");
  });
});

describe("zones", () => {
  it("a zonal row recovers into its zone: the VM and its from-snapshot disks there, staging disks ZRS", async () => {
    const w = await world.workload("zonal", {
      zone: "2",
      strategies: [
        { os: "attachAsIs", data: "attachAsIs" },
        { os: "fromSnapshot", data: "fromSnapshot" },
      ],
    });
    await world.protect(w);
    const op = await world.whileSyncing(() => failover(world.ctx, w.stack, { kind: "unplanned" }), world.sourcesOf(w));
    expect(op.status).toBe("succeeded");
    for (const v of w.vms) {
      const { vm, disk } = await osDiskOf(v.vm);
      expect({ vm: v.vm, zones: vm.zones, diskZones: disk.zones, sku: disk.sku?.name }).toEqual(
        v.strategies.os === "attachAsIs"
          ? { vm: v.vm, zones: ["2"], diskZones: undefined, sku: "Premium_ZRS" }
          : { vm: v.vm, zones: ["2"], diskZones: ["2"], sku: "Premium_LRS" },
      );
    }
  });

  it("the precheck refuses a zonal row whose size its zone does not offer, naming the zones that do", async () => {
    const w = await world.workload("zsize", { zone: "3", vmSize: "Standard_E8s_v5" });
    const r = await precheck(world.ctx, w.stack);
    const check = r.checks.find((c) => c.name === "zsize: zone 3");
    expect(check).toMatchObject({ ok: false });
    expect(check?.message).toBe(
      `Standard_E8s_v5 is not offered in zone 3 of ${DR.location}: the recovered VM would be refused ` +
        "(SkuNotAvailable). Set rows[].zone to a zone that offers it (1, 2), or pick another size for rows[].vmSize.",
    );
    expect(r.passed).toBe(false);
  });

  it("the precheck passes a zonal row whose size its zone offers", async () => {
    const w = await world.workload("zok", { zone: "1", vmSize: "Standard_E8s_v5" });
    const r = await precheck(world.ctx, w.stack);
    expect(r.checks.find((c) => c.name === "zok: zone 1")).toMatchObject({
      ok: true,
      message: "Standard_E8s_v5 is offered in zone 1",
    });
  });
});
