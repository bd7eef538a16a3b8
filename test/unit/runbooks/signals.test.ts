import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { onInterrupt } from "../../../runbooks/signals";

describe("onInterrupt", () => {
  const setup = () => {
    const emitter = new EventEmitter();
    let t = 0;
    const calls: string[] = [];
    const dispose = onInterrupt(
      (s) => calls.push(`first ${s}`),
      (s) => calls.push(`again ${s}`),
      { emitter, now: () => t, sameWithinInMs: 1000 },
    );
    return { emitter, calls, dispose, at: (ms: number) => (t = ms) };
  };

  it("takes a signal within the window after the first for the same Ctrl-C, passed on by npm", () => {
    const { emitter, calls, at } = setup();
    emitter.emit("SIGINT", "SIGINT");
    at(400);
    emitter.emit("SIGINT", "SIGINT");
    expect(calls).toEqual(["first SIGINT"]);
  });

  it("takes a signal after the window for a second Ctrl-C", () => {
    const { emitter, calls, at } = setup();
    emitter.emit("SIGTERM", "SIGTERM");
    at(1500);
    emitter.emit("SIGINT", "SIGINT");
    expect(calls).toEqual(["first SIGTERM", "again SIGINT"]);
  });

  it("listens no more once disposed", () => {
    const { emitter, calls, dispose } = setup();
    dispose();
    expect(emitter.listenerCount("SIGINT") + emitter.listenerCount("SIGTERM")).toBe(0);
    expect(calls).toEqual([]);
  });
});
