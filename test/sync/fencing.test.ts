import { readdirSync, realpathSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { requestSync } from "../../adapters/state/admin";
import { fenceDir } from "../../sync/fence";
import { pattern, writeAt } from "../helpers/bytes";
import { useAzurite } from "../helpers/azurite";
import { firstDifference } from "../helpers/compare";
import { tempDir, useEmulator } from "../helpers/emulator";
import { spawnSync as spawn, waitFor, type Spawned } from "../helpers/processes";
import { createSyncEnv, PRIMARY, type SyncEnv } from "../helpers/sync-env";

const MiB = 1024 * 1024;
const RUNS = 10;

const spawned: Spawned[] = [];
function spawnSync(args: string[], env: NodeJS.ProcessEnv): Spawned {
  const s = spawn(args, env);
  spawned.push(s);
  return s;
}

/** Twelve 1 MiB extents; the same offsets for a given `round`, so newer data overwrites older. */
function writeRound(env: SyncEnv, round: number, seed: number): void {
  for (let j = 0; j < 12; j++) writeAt(env.sourceDevice(0), ((j * 53 + round * 7) % 800) * MiB, pattern(seed + j, MiB));
}

describe("sync: fenced writers", () => {
  const f = useEmulator();
  const a = useAzurite();

  afterAll(async () => {
    for (const s of spawned) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
    await Promise.all(spawned.map((s) => s.exited));
  });

  const row = async (env: SyncEnv) => (await env.store.get(env.sourceDiskId(0)))!.source;
  const reads = () => f.emu.requests.filter((r) => r.operationId === "Blob_Download" && r.status === 206).length;

  /** The first offset where the staging disk differs from the recovery point the row says it holds, or undefined. */
  let copies = 0;
  async function differenceFromApplied(env: SyncEnv): Promise<number | undefined> {
    const applied = (await row(env)).applied!;
    // A disk made from the applied snapshot holds exactly that point's bytes.
    const disk = await f.azure.compute.disks.beginCreateOrUpdateAndWait(PRIMARY.rg, `applied-copy-${++copies}`, {
      location: PRIMARY.location,
      creationData: { createOption: "Copy", sourceResourceId: applied.snapshotId },
    });
    try {
      return await firstDifference(f.emu.diskFile(disk.id!)!, env.stagingDevice(0));
    } finally {
      await f.azure.compute.disks.beginDeleteAndWait(PRIMARY.rg, disk.name!);
    }
  }

  /** Backfills the source in-process, so that the daemons under test start from a healthy row. */
  async function healthy(seed: number): Promise<SyncEnv> {
    const env = await createSyncEnv(f, a, [{ lun: 0 }]);
    writeRound(env, 0, seed);
    await env.store.create(env.sourceRow(0));
    const rt = await env.runtime({ overrides: { instanceId: "setup" } });
    expect((await rt.daemon.tick()).get(env.sourceDiskId(0))?.kind).toBe("applied");
    expect((await row(env)).state).toBe("healthy");
    return env;
  }

  /**
   * Starts the daemon on `env`'s own config and has it apply a delta (round 1, `seed`) with its reads
   * slowed; resolves once the delta is being applied.
   */
  async function daemonMidDelta(env: SyncEnv, seed: number) {
    const { path, env: procEnv } = env.configFile({ sync: daemonSync });
    const daemon = spawnSync(["run", "--config", path], procEnv);
    writeRound(env, 1, seed);
    // Each read of the delta waits 2 s until finishDelta lifts it: a second process started meanwhile finds the
    // delta still running however slowly it starts (150 ms a read let the delta end first at a load of 20).
    const slow = f.emu.faults.add({ match: { operation: "Blob_Download" }, action: { kind: "delay", ms: 2000 } });
    const readsBefore = reads();
    await requestSync(env.store, env.sourceDiskId(0));
    const point = await waitFor(async () => {
      const s = await row(env);
      return s.applying && reads() >= readsBefore + 2 ? s.applying : undefined;
    }, "the daemon's delta to start");
    return { path, env: procEnv, daemon, slow, point };
  }

  /** Lets the daemon finish that delta at full speed, stops it, and checks the disk is the applied point. */
  async function finishDelta(
    env: SyncEnv,
    daemon: Awaited<ReturnType<typeof daemonMidDelta>>["daemon"],
    slow: string,
    point: { snapshotId: string },
  ): Promise<void> {
    f.emu.faults.remove(slow);
    await waitFor(async () => {
      const s = await row(env);
      return s.applied?.snapshotId === point.snapshotId && !s.applying && !s.lease;
    }, "the daemon to finish its delta");
    daemon.child.kill("SIGTERM");
    expect((await daemon.exited).code, daemon.stderr.join("")).toBe(0);
    expect(await differenceFromApplied(env)).toBeUndefined();
  }

  /** Waits until no cycle has run on the source for a second: no lease, nothing being applied. */
  async function idle(env: SyncEnv, what: string): Promise<void> {
    let since: number | undefined;
    await waitFor(
      async () => {
        const s = await row(env);
        if (s.applying || s.lease || s.state !== "healthy") since = undefined;
        else since ??= Date.now();
        return since !== undefined && Date.now() - since >= 1000;
      },
      `${what}: both daemons to be idle`,
      60_000,
    );
  }

  const daemonSync = { intervalInSeconds: 43, tickSeconds: 0.05, leaseSeconds: 2, readConcurrency: 2, readSizeMiB: 1 };

  it(
    `a daemon stopped (SIGSTOP) mid-delta past its lease cannot write once another took over: the disk equals the applied point in ${RUNS} of ${RUNS} runs`,
    { timeout: 900_000 },
    async () => {
      const env = await healthy(1);
      const fence = () => fenceDir(env.runDir, realpathSync(env.stagingDevice(0)));
      const daemons = new Map<string, Spawned>();
      for (const id of ["x", "y"]) {
        const { path, env: procEnv } = env.configFile({
          instanceId: id,
          sync: { ...daemonSync, verifyIntervalInHours: 0 },
        });
        daemons.set(id, spawnSync(["run", "--config", path], procEnv));
      }
      let done = 0;
      for (let round = 1; done < RUNS; round++) {
        if (round > RUNS * 2) throw new Error(`only ${done} of ${RUNS} runs stopped a daemon mid-delta`);
        const before = await row(env);
        writeRound(env, round, round * 1000);
        // Each read of the delta waits 2 s until finishDelta lifts it: a second process started meanwhile finds the
        // delta still running however slowly it starts (150 ms a read let the delta end first at a load of 20).
        const slow = f.emu.faults.add({ match: { operation: "Blob_Download" }, action: { kind: "delay", ms: 2000 } });
        const readsBefore = reads();
        await requestSync(env.store, env.sourceDiskId(0));
        // A delta under way: its point recorded as `applying`, some of its reads served, more to come.
        const started = await waitFor(
          async () => {
            const s = await row(env);
            return s.applying &&
              s.applying.snapshotId !== before.applied!.snapshotId &&
              s.lease &&
              reads() >= readsBefore + 3
              ? { point: s.applying, owner: s.lease.owner }
              : undefined;
          },
          `round ${round}: a delta to start`,
          60_000,
        );
        const stopped = daemons.get(started.owner)!;
        const pid = stopped.child.pid!;
        // Stopped between two writes, with reads in flight: the data it already read is what it
        // would write over the other daemon's. (Stopped inside a write, the other daemon waits for
        // that one write to end; a run that lands there is stopped again a moment later.)
        for (let tries = 0; ; tries++) {
          stopped.child.kill("SIGSTOP");
          await new Promise((r) => setTimeout(r, 20));
          if (!readdirSync(fence()).some((n) => n.startsWith("writing-") && n.split("-")[2] === String(pid))) break;
          stopped.child.kill("SIGCONT");
          if (tries > 100) throw new Error("the daemon never stood between two writes");
          await new Promise((r) => setTimeout(r, 5 + tries));
        }
        const at = await row(env);
        if (at.applying?.snapshotId !== started.point.snapshotId) {
          // It finished the delta before the stop landed: not the case under test; resume and go on.
          stopped.child.kill("SIGCONT");
          f.emu.faults.remove(slow);
          await waitFor(async () => !(await row(env)).applying && !(await row(env)).lease, "the cycle to end");
          continue;
        }
        f.emu.faults.remove(slow);
        const linesBefore = stopped.stdout.length;

        // The other daemon takes over once the lease ran out: the interrupted point first ...
        await waitFor(
          async () => {
            const s = await row(env);
            return s.applied?.snapshotId === started.point.snapshotId && !s.applying;
          },
          `round ${round}: the other daemon to re-apply the interrupted point`,
          60_000,
        );
        // ... then a newer point, over the same extents the stopped daemon had read.
        writeRound(env, round, round * 1000 + 500);
        const requested = new Date();
        await requestSync(env.store, env.sourceDiskId(0), requested);
        const newer = await waitFor(
          async () => {
            const s = await row(env);
            return s.applied && Date.parse(s.applied.createdAt) >= requested.getTime() && !s.applying
              ? s.applied
              : undefined;
          },
          `round ${round}: the other daemon to apply a newer point`,
          60_000,
        );
        expect(newer.snapshotId).not.toBe(started.point.snapshotId);

        // Resumed, the stopped daemon finds itself fenced, and says so, before writing a byte.
        stopped.child.kill("SIGCONT");
        const fenced = await waitFor(
          async () => stopped.stdout.slice(linesBefore).find((l) => l.includes('"msg":"fenced:')),
          `round ${round}: the resumed daemon to say it was fenced`,
          60_000,
        ).catch((e: unknown) => {
          throw new Error(`${(e as Error).message}; its last lines:\n${stopped.stdout.slice(-15).join("\n")}`);
        });
        expect(JSON.parse(fenced)).toMatchObject({ level: 50, sourceDiskId: env.sourceDiskId(0) });
        // Both idle again: the resumed daemon runs one cycle of its own for the sync request it
        // missed, which is legitimate (it holds a new token then).
        await idle(env, `round ${round}`);
        expect(await differenceFromApplied(env), `round ${round}`).toBeUndefined();
        done++;
      }
      for (const d of daemons.values()) d.child.kill("SIGTERM");
      for (const d of daemons.values()) expect((await d.exited).code, d.stderr.join("")).toBe(0);
      // The last applied point is also the source as it stands now.
      expect(await firstDifference(env.sourceDevice(0), env.stagingDevice(0))).toBeUndefined();
    },
  );

  it("refuses `once --source` with the daemon's own config while the daemon applies; the disk equals the applied point", async () => {
    const env = await healthy(2);
    const { path, env: procEnv, daemon, slow, point } = await daemonMidDelta(env, 2000);

    const once = spawnSync(["once", "--config", path, "--source", env.sourceDiskId(0)], procEnv);
    const exit = await once.exited;
    expect(exit.code).toBe(4);
    const err = once.stderr.join("");
    expect(err).toMatch(new RegExp(`pid ${daemon.child.pid} \\(\`ferry-sync run\``));
    expect(err).toMatch(/check-health/);
    expect(err).not.toMatch(/\n\s+at /);

    await finishDelta(env, daemon, slow, point);
  }, 180_000);

  it("refuses through the store a second process of the instance that does not share the run folder", async () => {
    const env = await healthy(4);
    const { daemon, slow, point } = await daemonMidDelta(env, 4000);

    // A copy of the config with its own run folder: the local registration cannot see the daemon.
    const stray = env.configFile({ sync: daemonSync, runDir: tempDir("ferry-sync-stray-") });
    const once = spawnSync(["once", "--config", stray.path, "--source", env.sourceDiskId(0), "--json"], stray.env);
    expect((await once.exited).code, once.stderr.join("")).toBe(0);
    const [outcome] = JSON.parse(once.stdout.join("\n")) as { kind: string; reason?: string }[];
    expect(outcome?.kind).toBe("skipped");
    expect(outcome?.reason).toMatch(/leased by another process of instance/);

    await finishDelta(env, daemon, slow, point);
  }, 180_000);

  it("refuses a second daemon, and `verify`, with the same instance while the daemon runs", async () => {
    const env = await healthy(3);
    const { path, env: procEnv } = env.configFile({ sync: daemonSync });
    const daemon = spawnSync(["run", "--config", path], procEnv);
    await waitFor(async () => daemon.stdout.some((l) => l.includes("ferry-sync started")), "the daemon to start");
    const second = spawnSync(["run", "--config", path], procEnv);
    const verify = spawnSync(["verify", env.sourceDiskId(0), "--config", path], procEnv);
    expect((await second.exited).code).toBe(4);
    expect(second.stderr.join("")).toMatch(/Another ferry-sync process runs as instance/);
    expect((await verify.exited).code).toBe(4);
    expect(verify.stderr.join("")).toMatch(/check-health/);
    // Neither touched the row.
    expect((await row(env)).state).toBe("healthy");
    daemon.child.kill("SIGTERM");
    expect((await daemon.exited).code, daemon.stderr.join("")).toBe(0);
  }, 180_000);
});
