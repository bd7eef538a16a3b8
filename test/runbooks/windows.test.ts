import { beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../core/errors";
import { failbackComplete } from "../../runbooks/failback/complete";
import { prepareFailback } from "../../runbooks/failback/prepare";
import { failbackSync } from "../../runbooks/failback/sync";
import { precheck } from "../../runbooks/precheck";
import { enableDr } from "../../runbooks/sources";
import { windowsGuestOf } from "../../local/world";
import { failBackIntoNewVm } from "../helpers/failback";
import { editBlueprint } from "../helpers/blueprint-edit";
import { DR, PRIMARY, useDrWorld, type DrWorld } from "../helpers/dr-env";

const env = useDrWorld();
const f = env.f;
let world: DrWorld;

beforeAll(() => {
  world = env.world;
});

/** What a VM says of its Windows guest: its model (OS disk, licence, osProfile) and its instance view. */
async function windowsFacts(rg: string, vm: string) {
  const model = await f.azure.compute.virtualMachines.get(rg, vm);
  const view = await f.azure.compute.virtualMachines.instanceView(rg, vm);
  return {
    osType: model.storageProfile?.osDisk?.osType,
    createOption: model.storageProfile?.osDisk?.createOption,
    osProfile: model.osProfile,
    licenseType: model.licenseType,
    computerName: view.computerName,
    osName: view.osName,
    generation: view.hyperVGeneration,
    agent: view.vmAgent?.statuses?.[0]?.displayStatus,
  };
}

describe("Windows rows", () => {
  it("a Gen2 Windows Server source recovers as itself, from its staging disk and from a snapshot, and fails back", async () => {
    const w = await world.workload("win", {
      osType: "Windows",
      licenseType: "Windows_Server",
      hyperVGeneration: "V2",
      dataLuns: [0],
      strategies: [
        { os: "attachAsIs", data: "attachAsIs" },
        { os: "fromSnapshot", data: "fromSnapshot" },
      ],
    });
    await editBlueprint<{ rows: Record<string, unknown>[] }>(world, w.stack, (b) => {
      for (const row of b.rows) row.readiness = { os: true };
    });
    await world.protect(w);

    // The precheck passes, and names the policy's advice for the row that attaches its Windows OS disk as-is.
    const checked = await precheck(world.ctx, w.stack);
    expect(checked.passed).toBe(true);
    expect(checked.checks.filter((c) => c.name.includes("Windows"))).toEqual([
      expect.objectContaining({ name: "wina: Windows computer name", ok: true }),
      expect.objectContaining({
        name: "wina: Windows OS disk from a snapshot",
        ok: true,
        warning: true,
        message: expect.stringContaining("Prefer osStrategy fromSnapshot for row wina"),
      }),
      expect.objectContaining({ name: "winb: Windows computer name", ok: true }),
    ]);

    const op = await world.unplannedFailover(w);
    expect(op.status).toBe("succeeded");
    const windows = (vm: string) => ({
      osType: "Windows",
      createOption: "Attach",
      osProfile: undefined,
      licenseType: "Windows_Server",
      // The guest keeps its own computer name: the source's, carried in the disk's bytes.
      computerName: windowsGuestOf(vm).computerName,
      osName: "Windows Server 2022 Datacenter",
      generation: "V2",
      agent: "Ready",
    });
    for (const v of w.vms)
      expect({ vm: v.vm, ...(await windowsFacts(DR.rg, v.vm)) }).toEqual({ vm: v.vm, ...windows(v.vm) });

    // Home again: the primary VMs boot the returned disks as the same Windows guests, with their licence.
    await prepareFailback(world.ctx, w.stack);
    await world.whileSyncing(() => failbackSync(world.ctx, w.stack), world.sourcesOf(w));
    await world.whileSyncing(() => failbackComplete(world.ctx, w.stack));
    for (const v of w.vms)
      expect({ vm: v.vm, ...(await windowsFacts(PRIMARY.rg, v.vm)) }).toEqual({ vm: v.vm, ...windows(v.vm) });
  });

  it("a failback into a new VM, the primary VM being gone, gives it the row's licence and the guest's own name", async () => {
    const w = await world.workload("winnew", { osType: "Windows", licenseType: "Windows_Server", dataLuns: [0] });
    await world.protect(w);
    await failBackIntoNewVm(world, w);
    expect(await windowsFacts(PRIMARY.rg, w.vm)).toEqual({
      osType: "Windows",
      createOption: "Attach",
      osProfile: undefined,
      licenseType: "Windows_Server",
      computerName: "WINNEW",
      osName: "Windows Server 2022 Datacenter",
      generation: "V1",
      agent: "Ready",
    });
  });

  it("the precheck refuses a Windows row whose VM name is no Windows computer name, saying how to fix it", async () => {
    const w = await world.workload("windows-database01", { osType: "Windows" });
    const r = await precheck(world.ctx, w.stack);
    expect(r.passed).toBe(false);
    expect(r.checks.find((c) => c.name === "windows-database01: Windows computer name")).toMatchObject({
      ok: false,
      message:
        "The recovered VM's name windows-database01 is 18 characters, longer than Windows allows (15). Shorten it " +
        "to 15 characters or fewer: a Windows VM's name must be a valid Windows computer name. Set rows[].hostname " +
        "for row windows-database01 in stack bp-windows-database01 to one (the guest keeps the computer name on its " +
        "disk whatever the VM is called).",
    });
  });

  it("the precheck refuses a Windows row named as Windows reserves, in its blueprint check", async () => {
    const w = await world.workload("winres", { osType: "Windows" });
    await editBlueprint<{ rows: Record<string, unknown>[] }>(world, w.stack, (b) => {
      b.rows[0]!.hostname = "server";
    });
    const r = await precheck(world.ctx, w.stack);
    expect(r.passed).toBe(false);
    expect(r.checks[0]).toMatchObject({ name: "blueprint configuration", ok: false });
    expect(r.checks[0]!.message).toContain("is a name Windows reserves (KB 909264). Pick another");
  });

  it("enable refuses a Windows row whose licence is not its source VM's, and enables nothing", async () => {
    const w = await world.workload("winlic", { osType: "Windows", licenseType: "Windows_Server" });
    await editBlueprint<{ rows: Record<string, unknown>[] }>(world, w.stack, (b) => {
      delete (b.rows[0]!.osDisk as Record<string, unknown>).licenseType;
    });
    const refused = await enableDr(world.ctx, w.stack, { prepare: "empty" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isFerryError(refused) && refused.code).toBe("LicenseTypeMismatch");
    expect((refused as Error).message).toBe(
      "The source VM of row winlic (winlic) has licenseType Windows_Server, but the blueprint states none: the " +
        "recovered VM would be billed otherwise than the source. Set rows[].osDisk.licenseType: Windows_Server for " +
        "row winlic in stack bp-winlic, deploy it (pulumi up -s bp-winlic), and enable again.",
    );
    expect(await world.ctx.store.get(w.osDiskId)).toBeUndefined();
  });
});
