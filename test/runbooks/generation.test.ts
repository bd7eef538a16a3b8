import { editBlueprint } from "../helpers/blueprint-edit";
import { beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../core/errors";
import { parseResourceId } from "../../core/resource-id";
import { failover } from "../../runbooks/failover";
import { precheck } from "../../runbooks/precheck";
import { enableDr } from "../../runbooks/sources";
import { TAGS } from "../../stacks/plan";
import { DR, useDrWorld, type DrWorld } from "../helpers/dr-env";

const env = useDrWorld();
const f = env.f;
let world: DrWorld;

beforeAll(() => {
  world = env.world;
});

describe("Hyper-V generation", () => {
  it("a Gen2 Linux source recovers as a Gen2 VM that boots, from its staging disk and from a snapshot", async () => {
    const w = await world.workload("g2", {
      hyperVGeneration: "V2",
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
      expect({
        vm: v.vm,
        generation: view.hyperVGeneration,
        agent: view.vmAgent?.statuses?.[0]?.displayStatus,
      }).toEqual({ vm: v.vm, generation: "V2", agent: "Ready" });
      const vm = await f.azure.compute.virtualMachines.get(DR.rg, v.vm);
      const osDisk = parseResourceId(vm.storageProfile!.osDisk!.managedDisk!.id!);
      const disk = await f.azure.compute.disks.get(osDisk.resourceGroup, osDisk.name);
      expect({ vm: v.vm, role: disk.tags?.[TAGS.role], generation: disk.hyperVGeneration }).toEqual({
        vm: v.vm,
        role: v.strategies.os === "attachAsIs" ? "staging" : expect.not.stringMatching(/^staging$/),
        generation: "V2",
      });
    }
  });

  it("the precheck refuses a Gen2 row whose VM size boots only Gen1, naming sizes that boot Gen2", async () => {
    const w = await world.workload("g2size", { hyperVGeneration: "V2" });
    await editBlueprint(world, w.stack, (b) => {
      b.rows[0]!.vmSize = "Standard_D2_v3";
      b.target.vmSizes = ["Standard_D2_v3"];
    });
    const r = await precheck(world.ctx, w.stack);
    const check = r.checks.find((c) => c.name === "g2size: Hyper-V generation V2");
    expect(check?.ok).toBe(false);
    expect(check?.message).toMatch(/^Standard_D2_v3 cannot boot Hyper-V generation V2 \(it boots V1\)/);
    expect(check?.message).toContain("Pick a size that boots V2 for rows[].vmSize: ");
    const named = check!.message
      .replace(/.*rows\[\]\.vmSize: /, "")
      .replace(/( and \d+ more)?\.$/, "")
      .split(", ");
    expect(named).toContain("Standard_D2s_v3");
    expect(named).not.toContain("Standard_D2_v3");
    expect(named).not.toContain("Standard_A2_v2");
    expect(r.passed).toBe(false);
  });

  it("the precheck passes a Gen2 row on a size that boots Gen2", async () => {
    const w = await world.workload("g2ok", { hyperVGeneration: "V2" });
    const r = await precheck(world.ctx, w.stack);
    expect(r.checks.find((c) => c.name === "g2ok: Hyper-V generation V2")).toMatchObject({
      ok: true,
      message: "Standard_D2s_v5 boots V2",
    });
  });

  it("enable refuses a Gen2 source whose row states no generation, and enables nothing", async () => {
    const w = await world.workload("g2none", { hyperVGeneration: "V2" });
    await editBlueprint(world, w.stack, (b) => {
      delete (b.rows[0]!.osDisk as Record<string, unknown>).hyperVGeneration;
    });
    const refused = await enableDr(world.ctx, w.stack, { prepare: "empty" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isFerryError(refused) && refused.code).toBe("GenerationMismatch");
    const message = (refused as Error).message;
    expect(message).toContain("row g2none (g2none-os) is Hyper-V generation V2, but the blueprint states none");
    expect(message).toContain("rows[].osDisk.hyperVGeneration: V2");
    expect(await world.ctx.store.get(w.osDiskId)).toBeUndefined();
  });
});
