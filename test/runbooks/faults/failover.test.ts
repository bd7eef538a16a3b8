import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { currentMode } from "../../../runbooks/mode";
import { useCliWorld } from "../../helpers/cli-world";
import type { DrWorld, Workload } from "../../helpers/dr-env";
import {
  AZURE_FAULTS,
  CAUSE,
  EXIT,
  expectFailedOperation,
  expectNotPaused,
  expectOk,
  expectReadable,
  faultRule,
  FIX,
  messageOf,
  storeDown,
} from "./matrix";

// The fault-injection matrix of `ferry failover --unplanned` and `--planned`. A real failover cannot
// be undone without a failback: each cell fails over a workload of its own.

const cli = useCliWorld();
const { f, ferry } = cli;
let world: DrWorld;

beforeAll(() => {
  world = cli.world;
});
afterEach(() => {
  f.emu.faults.clear();
});

const short = (fault: string) => fault.replace(/\W/g, "").slice(0, 6).toLowerCase();

async function protectedWorkload(name: string): Promise<Workload> {
  const w = await world.workload(name);
  await world.protect(w);
  return w;
}

const failover = (w: Workload, kind: "unplanned" | "planned", environment?: NodeJS.ProcessEnv) =>
  world.whileSyncing(() => ferry(["failover", w.stack, `--${kind}`, "--yes"], environment), world.sourcesOf(w));

describe("failover --unplanned under Azure's failures", () => {
  for (const fault of AZURE_FAULTS) {
    it(`${fault} on the writes: exit 1, says to run it again, and the re-run continues it`, async () => {
      const w = await protectedWorkload(`fu${short(fault)}`);
      f.emu.faults.add(faultRule(fault, { plane: "arm", method: "PUT" }));
      const r = await failover(w, "unplanned");
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX[fault]);
      // The staging disks' detach had begun (attach-as-is rows): the failover can only go forward.
      expect(messageOf(r)).toMatch(
        /got past the detach of the staging disks: run the same failover again to continue it/,
      );
      const failed = await expectFailedOperation(world, w, "failover-unplanned", CAUSE[fault]);
      expect(failed.phase).toBe("stagingDetached");
      f.emu.faults.clear();
      expectOk(await failover(w, "unplanned"));
      expect((await world.ctx.journal.list(w.stack))[0]).toMatchObject({
        status: "succeeded",
        details: { resumes: failed.id },
      });
      expect(await currentMode(world.ctx, w.stack)).toBe("failover");
    });
  }

  it("state store down: one message naming the store, exit 1, nothing paused, a re-run succeeds", async () => {
    const w = await protectedWorkload("fustore");
    const r = await failover(w, "unplanned", storeDown(cli));
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    await expectNotPaused(world, w);
    expect(await currentMode(world.ctx, w.stack)).toBe("standby");
    expectOk(await failover(w, "unplanned"));
  });
});

describe("failover --planned under Azure's failures", () => {
  for (const fault of AZURE_FAULTS) {
    it(`${fault} on the power-off: exit 1, the sync goes on, a re-run succeeds`, async () => {
      const w = await protectedWorkload(`fpl${short(fault)}`);
      f.emu.faults.add(faultRule(fault, { plane: "arm", operation: "VirtualMachines_PowerOff" }));
      const r = await failover(w, "planned");
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX[fault]);
      expect(messageOf(r)).toMatch(/Nothing was failed over and the sync goes on/);
      await expectFailedOperation(world, w, "failover-planned", CAUSE[fault]);
      await expectNotPaused(world, w);
      expect(await currentMode(world.ctx, w.stack)).toBe("standby");
      f.emu.faults.clear();
      expectOk(await failover(w, "planned"));
      expect(await currentMode(world.ctx, w.stack)).toBe("failover");
    });
  }

  it("state store down: one message naming the store, exit 1, the source VMs untouched; a re-run succeeds", async () => {
    const w = await protectedWorkload("fplstore");
    const r = await failover(w, "planned", storeDown(cli));
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    await expectNotPaused(world, w);
    expect(
      f.emu.requests.some((q) => q.operationId === "VirtualMachines_PowerOff" && q.path.includes("/fplstore")),
    ).toBe(false);
    expectOk(await failover(w, "planned"));
    expect(await currentMode(world.ctx, w.stack)).toBe("failover");
  });
});
