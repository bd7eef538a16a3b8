import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { startEmulator } from "../index";
import {
  createEmptyDisk,
  createGroup,
  createNic,
  createSubnet,
  createVm,
  pattern,
  readAt,
  tempDir,
  writeAt,
} from "../testing";
import { clientsFor } from "./helpers/emulator";

const C = 64 * 1024;
/** The command line, found from here: the tests run from the repository root or from the package. */
const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

describe("emulator lifecycle", () => {
  it("keeps resources, disk bytes and snapshots across a restart on the same data folder", async () => {
    const dataDir = tempDir();
    const first = await startEmulator({ dataDir });
    const az = clientsFor(first);
    await createGroup(az, "rg", "eastus");
    const subnet = await createSubnet(az, "rg", "eastus");
    const nic = await createNic(az, "rg", "eastus", "nic", subnet);
    const os = await createEmptyDisk(az, "rg", "eastus", "os", 1, { osType: "Linux" });
    const data = await createEmptyDisk(az, "rg", "eastus", "data", 1);
    await createVm(az, "rg", "eastus", "vm", { osDiskId: os, nicId: nic, dataDisks: [{ lun: 2, diskId: data }] });
    writeAt(first.devicePath("rg", "vm", 2), 5 * C, pattern(42, C));
    await az.compute.snapshots.createOrUpdate("rg", "snap", {
      location: "eastus",
      incremental: true,
      creationData: { createOption: "Copy", sourceResourceId: data },
    });
    const subscriptionId = first.subscriptionId;
    const caCertPem = first.caCertPem;
    await first.close();
    // Links stay after a close; FUSE devices go with the emulator that serves them.
    expect(existsSync(first.devicePath("rg", "vm", 2))).toBe(first.guestDevices === "links");

    const second = await startEmulator({ dataDir });
    try {
      expect(second.subscriptionId).toBe(subscriptionId);
      expect(second.caCertPem).toBe(caCertPem);
      const az2 = clientsFor(second);
      const vm = await az2.compute.virtualMachines.get("rg", "vm");
      expect(vm.storageProfile?.dataDisks?.[0]?.lun).toBe(2);
      expect((await az2.compute.disks.get("rg", "data")).diskState).toBe("Attached");
      expect(readAt(second.devicePath("rg", "vm", 2), 5 * C, C).equals(pattern(42, C))).toBe(true);
      const sas = (await az2.compute.snapshots.grantAccess("rg", "snap", { access: "Read", durationInSeconds: 60 }))
        .accessSAS!;
      expect((await az2.pageBlob(sas).downloadToBuffer(5 * C, C)).equals(pattern(42, C))).toBe(true);
      expect((await az2.network.networkInterfaces.get("rg", "nic")).ipConfigurations?.[0]?.privateIPAddress).toBe(
        "10.0.1.4",
      );
    } finally {
      await second.close();
    }
  });

  it("with the azure profile, operations stay in progress for their duration and pollers wait for them", async () => {
    // 30 s VM create, 3 s snapshot: a hundred times faster.
    const emu = await startEmulator({ dataDir: tempDir(), latency: "azure", speedup: 100 });
    try {
      const az = clientsFor(emu);
      await createGroup(az, "rg", "eastus");
      const subnet = await createSubnet(az, "rg", "eastus");
      const nic = await createNic(az, "rg", "eastus", "nic", subnet);
      const os = await createEmptyDisk(az, "rg", "eastus", "os", 1, { osType: "Linux" });
      const poller = await az.compute.virtualMachines.beginCreateOrUpdate(
        "rg",
        "vm",
        {
          location: "eastus",
          hardwareProfile: { vmSize: "Standard_D2s_v5" },
          storageProfile: { osDisk: { createOption: "Attach", osType: "Linux", managedDisk: { id: os } } },
          networkProfile: { networkInterfaces: [{ id: nic }] },
        },
        { updateIntervalInMs: 20 },
      );
      const during = await az.compute.virtualMachines.instanceView("rg", "vm");
      expect(during.statuses?.map((s) => s.code)).toEqual(["ProvisioningState/creating", "PowerState/starting"]);
      expect(existsSync(emu.devicePath("rg", "vm", "os"))).toBe(false);
      const vm = await poller.pollUntilDone();
      expect(vm.provisioningState).toBe("Succeeded");
      const after = await az.compute.virtualMachines.instanceView("rg", "vm");
      expect(after.statuses?.map((s) => s.code)).toEqual(["ProvisioningState/succeeded", "PowerState/running"]);
      expect(existsSync(emu.devicePath("rg", "vm", "os"))).toBe(true);
      const polls = emu.requests.filter((r) => r.operationId === "Operations_Get").length;
      expect(polls).toBeGreaterThan(1);
      // The guest boots for 40 s ÷ 100 after the VM runs: its agent is not ready at first, then is.
      const agent = async () =>
        (await az.compute.virtualMachines.instanceView("rg", "vm")).vmAgent?.statuses?.[0]?.displayStatus;
      expect(await agent()).toBe("Not Ready");
      const booted = Date.now();
      while ((await agent()) !== "Ready") {
        expect(Date.now() - booted).toBeLessThan(5000);
        await new Promise((r) => setTimeout(r, 20));
      }
      await az.compute.virtualMachines.beginPowerOffAndWait("rg", "vm", { updateIntervalInMs: 20 });
      expect(await agent()).toBe("Not Ready");
    } finally {
      await emu.close();
    }
  });

  it("with the azure profile, a cross-region copy reports completionPercent and is usable only at 100", async () => {
    // 64 MiB at 100 MiB/s, four times faster: the copy takes about 160 ms.
    const emu = await startEmulator({ dataDir: tempDir(), latency: "azure", speedup: 4 });
    try {
      const az = clientsFor(emu);
      const poll = { updateIntervalInMs: 10 };
      await createGroup(az, "rg", "eastus");
      await createGroup(az, "dr", "westus");
      const upload = 64 * 1024 * 1024 + 512;
      const disk = await az.compute.disks.createOrUpdate(
        "rg",
        "d",
        { location: "eastus", creationData: { createOption: "Upload", uploadSizeBytes: upload } },
        poll,
      );
      const w = (await az.compute.disks.grantAccess("rg", "d", { access: "Write", durationInSeconds: 60 }, poll))
        .accessSAS!;
      for (let off = 0; off < 64 * 1024 * 1024; off += 4 * 1024 * 1024)
        await az.pageBlob(w).uploadPages(pattern(off, 4 * 1024 * 1024), off, 4 * 1024 * 1024);
      await az.compute.disks.revokeAccess("rg", "d", poll);
      const snap = await az.compute.snapshots.createOrUpdate(
        "rg",
        "s",
        { location: "eastus", incremental: true, creationData: { createOption: "Copy", sourceResourceId: disk.id! } },
        poll,
      );
      const poller = await az.compute.snapshots.beginCreateOrUpdate(
        "dr",
        "s-dr",
        {
          location: "westus",
          incremental: true,
          creationData: { createOption: "CopyStart", sourceResourceId: snap.id! },
        },
        poll,
      );
      const early = await az.compute.snapshots.get("dr", "s-dr");
      expect(early.completionPercent).toBeLessThan(100);
      const refused = await az.compute.snapshots
        .grantAccess("dr", "s-dr", { access: "Read", durationInSeconds: 60 }, poll)
        .then(
          () => undefined,
          (e: { code?: string }) => e,
        );
      expect(refused?.code).toBe("OperationNotAllowed");
      await poller.pollUntilDone();
      let percent = early.completionPercent ?? 0;
      while (percent < 100) {
        await new Promise((r) => setTimeout(r, 20));
        percent = (await az.compute.snapshots.get("dr", "s-dr")).completionPercent ?? 0;
      }
      const sas = (
        await az.compute.snapshots.grantAccess("dr", "s-dr", { access: "Read", durationInSeconds: 60 }, poll)
      ).accessSAS!;
      expect(
        (await az.pageBlob(sas).downloadToBuffer(4 * 1024 * 1024, 4096)).equals(pattern(4 * 1024 * 1024, 4096)),
      ).toBe(true);
    } finally {
      await emu.close();
    }
  });

  it("with the azure profile, refuses an eighth incremental snapshot of a disk within five minutes", async () => {
    // The five-minute window shrinks with the speed-up: 6 s here.
    const emu = await startEmulator({ dataDir: tempDir(), latency: "azure", speedup: 50 });
    try {
      const az = clientsFor(emu);
      await createGroup(az, "rg", "eastus");
      const id = await createEmptyDisk(az, "rg", "eastus", "d", 1);
      const snap = (n: number) =>
        az.compute.snapshots.createOrUpdate(
          "rg",
          `s${n}`,
          { location: "eastus", incremental: true, creationData: { createOption: "Copy", sourceResourceId: id } },
          { updateIntervalInMs: 5 },
        );
      for (let i = 0; i < 7; i++) await snap(i);
      const err = await snap(7).then(
        () => undefined,
        (e: { code?: string; message: string }) => e,
      );
      expect(err?.code).toBe("OperationNotAllowed");
      expect(err?.message).toMatch(/7 incremental snapshots/);
    } finally {
      await emu.close();
    }
  });

  it("npm run emulator prints one JSON line when ready, serves HTTPS with its CA, and exits 0 on SIGTERM", async () => {
    const dataDir = tempDir();
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "--data", dataDir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once("line", resolve);
      child.once("exit", (code) => reject(new Error(`emulator exited early with ${code}`)));
    });
    const info = JSON.parse(line) as { endpoint: string; caCertPath: string; subscriptionId: string; dataDir: string };
    expect(Object.keys(info).sort()).toEqual(["caCertPath", "dataDir", "endpoint", "subscriptionId"]);
    expect(info.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(info.dataDir).toBe(dataDir);
    const status = await new Promise<number>((resolve, reject) => {
      httpsGet(
        `${info.endpoint}/subscriptions/${info.subscriptionId}/resourcegroups?api-version=2025-04-01`,
        { ca: readFileSync(info.caCertPath), headers: { authorization: "Bearer x" } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      ).on("error", reject);
    });
    expect(status).toBe(200);
    const code = await new Promise<number | null>((resolve) => {
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });
    expect(code).toBe(0);
    expect(existsSync(join(dataDir, "state.json"))).toBe(true);
  });

  it("the emulator command refuses bad options with a clear message", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "--data", tempDir(), "--speedup", "0.5"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/--speedup must be a number ≥ 1/);
  });
});
