import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { useCliWorld } from "../../helpers/cli-world";
import { tempDir } from "../../helpers/emulator";
import type { DrWorld, Workload } from "../../helpers/dr-env";
import { AZURE_FAULTS, EXIT, expectOk, expectReadable, faultRule, FIX, storeDown } from "./matrix";

// The fault-injection matrix of `ferry precheck`: an Azure error in a check is that check's FAIL line
// (exit 3), never a crash. The precheck only reads (it records no operation and pauses nothing): a
// failed long-running operation cannot reach it.

const cli = useCliWorld();
const { f, ferry } = cli;
let world: DrWorld;

beforeAll(() => {
  world = cli.world;
});
afterEach(() => {
  f.emu.faults.clear();
});

describe("precheck under Azure's failures", () => {
  let w: Workload;
  beforeAll(async () => {
    w = await world.workload("fp");
    await world.protect(w);
  });

  for (const fault of AZURE_FAULTS.filter((x) => x !== "failed LRO")) {
    it(`${fault}: FAIL lines naming the fix, exit 3; passes once the fault clears`, async () => {
      f.emu.faults.add(faultRule(fault, { plane: "arm" }));
      const r = await ferry(["precheck", w.stack]);
      expect(r.code).toBe(EXIT.refused);
      expect(r.out).toMatch(/FAILED/);
      expect(r.out.split("\n").filter((l) => l.startsWith("FAIL")).length).toBeGreaterThan(0);
      expectReadable(r, FIX[fault]);
      f.emu.faults.clear();
      expectOk(await ferry(["precheck", w.stack]));
    });
  }

  it("state store down: one message naming the store, exit 1; passes once it answers", async () => {
    const r = await ferry(["precheck", w.stack], storeDown(cli));
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    expectOk(await ferry(["precheck", w.stack]));
  });

  it("without caCertPath against the local Azure: FAIL lines naming caCertPath, exit 3, no stack trace", async () => {
    const bare = join(tempDir("ferry-noca-"), "ferry.json");
    const { caCertPath: _unused, ...azure } = world.config.azure;
    writeFileSync(bare, JSON.stringify({ ...world.config, azure }));
    const r = await ferry(["precheck", w.stack, "--config", bare]);
    expect(r.code).toBe(EXIT.refused);
    expectReadable(r, /TLS certificate of Azure is not trusted.*Point `azure\.caCertPath` in ferry\.json/);
  });
});
