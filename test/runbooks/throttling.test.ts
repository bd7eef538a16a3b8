import { beforeAll, describe, expect, it } from "vitest";
import { failover } from "../../runbooks/failover";
import type { Operation } from "../../runbooks/journal";
import { DR, useDrWorld, type Workload } from "../helpers/dr-env";

// A failover while the emulator throttles as Azure does, with buckets far smaller than Azure's: ferry's Azure
// SDK clients wait as each 429's Retry-After says (core-rest-pipeline's throttlingRetryStrategy, part of the
// default retry policy every client of adapters/azure/clients.ts has), and the failover still completes.
const env = useDrWorld(
  { throttling: "azure", retry: { maxRetries: 8, retryDelayInMs: 20, maxRetryDelayInMs: 200 } },
  {
    throttlingLimits: {
      // One new VM every 20 s in the whole subscription (the blueprint's two VM creates land within that, however
      // busy the machine); two disk or snapshot writes at once, four a second.
      "PutVM.Subscription": { capacity: 1, refillPerMinute: 3 },
      "CreateUpdateDisks.3Min": { capacity: 2, refillPerMinute: 240 },
      "UpdateVM.Resource": { capacity: 2, refillPerMinute: 120 },
    },
  },
);

describe("a failover under throttling", () => {
  let w: Workload;
  let op: Operation;

  beforeAll(async () => {
    const world = env.world;
    // The workload is the operator's, built before the failover: its own requests are not what is measured.
    env.f.emu.throttling.setMode("off");
    w = await world.workload("thr", {
      vms: 2,
      strategies: [
        { os: "attachAsIs", data: "fromSnapshot" },
        { os: "fromSnapshot", data: "fromSnapshot" },
      ],
    });
    await world.protect(w);
    env.f.emu.throttling.setMode("azure");
    op = await world.whileSyncing(() => failover(world.ctx, w.stack, { kind: "unplanned" }), world.sourcesOf(w));
  }, 180_000);

  it("is throttled: ferry's own requests were answered 429", () => {
    const stats = env.f.emu.throttling.stats();
    expect(stats.byBucket["PutVM.Subscription"] ?? 0).toBeGreaterThan(0);
    const ferry429s = env.f.emu.requests.filter((r) => r.status === 429 && r.userAgent.startsWith("ferry "));
    expect(ferry429s.length).toBeGreaterThan(0);
  });

  it("still succeeds: every recovered VM is running", async () => {
    expect(op.status).toBe("succeeded");
    for (const v of w.vms) {
      const view = await env.f.azure.compute.virtualMachines.instanceView(DR.rg, v.vm);
      expect(view.statuses?.map((s) => s.code)).toContain("PowerState/running");
    }
  });
});
