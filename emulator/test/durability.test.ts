import { spawn } from "node:child_process";
import { cpSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { startEmulator } from "../index";
import { tempDir } from "../testing";
import { clientsFor } from "./helpers/emulator";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

/** GETs a URL with a bearer token; resolves with the status. */
function getStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { ca, headers: { authorization: "Bearer x" } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on("error", reject)
      .end();
  });
}

/** PUTs a resource group; resolves with the status as soon as the answer's head arrives. */
function putGroup(info: { endpoint: string; subscriptionId: string; ca: Buffer }, name: string): Promise<number> {
  const body = JSON.stringify({ location: "westeurope" });
  return new Promise((resolve, reject) => {
    const req = request(
      `${info.endpoint}/subscriptions/${info.subscriptionId}/resourcegroups/${name}?api-version=2025-04-01`,
      {
        method: "PUT",
        ca: info.ca,
        headers: { authorization: "Bearer x", "content-type": "application/json", "content-length": body.length },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("emulator durability", () => {
  it("keeps every change it answered 2xx when killed right after the answer", async () => {
    const dataDir = tempDir();
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "--data", dataDir, "--guest-devices", "links"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once("line", resolve);
      child.once("exit", (code) => reject(new Error(`emulator exited early with ${code}`)));
    });
    const info = JSON.parse(line) as { endpoint: string; caCertPath: string; subscriptionId: string };
    const target = { ...info, ca: readFileSync(info.caCertPath) };
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const answered: string[] = [];
    let killed = false;
    // Twenty at once; the first answer kills the emulator (no chance to save on the way out).
    await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        putGroup(target, `rg${i}`).then((status) => {
          if (killed || status < 200 || status > 299) return;
          answered.push(`rg${i}`);
          killed = true;
          child.kill("SIGKILL");
        }),
      ),
    );
    await exited;
    expect(answered.length).toBeGreaterThan(0);

    const again = await startEmulator({ dataDir, guestDevices: "links", warn: () => undefined });
    try {
      const names: string[] = [];
      for await (const g of clientsFor(again).resources.resourceGroups.list()) names.push(g.name!);
      for (const name of answered) expect(names).toContain(name);
    } finally {
      await again.close();
    }
  });

  it("has every one of many concurrent changes on disk once each is answered", async () => {
    const dataDir = tempDir();
    const emu = await startEmulator({ dataDir, guestDevices: "links", warn: () => undefined });
    const copy = tempDir();
    try {
      const { resources } = clientsFor(emu);
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          resources.resourceGroups.createOrUpdate(`rg${i}`, { location: "westeurope", tags: { n: String(i) } }),
        ),
      );
      // The data folder as a crash right now would leave it (the emulator is still running).
      cpSync(dataDir, copy, { recursive: true, filter: (src) => !src.includes("/vms") });
    } finally {
      await emu.close();
    }
    const again = await startEmulator({ dataDir: copy, guestDevices: "links", warn: () => undefined });
    try {
      const tags = new Map<string, string | undefined>();
      for await (const g of clientsFor(again).resources.resourceGroups.list()) tags.set(g.name!, g.tags?.n);
      for (let i = 0; i < 40; i++) expect(tags.get(`rg${i}`)).toBe(String(i));
    } finally {
      await again.close();
    }
  });

  it("keeps a finished operation's status for Azure's 24 hours (scaled by the speed-up), then drops it", async () => {
    // 24 h divided by 86,400: one second of retention.
    const emu = await startEmulator({
      dataDir: tempDir(),
      speedup: 86_400,
      guestDevices: "links",
      warn: () => undefined,
    });
    try {
      const { resources, compute } = clientsFor(emu);
      await resources.resourceGroups.createOrUpdate("rg", { location: "westeurope" });
      let statusUrl = "";
      await compute.disks.createOrUpdate(
        "rg",
        "d",
        { location: "westeurope", creationData: { createOption: "Empty" }, diskSizeGB: 1 },
        {
          updateIntervalInMs: 10,
          onResponse: (raw) => {
            statusUrl ||= raw.headers.get("azure-asyncoperation") ?? "";
          },
        },
      );
      expect(statusUrl).not.toBe("");
      expect(await getStatus(statusUrl, emu.caCertPem)).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      // The first request after the retention prunes; the status is gone from then on.
      await resources.resourceGroups.get("rg");
      expect(await getStatus(statusUrl, emu.caCertPem)).toBe(404);
    } finally {
      await emu.close();
    }
  });
});
