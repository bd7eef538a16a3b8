import { describe, expect, it } from "vitest";
import type { Ctx } from "../../context";
import { Throttling, type ThrottlingOptions } from "../../throttling";

// The token buckets on their own, with a clock the test moves: the example of Azure's "Compute throttling limits"
// page (Update VM: 12 tokens, 4 a minute) minute by minute, and what a refusal does and does not take.

const VM = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm";

function harness(options: ThrottlingOptions) {
  let now = 0;
  const throttling = new Throttling(options, () => now);
  const request = (path = VM) => {
    const headers: Record<string, string> = {};
    const ctx = {
      req: { method: "PATCH", headers: {} },
      res: { setHeader: (k: string, v: string) => (headers[k] = v) },
      url: new URL(`https://127.0.0.1${path}`),
      operationId: "VirtualMachines_Update",
      body: { tags: {} },
      emu: {
        subscriptionId: "s",
        state: { get: () => undefined, resources: new Map(), resourceGroup: () => ({ location: "westeurope" }) },
      },
    } as unknown as Ctx;
    const refusal = throttling.check(ctx, { resourceGroupName: "rg" });
    return { refusal, headers: refusal?.headers ?? headers };
  };
  const burst = (n: number) => Array.from({ length: n }, () => request()).filter((r) => r.refusal).length;
  return { throttling, request, burst, advanceMinutes: (m: number) => (now += m * 60_000) };
}

describe("Compute's Update VM bucket, as Azure's example shows it", () => {
  it("12 tokens, 4 more a minute: the requests throttled minute by minute are 0, 0, 0, 1, 1, 0", () => {
    const h = harness({ mode: "azure" });
    const requests = [0, 8, 0, 13, 5, 0];
    const throttled = requests.map((n, minute) => {
      if (minute > 0) h.advanceMinutes(1);
      return h.burst(n);
    });
    expect(throttled).toEqual([0, 0, 0, 1, 1, 0]);
  });

  it("a refusal takes no token: the next request gets through as soon as one has refilled", () => {
    const h = harness({ mode: "azure", limits: { "UpdateVM.Resource": { capacity: 1, refillPerMinute: 4 } } });
    expect(h.request().refusal).toBeUndefined();
    const refused = h.request().refusal!;
    expect(refused.headers["retry-after"]).toBe("15");
    expect(h.request().refusal).toBeDefined();
    h.advanceMinutes(0.25);
    expect(h.request().refusal).toBeUndefined();
  });

  it("another VM draws from its own bucket, and the subscription's bucket counts both", () => {
    const h = harness({ mode: "azure", limits: { "UpdateVM.Resource": { capacity: 1, refillPerMinute: 4 } } });
    expect(h.request().refusal).toBeUndefined();
    const other = h.request(`${VM}2`);
    expect(other.refusal).toBeUndefined();
    expect(other.headers["x-ms-ratelimit-remaining-resource"]).toBe(
      "Microsoft.Compute/UpdateVMResource;0,Microsoft.Compute/UpdateVMSubscription;1498",
    );
  });

  it("sped up, buckets refill faster and the wait is also sent in milliseconds", () => {
    const h = harness({
      mode: "azure",
      speedup: 10,
      limits: { "UpdateVM.Resource": { capacity: 1, refillPerMinute: 4 } },
    });
    h.request();
    const refused = h.request().refusal!;
    expect(refused.headers["x-ms-retry-after-ms"]).toBe("1500");
    expect(refused.headers["retry-after"]).toBe("2");
    h.advanceMinutes(1.5 / 60);
    expect(h.request().refusal).toBeUndefined();
  });

  it("off refuses nothing and sends no header", () => {
    const h = harness({ mode: "off" });
    expect(h.burst(100)).toBe(0);
    expect(h.request().headers).toEqual({});
  });

  it("refuses a bucket it does not know, naming the ones it does", () => {
    expect(() => new Throttling({ limits: { "PutVm.Resource": { capacity: 1, refillPerMinute: 1 } } })).toThrow(
      /Unknown throttling bucket 'PutVm\.Resource'.*PutVM\.Resource/,
    );
  });
});
