import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { FaultRule } from "../../emulator/faults";
import { EXIT } from "../../runbooks/commands/common";
import { currentMode } from "../../runbooks/mode";
import { useCliWorld, type CliRun as Run } from "../helpers/cli-world";
import { DR, PRIMARY, type DrWorld, type Workload } from "../helpers/dr-env";
import { tempDir } from "../helpers/emulator";

// The fault-injection matrix: each runbook, through the CLI as an operator runs it, under each of
// Azure's failures. Every cell asserts the exit code, one readable message naming the fix, no stack
// trace, the sources not left paused, and that the same command converges once the fault clears.

const cli = useCliWorld();
const f = cli.f;
const ferry = cli.ferry;
let world: DrWorld;

beforeAll(() => {
  world = cli.world;
});
afterEach(() => {
  f.emu.faults.clear();
});

/** The state store's connection string pointed at a port where nothing listens. */
const storeDown = (): NodeJS.ProcessEnv => ({
  ...cli.env,
  FERRY_LOCAL_TABLE:
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFsMVTGa+Bx7LYRJB/Vw==;" +
    "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;",
});

type FaultName = "403" | "429 storm" | "503" | "failed LRO" | "dropped connection" | "state store down";

/** Each of Azure's failures, on `match` (every ARM call, or only the writes of a runbook). */
function faultRule(name: Exclude<FaultName, "state store down">, match: FaultRule["match"]): FaultRule {
  switch (name) {
    case "403":
      return {
        match,
        action: { kind: "error", status: 403, code: "AuthorizationFailed", message: "The client has no role here." },
      };
    case "429 storm":
      return { match, action: { kind: "throttle", retryAfterSeconds: 0, retryAfterMs: 5 } };
    case "503":
      return { match, action: { kind: "error", status: 503, code: "ServiceUnavailable", message: "Try later." } };
    case "failed LRO":
      return { match, action: { kind: "lroFail", code: "InternalOperationError", message: "The operation failed." } };
    case "dropped connection":
      return { match, action: { kind: "drop", afterBytes: 0 } };
  }
}

/** What an operator reads: no stack trace anywhere, at most one `ferry:` message, and it says what to do. */
function expectReadable(r: Run, fix: RegExp): void {
  expect(r.err).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(r.err).not.toMatch(/\\n\s+at /);
  expect(r.err.split("\n").filter((l) => l.startsWith("ferry:")).length).toBeLessThanOrEqual(1);
  expect(`${r.out}\n${r.err}`).toMatch(fix);
}

/** What each fault's message must say to do. */
const FIX: Record<FaultName, RegExp> = {
  "403": /403 AuthorizationFailed.*lacks a role there: grant it/,
  "429 storm": /429.*throttling.*wait a minute and run again/,
  "503": /503 ServiceUnavailable.*run the same command again/,
  "failed LRO": /InternalOperationError|The operation failed/,
  "dropped connection": /cannot reach .*(socket hang up|ECONNRESET|other side closed).*run the same command again/,
  "state store down": /Cannot open the source store table .* no answer ECONNREFUSED\. Check the endpoint/,
};

async function expectNotPaused(w: Workload): Promise<void> {
  for (const id of [w.osDiskId, ...w.dataDiskIds.values()])
    expect((await world.ctx.store.get(id))?.source.paused ?? false).toBe(false);
}

