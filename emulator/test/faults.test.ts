import { writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { startEmulator } from "../index";
import { createEmptyDisk, createGroup, pattern, tempDir, thrownBy } from "../testing";
import { clientsFor, useEmulator } from "./helpers/emulator";
import { refusal } from "./helpers/errors";

function admin(
  endpoint: string,
  ca: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${endpoint}${path}`,
      { method, ca, headers: { "content-type": "application/json" } },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (c: Buffer) => parts.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(parts).toString() || "null") }),
        );
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe("fault injection", () => {
  const f = useEmulator();
  const C = 64 * 1024;
  let sas: string;

  beforeAll(async () => {
    await createGroup(f.azure, "east", "eastus");
    await createGroup(f.azure, "west", "westus");
    await createEmptyDisk(f.azure, "east", "eastus", "e1", 1);
    await createEmptyDisk(f.azure, "west", "westus", "w1", 1);
    const upload = 4 * 1024 * 1024 * 8 + 512;
    await f.azure.compute.disks.createOrUpdate("east", "payload", {
      location: "eastus",
      creationData: { createOption: "Upload", uploadSizeBytes: upload },
    });
    const w = (await f.azure.compute.disks.grantAccess("east", "payload", { access: "Write", durationInSeconds: 600 }))
      .accessSAS!;
    await f.azure.pageBlob(w).uploadPages(pattern(1, 4 * 1024 * 1024), 0, 4 * 1024 * 1024);
    await f.azure.compute.disks.revokeAccess("east", "payload");
    sas = (await f.azure.compute.disks.grantAccess("east", "payload", { access: "Read", durationInSeconds: 600 }))
      .accessSAS!;
  });

  it("the SDK retries through injected 429s with Retry-After", async () => {
    const id = f.emu.faults.add({
      match: { operation: "Disks_Get" },
      action: { kind: "throttle", retryAfterSeconds: 1, retryAfterMs: 30 },
      times: 2,
    });
    const disk = await f.azure.compute.disks.get("east", "e1");
    expect(disk.name).toBe("e1");
    expect(f.emu.faults.stats().find((s) => s.id === id)?.fired).toBe(2);
    const statuses = f.emu.requests
      .filter((r) => r.operationId === "Disks_Get")
      .slice(-3)
      .map((r) => r.status);
    expect(statuses).toEqual([429, 429, 200]);
    f.emu.faults.remove(id);
  });

  it("a client that does not retry sees the 429 and its code", async () => {
    f.emu.faults.add({
      match: { operation: "Disks_Get" },
      action: { kind: "throttle", retryAfterSeconds: 5 },
      times: 1,
    });
    const err = await refusal(f.clients({ maxRetries: 0 }).compute.disks.get("east", "e1"));
    expect(err.statusCode).toBe(429);
    expect(err.code).toBe("TooManyRequests");
  });

  it("the SDK retries an injected 503, and a non-retrying client sees it", async () => {
    f.emu.faults.add({
      match: { operation: "Disks_Get", method: "GET" },
      action: { kind: "error", status: 503 },
      times: 1,
    });
    expect((await f.azure.compute.disks.get("east", "e1")).name).toBe("e1");
    f.emu.faults.add({
      match: { operation: "Disks_Get" },
      action: { kind: "error", status: 500, code: "InternalServerError" },
      times: 1,
    });
    const err = await refusal(f.clients({ maxRetries: 0 }).compute.disks.get("east", "e1"));
    expect(err.statusCode).toBe(500);
  });

  it("a long-running operation can end Failed; the resource is left Failed", async () => {
    f.emu.faults.add({
      match: { operation: "Disks_CreateOrUpdate" },
      action: { kind: "lroFail", code: "AllocationFailed", message: "no capacity" },
      times: 1,
    });
    const err = await thrownBy(createEmptyDisk(f.azure, "east", "eastus", "doomed", 1));
    expect(err.message).toMatch(/AllocationFailed|no capacity/);
    expect((await f.azure.compute.disks.get("east", "doomed")).provisioningState).toBe("Failed");
  });

  it("a failed grant issues no SAS", async () => {
    f.emu.faults.add({ match: { operation: "Disks_GrantAccess" }, action: { kind: "lroFail" }, times: 1 });
    await thrownBy(f.azure.compute.disks.grantAccess("east", "e1", { access: "Read", durationInSeconds: 60 }));
    expect((await f.azure.compute.disks.get("east", "e1")).diskState).toBe("Unattached");
  });

  it("drops data-plane connections mid-body or before answering, as told", async () => {
    // Mid-body: the response stream breaks. The storage SDK reports that as an abort and does not
    // resume it, so callers (the sync daemon) retry the range themselves.
    const id = f.emu.faults.add({
      match: { operation: "Blob_Download" },
      action: { kind: "drop", afterBytes: 3 * C + 17 },
      times: 1,
    });
    const broken = await thrownBy(f.azure.pageBlob(sas).downloadToBuffer(0, 4 * 1024 * 1024));
    expect(broken.message).toMatch(/abort|socket|closed|less data/i);
    expect(f.emu.faults.stats().find((s) => s.id === id)?.fired).toBe(1);
    const bytes = await f.azure.pageBlob(sas).downloadToBuffer(0, 4 * 1024 * 1024);
    expect(bytes.equals(pattern(1, 4 * 1024 * 1024))).toBe(true);
    // Before any answer: the SDK's retry policy sends the request again.
    f.emu.faults.add({ match: { operation: "PageBlob_GetPageRanges" }, action: { kind: "drop" }, times: 1 });
    const ranges = await f.azure.pageBlob(sas).getPageRanges(0, 8 * 1024 * 1024);
    expect(ranges.pageRange).toEqual([{ offset: 0, count: 4 * 1024 * 1024 - 1 }]);
    const dropped = f.emu.requests
      .filter((r) => r.operationId === "PageBlob_GetPageRanges")
      .slice(-2)
      .map((r) => r.status);
    expect(dropped).toEqual([0, 200]);
  });

  it("delays answers as told, without holding up other requests", async () => {
    f.emu.faults.add({
      match: { operation: "Disks_Get", pathIncludes: "/disks/e1" },
      action: { kind: "delay", ms: 300 },
      times: 1,
    });
    const order: string[] = [];
    const slow = f.azure.compute.disks.get("east", "e1").then(() => order.push("delayed"));
    await new Promise((r) => setTimeout(r, 20));
    const fast = f.azure.compute.disks.get("west", "w1").then(() => order.push("other"));
    await Promise.all([slow, fast]);
    expect(order).toEqual(["other", "delayed"]);
  });

  it("a region outage fails control- and data-plane calls to that region only", async () => {
    const noRetry = f.clients({ maxRetries: 0 });
    f.emu.faults.setRegionOutage("East US", true);
    try {
      const arm = await refusal(noRetry.compute.disks.get("east", "e1"));
      expect(arm.statusCode).toBe(503);
      const data = await thrownBy(f.clients({ maxRetries: 0 }).pageBlob(sas).downloadToBuffer(0, 512));
      expect(data.message).toMatch(/socket|ECONNRESET|hang up|closed/i);
      expect((await noRetry.compute.disks.get("west", "w1")).name).toBe("w1");
      expect((await noRetry.resources.resourceGroups.get("west")).location).toBe("westus");
      const west = f.emu.requests.filter((r) => r.regions.includes("westus")).at(-1);
      expect(west?.status).toBe(200);
    } finally {
      f.emu.faults.setRegionOutage("eastus", false);
    }
    expect((await noRetry.compute.disks.get("east", "e1")).name).toBe("e1");
  });

  it("takes fault rules and outages at run time over HTTPS", async () => {
    const added = await admin(f.emu.endpoint, f.emu.caCertPem, "POST", "/_emulator/faults", {
      match: { operation: "Disks_Get", region: "westus" },
      action: { kind: "error", status: 500 },
      times: 1,
    });
    expect(added.status).toBe(201);
    const noRetry = f.clients({ maxRetries: 0 });
    expect((await noRetry.compute.disks.get("east", "e1")).name).toBe("e1");
    expect((await refusal(noRetry.compute.disks.get("west", "w1"))).statusCode).toBe(500);
    expect((await admin(f.emu.endpoint, f.emu.caCertPem, "PUT", "/_emulator/regions/westus/outage")).json).toEqual({
      regionOutages: ["westus"],
    });
    expect((await refusal(noRetry.compute.disks.get("west", "w1"))).statusCode).toBe(503);
    await admin(f.emu.endpoint, f.emu.caCertPem, "DELETE", "/_emulator/regions/westus/outage");
    expect((await noRetry.compute.disks.get("west", "w1")).name).toBe("w1");
    const bad = await admin(f.emu.endpoint, f.emu.caCertPem, "POST", "/_emulator/faults", {
      action: { kind: "explode" },
    });
    expect(bad.status).toBe(400);
  });

  it("says over HTTPS which latency profile and speed-up it runs with", async () => {
    expect(await admin(f.emu.endpoint, f.emu.caCertPem, "GET", "/_emulator/latency")).toEqual({
      status: 200,
      json: { profile: "zero", speedup: 1 },
    });
    const emu = await startEmulator({ dataDir: join(tempDir(), "data"), latency: "azure", speedup: 20 });
    try {
      expect((await admin(emu.endpoint, emu.caCertPem, "GET", "/_emulator/latency")).json).toEqual({
        profile: "azure",
        speedup: 20,
      });
    } finally {
      await emu.close();
    }
  });

  it("reads fault rules and outages from a fault file at start", async () => {
    const dir = tempDir();
    const file = join(dir, "faults.json");
    writeFileSync(
      file,
      JSON.stringify({
        rules: [{ match: { operation: "ResourceGroups_Get" }, action: { kind: "error", status: 500 } }],
        regionOutages: ["northeurope"],
      }),
    );
    const emu = await startEmulator({ dataDir: join(dir, "data"), faults: file });
    try {
      const az = clientsFor(emu, { maxRetries: 0 });
      await az.resources.resourceGroups.createOrUpdate("g", { location: "westeurope" });
      expect((await refusal(az.resources.resourceGroups.get("g"))).statusCode).toBe(500);
      expect(
        (await refusal(az.resources.resourceGroups.createOrUpdate("n", { location: "northeurope" }))).statusCode,
      ).toBe(503);
    } finally {
      await emu.close();
    }
  });
});
