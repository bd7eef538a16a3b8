import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { requestSync } from "../../../adapters/state/admin";
import type { Source } from "../../../core/schemas/source";
import { currentMode } from "../../../runbooks/mode";
import { pattern, writeAt } from "../../helpers/bytes";
import { useCliWorld } from "../../helpers/cli-world";
import { filesEqual } from "../../helpers/compare";
import { tempDir } from "../../helpers/emulator";
import { spawnSync, waitFor, type Spawned } from "../../helpers/processes";
import type { DrWorld, Workload } from "../../helpers/dr-env";
import { EXIT, expectFailedOperation, expectNotPaused, expectOk, expectReadable, messageOf } from "./matrix";

// The last fault of the matrix: the appliance's sync daemon (`ferry-sync run`, a real process) killed
// with SIGKILL in the middle of applying a recovery point, and not running while a runbook pauses the
// sync. Each runbook that pauses the sync waits for an apply boundary that only a daemon can reach:
// it must stop after `timeouts.pauseSeconds`, say that the daemon died mid-copy and how to start it,
// give the sync back (or keep it paused for a failback, and say so), and converge once a restarted
// daemon has finished the interrupted copy. Runbooks that do not pause the sync (precheck, cleanup,
// failback prepare, rollback, complete, sources, history) never wait on the daemon: a dead one only
// shows there as the lag `sources list` reports.

const MiB = 1024 * 1024;
const cli = useCliWorld();
const { f, ferry } = cli;
let world: DrWorld;
/** ferry.json with a short pause timeout: the operator's setting, so a cell does not wait a minute. */
let shortPause: string;
/** The appliance daemon's config file (the world's own daemon, with a short lease and slow reads). */
let daemonConfig: string;
const spawned: Spawned[] = [];

beforeAll(() => {
  world = cli.world;
  shortPause = join(tempDir("ferry-short-pause-"), "ferry.json");
  writeFileSync(
    shortPause,
    JSON.stringify({ ...world.config, timeouts: { ...world.config.timeouts, pauseSeconds: 6 } }),
  );
  daemonConfig = join(tempDir("ferry-daemon-"), "sync.json");
  const sync = world.sync.config;
  writeFileSync(
    daemonConfig,
    JSON.stringify({
      ...sync,
      sync: { ...sync.sync, leaseSeconds: 2, readConcurrency: 2, readSizeMiB: 1 },
      logLevel: "debug",
    }),
  );
});
/** Kills the daemons a cell that failed half-way left running: none may outlive its cell. */
async function killLeftDaemons(): Promise<void> {
  for (const s of spawned) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
  await Promise.all(spawned.map((s) => s.exited));
}
afterEach(async () => {
  f.emu.faults.clear();
  await killLeftDaemons();
});
afterAll(killLeftDaemons);

/** `ferry-sync run` on the appliance, as systemd starts it. */
function startDaemon(): Spawned {
  const s = spawnSync(["run", "--config", daemonConfig], world.env);
  spawned.push(s);
  return s;
}

const row = async (id: string): Promise<Source> => (await world.ctx.store.get(id))!.source;

/**
 * A daemon applying a new recovery point of `w`'s data disk, killed with SIGKILL half-way: the row
 * says `applying`, its lease lapses, the staging disk is torn. Returns the interrupted point.
 */
async function killedMidApply(w: Workload, seed: number): Promise<string> {
  const disk = w.dataDiskIds.get(0)!;
  for (let i = 0; i < 16; i++) writeAt(w.sourceDevice(0), ((i * 37 + seed) % 900) * MiB, pattern(seed * 100 + i, MiB));
  const before = await row(disk);
  const daemon = startDaemon();
  const slow = f.emu.faults.add({ match: { operation: "Blob_Download" }, action: { kind: "delay", ms: 150 } });
  const reads = () => f.emu.requests.filter((r) => r.operationId === "Blob_Download" && r.status === 206).length;
  const readsBefore = reads();
  await requestSync(world.ctx.store, disk);
  const point = await waitFor(
    async () => {
      const s = await row(disk);
      return s.applying && s.applying.snapshotId !== before.applied?.snapshotId && reads() >= readsBefore + 3
        ? s.applying.snapshotId
        : undefined;
    },
    "the daemon's copy to be under way",
    60_000,
  );
  daemon.child.kill("SIGKILL");
  expect((await daemon.exited).signal).toBe("SIGKILL");
  f.emu.faults.remove(slow);
  expect((await row(disk)).applying?.snapshotId).toBe(point);
  return point;
}

