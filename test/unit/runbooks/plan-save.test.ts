import { describe, expect, it } from "vitest";
import { coalesced } from "../../../runbooks/plan";

/** A write that records what it saw when it began and ends when told to. */
function controlledWrite(state: { value: number }) {
  const seen: number[] = [];
  const finishers: ((error?: Error) => void)[] = [];
  const write = () => {
    seen.push(state.value);
    return new Promise<void>((resolve, reject) => finishers.push((e) => (e ? reject(e) : resolve())));
  };
  const finish = async (error?: Error) => {
    finishers.shift()!(error);
    // Let the queued write start.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { write, seen, finish };
}

describe("coalesced plan saves", () => {
  it("calls while a write is under way share one more write, which holds the last change", async () => {
    const state = { value: 0 };
    const { write, seen, finish } = controlledWrite(state);
    const save = coalesced(write);
    state.value = 1;
    const first = save();
    const later: Promise<void>[] = [];
    for (let v = 2; v <= 10; v++) {
      state.value = v;
      later.push(save());
    }
    expect(seen).toEqual([1]);
    await finish();
    await first;
    expect(seen).toEqual([1, 10]);
    await finish();
    await Promise.all(later);
    expect(seen).toEqual([1, 10]);
  });

  it("a call after the writes ended starts a write of its own", async () => {
    const state = { value: 1 };
    const { write, seen, finish } = controlledWrite(state);
    const save = coalesced(write);
    const first = save();
    await finish();
    await first;
    state.value = 2;
    const second = save();
    expect(seen).toEqual([1, 2]);
    await finish();
    await second;
  });

  it("a failed write fails its callers; the queued write still runs", async () => {
    const state = { value: 1 };
    const { write, seen, finish } = controlledWrite(state);
    const save = coalesced(write);
    const first = save();
    state.value = 2;
    const queued = save();
    const failed = expect(first).rejects.toThrow("store down");
    await finish(new Error("store down"));
    await failed;
    expect(seen).toEqual([1, 2]);
    await finish();
    await expect(queued).resolves.toBeUndefined();
  });
});