describe("precheck under Azure's failures", () => {
  let w: Workload;
  beforeAll(async () => {
    w = await world.workload("fp");
    await world.protect(w);
  });

  for (const fault of ["403", "429 storm", "503", "dropped connection"] as const) {
    it(`${fault}: FAIL lines naming the fix, exit 3; passes once the fault clears`, async () => {
      f.emu.faults.add(faultRule(fault, { plane: "arm" }));
      const r = await ferry(["precheck", w.stack]);
      expect(r.code).toBe(EXIT.refused);
      expect(r.out).toMatch(/FAILED/);
      expect(r.out.split("\n").filter((l) => l.startsWith("FAIL")).length).toBeGreaterThan(0);
      expectReadable(r, FIX[fault]);
      f.emu.faults.clear();
      const again = await ferry(["precheck", w.stack]);
      expect(again.code).toBe(EXIT.ok);
    });
  }

  it("state store down: one message naming the store, exit 1; passes once it answers", async () => {
    const r = await ferry(["precheck", w.stack], storeDown());
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    expect((await ferry(["precheck", w.stack])).code).toBe(EXIT.ok);
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

describe("failover --test and cleanup under Azure's failures", () => {
  let w: Workload;
  beforeAll(async () => {
    w = await world.workload("ft");
    await world.protect(w);
  });

  const drill = (environment?: NodeJS.ProcessEnv) =>
    world.whileSyncing(() => ferry(["failover", w.stack, "--test", "--yes"], environment), world.sourcesOf(w));

  /** After a failed run: nothing paused, the operation recorded failed, and the same drill then converges. */
  async function expectFailedThenConverges(): Promise<void> {
    await expectNotPaused(w);
    const ops = (await world.ctx.journal.list(w.stack)).filter((o) => o.kind === "failover-test");
    expect(ops[0]?.status).toBe("failed");
    expect(ops[0]?.error).toBeTruthy();
    f.emu.faults.clear();
    const again = await drill();
    expect(again.code).toBe(EXIT.ok);
    await expectNotPaused(w);
    expect((await ferry(["cleanup", w.stack, "--yes"])).code).toBe(EXIT.ok);
    expect(await currentMode(world.ctx, w.stack)).toBe("standby");
  }

  for (const fault of ["403", "429 storm", "503", "dropped connection"] as const) {
    it(`${fault} on every ARM call: the precheck refuses (exit 3), the sync goes on, a re-run converges`, async () => {
      f.emu.faults.add(faultRule(fault, { plane: "arm" }));
      const r = await drill();
      expect(r.code).toBe(EXIT.refused);
      expectReadable(r, FIX[fault]);
      expect(r.err).toMatch(/Nothing was failed over and the sync goes on/);
      await expectFailedThenConverges();
    });
  }

  for (const fault of ["403", "429 storm", "503", "failed LRO", "dropped connection"] as const) {
    it(`${fault} on the deployment's writes: exit 1, the sync given back, a re-run converges`, async () => {
      f.emu.faults.add(faultRule(fault, { plane: "arm", method: "PUT" }));
      const r = await drill();
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX[fault]);
      expect(r.err).toMatch(/run the same failover again/);
      await expectFailedThenConverges();
    });
  }

  it("state store down: one message naming the store, exit 1, nothing paused, a re-run converges", async () => {
    const r = await drill(storeDown());
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    await expectNotPaused(w);
    const again = await drill();
    expect(again.code).toBe(EXIT.ok);
    expect((await ferry(["cleanup", w.stack, "--yes"])).code).toBe(EXIT.ok);
  });

  for (const fault of ["403", "503", "failed LRO"] as const) {
    it(`cleanup under ${fault} on its writes: exit 1, says to run cleanup again, which converges`, async () => {
      expect((await drill()).code).toBe(EXIT.ok);
      // Cleanup deletes: the fault is on every write (PUT and DELETE).
      f.emu.faults.add(faultRule(fault, { plane: "arm", method: "DELETE" }));
      const r = await ferry(["cleanup", w.stack, "--yes"]);
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, fault === "failed LRO" ? /run `ferry cleanup bp-ft` again/ : FIX[fault]);
      expect(r.err).toMatch(/run `ferry cleanup bp-ft` again/);
      await expectNotPaused(w);
      f.emu.faults.clear();
      expect((await ferry(["cleanup", w.stack, "--yes"])).code).toBe(EXIT.ok);
      expect(await currentMode(world.ctx, w.stack)).toBe("standby");
    });
  }
});

describe("failover --unplanned and --planned under Azure's failures", () => {
  // A real failover cannot be undone without a failback: each cell fails over a workload of its own.
  for (const fault of ["403", "503", "failed LRO", "dropped connection"] as const) {
    it(`unplanned, ${fault} on the writes: exit 1, says to run it again, and the re-run continues it`, async () => {
      const w = await world.workload(`fu${fault.replace(/\W/g, "").slice(0, 6).toLowerCase()}`);
      await world.protect(w);
      f.emu.faults.add(faultRule(fault, { plane: "arm", method: "PUT" }));
      const run = () =>
        world.whileSyncing(() => ferry(["failover", w.stack, "--unplanned", "--yes"]), world.sourcesOf(w));
      const r = await run();
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX[fault]);
      // The staging disks' detach had begun (attach-as-is rows): the failover can only go forward.
      expect(r.err).toMatch(/got past the detach of the staging disks: run the same failover again to continue it/);
      const failed = (await world.ctx.journal.list(w.stack))[0]!;
      expect([failed.status, failed.phase]).toEqual(["failed", "stagingDetached"]);
      f.emu.faults.clear();
      const again = await run();
      expect(again.code).toBe(EXIT.ok);
      expect((await world.ctx.journal.list(w.stack))[0]).toMatchObject({
        status: "succeeded",
        details: { resumes: failed.id },
      });
      expect(await currentMode(world.ctx, w.stack)).toBe("failover");
    });
  }

  it("unplanned, state store down: one message naming the store, exit 1, nothing paused, a re-run succeeds", async () => {
    const w = await world.workload("fustore");
    await world.protect(w);
    const run = (environment?: NodeJS.ProcessEnv) =>
      world.whileSyncing(() => ferry(["failover", w.stack, "--unplanned", "--yes"], environment), world.sourcesOf(w));
    const r = await run(storeDown());
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    await expectNotPaused(w);
    expect(await currentMode(world.ctx, w.stack)).toBe("standby");
    expect((await run()).code).toBe(EXIT.ok);
  });

  it("planned, 503 on the power-off: exit 1, the sync goes on, a re-run succeeds", async () => {
    const w = await world.workload("fplan");
    await world.protect(w);
    f.emu.faults.add(faultRule("503", { plane: "arm", operation: "VirtualMachines_PowerOff" }));
    const run = () => world.whileSyncing(() => ferry(["failover", w.stack, "--planned", "--yes"]), world.sourcesOf(w));
    const r = await run();
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["503"]);
    expect(r.err).toMatch(/Nothing was failed over and the sync goes on/);
    await expectNotPaused(w);
    f.emu.faults.clear();
    expect((await run()).code).toBe(EXIT.ok);
    expect(await currentMode(world.ctx, w.stack)).toBe("failover");
  });
});