/**
 * A restarted daemon finishes the interrupted point: applied, nothing in flight, the staging disk equal
 * to the source.
 */
async function restartedDaemonConverges(w: Workload, point: string): Promise<void> {
  const disk = w.dataDiskIds.get(0)!;
  const daemon = startDaemon();
  await waitFor(
    async () => {
      const s = await row(disk);
      return s.applied?.snapshotId === point && !s.applying && !s.lease;
    },
    "the restarted daemon to finish the interrupted copy",
    60_000,
  );
  daemon.child.kill("SIGTERM");
  expect((await daemon.exited).code, daemon.stderr.join("")).toBe(0);
  // Nothing lost: the staging disk holds the point the killed daemon was applying, which is the source now.
  const staging = f.emu.diskFile((await row(disk)).stagingDiskId)!;
  expect(await filesEqual(w.sourceDevice(0), staging)).toBe(true);
}

/** The message of a runbook that found the daemon dead mid-copy. */
const DAEMON_DEAD =
  /data0: the copy of .* stopped half-way and no daemon holds it.*The sync daemon stopped in the middle of a copy and is not running: start it again on the appliance \(systemctl restart ferry-sync/s;

/** A cell starts two daemon processes and waits out a pause: on a loaded 2-core machine, well over a minute. */
const CELL = { timeout: 240_000 };

describe("the sync daemon killed mid-apply", () => {
  it(
    "failover --test: succeeds from the DR-side points, waiting for no daemon and pausing nothing; the sync converges",
    CELL,
    async () => {
      const w = await world.workload("dkt");
      await world.protect(w);
      const point = await killedMidApply(w, 1);
      // The torn staging disks are not read: a drill's disks come from the points the daemon took before.
      expectOk(await ferry(["failover", w.stack, "--test", "--yes", "--config", shortPause]));
      await expectNotPaused(world, w);
      expectOk(await ferry(["cleanup", w.stack, "--yes"]));
      expect(await currentMode(world.ctx, w.stack)).toBe("standby");
      await restartedDaemonConverges(w, point);
    },
  );

  it(
    "failover --unplanned: exit 1, nothing failed over, the sync given back; converges once the daemon runs again",
    CELL,
    async () => {
      const w = await world.workload("dku");
      await world.protect(w);
      const point = await killedMidApply(w, 2);
      const r = await ferry(["failover", w.stack, "--unplanned", "--yes", "--config", shortPause]);
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, DAEMON_DEAD);
      expect(messageOf(r)).toMatch(/Nothing was failed over and the sync goes on/);
      await expectFailedOperation(world, w, "failover-unplanned", /stopped half-way/);
      await expectNotPaused(world, w);
      expect(await currentMode(world.ctx, w.stack)).toBe("standby");
      await restartedDaemonConverges(w, point);
      expectOk(await ferry(["failover", w.stack, "--unplanned", "--yes", "--config", shortPause]));
      expect(await currentMode(world.ctx, w.stack)).toBe("failover");
    },
  );

  it(
    "failback sync: exit 1, says to start the daemon and that the sync stays paused for the failback; converges",
    CELL,
    async () => {
      // Recovered from snapshots: the primary data disk's sync goes on after the failover, and the
      // daemon that applies its points is killed before the failback pauses it.
      const w = await world.workload("dkf", { osStrategy: "fromSnapshot", dataStrategy: "fromSnapshot" });
      await world.protect(w);
      await world.unplannedFailover(w);
      expectOk(await ferry(["failback", "prepare", w.stack]));
      const point = await killedMidApply(w, 3);
      const r = await ferry(["failback", "sync", w.stack, "--config", shortPause]);
      expect(r.code).toBe(EXIT.failed);
      expectReadable(r, DAEMON_DEAD);
      expect(messageOf(r)).toMatch(/sync stays paused for the failback.*run `ferry failback sync bp-dkf` again/s);
      await expectFailedOperation(world, w, "failback-sync", /stopped half-way/);
      // Paused for the failback, as the message says; a restarted daemon still finishes the interrupted copy.
      expect((await row(w.dataDiskIds.get(0)!)).paused).toBe(true);
      await restartedDaemonConverges(w, point);
      expect(expectOk(await ferry(["failback", "sync", w.stack, "--config", shortPause])).out).toMatch(/synced/);
      expectOk(await ferry(["failback", "rollback", w.stack]));
      await expectNotPaused(world, w);
    },
  );
});
