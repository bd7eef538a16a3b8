import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Source } from "../../../core/schemas/source";
import { readFailbackState } from "../../../runbooks/failback/state";
import { currentMode } from "../../../runbooks/mode";
import { useCliWorld } from "../../helpers/cli-world";
import { PRIMARY, type DrWorld, type Workload } from "../../helpers/dr-env";
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
  onEveryArmCall,
  storeDown,
} from "./matrix";

// The fault-injection matrix of the failback runbooks (prepare, sync, complete, rollback): each under
// each fault, through the CLI. Every workload's disks are recovered from snapshots, so that a rolled
// back failback gives every primary disk back to the DR sync (attach-as-is disks stay with the DR VM).

const cli = useCliWorld();
const { f, ferry } = cli;
let world: DrWorld;

beforeAll(() => {
  world = cli.world;
});
afterEach(() => {
  f.emu.faults.clear();
});

/** A protected workload, failed over (unplanned), its failback prepared. */
async function failedOverAndPrepared(name: string): Promise<Workload> {
  const w = await world.workload(name, { osStrategy: "fromSnapshot", dataStrategy: "fromSnapshot" });
  await world.protect(w);
  await world.unplannedFailover(w);
  expectOk(await ferry(["failback", "prepare", w.stack]));
  return w;
}

/** Primary disks a failback of `w` has paused (its sync waits for the failback to end). */
async function paused(w: Workload): Promise<number> {
  let n = 0;
  for (const id of [w.osDiskId, ...w.dataDiskIds.values()]) if ((await world.ctx.store.get(id))?.source.paused) n++;
  return n;
}

const short = (fault: string) => fault.replace(/\W/g, "").slice(0, 5).toLowerCase();

describe("failback prepare under Azure's failures", () => {
  // Prepare only reads Azure (the recovered VMs, the primary VMs and disks): no long-running operation
  // it could see fail.
  for (const fault of AZURE_FAULTS.filter((x) => x !== "failed LRO")) {
    it(`${fault} on every ARM call: exit 1, one message naming the fix, a re-run prepares`, async () => {
      const w = await world.workload(`fp${short(fault)}`, { osStrategy: "fromSnapshot", dataStrategy: "fromSnapshot" });
      await world.protect(w);
      await world.unplannedFailover(w);
      onEveryArmCall(cli, fault);
      const r = await ferry(["failback", "prepare", w.stack]);
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX[fault]);
      await expectFailedOperation(world, w, "failback-prepare", CAUSE[fault]);
      f.emu.faults.clear();
      expectOk(await ferry(["failback", "prepare", w.stack]));
      // Prepare changes nothing in Azure nor in the sync: the disks are as the failover left them.
      expect(await currentMode(world.ctx, w.stack)).toBe("failover");
    });
  }

  it("state store down: one message naming the store, exit 1; a re-run prepares", async () => {
    const w = await world.workload("fpstore", { osStrategy: "fromSnapshot", dataStrategy: "fromSnapshot" });
    await world.protect(w);
    await world.unplannedFailover(w);
    const r = await ferry(["failback", "prepare", w.stack], storeDown(cli));
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    expectOk(await ferry(["failback", "prepare", w.stack]));
  });
});

describe("failback sync under Azure's failures", () => {
  // One failed-over workload: each cell ends with `failback rollback`, which returns it to prepared.
  let w: Workload;
  beforeAll(async () => {
    w = await failedOverAndPrepared("fbsync");
  });

  /** After the cell: the converged sync rolled back, every primary disk's sync given back. */
  async function rollBack(): Promise<void> {
    expectOk(await ferry(["failback", "rollback", w.stack]));
    await expectNotPaused(world, w);
  }

  for (const fault of AZURE_FAULTS) {
    it(`${fault} on every ARM call: exit 1, says the sync stays paused for the failback and how to go on; a re-run converges`, async () => {
      onEveryArmCall(cli, fault);
      const r = await ferry(["failback", "sync", w.stack]);
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX[fault]);
      expect(messageOf(r)).toMatch(
        /paused for the failback.*run `ferry failback sync bp-fbsync` again to continue it, or `ferry failback rollback bp-fbsync`/s,
      );
      await expectFailedOperation(world, w, "failback-sync", CAUSE[fault]);
      expect(await paused(w)).toBe(2);
      f.emu.faults.clear();
      const again = expectOk(await ferry(["failback", "sync", w.stack]));
      expect(again.out).toMatch(/synced/);
      await rollBack();
    });
  }

  it("state store down: one message naming the store, exit 1, nothing paused; a re-run converges", async () => {
    const r = await ferry(["failback", "sync", w.stack], storeDown(cli));
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    expect(await paused(w)).toBe(0);
    expectOk(await ferry(["failback", "sync", w.stack]));
    await rollBack();
  });
});

