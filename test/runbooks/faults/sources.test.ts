import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { nameOf, parseResourceId } from "../../../core/resource-id";
import { useCliWorld } from "../../helpers/cli-world";
import type { DrWorld } from "../../helpers/dr-env";
import {
  AZURE_FAULTS,
  EXIT,
  expectNotPaused,
  expectOk,
  expectReadable,
  FIX,
  onEveryArmCall,
  storeDown,
} from "./matrix";

// The fault-injection matrix of `ferry sources` and `ferry history`. These record no operation in the
// journal (a source's state is its record: `sources list` shows it), so a cell checks the source rows.
// `sources retry-backfill`, `sources check-health` and `history` make no ARM call (one state-store
// write per disk, or reads of the store and the stack history): Azure's faults cannot reach them, only
// the state store down can.

const cli = useCliWorld();
const { f, ferry } = cli;
let world: DrWorld;

beforeAll(() => {
  world = cli.world;
});
afterEach(() => {
  f.emu.faults.clear();
});

const short = (fault: string) => fault.replace(/\W/g, "").slice(0, 5).toLowerCase();

describe("sources enable under Azure's failures", () => {
  for (const fault of AZURE_FAULTS) {
    it(`${fault} on every ARM call: exit 1, one message naming the fix, a re-run enables`, async () => {
      const w = await world.workload(`se${short(fault)}`);
      onEveryArmCall(cli, fault);
      const r = await ferry(["sources", "enable", w.stack, "--prepare", "empty"]);
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX[fault]);
      f.emu.faults.clear();
      const again = expectOk(await ferry(["sources", "enable", w.stack, "--prepare", "empty"]));
      expect(again.out.match(/enabled: /g)).toHaveLength(2);
      await expectNotPaused(world, w);
    });
  }

  it("state store down: one message naming the store, exit 1, nothing attached; a re-run enables", async () => {
    const w = await world.workload("sestore");
    const r = await ferry(["sources", "enable", w.stack, "--prepare", "empty"], storeDown(cli));
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    expect(await world.ctx.store.get(w.osDiskId)).toBeUndefined();
    expect(expectOk(await ferry(["sources", "enable", w.stack, "--prepare", "empty"])).out).toMatch(/enabled: /);
  });
});

describe("sources disable under Azure's failures", () => {
  // Disable records the source disabled first (the sync stops), then detaches its staging disk: a
  // failed detach leaves it disabled and attached, and a re-run detaches it.
  const attached = async (stagingDiskId: string): Promise<boolean> =>
    !!(await f.azure.compute.disks.get(parseResourceId(stagingDiskId).resourceGroup, nameOf(stagingDiskId))).managedBy;

  for (const fault of AZURE_FAULTS) {
    it(`${fault} on every ARM call: exit 1, one message naming the fix, a re-run detaches`, async () => {
      const w = await world.workload(`sd${short(fault)}`);
      expectOk(await ferry(["sources", "enable", w.stack, "--prepare", "empty"]));
      const staging = (await world.ctx.store.get(w.osDiskId))!.source.stagingDiskId;
      onEveryArmCall(cli, fault);
      const r = await ferry(["sources", "disable", w.stack, "--yes"]);
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX[fault]);
      f.emu.faults.clear();
      expect(expectOk(await ferry(["sources", "disable", w.stack, "--yes"])).out).toMatch(/disabled: .*kept/);
      expect((await world.ctx.store.get(w.osDiskId))!.source.state).toBe("disabled");
      expect(await attached(staging)).toBe(false);
    });
  }

  it("state store down: one message naming the store, exit 1, nothing changed; a re-run disables", async () => {
    const w = await world.workload("sdstore");
    expectOk(await ferry(["sources", "enable", w.stack, "--prepare", "empty"]));
    const r = await ferry(["sources", "disable", w.stack, "--yes"], storeDown(cli));
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    expect((await world.ctx.store.get(w.osDiskId))!.source.state).toBe("pending");
    expectOk(await ferry(["sources", "disable", w.stack, "--yes"]));
    expect((await world.ctx.store.get(w.osDiskId))!.source.state).toBe("disabled");
  });
});

describe("sources retry-backfill, check-health and history with the state store down", () => {
  for (const [action, after] of [
    ["retry-backfill", "backfilling"],
    ["check-health", "verifying"],
  ] as const) {
    it(`sources ${action}: one message naming the store, exit 1, the disks untouched; a re-run moves them to ${after}`, async () => {
      const w = await world.workload(`s${action.slice(0, 5).replace("-", "")}`);
      await world.protect(w);
      const r = await ferry(["sources", action, w.stack], storeDown(cli));
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX["state store down"]);
      expect((await world.ctx.store.get(w.osDiskId))!.source.state).toBe("healthy");
      expect(expectOk(await ferry(["sources", action, w.stack])).out).toMatch(new RegExp(`: ${after}`));
      for (const id of [w.osDiskId, ...w.dataDiskIds.values()])
        expect((await world.ctx.store.get(id))!.source.state).toBe(after);
    });
  }

  it("history: one message naming the store, exit 1; a re-run lists the operations", async () => {
    const w = await world.workload("shist");
    await world.protect(w);
    expectOk(await ferry(["cleanup", w.stack, "--yes"]));
    const r = await ferry(["history", w.stack], storeDown(cli));
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    expect(expectOk(await ferry(["history", w.stack])).out).toMatch(/cleanup\s+succeeded/);
  });
});
