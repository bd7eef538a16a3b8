import { describe, expect, it } from "vitest";
import { settleAll } from "../../../core/settle";

describe("settleAll", () => {
  it("rejects with the first failure only once every other promise has settled", async () => {
    let slowDone = false;
    const slow = new Promise<number>((resolve) =>
      setTimeout(() => {
        slowDone = true;
        resolve(1);
      }, 30),
    );
    await expect(settleAll([Promise.reject(new Error("first")), slow])).rejects.toThrow("first");
    expect(slowDone).toBe(true);
  });

  it("resolves to the values in order when all succeed", async () => {
    expect(await settleAll([Promise.resolve(1), Promise.resolve(2)])).toEqual([1, 2]);
  });
});
