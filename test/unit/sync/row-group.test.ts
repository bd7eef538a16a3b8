import { afterEach, describe, expect, it, vi } from "vitest";
import { groupId, SnapshotGroup } from "../../../sync/row-group";

/** Whether a promise has settled by the time pending microtasks ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  return done;
}

describe("a row's disks asking for their snapshots together", () => {
  afterEach(() => vi.useRealTimers());

  it("holds each disk until every disk of the row has arrived, then lets all go", async () => {
    const g = new SnapshotGroup("web-1", ["OS", "data0"]);
    const os = g.arrive("os");
    expect(await settled(os)).toBe(false);
    const data = g.arrive("DATA0");
    expect(await Promise.all([os, data])).toEqual([true, true]);
  });

  it("stops waiting for a disk whose cycle ended without a snapshot", async () => {
    const g = new SnapshotGroup("web-1", ["os", "data0"]);
    const os = g.arrive("os");
    g.leave("data0");
    expect(await os).toBe(true);
  });

  it("lets the others go after the timeout, and a latecomer takes its snapshot outside the group", async () => {
    vi.useFakeTimers();
    const g = new SnapshotGroup("web-1", ["os", "data0"], { timeoutInMs: 5000 });
    const os = g.arrive("os");
    await vi.advanceTimersByTimeAsync(4999);
    expect(await settled(os)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await os).toBe(true);
    expect(await g.arrive("data0")).toBe(false);
  });

  it("is no group for a disk that was never a member", async () => {
    expect(await new SnapshotGroup("web-1", ["os"]).arrive("data7")).toBe(false);
  });

  it("knows the spread once every disk that went has its snapshot time, not before", async () => {
    const g = new SnapshotGroup("web-1", ["os", "data0", "data1"]);
    const all = Promise.all([g.arrive("os"), g.arrive("data0"), g.arrive("data1")]);
    await all;
    g.report("os", "2026-12-02T12:00:00.100Z");
    g.report("data0", "2026-12-02T12:00:00.550Z");
    expect(g.spreadInMs()).toBeUndefined();
    // A disk whose snapshot failed leaves: the spread is of the others.
    g.leave("data1");
    expect(g.spreadInMs()).toBe(450);
  });

  it("names the row-level point by its row and the UTC second", () => {
    expect(groupId("web", new Date("2026-12-02T12:05:01.734Z"))).toMatch(/^web-20261202T120501Z-[0-9a-f]{4}$/);
  });
});
