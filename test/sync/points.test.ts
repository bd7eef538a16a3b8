import { describe, expect, it } from "vitest";
import type { AzureClients } from "../../adapters/azure/clients";
import { requestSync, setDrSnapshotResourceGroup, setProtection } from "../../adapters/state/admin";
import type { DrPointStore, StoredDrPoint } from "../../adapters/state/points";
import { parseResourceId, sameResourceId } from "../../core/resource-id";
import type { Source } from "../../core/schemas/source";
import { listPoints } from "../../runbooks/points";
import { listSources } from "../../runbooks/sources";
import { validRanges } from "../../sync/page-ranges";
import { DrPointService, POINT_ROLE, TAG_STAGING } from "../../sync/points";
import { normalize, split } from "../../sync/ranges";
import { TAG_ROLE, TAG_SOURCE } from "../../sync/snapshots";
import { pattern, writeAt } from "../helpers/bytes";
import { DR, useDrWorld, type DrWorld, type Workload } from "../helpers/dr-env";

const MiB = 1024 * 1024;

/** The DR snapshots tagged as points of a source, in the DR region's snapshot group. */
async function pointSnapshots(azure: AzureClients, sourceDiskId: string): Promise<string[]> {
  const out: string[] = [];
  for await (const s of azure.compute.snapshots.listByResourceGroup(DR.snapshotRg)) {
    const tag = s.tags?.[TAG_SOURCE];
    if (s.tags?.[TAG_ROLE] === POINT_ROLE && tag !== undefined && sameResourceId(tag, sourceDiskId))
      out.push(s.id!.toLowerCase());
  }
  return out.sort();
}

/** Whether two snapshots hold the same bytes, read through their SAS over the emulator's data plane. */
async function sameBytes(azure: AzureClients, a: string, b: string): Promise<boolean> {
  const open = async (id: string) => {
    const p = parseResourceId(id);
    const snap = await azure.compute.snapshots.get(p.resourceGroup, p.name);
    const sas = await azure.compute.snapshots.grantAccess(p.resourceGroup, p.name, {
      access: "Read",
      durationInSeconds: 600,
    });
    const blob = azure.pageBlob(sas.accessSAS!);
    return { blob, size: snap.diskSizeBytes!, ranges: await validRanges(blob, snap.diskSizeBytes!), p };
  };
  const x = await open(a);
  const y = await open(b);
  try {
    if (x.size !== y.size) return false;
    // Outside a snapshot's valid ranges it reads zeros: both are read over the union of their data.
    for (const r of split(normalize([...x.ranges, ...y.ranges]), 4 * MiB)) {
      const bx = await x.blob.downloadToBuffer(r.start, r.end - r.start);
      const by = await y.blob.downloadToBuffer(r.start, r.end - r.start);
      if (!bx.equals(by)) return false;
    }
    return x.ranges.length > 0;
  } finally {
    for (const { p } of [x, y]) await azure.compute.snapshots.revokeAccess(p.resourceGroup, p.name);
  }
}

async function rowOf(world: DrWorld, id: string): Promise<Source> {
  return (await world.ctx.store.get(id))!.source;
}

/** Writes to a source disk, asks for a sync, and ticks until a new point is applied and its DR point recorded. */
async function applyNext(world: DrWorld, w: Workload, sourceDiskId: string, seed: number): Promise<Source> {
  const before = (await rowOf(world, sourceDiskId)).applied!.snapshotId;
  const device = sourceDiskId === w.osDiskId ? w.sourceDevice("os") : w.sourceDevice(0);
  writeAt(device, (seed % 64) * MiB, pattern(seed, MiB));
  await requestSync(world.ctx.store, sourceDiskId, new Date(Date.now() + 1));
  await world.syncUntil(
    async () => {
      const s = await rowOf(world, sourceDiskId);
      if (!s.applied || s.applied.snapshotId === before || s.applying) return false;
      const points = await world.ctx.points.list(sourceDiskId);
      return points.some((p) => sameResourceId(p.point.sourceSnapshotId, s.applied!.snapshotId));
    },
    `a new point of ${sourceDiskId} applied and recorded`,
    world.sourcesOf(w),
  );
  return rowOf(world, sourceDiskId);
}

