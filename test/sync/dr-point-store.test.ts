import { describe, expect, it } from "vitest";
import { DrPointStore, pointKey } from "../../adapters/state/points";
import { isFerryError, isUserError } from "../../core/errors";
import type { DrPoint } from "../../core/schemas/dr-point";
import { useAzurite } from "../helpers/azurite";
import { thrownBy } from "../helpers/errors";

const sub = "/subscriptions/00000000-0000-0000-0000-000000000000";
const disk = (name: string) => `${sub}/resourceGroups/prod/providers/Microsoft.Compute/disks/${name}`;
const snap = (name: string) => `${sub}/resourceGroups/points/providers/Microsoft.Compute/snapshots/${name}`;
const T0 = Date.parse("2026-12-02T12:00:00.000Z");

function point(minute: number, overrides: Partial<DrPoint> = {}): DrPoint {
  const at = new Date(T0 + minute * 60_000).toISOString();
  return {
    sourceDiskId: disk("web-os"),
    stagingDiskId: disk("web-os-staging"),
    sourceSnapshotId: snap(`src-${minute}`),
    pointTime: at,
    drSnapshotId: snap(`ferry-pt-${minute}`),
    takenAt: at,
    ...overrides,
  };
}

describe("the DR recovery points in the state store", () => {
  const a = useAzurite();

  async function fresh(): Promise<DrPointStore> {
    // Opening a source store on a fresh table makes the table (as the landing zone does).
    const name = a.newTableName();
    await a.newStore(name);
    return new DrPointStore(a.tableClient(name));
  }

  it("lists a disk's points oldest first, and no other disk's", async () => {
    const store = await fresh();
    await store.add(point(5));
    await store.add(point(1));
    await store.add(point(3, { sourceDiskId: disk("web-data0"), stagingDiskId: disk("web-data0-staging") }));
    expect((await store.list(disk("web-os"))).map((p) => p.point.pointTime)).toEqual([
      point(1).pointTime,
      point(5).pointTime,
    ]);
  });

  it("records the same point twice as once (a daemon that crashed after its write), and refuses another under its key", async () => {
    const store = await fresh();
    const first = await store.add(point(1));
    expect((await store.add(point(1))).key).toBe(first.key);
    expect(await store.list(disk("web-os"))).toHaveLength(1);
    // The same time and snapshot name in another group: another snapshot under the same key.
    const elsewhere = point(1, { drSnapshotId: point(1).drSnapshotId.replace("/points/", "/other/") });
    const e = await thrownBy(store.add(elsewhere));
    expect(isFerryError(e) && e.code).toBe("ConcurrentUpdate");
  });

  it("keeps a held point from deletion until its hold ends or is released", async () => {
    const store = await fresh();
    const { key } = await store.add(point(1));
    const held = await store.hold(disk("web-os"), key, "drill-1", new Date(T0 + 3_600_000), new Date(T0));
    const e = await thrownBy(store.delete(held, new Date(T0 + 60_000)));
    expect(isFerryError(e) && e.code).toBe("PointHeld");
    await store.release(disk("web-os"), key, "drill-1", new Date(T0));
    const released = (await store.get(disk("web-os"), key))!;
    expect(released.point.holds).toBeUndefined();
    await store.delete(released, new Date(T0));
    expect(await store.get(disk("web-os"), key)).toBeUndefined();
  });

  it("refuses a delete from a read older than a hold added since (conditional on the ETag)", async () => {
    const store = await fresh();
    const stored = await store.add(point(1));
    await store.hold(disk("web-os"), stored.key, "failover-1", new Date(T0 + 3_600_000), new Date(T0));
    const e = await thrownBy(store.delete(stored, new Date(T0)));
    expect(isFerryError(e) && e.code).toBe("ConcurrentUpdate");
    expect(await store.get(disk("web-os"), stored.key)).toBeDefined();
  });

  it("renews one operation's hold instead of adding a second", async () => {
    const store = await fresh();
    const { key } = await store.add(point(1));
    await store.hold(disk("web-os"), key, "drill-1", new Date(T0 + 60_000), new Date(T0));
    const again = await store.hold(disk("web-os"), key, "drill-1", new Date(T0 + 120_000), new Date(T0));
    expect(again.point.holds).toEqual([{ by: "drill-1", until: new Date(T0 + 120_000).toISOString() }]);
  });

  it("holds a point from its listing with no read first, and over a hold written since", async () => {
    const store = await fresh();
    await store.add(point(1));
    const [listed] = await store.list(disk("web-os"));
    await store.hold(disk("web-os"), listed!.key, "drill-1", new Date(T0 + 60_000), new Date(T0));
    // The listing is older than the drill's hold: the failover's is added beside it, not over it.
    const held = await store.hold(disk("web-os"), listed!.key, "failover-1", new Date(T0 + 120_000), new Date(T0), {
      read: listed!,
    });
    expect(held.point.holds).toEqual([
      { by: "drill-1", until: new Date(T0 + 60_000).toISOString() },
      { by: "failover-1", until: new Date(T0 + 120_000).toISOString() },
    ]);
    expect((await store.get(disk("web-os"), listed!.key))!.point.holds).toEqual(held.point.holds);
  });

  it("says which point is gone when a hold comes after its prune, and what to do", async () => {
    const store = await fresh();
    const e = await thrownBy(store.hold(disk("web-os"), pointKey(point(9)), "drill-1", new Date(T0 + 60_000)));
    expect(isUserError(e)).toBe(true);
    expect(e.message).toMatch(/is not recorded .* List the points with `ferry points <blueprint>`/);
  });

  it("keeps the group and spread a point was recorded with", async () => {
    const store = await fresh();
    await store.add(point(1, { group: "web-20261202T120100Z-a1b2", spreadInMs: 412 }));
    expect((await store.list(disk("web-os")))[0]!.point).toMatchObject({
      group: "web-20261202T120100Z-a1b2",
      spreadInMs: 412,
    });
  });
});
