import { Agent } from "node:https";
import { beforeAll, describe, expect, it } from "vitest";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm } from "../testing";
import { at, send } from "./conformance/exchange";
import { useEmulator, type EmulatorClients } from "./helpers/emulator";

// Throttling as Azure does it (emulator/README.md, "Throttling"): token buckets per subscription (ARM) and per
// subscription, region and resource (Compute), a 429 with Retry-After when one is empty, remaining counts on
// every answer. Bucket sizes are set low here so a test reaches them in a few requests.

const REGION = "westeurope";

async function vmIn(azure: EmulatorClients, rg: string, name: string): Promise<void> {
  await createGroup(azure, rg, REGION);
  const subnet = await createSubnet(azure, rg, REGION, "vnet");
  const nicId = await createNic(azure, rg, REGION, `${name}-nic`, subnet);
  const osDiskId = await createEmptyDisk(azure, rg, REGION, `${name}-os`, 1, { osType: "Linux" });
  await createVm(azure, rg, REGION, name, { osDiskId, nicId });
}

describe("throttling off (the default)", () => {
  const f = useEmulator();

  it("sends no rate-limit headers and refuses nothing", async () => {
    const agent = new Agent({ ca: f.emu.caCertPem });
    const url = `${f.emu.endpoint}/subscriptions/${f.emu.subscriptionId}/resourcegroups`;
    for (let i = 0; i < 260; i++) {
      const ex = await send(agent, "GET", url, { apiVersion: "2025-04-01" });
      expect(ex.status).toBe(200);
      expect(ex.headers["x-ms-ratelimit-remaining-subscription-reads"]).toBeUndefined();
    }
    expect(f.emu.throttling.stats()).toMatchObject({ mode: "off", throttled: 0 });
  });
});

describe("throttling azure", () => {
  const f = useEmulator({
    throttling: "azure",
    throttlingLimits: {
      "UpdateVM.Resource": { capacity: 2, refillPerMinute: 1 },
      "arm.deletes": { capacity: 2, refillPerMinute: 1 },
    },
  });
  let agent: Agent;
  const arm = (path: string) => `${f.emu.endpoint}/subscriptions/${f.emu.subscriptionId}${path}`;
  const vmPath = (rg: string, vm: string) => `/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${vm}`;

  beforeAll(async () => {
    agent = new Agent({ ca: f.emu.caCertPem, keepAlive: true });
    await vmIn(f.azure, "thr", "a");
    await vmIn(f.azure, "thr2", "b");
  });

  it("every ARM answer says how many reads or writes remain, one fewer each time", async () => {
    const first = await send(agent, "GET", arm("/resourcegroups/thr"), { apiVersion: "2025-04-01" });
    const second = await send(agent, "GET", arm("/resourcegroups/thr"), { apiVersion: "2025-04-01" });
    const reads = (ex: typeof first) => Number(ex.headers["x-ms-ratelimit-remaining-subscription-reads"]);
    expect(reads(first)).toBeGreaterThan(200);
    // Reads refill at 25 per second: between two requests a few milliseconds apart, less than one token.
    expect(reads(second)).toBeLessThanOrEqual(reads(first));
    const write = await send(agent, "PUT", arm("/resourcegroups/thr-w"), {
      apiVersion: "2025-04-01",
      body: { location: REGION },
    });
    expect(Number(write.headers["x-ms-ratelimit-remaining-subscription-writes"])).toBeLessThan(200);
    expect(write.headers["x-ms-ratelimit-remaining-subscription-reads"]).toBeUndefined();
  });

  it("a Compute answer names its policy's buckets and what remains in each", async () => {
    const ex = await send(agent, "GET", arm(vmPath("thr", "a")), { apiVersion: "2026-03-01" });
    expect(ex.status).toBe(200);
    expect(ex.headers["x-ms-ratelimit-remaining-resource"]).toMatch(
      /^Microsoft\.Compute\/LowCostGetVMResource;\d+,Microsoft\.Compute\/LowCostGetVMSubscription;\d+$/,
    );
  });

  it("a VM's own bucket empties: 429 OperationNotAllowed with Azure's details, the VM left as it was", async () => {
    const patch = (tag: string) =>
      send(agent, "PATCH", arm(vmPath("thr", "a")), { apiVersion: "2026-03-01", body: { tags: { n: tag } } });
    expect((await patch("1")).status).toBe(200);
    const last = await patch("2");
    expect(last.status).toBe(200);
    expect(last.headers["x-ms-ratelimit-remaining-resource"]).toContain("Microsoft.Compute/UpdateVMResource;0");
    const refused = await patch("3");
    expect(refused.status).toBe(429);
    // One token a minute: the next comes in about 60 s.
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(50);
    expect(at(refused.body, "$.error.code")).toBe("OperationNotAllowed");
    const details = at(refused.body, "$.error.details") as { code: string; target: string; message: string }[];
    expect(details[0]).toMatchObject({ code: "TooManyRequests", target: "UpdateVMResource" });
    expect(JSON.parse(details[0]!.message)).toMatchObject({
      operationGroup: "UpdateVMResource",
      allowedRequestCount: 2,
    });
    const vm = await f.azure.compute.virtualMachines.get("thr", "a");
    expect(vm.tags).toEqual({ n: "2" });
  });

  it("another VM has its own bucket", async () => {
    const ex = await send(agent, "PATCH", arm(vmPath("thr2", "b")), { apiVersion: "2026-03-01", body: { tags: {} } });
    expect(ex.status).toBe(200);
  });

  it("ARM's subscription bucket refuses any provider's request with SubscriptionRequestsThrottled", async () => {
    const del = (name: string) => send(agent, "DELETE", arm(`/resourcegroups/${name}`), { apiVersion: "2025-04-01" });
    // Groups that do not exist: ARM charges the request before the provider answers 404.
    expect((await del("gone-1")).status).not.toBe(429);
    expect((await del("gone-2")).status).not.toBe(429);
    const refused = await del("gone-3");
    expect(refused.status).toBe(429);
    expect(at(refused.body, "$.error.code")).toBe("SubscriptionRequestsThrottled");
    expect(refused.headers["x-ms-ratelimit-remaining-subscription-deletes"]).toBe("0");
  });

  it("counts every 429 by bucket and operation, at GET /_emulator/throttling too", async () => {
    const stats = f.emu.throttling.stats();
    expect(stats.byBucket).toMatchObject({ "UpdateVM.Resource": 1, "arm.deletes": 1 });
    expect(stats.byOperation).toMatchObject({ VirtualMachines_Update: 1, ResourceGroups_Delete: 1 });
    const ex = await send(agent, "GET", `${f.emu.endpoint}/_emulator/throttling`);
    expect(ex.body).toMatchObject({ mode: "azure", throttled: 2 });
  });
});