describe("failback rollback under Azure's failures", () => {
  // One failed-over workload: each cell syncs it first, and ends rolled back (prepared again).
  let w: Workload;
  beforeAll(async () => {
    w = await failedOverAndPrepared("fbroll");
  });

  for (const fault of AZURE_FAULTS) {
    it(`${fault} on every ARM call: exit 1, says to run rollback again, which converges`, async () => {
      expectOk(await ferry(["failback", "sync", w.stack]));
      onEveryArmCall(cli, fault);
      const r = await ferry(["failback", "rollback", w.stack]);
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX[fault]);
      expect(messageOf(r)).toMatch(/run `ferry failback rollback bp-fbroll` again/);
      await expectFailedOperation(world, w, "failback-rollback", CAUSE[fault]);
      f.emu.faults.clear();
      expectOk(await ferry(["failback", "rollback", w.stack]));
      expect((await readFailbackState(world.ctx, w.stack))?.phase).toBe("rolledBack");
      await expectNotPaused(world, w);
    });
  }

  it("state store down: one message naming the store, exit 1; a re-run converges", async () => {
    expectOk(await ferry(["failback", "sync", w.stack]));
    const r = await ferry(["failback", "rollback", w.stack], storeDown(cli));
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    expectOk(await ferry(["failback", "rollback", w.stack]));
    await expectNotPaused(world, w);
  });
});

describe("failback complete under Azure's failures", () => {
  // A completed failback cannot be repeated without another failover: each cell has a workload of its own.
  const synced = async (name: string): Promise<{ w: Workload; only: (s: Source) => boolean }> => {
    const w = await failedOverAndPrepared(name);
    expectOk(await ferry(["failback", "sync", w.stack]));
    // The returned disks keep the staging disks: the daemon's ticks follow those.
    const staging = new Set<string>();
    for (const id of [w.osDiskId, ...w.dataDiskIds.values()])
      staging.add((await world.ctx.store.get(id))!.source.stagingDiskId.toLowerCase());
    return { w, only: (s) => staging.has(s.stagingDiskId.toLowerCase()) };
  };

  for (const fault of AZURE_FAULTS) {
    it(`${fault} on the primary region's ARM calls: exit 1, says where it stopped and how to go on; a re-run completes`, async () => {
      const { w, only } = await synced(`fc${short(fault)}`);
      // The DR VMs stop (DR region); the next step, the returned disks off the primary appliance, fails.
      f.emu.faults.add(faultRule(fault, { plane: "arm", region: PRIMARY.location }));
      const complete = () => world.whileSyncing(() => ferry(["failback", "complete", w.stack, "--yes"]), only);
      const r = await complete();
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, FIX[fault]);
      expect(messageOf(r)).toMatch(
        new RegExp(
          `run \`ferry failback complete ${w.stack} --yes\` again to continue it.*` +
            `\`ferry failback rollback ${w.stack}\``,
          "s",
        ),
      );
      await expectFailedOperation(world, w, "failback-complete", CAUSE[fault]);
      f.emu.faults.clear();
      expectOk(await complete());
      expect((await readFailbackState(world.ctx, w.stack))?.phase).toBe("completed");
      expect(await currentMode(world.ctx, w.stack)).toBe("standby");
    });
  }

  it("state store down: one message naming the store, exit 1; a re-run completes", async () => {
    const { w, only } = await synced("fcstore");
    const r = await world.whileSyncing(() => ferry(["failback", "complete", w.stack, "--yes"], storeDown(cli)), only);
    expect(r.code).toBe(EXIT.failed);
    expectReadable(r, FIX["state store down"]);
    expectOk(await world.whileSyncing(() => ferry(["failback", "complete", w.stack, "--yes"]), only));
    expect(await currentMode(world.ctx, w.stack)).toBe("standby");
  });
});
