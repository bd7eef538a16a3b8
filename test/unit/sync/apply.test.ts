import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { applyPlan, type RangeSource } from "../../../sync/apply";
import { ByteBudget } from "../../../sync/budget";
import type { Range } from "../../../sync/ranges";
import { pattern } from "../../helpers/bytes";

const KiB = 1024;

/** A recovery point in memory, counting reads and the largest one. */
function memorySource(image: Buffer, options: { failAt?: number } = {}) {
  const stats = { reads: 0, largest: 0, inFlight: 0, maxInFlight: 0 };
  const source: RangeSource = {
    async read(r: Range, _signal, target) {
      stats.reads++;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      stats.largest = Math.max(stats.largest, r.end - r.start);
      await new Promise((res) => setTimeout(res, 1));
      stats.inFlight--;
      if (options.failAt !== undefined && r.start <= options.failAt && options.failAt < r.end)
        throw new Error(`read of ${r.start} failed`);
      const out = target ?? Buffer.allocUnsafe(r.end - r.start);
      image.copy(out, 0, r.start, r.end);
      return out;
    },
  };
  return { source, stats };
}

function memoryDevice(size: number, fill = 0) {
  const bytes = Buffer.alloc(size, fill);
  return {
    bytes,
    async write(offset: number, data: Buffer) {
      data.copy(bytes, offset);
    },
    async zero(ranges: Range[]) {
      for (const r of ranges) bytes.fill(0, r.start, r.end);
    },
  };
}

describe("applyPlan", () => {
  it("copies the ranges at their own offsets, zeroes the zero ranges, and leaves the rest", async () => {
    const image = pattern(1, 1024 * KiB);
    const device = memoryDevice(1024 * KiB, 0xaa);
    const { source, stats } = memorySource(image);
    const copy = [
      { start: 0, end: 100 * KiB },
      { start: 100 * KiB, end: 130 * KiB },
      { start: 500 * KiB, end: 501 * KiB },
    ];
    const zero = [{ start: 200 * KiB, end: 264 * KiB }];
    const result = await applyPlan({ copy, zero }, { source, device, readSizeInBytes: 64 * KiB, concurrency: 3 });
    expect(result).toEqual({ bytesRead: 131 * KiB, bytesZeroed: 64 * KiB });
    expect(device.bytes.subarray(0, 130 * KiB).equals(image.subarray(0, 130 * KiB))).toBe(true);
    expect(device.bytes.subarray(500 * KiB, 501 * KiB).equals(image.subarray(500 * KiB, 501 * KiB))).toBe(true);
    expect(device.bytes.subarray(200 * KiB, 264 * KiB).every((b) => b === 0)).toBe(true);
    expect(device.bytes[150 * KiB]).toBe(0xaa);
    // Adjacent ranges merged, then cut into reads of at most 64 KiB: 130 KiB → 3 reads, plus 1.
    expect(stats.largest).toBeLessThanOrEqual(64 * KiB);
    expect(stats.reads).toBe(4);
    expect(stats.maxInFlight).toBeLessThanOrEqual(3);
  });

  it("gives the same bytes when applied twice (crash recovery re-applies)", async () => {
    const image = pattern(2, 256 * KiB);
    const device = memoryDevice(256 * KiB, 7);
    const plan = { copy: [{ start: 10 * KiB, end: 90 * KiB }], zero: [{ start: 128 * KiB, end: 192 * KiB }] };
    await applyPlan(plan, { source: memorySource(image).source, device });
    const once = Buffer.from(device.bytes);
    await applyPlan(plan, { source: memorySource(image).source, device });
    expect(device.bytes.equals(once)).toBe(true);
  });

  it("stops the other reads on the first failure and throws it", async () => {
    const image = pattern(3, 1024 * KiB);
    const { source, stats } = memorySource(image, { failAt: 64 * KiB });
    const device = memoryDevice(1024 * KiB);
    await expect(
      applyPlan(
        { copy: [{ start: 0, end: 1024 * KiB }], zero: [] },
        { source, device, readSizeInBytes: 64 * KiB, concurrency: 2 },
      ),
    ).rejects.toThrow(/read of 65536 failed/);
    expect(stats.reads).toBeLessThan(16);
  });

  it("keeps every copy together within the shared byte budget", async () => {
    const budget = new ByteBudget(256 * KiB);
    let peak = 0;
    const image = pattern(4, 2048 * KiB);
    const source: RangeSource = {
      async read(r, _s, target) {
        peak = Math.max(peak, budget.held);
        await new Promise((res) => setTimeout(res, 1));
        image.copy(target!, 0, r.start, r.end);
        return target!;
      },
    };
    const devices = [0, 1, 2, 3].map(() => memoryDevice(2048 * KiB));
    await Promise.all(
      devices.map((device) =>
        applyPlan(
          { copy: [{ start: 0, end: 2048 * KiB }], zero: [] },
          { source, device, budget, readSizeInBytes: 128 * KiB, concurrency: 8 },
        ),
      ),
    );
    expect(peak).toBeLessThanOrEqual(256 * KiB);
    for (const d of devices) expect(d.bytes.equals(image)).toBe(true);
  });

  it("has 16 reads in flight, each listening for an abort as the SDK's do, never more than ten on one signal", async () => {
    // Past ten listeners on one signal, Node (20) warns of a leak: MaxListenersExceededWarning.
    let most = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const image = pattern(5, 4096 * KiB);
    const source: RangeSource = {
      async read(r, signal, target) {
        const onAbort = () => undefined;
        signal!.addEventListener("abort", onAbort);
        most = Math.max(most, getEventListeners(signal!, "abort").length);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((res) => setTimeout(res, 2));
        inFlight--;
        signal!.removeEventListener("abort", onAbort);
        image.copy(target!, 0, r.start, r.end);
        return target!;
      },
    };
    const device = memoryDevice(4096 * KiB);
    const caller = new AbortController();
    await applyPlan(
      { copy: [{ start: 0, end: 4096 * KiB }], zero: [] },
      {
        source,
        device,
        readSizeInBytes: 64 * KiB,
        concurrency: 16,
        abortSignal: caller.signal,
        budget: new ByteBudget(512 * KiB),
      },
    );
    expect(device.bytes.equals(image)).toBe(true);
    expect(maxInFlight).toBeGreaterThan(5);
    expect(most).toBeLessThanOrEqual(10);
    expect(getEventListeners(caller.signal, "abort")).toEqual([]);
  });
});

