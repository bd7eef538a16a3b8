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

// The fault-injection matrix of `ferry failover --test` and `ferry cleanup`, through the CLI as an
// operator runs them. One protected workload: every cell ends with the drill cleaned up (standby).
// A fault on every ARM call stops the test failover at its precheck; a failed long-running operation
// there is the same cell as on the writes (the precheck's reads start none).

const cli = useCliWorld();
const { f, ferry } = cli;
let world: DrWorld;
let w: Workload;

beforeAll(async () => {
  world = cli.world;
  w = await world.workload("ft");
  await world.protect(w);
});
afterEach(() => {
  f.emu.faults.clear();
});

const drill = (environment?: NodeJS.ProcessEnv) =>
  world.whileSyncing(() => ferry(["failover", w.stack, "--test", "--yes"], environment), world.sourcesOf(w));

/** After a failed run: nothing paused, the operation recorded failed with its cause, and the same drill converges. */
async function expectFailedThenConverges(cause: RegExp): Promise<void> {
  await expectNotPaused(world, w);
  await expectFailedOperation(world, w, "failover-test", cause);
  f.emu.faults.clear();
  expectOk(await drill());
  await expectNotPaused(world, w);
  expectOk(await ferry(["cleanup", w.stack, "--yes"]));
  expect(await currentMode(world.ctx, w.stack)).toBe("standby");
}

describe("failover --test under Azure's failures", () => {
  for (const fault of AZURE_FAULTS.filter((x) => x !== "failed LRO")) {
    it(`${fault} on every ARM call: the precheck refuses (exit 3), the sync goes on, a re-run converges`, async () => {
      f.emu.faults.add(faultRule(fault, { plane: "arm" }));
      const r = await drill();
      expect(r.code).toBe(EXIT.refused);
      expectReadable(r, FIX[fault]);
      expect(messageOf(r)).toMatch(/Nothing was failed over and the sync goes on/);
      await expectFailedThenConverges(/precheck failed/);
    });
  }

  for (const fault of AZURE_FAULTS) {
    it(`${fault} on the deployment's writes: exit 1, the sync given back, a re-run converges`, async () => {
      f.emu.faults.add(faultRule(fault, { plane: "arm", method: "PUT" }));
      const r = await drill();
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX[fault]);
      expect(messageOf(r)).toMatch(/run the same failover again/);
      await expectFailedThenConverges(CAUSE[fault]);
    });
  }

  it("state store down: one message naming the store, exit 1, nothing paused, a re-run converges", async () => {
    const r = await drill(storeDown(cli));
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    await expectNotPaused(world, w);
    expectOk(await drill());
    expectOk(await ferry(["cleanup", w.stack, "--yes"]));
  });
});

describe("cleanup under Azure's failures", () => {
  for (const fault of AZURE_FAULTS) {
    it(`${fault} on its deletes: exit 1, says to run cleanup again, which converges`, async () => {
      expectOk(await drill());
      // Cleanup deletes what the drill made: the fault is on its deletes.
      f.emu.faults.add(faultRule(fault, { plane: "arm", method: "DELETE" }));
      const r = await ferry(["cleanup", w.stack, "--yes"]);
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, fault === "failed LRO" ? /run `ferry cleanup bp-ft` again/ : FIX[fault]);
      expect(messageOf(r)).toMatch(/run `ferry cleanup bp-ft` again/);
      await expectFailedOperation(world, w, "cleanup", CAUSE[fault]);
      await expectNotPaused(world, w);
      f.emu.faults.clear();
      expectOk(await ferry(["cleanup", w.stack, "--yes"]));
      expect(await currentMode(world.ctx, w.stack)).toBe("standby");
    });
  }

  it("state store down: one message naming the store, exit 1, the drill left as it was; a re-run cleans up", async () => {
    expectOk(await drill());
    const r = await ferry(["cleanup", w.stack, "--yes"], storeDown(cli));
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    expect(await currentMode(world.ctx, w.stack)).toBe("test");
    expectOk(await ferry(["cleanup", w.stack, "--yes"]));
    expect(await currentMode(world.ctx, w.stack)).toBe("standby");
  });
});