describe("recovery points in the DR region", () => {
  const env = useDrWorld({ syncIntervalSeconds: 3600 });

  it("records a point after the backfill and after each apply, one per applied point, of that point's bytes", async () => {
    const { world } = env;
    const w = await world.workload("pt-each", { dataLuns: [] });
    writeAt(w.sourceDevice("os"), 3 * MiB, pattern(7, 2 * MiB));
    await world.protect(w);
    let row = await rowOf(world, w.osDiskId);
    const first = await world.ctx.points.list(w.osDiskId);
    expect(first.map((p) => p.point.sourceSnapshotId)).toEqual([row.applied!.snapshotId]);
    expect(first[0]!.point.pointTime).toBe(row.applied!.createdAt);
    expect(first[0]!.point.stagingDiskId.toLowerCase()).toBe(row.stagingDiskId.toLowerCase());
    expect(parseResourceId(first[0]!.point.drSnapshotId).resourceGroup).toBe(DR.snapshotRg);

    for (let i = 0; i < 2; i++) row = await applyNext(world, w, w.osDiskId, 20 + i);
    const points = await world.ctx.points.list(w.osDiskId);
    expect(points).toHaveLength(3);
    expect(new Set(points.map((p) => p.point.sourceSnapshotId)).size).toBe(3);
    const newest = points.at(-1)!.point;
    expect(newest.sourceSnapshotId).toBe(row.applied!.snapshotId);
    // The applied source snapshot is the one the sync keeps: the DR point must hold exactly its bytes.
    expect(await sameBytes(world.builder, newest.drSnapshotId, row.applied!.snapshotId)).toBe(true);
    expect(await pointSnapshots(world.builder, w.osDiskId)).toEqual(
      points.map((p) => p.point.drSnapshotId.toLowerCase()).sort(),
    );
    const tags = (await world.builder.compute.snapshots.get(DR.snapshotRg, parseResourceId(newest.drSnapshotId).name))
      .tags!;
    expect(tags[TAG_STAGING]).toBe(row.stagingDiskId.toLowerCase());
    expect(world.sync.daemon.metrics.render()).toMatch(
      /ferry_sync_points\{blueprint="bp-pt-each",row="pt-each",disk="os"\} 3/,
    );
  });

  it("takes a row's disks together: their points share a group, with the spread of their source times", async () => {
    const { world } = env;
    const w = await world.workload("pt-row", { dataLuns: [0, 1] });
    await world.protect(w);
    const disks = [w.osDiskId, ...w.dataDiskIds.values()];
    // Only the OS disk asks: the row's other disks join its cycle.
    const before = await Promise.all(disks.map(async (d) => (await rowOf(world, d)).applied!.snapshotId));
    await requestSync(world.ctx.store, w.osDiskId, new Date(Date.now() + 1));
    await world.syncUntil(
      async () => {
        const lists = await Promise.all(disks.map((d) => world.ctx.points.list(d)));
        return lists.every((l, i) => l.some((p) => p.point.sourceSnapshotId !== before[i] && p.point.group));
      },
      "a grouped point of every disk of pt-row",
      world.sourcesOf(w),
    );
    const newest = await Promise.all(disks.map(async (d) => (await world.ctx.points.list(d)).at(-1)!.point));
    const groups = new Set(newest.map((p) => p.group));
    expect(groups.size).toBe(1);
    const times = newest.map((p) => Date.parse(p.pointTime));
    const spread = Math.max(...times) - Math.min(...times);
    for (const p of newest) expect(p.spreadInMs).toBe(spread);

    const report = await listPoints(world.ctx, "bp-pt-row");
    const point = report.rows[0]!.points[0]!;
    expect(point).toMatchObject({ id: newest[0]!.group, complete: true, spreadMs: spread });
    expect(point.disks.map((d) => d.disk)).toEqual(["os", "lun-0", "lun-1"]);
  });

  it("prunes by the blueprint's retention, never the newest point nor a held one, and deletes their snapshots", async () => {
    const { world } = env;
    const w = await world.workload("pt-prune", { dataLuns: [] });
    await world.protect(w);
    for (let i = 0; i < 3; i++) await applyNext(world, w, w.osDiskId, 40 + i);
    const all = await world.ctx.points.list(w.osDiskId);
    expect(all).toHaveLength(4);
    const held = all[1]!;
    await world.ctx.points.hold(w.osDiskId, held.key, "drill-1", new Date(Date.now() + 3_600_000));
    const row = await rowOf(world, w.osDiskId);
    await setProtection(world.ctx.store, w.osDiskId, {
      ...row.protection!,
      retention: { allForSeconds: 0, hourlyForSeconds: 0, dailyForSeconds: 0 },
    });
    const last = await applyNext(world, w, w.osDiskId, 50);
    const left = await world.ctx.points.list(w.osDiskId);
    expect(left.map((p) => p.key)).toEqual([held.key, left.at(-1)!.key]);
    expect(left.at(-1)!.point.sourceSnapshotId).toBe(last.applied!.snapshotId);
    expect(await pointSnapshots(world.builder, w.osDiskId)).toEqual(
      left.map((p) => p.point.drSnapshotId.toLowerCase()).sort(),
    );
  });

  it("goes on syncing when a point cannot be taken, and shows why until the next one is taken", async () => {
    const { world } = env;
    const w = await world.workload("pt-fail", { dataLuns: [] });
    await world.protect(w);
    // A group that does not exist: Azure refuses the snapshot.
    await setDrSnapshotResourceGroup(world.ctx.store, w.osDiskId, "ferry-points-missing");
    const before = (await rowOf(world, w.osDiskId)).applied!.snapshotId;
    writeAt(w.sourceDevice("os"), 0, pattern(60, MiB));
    await requestSync(world.ctx.store, w.osDiskId, new Date(Date.now() + 1));
    await world.syncUntil(
      async () => (await rowOf(world, w.osDiskId)).pointError !== undefined,
      "the failed point recorded on the row",
      world.sourcesOf(w),
    );
    const row = await rowOf(world, w.osDiskId);
    expect(row.applied!.snapshotId).not.toBe(before);
    expect(row.state).toBe("healthy");
    expect(row.lastError).toBeUndefined();
    expect(row.pointError!.message).toMatch(/could not be taken: .*The next applied point is tried again/);
    expect(await world.ctx.points.list(w.osDiskId)).toHaveLength(1);
    expect(world.sync.daemon.metrics.render()).toMatch(
      /ferry_sync_points_failed_total\{blueprint="bp-pt-fail",row="pt-fail",disk="os"\} 1/,
    );
    const [line] = (await listSources(world.ctx)).filter((l) => l.sourceDiskId === w.osDiskId);
    expect(line!.pointError).toMatch(/could not be taken/);
    expect(line!.points!.count).toBe(1);

    await setDrSnapshotResourceGroup(world.ctx.store, w.osDiskId, DR.snapshotRg);
    await applyNext(world, w, w.osDiskId, 61);
    expect((await rowOf(world, w.osDiskId)).pointError).toBeUndefined();
    expect(await world.ctx.points.list(w.osDiskId)).toHaveLength(2);
  });

  it("sweeps the snapshot a daemon killed between the snapshot and its record left, once past the grace", async () => {
    const { world } = env;
    const w = await world.workload("pt-crash", { dataLuns: [] });
    await world.protect(w);
    const source = await rowOf(world, w.osDiskId);
    const store = world.ctx.points;
    // A process that dies after Azure made the snapshot and before the record was written: its add never ends.
    const dying = Object.assign(Object.create(store) as DrPointStore, {
      add: () => new Promise<StoredDrPoint>(() => undefined),
    });
    const point = { ...source.applied!, snapshotId: `${source.applied!.snapshotId}-next` };
    const log = world.ctx.logger;
    void new DrPointService(world.sync.azure, dying, { applianceId: "appliance", pollIntervalInMs: 10 }).afterApply({
      source,
      point,
      confirm: async () => true,
      logger: log,
    });
    const recorded = (await world.ctx.points.list(w.osDiskId)).map((p) => p.point.drSnapshotId.toLowerCase());
    let orphans: string[] = [];
    for (let i = 0; i < 200 && orphans.length === 0; i++) {
      orphans = (await pointSnapshots(world.builder, w.osDiskId)).filter((id) => !recorded.includes(id));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(orphans).toHaveLength(1);

    const restarted = (now: Date) =>
      new DrPointService(world.sync.azure, store, { applianceId: "appliance", pollIntervalInMs: 10, now: () => now });
    // Within the grace the snapshot may be another process's point about to be recorded: it stays.
    expect(await restarted(new Date()).sweep(source, log)).toBe(0);
    expect(await restarted(new Date(Date.now() + 16 * 60_000)).sweep(source, log)).toBe(1);
    expect(await pointSnapshots(world.builder, w.osDiskId)).toEqual(recorded.sort());
  });

  it("takes at most 6 points of a staging disk per 5 minutes (one of Azure's 7 left for a failover), then more", async () => {
    const { world } = env;
    const w = await world.workload("pt-rate", { dataLuns: [] });
    await world.protect(w);
    const source = await rowOf(world, w.osDiskId);
    let now = Date.now();
    const service = new DrPointService(world.sync.azure, world.ctx.points, {
      applianceId: "appliance",
      pollIntervalInMs: 10,
      now: () => new Date(now),
    });
    const take = (i: number) =>
      service.afterApply({
        source,
        point: { ...source.applied!, snapshotId: `${source.applied!.snapshotId}-${i}` },
        confirm: async () => true,
        logger: world.ctx.logger,
      });
    const kinds: string[] = [];
    for (let i = 0; i < 8; i++) {
      kinds.push((await take(i)).kind);
      now += 10_000;
    }
    // The backfill's point was one of the first window's.
    expect(kinds).toEqual(["taken", "taken", "taken", "taken", "taken", "skipped", "skipped", "skipped"]);
    expect(await pointSnapshots(world.builder, w.osDiskId)).toHaveLength(6);
    now += 5 * 60_000;
    expect((await take(100)).kind).toBe("taken");
  });
});
