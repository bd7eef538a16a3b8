import { describe, expect, it } from "vitest";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm, writeGuestIdentity } from "../testing";
import { useEmulator } from "./helpers/emulator";
import { expectRefused } from "./helpers/errors";

const fixture = useEmulator();
const LOCATION = "westeurope";
const SERVER_2022 = { osName: "Windows Server 2022 Datacenter", osVersion: "10.0.20348.2849" };

let counter = 0;

/** A group with a subnet, a NIC, and an empty Windows OS disk (Gen2, as Windows Server images are today). */
async function windowsSetup(): Promise<{ rg: string; subnet: string; nicId: string; osDiskId: string }> {
  const rg = `win-${++counter}`;
  const az = fixture.azure;
  await createGroup(az, rg, LOCATION);
  const subnet = await createSubnet(az, rg, LOCATION);
  const nicId = await createNic(az, rg, LOCATION, "nic", subnet);
  const osDiskId = await createEmptyDisk(az, rg, LOCATION, "os", 1, { osType: "Windows", hyperVGeneration: "V2" });
  return { rg, subnet, nicId, osDiskId };
}

describe("a VM on an attached (specialized) Windows OS disk", () => {
  it("is refused with an osProfile, in Azure's words", async () => {
    const { rg, nicId, osDiskId } = await windowsSetup();
    const message = await expectRefused(
      fixture.azure.compute.virtualMachines.createOrUpdate(rg, "vm", {
        location: LOCATION,
        hardwareProfile: { vmSize: "Standard_D2s_v5" },
        storageProfile: { osDisk: { createOption: "Attach", osType: "Windows", managedDisk: { id: osDiskId } } },
        osProfile: { computerName: "vm", adminUsername: "ferry" },
        networkProfile: { networkInterfaces: [{ id: nicId }] },
      }),
      400,
      "InvalidParameter",
    );
    expect(message).toBe("Parameter 'osProfile' is not allowed.");
  });

  it("is refused without osType on its OS disk, in Azure's words", async () => {
    const { rg, nicId, osDiskId } = await windowsSetup();
    const message = await expectRefused(
      fixture.azure.compute.virtualMachines.createOrUpdate(rg, "vm", {
        location: LOCATION,
        hardwareProfile: { vmSize: "Standard_D2s_v5" },
        storageProfile: { osDisk: { createOption: "Attach", managedDisk: { id: osDiskId } } },
        networkProfile: { networkInterfaces: [{ id: nicId }] },
      }),
      400,
      "InvalidParameter",
    );
    expect(message).toBe("Required parameter 'osDisk.osType' is missing (null).");
  });

  it("reports the guest's own computer name and Windows in its instance view, not the VM's name", async () => {
    const { rg, nicId, osDiskId } = await windowsSetup();
    const az = fixture.azure;
    // The guest was set up as SQL01 long before this VM (named otherwise) was made on its disk.
    const vm = await createVm(az, rg, LOCATION, "recovered-sql-server-01", { osDiskId, nicId, osType: "Windows" });
    writeGuestIdentity(fixture.emu.devicePath(rg, vm.name!, "os"), { computerName: "SQL01", ...SERVER_2022 });
    const view = await az.compute.virtualMachines.instanceView(rg, vm.name!);
    expect({
      computerName: view.computerName,
      osName: view.osName,
      osVersion: view.osVersion,
      agent: view.vmAgent?.statuses?.[0]?.displayStatus,
      generation: view.hyperVGeneration,
    }).toEqual({ computerName: "SQL01", ...SERVER_2022, agent: "Ready", generation: "V2" });
    expect((await az.compute.virtualMachines.get(rg, vm.name!)).osProfile).toBeUndefined();
  });

  it("carries the guest through a snapshot and a disk made from it", async () => {
    const { rg, subnet, nicId, osDiskId } = await windowsSetup();
    const az = fixture.azure;
    await createVm(az, rg, LOCATION, "source", { osDiskId, nicId, osType: "Windows" });
    writeGuestIdentity(fixture.emu.devicePath(rg, "source", "os"), { computerName: "APP01", ...SERVER_2022 });
    await az.compute.snapshots.createOrUpdate(rg, "snap", {
      location: LOCATION,
      incremental: true,
      creationData: { createOption: "Copy", sourceResourceId: osDiskId },
    });
    const copy = await az.compute.disks.createOrUpdate(rg, "copy", {
      location: LOCATION,
      creationData: { createOption: "Copy", sourceResourceId: (await az.compute.snapshots.get(rg, "snap")).id! },
    });
    expect({ osType: copy.osType, generation: copy.hyperVGeneration }).toEqual({ osType: "Windows", generation: "V2" });
    const nic2 = await createNic(az, rg, LOCATION, "nic2", subnet);
    await createVm(az, rg, LOCATION, "restored", { osDiskId: copy.id!, nicId: nic2, osType: "Windows" });
    expect((await az.compute.virtualMachines.instanceView(rg, "restored")).computerName).toBe("APP01");
  });

  it("reports no computer name or OS before its guest agent is Ready", async () => {
    const { rg, nicId, osDiskId } = await windowsSetup();
    const az = fixture.azure;
    await createVm(az, rg, LOCATION, "vm", { osDiskId, nicId, osType: "Windows" });
    writeGuestIdentity(fixture.emu.devicePath(rg, "vm", "os"), { computerName: "WEB01", ...SERVER_2022 });
    await az.compute.virtualMachines.beginDeallocateAndWait(rg, "vm", { updateIntervalInMs: 10 });
    const view = await az.compute.virtualMachines.instanceView(rg, "vm");
    expect({
      computerName: view.computerName,
      osName: view.osName,
      agent: view.vmAgent?.statuses?.[0]?.displayStatus,
    }).toEqual({ computerName: undefined, osName: undefined, agent: "Not Ready" });
  });
});

describe("licenseType", () => {
  it("is kept as created, changed by an update, and removed by None", async () => {
    const { rg, nicId, osDiskId } = await windowsSetup();
    const vms = fixture.azure.compute.virtualMachines;
    const poll = { updateIntervalInMs: 10 };
    await createVm(fixture.azure, rg, LOCATION, "vm", {
      osDiskId,
      nicId,
      osType: "Windows",
      licenseType: "Windows_Server",
    });
    expect((await vms.get(rg, "vm")).licenseType).toBe("Windows_Server");
    // An update that names none keeps it.
    await vms.beginUpdateAndWait(rg, "vm", { tags: { a: "b" } }, poll);
    expect((await vms.get(rg, "vm")).licenseType).toBe("Windows_Server");
    await vms.beginUpdateAndWait(rg, "vm", { licenseType: "Windows_Client" }, poll);
    expect((await vms.get(rg, "vm")).licenseType).toBe("Windows_Client");
    await vms.beginUpdateAndWait(rg, "vm", { licenseType: "None" }, poll);
    expect((await vms.get(rg, "vm")).licenseType).toBeUndefined();
  });
});
