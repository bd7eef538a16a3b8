import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { currentMode } from "../../../runbooks/mode";
import { useCliWorld, type CliRun } from "../../helpers/cli-world";
import { tempDir } from "../../helpers/emulator";
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
  onEveryArmCall,
  storeDown,
} from "./matrix";

// The fault-injection matrix of `ferry drill`: precheck, test failover, verification and cleanup in
// one command that reports instead of throwing. A fault on every ARM call stops it at its precheck
// (exit 3, the precheck's own row of the matrix has every fault there); a fault on the test
// failover's writes fails that step (exit 1), and the drill still cleans up. Either way the step's
// FAIL line says what Azure said and what to do, the sync goes on, and the next drill passes.

const cli = useCliWorld();
const { f, ferry } = cli;
let world: DrWorld;
let w: Workload;

beforeAll(async () => {
  world = cli.world;
  // One protected workload: every drill, failed or passed, ends with its cleanup (back to standby).
  w = await world.workload("dr");
  await world.protect(w);
});
afterEach(() => {
  f.emu.faults.clear();
});

/** A drill of `w` into a new report folder, while the sync goes on. */
const drill = (environment?: NodeJS.ProcessEnv): Promise<CliRun> =>
  world.whileSyncing(
    () => ferry(["drill", w.stack, "--report-dir", tempDir("ferry-drill-report-")], environment),
    world.sourcesOf(w),
  );

/** After a failed drill: nothing paused, back in standby, and the next drill passes. */
async function expectNextDrillPasses(): Promise<void> {
  await expectNotPaused(world, w);
  expect(await currentMode(world.ctx, w.stack)).toBe("standby");
  f.emu.faults.clear();
  expect(expectOk(await drill()).out).toMatch(/report: /);
  expect(await currentMode(world.ctx, w.stack)).toBe("standby");
}

describe("ferry drill under Azure's failures", () => {
  it("403 on every ARM call: the precheck's FAIL lines name the fix, exit 3, nothing started; the next drill passes", async () => {
    onEveryArmCall(cli, "403");
    const r = await drill();
    expect(r.code).toBe(EXIT.refused);
    expect(r.out).toMatch(/FAIL {2}precheck \(test network\)/);
    expectReadable(r, FIX["403"]);
    expect((await world.ctx.journal.list(w.stack)).some((o) => o.status === "running")).toBe(false);
    await expectNextDrillPasses();
  });

  for (const fault of AZURE_FAULTS) {
    it(`${fault} on the test failover's writes: its FAIL line names the fix, exit 1, cleaned up; the next drill passes`, async () => {
      f.emu.faults.add(faultRule(fault, { plane: "arm", method: "PUT" }));
      const r = await drill();
      expect(r.code).toBe(EXIT.failed);
      expect(r.out).toMatch(/FAIL {2}test failover/);
      expectReadable(r, FIX[fault]);
      await expectFailedOperation(world, w, "failover-test", CAUSE[fault]);
      await expectNextDrillPasses();
    });
  }

  it("state store down: one message naming the store, exit 1, nothing started; the next drill passes", async () => {
    const r = await drill(storeDown(cli));
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    await expectNextDrillPasses();
  });
});
