import { beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../runbooks/commands/common";
import type { Operation } from "../../runbooks/journal";
import type { SourceLine } from "../../runbooks/sources";
import { useCliWorld } from "../helpers/cli-world";
import type { DrWorld, Workload } from "../helpers/dr-env";

// A long sync interval: once protected, no new point is taken while a test ages the recorded ones.
const cli = useCliWorld({ syncIntervalSeconds: 3600 });
let world: DrWorld;

beforeAll(() => {
  world = cli.world;
});

const ferry = (...args: string[]) => cli.ferry(args);

/** A new workload, its blueprint's RPO target set (or not), protected until every disk is healthy. */
async function protectedWorkload(name: string, rpoTargetSeconds?: number): Promise<Workload> {
  const w = await world.workload(name);
  if (rpoTargetSeconds !== undefined) {
    const config = await world.ctx.deployer.getConfig(w.stack);
    await world.ctx.deployer.setConfig(w.stack, {
      blueprint: { ...(config.blueprint as Record<string, unknown>), rpoTargetSeconds },
    });
  }
  await world.protect(w);
  return w;
}

/**
 * Makes the recovery point of every disk of `w` `seconds` old, as a sync that lags would leave it: the applied
 * point, and the DR-side points the daemon took of it (a point's time is its source snapshot's).
 */
async function age(w: Workload, seconds: number): Promise<void> {
  const createdAt = new Date(Date.now() - seconds * 1000).toISOString();
  for (const id of [w.osDiskId, ...w.dataDiskIds.values()]) {
    const row = (await world.ctx.store.get(id))!;
    const applied = { ...row.source.applied!, createdAt };
    await world.ctx.store.update(row, { ...row.source, applied, desired: applied });
    for (const p of await world.ctx.points.list(id)) {
      if (p.point.sourceSnapshotId.toLowerCase() !== applied.snapshotId.toLowerCase()) continue;
      await world.ctx.points.delete(p);
      await world.ctx.points.add({ ...p.point, pointTime: createdAt });
    }
  }
}

describe("RPO target", () => {
  it("precheck fails a point older than the target, naming the disk, its age, the target and the fix", async () => {
    const w = await protectedWorkload("rpo1", 300);
    await age(w, 600);
    const r = await ferry("precheck", w.stack);
    expect(r.code).toBe(EXIT.refused);
    const line = r.out.split("\n").find((l) => l.startsWith("FAIL  rpo1 OS disk: within the RPO target"));
    expect(line).toMatch(
      /The recovery point of rpo1 OS disk is 6\d\d s old, older than the blueprint's RPO target of 300 s\. /,
    );
    expect(line).toContain("Find why the sync lags (`ferry sources list bp-rpo1`), ");
    expect(line).toMatch(/, or recover this point anyway with --accept-older-point\.$/);
    expect(r.out).toMatch(/^FAIL +rpo1 data disk LUN 0: within the RPO target /m);
  });

  it("precheck --accept-older-point warns that the older point was accepted and passes", async () => {
    const w = await protectedWorkload("rpo2", 300);
    await age(w, 600);
    const text = await ferry("precheck", w.stack, "--accept-older-point");
    expect(text.code).toBe(EXIT.ok);
    const line = text.out.split("\n").find((l) => l.startsWith("WARN  rpo2 OS disk: within the RPO target"));
    expect(line).toMatch(
      / The recovery point is 6\d\d s old, older than the blueprint's RPO target of 300 s: accepted with /,
    );
    expect(line).toMatch(/ accepted with --accept-older-point\.$/);
    const json = JSON.parse((await ferry("precheck", w.stack, "--accept-older-point", "--json")).out) as {
      passed: boolean;
      acceptedOlderPoints: { row: string; disk: string; targetSeconds: number }[];
    };
    expect(json.passed).toBe(true);
    expect(json.acceptedOlderPoints.map((p) => [p.row, p.disk, p.targetSeconds])).toEqual([
      ["rpo2", "os", 300],
      ["rpo2", "lun-0", 300],
    ]);
  });

  it("precheck judges no age when the blueprint sets no target", async () => {
    const w = await protectedWorkload("rpo3");
    await age(w, 6000);
    const r = await ferry("precheck", w.stack);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).not.toContain("RPO target");
  });

  it("a test failover refuses an older point with exit 3 and gives the sync back", async () => {
    const w = await protectedWorkload("rpo4", 300);
    await age(w, 600);
    const r = await world.whileSyncing(() => ferry("failover", w.stack, "--test", "--yes"));
    expect(r.code).toBe(EXIT.refused);
    expect(r.err).toMatch(/FAIL +rpo4 OS disk: within the RPO target .*--accept-older-point/);
    for (const id of [w.osDiskId, ...w.dataDiskIds.values()])
      expect((await world.ctx.store.get(id))!.source.paused).toBe(false);
  });

  it("a test failover with --accept-older-point goes on and records what was accepted, and where", async () => {
    const w = await protectedWorkload("rpo5", 300);
    await age(w, 600);
    const r = await world.whileSyncing(() =>
      ferry("failover", w.stack, "--test", "--yes", "--accept-older-point", "--json"),
    );
    expect(r.code, r.err).toBe(EXIT.ok);
    const op = JSON.parse(r.out) as Operation;
    expect(op.status).toBe("succeeded");
    const recorded = (await world.ctx.journal.get(op.blueprint, op.id))!;
    expect(recorded.details).toMatchObject({
      acceptedOlderPoints: [
        { row: "rpo5", disk: "os", sourceDiskId: w.osDiskId, targetSeconds: 300 },
        { row: "rpo5", disk: "lun-0", targetSeconds: 300 },
      ],
      acceptedOn: { host: recorded.host, pid: process.pid },
    });
    expect(r.err).toContain("recovery points older than the RPO target accepted (--accept-older-point)");
    expect((await world.whileSyncing(() => ferry("cleanup", w.stack, "--yes"))).code).toBe(EXIT.ok);
  });
});