describe("ByteBudget", () => {
  it("hands out buffers of the size asked, reuses them, and holds at most its capacity", async () => {
    const budget = new ByteBudget(1024 * KiB);
    const a = await budget.take(300 * KiB);
    expect(a.buffer.length).toBe(300 * KiB);
    const b = await budget.take(500 * KiB);
    expect(budget.inUse).toBe(512 * KiB + 512 * KiB);
    let third = false;
    const c = budget.take(64 * KiB).then((t) => {
      third = true;
      return t;
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(third).toBe(false);
    a.release();
    const taken = await c;
    expect(third).toBe(true);
    expect(budget.held).toBeLessThanOrEqual(1024 * KiB);
    taken.release();
    b.release();
    const again = await budget.take(500 * KiB);
    expect(budget.held).toBeLessThanOrEqual(1024 * KiB);
    again.release();
  });

  it("serves waiters in order and drops a waiter whose copy was aborted", async () => {
    const budget = new ByteBudget(128 * KiB);
    const first = await budget.take(128 * KiB);
    const controller = new AbortController();
    const aborted = budget.take(64 * KiB, controller.signal);
    const order: string[] = [];
    const big = budget.take(128 * KiB).then((t) => (order.push("big"), t));
    const small = budget.take(64 * KiB).then((t) => (order.push("small"), t));
    controller.abort(new Error("stop"));
    await expect(aborted).rejects.toThrow("stop");
    first.release();
    (await big).release();
    (await small).release();
    expect(order).toEqual(["big", "small"]);
    await expect(budget.take(256 * KiB)).rejects.toThrow(/exceed/);
  });

  it("leaves no abort listener behind once a waiter is served", async () => {
    const budget = new ByteBudget(64 * KiB);
    const controller = new AbortController();
    for (let i = 0; i < 20; i++) {
      const held = await budget.take(64 * KiB, controller.signal);
      const waiting = budget.take(64 * KiB, controller.signal);
      held.release();
      (await waiting).release();
    }
    expect(getEventListeners(controller.signal, "abort")).toEqual([]);
  });
});
