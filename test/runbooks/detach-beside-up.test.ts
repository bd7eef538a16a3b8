import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { failover } from "../../runbooks/failover";
import { modeRecord } from "../../runbooks/mode";
import type { Operation } from "../../runbooks/journal";
import { DR, useDrWorld, type DrWorld } from "../helpers/dr-env";

// An attach-as-is failover detaches the staging disks beside its `up`: the program declares the NICs at once and
// holds each VM until the store records the detach.

const env = useDrWorld();
const f = env.f;
let world: DrWorld;

beforeAll(() => {
  world = env.world;
});
afterEach(() => f.emu.faults.clear());

/** When a step of `op` ended, in seconds from the operation's start. */
function endOf(op: Operation, prefix: string): number {
  const step = op.steps.find((s) => s.name.startsWith(prefix))!;
  return (Date.parse(step.endedAt!) - Date.parse(op.startedAt)) / 1000;
}

/** When `op`'s resource of a kind was created, in seconds from its start. */
function createdAt(op: Operation, resource: string): number {
  return op.events!.find((e) => e.resource === resource && e.action === "created")!.atSeconds;
}

describe("the detach of an attach-as-is failover beside its up", () => {
  it("creates the NIC while the staging disk is still leaving the appliance, and the VM after", async () => {
    const w = await world.workload("dbu1", { osStrategy: "attachAsIs", dataStrategy: "attachAsIs" });
    await world.protect(w);
    f.emu.faults.add({
      match: { operation: "VirtualMachines_AttachDetachDataDisks", pathIncludes: "/virtualMachines/ferry-appliance" },
      action: { kind: "delay", ms: 2_000 },
    });
    const op = await world.whileSyncing(() => failover(world.ctx, w.stack, { kind: "unplanned" }), world.sourcesOf(w));
    const detachEnd = endOf(op, "detach attach-as-is");
    expect(createdAt(op, "NIC")).toBeLessThan(detachEnd);
    expect(createdAt(op, "VM")).toBeGreaterThanOrEqual(detachEnd - 0.1);
    const progress = (await modeRecord(world.ctx, w.stack))!.disks[w.osDiskId.toLowerCase()];
    expect(progress).toMatchObject({ detached: true });
    expect(progress).not.toHaveProperty("detachingUntil");
  });

  it("a detach Azure fails fails the run with its cause and no VM; the same failover run again completes", async () => {
    const w = await world.workload("dbu2", { osStrategy: "attachAsIs", dataStrategy: "attachAsIs" });
    await world.protect(w);
    f.emu.faults.add({
      match: { operation: "VirtualMachines_AttachDetachDataDisks", pathIncludes: "/virtualMachines/ferry-appliance" },
      action: { kind: "lroFail", code: "InternalExecutionError", message: "An internal execution error occurred." },
      times: 1,
    });
    const first = await world
      .whileSyncing(() => failover(world.ctx, w.stack, { kind: "unplanned" }), world.sourcesOf(w))
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(first?.message).toMatch(/internal execution error/i);
    expect(first?.message).toMatch(/run the same failover again/);
    const vmExists = await f.azure.compute.virtualMachines.get(DR.rg, "dbu2").then(
      () => true,
      () => false,
    );
    expect(vmExists).toBe(false);

    const again = await world.whileSyncing(
      () => failover(world.ctx, w.stack, { kind: "unplanned" }),
      world.sourcesOf(w),
    );
    expect(again.status).toBe("succeeded");
    expect((await f.azure.compute.virtualMachines.get(DR.rg, "dbu2")).name).toBe("dbu2");
  });
});