describe("sources list", () => {
  it("shows each disk's lag against the blueprint's target, ok or over, in text and JSON", async () => {
    const w = await protectedWorkload("rpo6", 300);
    // A tick of the daemon: its heartbeat is recent (nothing is due in a 3600 s interval).
    await world.sync.daemon.tick({ filter: world.sourcesOf(w) });
    await age(w, 400);
    const lines = JSON.parse((await ferry("sources", "list", w.stack, "--json")).out) as SourceLine[];
    expect(lines.map((l) => [l.row, l.role, l.rpoTargetSeconds, l.rpo, l.health])).toEqual([
      ["rpo6", "lun-0", 300, "over", "healthy"],
      ["rpo6", "os", 300, "over", "healthy"],
    ]);
    expect(lines[0]!.lagSeconds).toBeGreaterThanOrEqual(400);
    const text = await ferry("sources", "list", w.stack);
    expect(text.out).toMatch(/^rpo6-os +rpo6 +os +healthy +\d+ +4\d\d s \/ 300 s target +over /m);
  });

  it("lists every source with the blueprint, row and target that enable recorded", async () => {
    const w = await protectedWorkload("rpo7", 900);
    // A tick of the daemon: its heartbeat is recent (nothing is due in a 3600 s interval).
    await world.sync.daemon.tick({ filter: world.sourcesOf(w) });
    const all = JSON.parse((await ferry("sources", "list", "--json")).out) as SourceLine[];
    expect(all.find((l) => l.sourceDiskId.toLowerCase() === w.osDiskId.toLowerCase())).toMatchObject({
      blueprint: w.stack,
      row: "rpo7",
      role: "os",
      rpoTargetSeconds: 900,
      rpo: "ok",
    });
  });
});