describe("sources enable under Azure's failures", () => {
  for (const fault of ["403", "503", "failed LRO", "dropped connection"] as const) {
    it(`${fault} on every ARM call: exit 1, one message naming the fix, a re-run enables`, async () => {
      const w = await world.workload(`fe${fault.replace(/\W/g, "").slice(0, 6).toLowerCase()}`);
      // Every ARM call: a rule with a region fires once the emulator knows the request's region.
      for (const region of [undefined, DR.location, PRIMARY.location])
        f.emu.faults.add(faultRule(fault, { plane: "arm", ...(region ? { region } : {}) }));
      const r = await ferry(["sources", "enable", w.stack, "--prepare", "empty"]);
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX[fault]);
      f.emu.faults.clear();
      const again = await ferry(["sources", "enable", w.stack, "--prepare", "empty"]);
      expect(again.code).toBe(EXIT.ok);
      expect(again.out).toMatch(/enabled: /);
      await expectNotPaused(w);
    });
  }
});

describe("failback prepare under Azure's failures", () => {
  for (const fault of ["403", "503"] as const) {
    it(`${fault} on every ARM call: exit 1, one message naming the fix, a re-run prepares`, async () => {
      const w = await world.workload(`fb${fault}`);
      await world.protect(w);
      await world.unplannedFailover(w);
      for (const region of [undefined, DR.location, PRIMARY.location])
        f.emu.faults.add(faultRule(fault, { plane: "arm", ...(region ? { region } : {}) }));
      const r = await ferry(["failback", "prepare", w.stack]);
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX[fault]);
      f.emu.faults.clear();
      const again = await ferry(["failback", "prepare", w.stack]);
      expect(again.code).toBe(EXIT.ok);
    });
  }
});