describe("the SDK clients wait as Retry-After says", () => {
  // A token a second of emulated time, ten times faster: every 100 ms.
  const f = useEmulator({
    throttling: "azure",
    speedup: 10,
    throttlingLimits: { "UpdateVM.Resource": { capacity: 1, refillPerMinute: 60 } },
  });

  beforeAll(() => vmIn(f.azure, "sdk", "c"));

  it("a client whose own backoff is 1 ms gets through on its one retry only by waiting as told", async () => {
    const patient = f.clients({ maxRetries: 1, retryDelayInMs: 1, maxRetryDelayInMs: 1 });
    for (let i = 0; i < 4; i++) await patient.compute.virtualMachines.update("sdk", "c", { tags: { i: String(i) } });
    const log = f.emu.requests.filter((r) => r.operationId === "VirtualMachines_Update");
    expect(log.filter((r) => r.status === 429).length).toBeGreaterThan(0);
    expect(log.at(-1)?.status).toBe(200);
    expect((await f.azure.compute.virtualMachines.get("sdk", "c")).tags).toEqual({ i: "3" });
  });

  it("sped up, the wait is also sent in milliseconds", async () => {
    const agent = new Agent({ ca: f.emu.caCertPem });
    const url =
      `${f.emu.endpoint}/subscriptions/${f.emu.subscriptionId}` +
      "/resourceGroups/sdk/providers/Microsoft.Compute/virtualMachines/c";
    let refused;
    for (let i = 0; i < 5 && !refused; i++) {
      const ex = await send(agent, "PATCH", url, { apiVersion: "2026-03-01", body: { tags: {} } });
      if (ex.status === 429) refused = ex;
    }
    expect(refused).toBeDefined();
    const ms = Number(refused!.headers["x-ms-retry-after-ms"]);
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(100);
    expect(refused!.headers["retry-after"]).toBe("1");
  });
});
