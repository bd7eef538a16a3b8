import { existsSync, lstatSync, statSync } from "node:fs";
import type { DataDisk, VirtualMachine } from "@azure/arm-compute";
import { describe, expect, it } from "vitest";
import { readAt, thrownBy, writeAt } from "../testing";
import { useEmulator } from "./helpers/emulator";
import { expectRefused, refusal } from "./helpers/errors";

const fixture = useEmulator();
const LOCATION = "westeurope";
const OTHER_REGION = "northeurope";
const GiB = 1024 ** 3;

let counter = 0;
/** A unique name per call: every test works in its own resources. */
const unique = (prefix: string) => `${prefix}-${++counter}`;

/** A resource group with a vnet in each region used here. */
async function newGroup(): Promise<string> {
  const rg = unique("vms");
  await fixture.azure.resources.resourceGroups.createOrUpdate(rg, { location: LOCATION });
  for (const [vnet, location] of [
    ["vnet", LOCATION],
    ["vnet-far", OTHER_REGION],
  ] as const) {
    await fixture.azure.network.virtualNetworks.beginCreateOrUpdateAndWait(rg, vnet, {
      location,
      addressSpace: { addressPrefixes: ["10.0.0.0/16"] },
      subnets: [{ name: "default", addressPrefix: "10.0.0.0/24" }],
    });
  }
  return rg;
}

async function newNic(rg: string, name = unique("nic")): Promise<string> {
  const nic = await fixture.azure.network.networkInterfaces.beginCreateOrUpdateAndWait(rg, name, {
    location: LOCATION,
    ipConfigurations: [
      {
        name: "ipconfig1",
        subnet: {
          id: `/subscriptions/${fixture.emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default`,
        },
      },
    ],
  });
  return nic.id!;
}

/** An empty 1 GiB managed disk (sparse in the emulator). */
async function newDisk(
  rg: string,
  name: string,
  options: { osType?: "Linux" | "Windows"; location?: string } = {},
): Promise<string> {
  const disk = await fixture.azure.compute.disks.createOrUpdate(rg, name, {
    location: options.location ?? LOCATION,
    sku: { name: "StandardSSD_LRS" },
    creationData: { createOption: "Empty" },
    diskSizeGB: 1,
    ...(options.osType ? { osType: options.osType } : {}),
  });
  return disk.id!;
}

interface VmSpec {
  osDiskId: string;
  nicId: string;
  dataDisks?: DataDisk[];
  vmSize?: string;
}

function attachedVm(spec: VmSpec): VirtualMachine {
  return {
    location: LOCATION,
    hardwareProfile: { vmSize: spec.vmSize ?? "Standard_D4s_v5" },
    storageProfile: {
      osDisk: { createOption: "Attach", osType: "Linux", managedDisk: { id: spec.osDiskId } },
      dataDisks: spec.dataDisks ?? [],
    },
    networkProfile: { networkInterfaces: [{ id: spec.nicId }] },
  };
}

/** A running VM on a new attached Linux OS disk, with its own NIC. */
async function newVm(rg: string, name: string, dataDisks: DataDisk[] = [], vmSize?: string): Promise<VirtualMachine> {
  const osDiskId = await newDisk(rg, `${name}-os`, { osType: "Linux" });
  const nicId = await newNic(rg, `${name}-nic`);
  return fixture.azure.compute.virtualMachines.createOrUpdate(
    rg,
    name,
    attachedVm({ osDiskId, nicId, dataDisks, ...(vmSize ? { vmSize } : {}) }),
  );
}

const attach = (lun: number, id: string, deleteOption: "Delete" | "Detach" = "Detach"): DataDisk => ({
  lun,
  createOption: "Attach",
  managedDisk: { id },
  deleteOption,
});
const empty = (lun: number, extra: Partial<DataDisk> = {}): DataDisk => ({
  lun,
  createOption: "Empty",
  diskSizeGB: 1,
  ...extra,
});

/** Replaces a VM's data disks by PATCH. */
function setDataDisks(rg: string, vm: string, dataDisks: DataDisk[]) {
  return fixture.azure.compute.virtualMachines.update(rg, vm, { storageProfile: { dataDisks } });
}

async function diskView(rg: string, name: string) {
  const d = await fixture.azure.compute.disks.get(rg, name);
  return { managedBy: d.managedBy, diskState: d.diskState };
}

async function powerState(rg: string, vm: string): Promise<string | undefined> {
  const view = await fixture.azure.compute.virtualMachines.instanceView(rg, vm);
  return view.statuses?.find((s) => s.code?.startsWith("PowerState/"))?.code;
}

async function diskNames(rg: string): Promise<string[]> {
  const names: string[] = [];
  for await (const d of fixture.azure.compute.disks.listByResourceGroup(rg)) names.push(d.name!);
  return names.sort();
}

const device = (rg: string, vm: string, lun: number | "os") => fixture.emu.devicePath(rg, vm, lun);

describe("creating a VM on an existing OS disk (Attach)", () => {
  it("needs osType and refuses osProfile or an image", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    const osDiskId = await newDisk(rg, "os", { osType: "Linux" });
    const nicId = await newNic(rg);
    const base = attachedVm({ osDiskId, nicId });

    const noOsType = {
      ...base,
      storageProfile: { osDisk: { createOption: "Attach", managedDisk: { id: osDiskId } } },
    } satisfies VirtualMachine;
    expect(
      await expectRefused(compute.virtualMachines.createOrUpdate(rg, "vm", noOsType), 400, "InvalidParameter"),
    ).toContain("osType");
    await expectRefused(
      compute.virtualMachines.createOrUpdate(rg, "vm", {
        ...base,
        osProfile: { computerName: "vm", adminUsername: "ferry" },
      }),
      400,
      "InvalidParameter",
    );
    await expectRefused(
      compute.virtualMachines.createOrUpdate(rg, "vm", {
        ...base,
        storageProfile: {
          ...base.storageProfile,
          imageReference: { publisher: "Canonical", offer: "ubuntu-24_04-lts", sku: "server", version: "latest" },
        },
      }),
      400,
      "InvalidParameter",
    );
    // A disk that holds Windows is not the OS disk of a Linux VM.
    const windowsId = await newDisk(rg, "windows", { osType: "Windows" });
    await expectRefused(
      compute.virtualMachines.createOrUpdate(rg, "vm", attachedVm({ osDiskId: windowsId, nicId })),
      400,
      "InvalidParameter",
    );

    // None of the refusals left anything behind.
    await expectRefused(compute.virtualMachines.get(rg, "vm"), 404, "ResourceNotFound");
    expect(await diskView(rg, "os")).toEqual({ managedBy: undefined, diskState: "Unattached" });
    expect(
      (await fixture.azure.network.networkInterfaces.get(rg, nicId.split("/").pop()!)).virtualMachine,
    ).toBeUndefined();
  });

  it("attaches the disk as the OS disk and keeps its identity", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    const osDiskId = await newDisk(rg, "os", { osType: "Linux" });
    const nicId = await newNic(rg);
    const vm = await compute.virtualMachines.createOrUpdate(rg, "vm", attachedVm({ osDiskId, nicId }));

    expect(vm).toMatchObject({
      id: `/subscriptions/${fixture.emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/vm`,
      name: "vm",
      location: LOCATION,
      provisioningState: "Succeeded",
      hardwareProfile: { vmSize: "Standard_D4s_v5" },
      storageProfile: {
        osDisk: { createOption: "Attach", osType: "Linux", name: "os", diskSizeGB: 1, managedDisk: { id: osDiskId } },
        dataDisks: [],
      },
      networkProfile: { networkInterfaces: [{ id: nicId }] },
    });
    expect(vm.osProfile).toBeUndefined();
    expect(vm.vmId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await diskView(rg, "os")).toEqual({ managedBy: vm.id, diskState: "Attached" });
    expect(await powerState(rg, "vm")).toBe("PowerState/running");
    expect(lstatSync(device(rg, "vm", "os")).isSymbolicLink()).toBe(true);
    expect(statSync(device(rg, "vm", "os")).size).toBe(GiB);
  });

  it("refuses an OS disk attached to another VM (ConflictingUserInput) or in another region", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    const first = await newVm(rg, "first");
    const osDiskId = first.storageProfile!.osDisk!.managedDisk!.id!;
    const message = await expectRefused(
      compute.virtualMachines.createOrUpdate(rg, "second", attachedVm({ osDiskId, nicId: await newNic(rg) })),
      409,
      "ConflictingUserInput",
    );
    expect(message).toContain(first.id!);

    const farId = await newDisk(rg, "far-os", { osType: "Linux", location: OTHER_REGION });
    await expectRefused(
      compute.virtualMachines.createOrUpdate(rg, "third", attachedVm({ osDiskId: farId, nicId: await newNic(rg) })),
      400,
      "InvalidParameter",
    );
    expect(await diskView(rg, "far-os")).toEqual({ managedBy: undefined, diskState: "Unattached" });
  });
});

describe("creating a VM from an image (FromImage)", () => {
  const image = { publisher: "Canonical", offer: "ubuntu-24_04-lts", sku: "server", version: "latest" };

  it("needs osProfile", async () => {
    const rg = await newGroup();
    const vm: VirtualMachine = {
      location: LOCATION,
      hardwareProfile: { vmSize: "Standard_B2s" },
      storageProfile: { imageReference: image, osDisk: { createOption: "FromImage", name: "os", diskSizeGB: 1 } },
      networkProfile: { networkInterfaces: [{ id: await newNic(rg) }] },
    };
    expect(
      await expectRefused(fixture.azure.compute.virtualMachines.createOrUpdate(rg, "vm", vm), 400, "InvalidParameter"),
    ).toContain("osProfile");
    expect(await diskNames(rg)).toEqual([]);
  });

  it("creates the OS disk from the image and never shows the admin password", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    const vm = await compute.virtualMachines.createOrUpdate(rg, "vm", {
      location: LOCATION,
      hardwareProfile: { vmSize: "Standard_B2s" },
      storageProfile: { imageReference: image, osDisk: { createOption: "FromImage", name: "vm-os", diskSizeGB: 1 } },
      osProfile: { computerName: "vm-1", adminUsername: "ferry", adminPassword: "Secret-Passw0rd!" },
      networkProfile: { networkInterfaces: [{ id: await newNic(rg) }] },
    });
    expect(vm.storageProfile?.osDisk).toMatchObject({
      createOption: "FromImage",
      osType: "Linux",
      name: "vm-os",
      diskSizeGB: 1,
    });
    expect(vm.storageProfile?.imageReference).toMatchObject(image);
    expect(vm.osProfile).toMatchObject({ computerName: "vm-1", adminUsername: "ferry" });
    expect(vm.osProfile?.adminPassword).toBeUndefined();

    const disk = await compute.disks.get(rg, "vm-os");
    expect(disk).toMatchObject({
      osType: "Linux",
      diskSizeGB: 1,
      managedBy: vm.id,
      diskState: "Attached",
      creationData: { createOption: "FromImage" },
    });
    // A size with premium storage gets Premium_LRS by default.
    expect(disk.sku?.name).toBe("Premium_LRS");
    expect((await compute.virtualMachines.instanceView(rg, "vm")).computerName).toBe("vm-1");
    expect(existsSync(device(rg, "vm", "os"))).toBe(true);
  });
});

describe("data disks", () => {
  it("attaches existing (Attach) and new (Empty) disks by LUN, at creation and by update", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    const existingId = await newDisk(rg, "existing");
    const vm = await newVm(rg, "vm", [attach(0, existingId), empty(1)]);

    const data = vm.storageProfile?.dataDisks ?? [];
    expect(data.map((d) => [d.lun, d.createOption, d.deleteOption, d.diskSizeGB])).toEqual([
      [0, "Attach", "Detach", 1],
      [1, "Empty", "Delete", 1],
    ]);
    expect(data[0]?.managedDisk?.id).toBe(existingId);
    expect(data[1]?.name).toMatch(/^vm_lun_1_[0-9a-f]{32}$/);
    expect(await diskView(rg, "existing")).toEqual({ managedBy: vm.id, diskState: "Attached" });
    expect(await diskView(rg, data[1]!.name!)).toEqual({ managedBy: vm.id, diskState: "Attached" });
    expect(existsSync(device(rg, "vm", 0))).toBe(true);
    expect(existsSync(device(rg, "vm", 1))).toBe(true);

    // Attached by update, at any free LUN.
    const laterId = await newDisk(rg, "later");
    const updated = await setDataDisks(rg, "vm", [
      ...data.map((d) => ({
        lun: d.lun,
        createOption: "Attach" as const,
        managedDisk: { id: d.managedDisk!.id! },
        deleteOption: d.deleteOption!,
      })),
      attach(7, laterId),
    ]);
    expect(updated.storageProfile?.dataDisks?.map((d) => d.lun)).toEqual([0, 1, 7]);
    expect(await diskView(rg, "later")).toEqual({ managedBy: vm.id, diskState: "Attached" });
    expect(existsSync(device(rg, "vm", 7))).toBe(true);
    expect((await compute.virtualMachines.get(rg, "vm")).storageProfile?.dataDisks?.map((d) => d.name)).toEqual([
      "existing",
      data[1]!.name,
      "later",
    ]);
  });

  it("takes back what a GET answered: a VM read and written again unchanged keeps its disks", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    const existingId = await newDisk(rg, "existing");
    await newVm(rg, "vm", [attach(0, existingId), empty(1)]);
    const before = await diskNames(rg);
    const got = await compute.virtualMachines.get(rg, "vm");
    // A GET answers createOption Empty together with the managedDisk.id of the disk it made.
    expect(got.storageProfile?.dataDisks?.[1]).toMatchObject({
      createOption: "Empty",
      managedDisk: { id: expect.stringContaining("/disks/vm_lun_1_") },
    });

    const put = await compute.virtualMachines.createOrUpdate(rg, "vm", got);
    expect(put.storageProfile?.dataDisks?.map((d) => [d.lun, d.name, d.createOption])).toEqual(
      got.storageProfile?.dataDisks?.map((d) => [d.lun, d.name, d.createOption]),
    );
    const patched = await setDataDisks(rg, "vm", got.storageProfile!.dataDisks!);
    expect(patched.storageProfile?.dataDisks?.map((d) => d.managedDisk?.id)).toEqual(
      got.storageProfile?.dataDisks?.map((d) => d.managedDisk?.id),
    );
    expect(await diskNames(rg)).toEqual(before);
    expect(await diskView(rg, got.storageProfile!.dataDisks![1]!.name!)).toEqual({
      managedBy: got.id,
      diskState: "Attached",
    });

    // Empty with the id of a disk that is not already at that LUN is still refused.
    const loose = await newDisk(rg, "loose");
    await expectRefused(
      setDataDisks(rg, "vm", [empty(5, { managedDisk: { id: loose } })]),
      400,
      "InvalidParameterConflictingProperties",
    );
    expect(await diskView(rg, "loose")).toEqual({ managedBy: undefined, diskState: "Unattached" });
  });

  it("refuses a duplicate LUN", async () => {
    const rg = await newGroup();
    const a = await newDisk(rg, "a");
    const b = await newDisk(rg, "b");
    const osDiskId = await newDisk(rg, "os", { osType: "Linux" });
    const nicId = await newNic(rg);
    const create = fixture.azure.compute.virtualMachines.createOrUpdate(
      rg,
      "vm",
      attachedVm({ osDiskId, nicId, dataDisks: [attach(2, a), attach(2, b)] }),
    );
    expect(await expectRefused(create, 400, "InvalidParameter")).toContain("A disk at LUN 2 already exists");

    await newVm(rg, "vm2", [attach(2, a)]);
    expect(await expectRefused(setDataDisks(rg, "vm2", [attach(2, a), empty(2)]), 400, "InvalidParameter")).toContain(
      "A disk at LUN 2 already exists",
    );
    expect(await diskView(rg, "b")).toEqual({ managedBy: undefined, diskState: "Unattached" });
  });

  it("refuses more data disks than the VM size takes", async () => {
    const rg = await newGroup();
    // Standard_B1s takes 2 data disks.
    const osDiskId = await newDisk(rg, "os", { osType: "Linux" });
    const nicId = await newNic(rg);
    const three = [empty(0), empty(1), empty(2)];
    const message = await expectRefused(
      fixture.azure.compute.virtualMachines.createOrUpdate(
        rg,
        "vm",
        attachedVm({ osDiskId, nicId, vmSize: "Standard_B1s", dataDisks: three }),
      ),
      409,
      "OperationNotAllowed",
    );
    expect(message).toContain("is 2");
    expect(await diskNames(rg)).toEqual(["os"]);

    await newVm(rg, "small", [empty(0), empty(1)], "Standard_B1s");
    await expectRefused(setDataDisks(rg, "small", three), 409, "OperationNotAllowed");
    expect((await fixture.azure.compute.virtualMachines.get(rg, "small")).storageProfile?.dataDisks).toHaveLength(2);
  });

  it("refuses a disk attached to another VM with 409 ConflictingUserInput", async () => {
    const rg = await newGroup();
    const sharedId = await newDisk(rg, "shared");
    const owner = await newVm(rg, "owner", [attach(0, sharedId)]);
    await newVm(rg, "other");
    expect(
      await expectRefused(setDataDisks(rg, "other", [attach(0, sharedId)]), 409, "ConflictingUserInput"),
    ).toContain(owner.id!);
    // A deallocated owner still holds the disk.
    await fixture.azure.compute.virtualMachines.deallocate(rg, "owner");
    await expectRefused(setDataDisks(rg, "other", [attach(0, sharedId)]), 409, "ConflictingUserInput");
    expect(await diskView(rg, "shared")).toEqual({ managedBy: owner.id, diskState: "Reserved" });
    expect((await fixture.azure.compute.virtualMachines.get(rg, "other")).storageProfile?.dataDisks).toEqual([]);
  });

  it("refuses a disk from another region, and a refused create leaves no disks behind", async () => {
    const rg = await newGroup();
    const farId = await newDisk(rg, "far", { location: OTHER_REGION });
    await newVm(rg, "vm");
    expect(
      await expectRefused(
        setDataDisks(rg, "vm", [empty(0, { name: "made-before" }), attach(1, farId)]),
        400,
        "InvalidParameter",
      ),
    ).toContain(OTHER_REGION);
    expect(await diskNames(rg)).toEqual(["far", "vm-os"]);

    // A create that fails on its last data disk must not leave its OS disk or Empty disks.
    const create = fixture.azure.compute.virtualMachines.createOrUpdate(rg, "img", {
      location: LOCATION,
      hardwareProfile: { vmSize: "Standard_D4s_v5" },
      storageProfile: {
        imageReference: { publisher: "Canonical", offer: "ubuntu-24_04-lts", sku: "server", version: "latest" },
        osDisk: { createOption: "FromImage", name: "img-os", diskSizeGB: 1 },
        dataDisks: [empty(0, { name: "img-data" }), attach(1, farId)],
      },
      osProfile: { computerName: "img", adminUsername: "ferry" },
      networkProfile: { networkInterfaces: [{ id: await newNic(rg) }] },
    });
    await expectRefused(create, 400, "InvalidParameter");
    expect(await diskNames(rg)).toEqual(["far", "vm-os"]);
    expect(await diskView(rg, "far")).toEqual({ managedBy: undefined, diskState: "Unattached" });
  });

  it("shows Attached while the VM is allocated, Reserved when deallocated, Unattached after detach", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    const dataId = await newDisk(rg, "data");
    const vm = await newVm(rg, "vm", [attach(0, dataId)]);
    expect(await diskView(rg, "data")).toEqual({ managedBy: vm.id, diskState: "Attached" });
    await compute.virtualMachines.powerOff(rg, "vm");
    expect(await diskView(rg, "data")).toEqual({ managedBy: vm.id, diskState: "Attached" });
    await compute.virtualMachines.deallocate(rg, "vm");
    expect(await diskView(rg, "data")).toEqual({ managedBy: vm.id, diskState: "Reserved" });
    expect(await diskView(rg, "vm-os")).toEqual({ managedBy: vm.id, diskState: "Reserved" });
    await setDataDisks(rg, "vm", []);
    expect(await diskView(rg, "data")).toEqual({ managedBy: undefined, diskState: "Unattached" });
    await compute.virtualMachines.start(rg, "vm");
    expect(await diskView(rg, "vm-os")).toEqual({ managedBy: vm.id, diskState: "Attached" });
  });

  it("detaches a disk marked toBeDetached", async () => {
    const rg = await newGroup();
    const dataId = await newDisk(rg, "data");
    await newVm(rg, "vm", [attach(0, dataId), empty(1, { name: "kept" })]);
    const updated = await setDataDisks(rg, "vm", [
      { ...attach(0, dataId), toBeDetached: true },
      attach(1, (await fixture.azure.compute.disks.get(rg, "kept")).id!),
    ]);
    expect(updated.storageProfile?.dataDisks?.map((d) => d.name)).toEqual(["kept"]);
    expect(await diskView(rg, "data")).toEqual({ managedBy: undefined, diskState: "Unattached" });
    expect(existsSync(device(rg, "vm", 0))).toBe(false);
    expect(existsSync(device(rg, "vm", 1))).toBe(true);
  });
});

describe("guest device paths", () => {
  it("link to the disk's bytes, follow the disk to another VM, and exist only while the VM runs", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    const dataId = await newDisk(rg, "data");
    await newVm(rg, "a", [attach(0, dataId)]);
    await newVm(rg, "b");

    const path = device(rg, "a", 0);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    expect(statSync(path).size).toBe(GiB);
    const marker = Buffer.from("ferry was here\n");
    writeAt(path, 5 * 1024 * 1024 + 512, marker);
    expect(statSync(path).size).toBe(GiB);

    // The device goes when the disk is detached; the VM's other devices stay.
    await setDataDisks(rg, "a", []);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(device(rg, "a", "os"))).toBe(true);

    await setDataDisks(rg, "b", [attach(3, dataId)]);
    expect(readAt(device(rg, "b", 3), 5 * 1024 * 1024 + 512, marker.length)).toEqual(marker);

    // Powered off or deallocated, the guest sees nothing; started again, it sees its disks.
    await compute.virtualMachines.powerOff(rg, "b");
    expect(existsSync(device(rg, "b", 3))).toBe(false);
    expect(existsSync(device(rg, "b", "os"))).toBe(false);
    await compute.virtualMachines.start(rg, "b");
    expect(readAt(device(rg, "b", 3), 5 * 1024 * 1024 + 512, marker.length)).toEqual(marker);
    await compute.virtualMachines.deallocate(rg, "b");
    expect(existsSync(fixture.emu.deviceDir(rg, "b"))).toBe(false);
    await compute.virtualMachines.start(rg, "b");
    expect(existsSync(device(rg, "b", "os"))).toBe(true);
  });
});

describe("OS disk swap", () => {
  /** A VM and a spare Linux disk holding a marker, written through another VM. */
  async function swapSetup() {
    const rg = await newGroup();
    const vm = await newVm(rg, "vm");
    const spareId = await newDisk(rg, "spare", { osType: "Linux" });
    await newVm(rg, "writer", [attach(0, spareId)]);
    writeAt(device(rg, "writer", 0), 0, Buffer.from("spare os disk"));
    await setDataDisks(rg, "writer", []);
    return { rg, vm, spareId };
  }

  const swap = (rg: string, vm: string, diskId: string) =>
    fixture.azure.compute.virtualMachines.update(rg, vm, {
      storageProfile: { osDisk: { createOption: "Attach", managedDisk: { id: diskId } } },
    });

  it("is refused on a running or stopped VM with 409 OperationNotAllowed", async () => {
    const { rg, spareId } = await swapSetup();
    expect(await expectRefused(swap(rg, "vm", spareId), 409, "OperationNotAllowed")).toContain("deallocate");
    await fixture.azure.compute.virtualMachines.powerOff(rg, "vm");
    await expectRefused(swap(rg, "vm", spareId), 409, "OperationNotAllowed");
    expect(await diskView(rg, "spare")).toEqual({ managedBy: undefined, diskState: "Unattached" });
  });

  it("works on a deallocated VM: the old disk is freed, the new one boots", async () => {
    const { compute } = fixture.azure;
    const { rg, vm, spareId } = await swapSetup();
    await compute.virtualMachines.deallocate(rg, "vm");
    const swapped = await swap(rg, "vm", spareId);
    expect(swapped.storageProfile?.osDisk).toMatchObject({
      name: "spare",
      osType: "Linux",
      createOption: "Attach",
      managedDisk: { id: spareId },
    });
    expect(await diskView(rg, "vm-os")).toEqual({ managedBy: undefined, diskState: "Unattached" });
    expect(await diskView(rg, "spare")).toEqual({ managedBy: vm.id, diskState: "Reserved" });
    await compute.virtualMachines.start(rg, "vm");
    expect(await diskView(rg, "spare")).toEqual({ managedBy: vm.id, diskState: "Attached" });
    expect(readAt(device(rg, "vm", "os"), 0, 13).toString()).toBe("spare os disk");
    // The freed disk can go.
    await compute.disks.delete(rg, "vm-os");
    await expectRefused(compute.disks.get(rg, "vm-os"), 404, "ResourceNotFound");
  });

  it("refuses a Windows disk on a Linux VM, and a disk another VM holds", async () => {
    const { compute } = fixture.azure;
    const { rg } = await swapSetup();
    await compute.virtualMachines.deallocate(rg, "vm");
    const windowsId = await newDisk(rg, "windows", { osType: "Windows" });
    await expectRefused(swap(rg, "vm", windowsId), 400, "InvalidParameter");
    await expectRefused(swap(rg, "vm", (await compute.disks.get(rg, "writer-os")).id!), 409, "ConflictingUserInput");
    expect((await compute.virtualMachines.get(rg, "vm")).storageProfile?.osDisk?.name).toBe("vm-os");
    expect(await diskView(rg, "windows")).toEqual({ managedBy: undefined, diskState: "Unattached" });
  });

  it("refuses to remove the OS disk", async () => {
    const rg = await newGroup();
    const vm = await newVm(rg, "vm");
    const { osDisk: _osDisk, ...withoutOs } = vm.storageProfile!;
    const put = fixture.azure.compute.virtualMachines.createOrUpdate(rg, "vm", {
      location: LOCATION,
      hardwareProfile: vm.hardwareProfile!,
      storageProfile: withoutOs,
      networkProfile: vm.networkProfile!,
    });
    await expectRefused(put, 409, "OperationNotAllowed");
    expect(await diskView(rg, "vm-os")).toEqual({ managedBy: vm.id, diskState: "Attached" });
  });
});

describe("quotas and sizes", () => {
  it("reports regional vCPU usage and limit, lists sizes, and refuses a VM past the quota as Azure does", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    const usage = async () => {
      const all = [];
      for await (const u of compute.usage.list(LOCATION)) all.push(u);
      return all.find((u) => u.name.value === "cores")!;
    };
    const before = await usage();
    await newVm(rg, "small", [], "Standard_D2s_v5");
    expect((await usage()).currentValue).toBe(before.currentValue + 2);
    const sizes = [];
    for await (const s of compute.virtualMachineSizes.list(LOCATION)) sizes.push(s);
    expect(sizes.find((s) => s.name === "Standard_D4s_v5")).toMatchObject({ numberOfCores: 4, maxDataDiskCount: 8 });

    fixture.emu.setCoresQuota(LOCATION, (await usage()).currentValue + 3);
    try {
      expect((await usage()).limit).toBe(before.currentValue + 5);
      const message = await expectRefused(newVm(rg, "big", [], "Standard_D4s_v5"), 409, "OperationNotAllowed");
      expect(message).toMatch(/exceeding approved Total Regional Cores quota.*Additional Required: 4/);
      expect((await refusal(compute.virtualMachines.get(rg, "big"))).statusCode).toBe(404);
      // Deallocating does not give vCPUs back to the quota.
      await compute.virtualMachines.deallocate(rg, "small");
      await expectRefused(newVm(rg, "big2", [], "Standard_D4s_v5"), 409, "OperationNotAllowed");
    } finally {
      fixture.emu.setCoresQuota(LOCATION, 10_000);
    }
  });
});

describe("power operations", () => {
  it("power off, start, deallocate and restart through the SDK pollers", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    await newVm(rg, "vm");
    expect(await powerState(rg, "vm")).toBe("PowerState/running");

    const poller = await compute.virtualMachines.beginPowerOff(rg, "vm");
    await poller.pollUntilDone();
    expect(poller.isDone()).toBe(true);
    expect(await powerState(rg, "vm")).toBe("PowerState/stopped");
    expect(await expectRefused(compute.virtualMachines.restart(rg, "vm"), 409, "OperationNotAllowed")).toContain(
      "stopped",
    );

    await compute.virtualMachines.start(rg, "vm");
    expect(await powerState(rg, "vm")).toBe("PowerState/running");
    await compute.virtualMachines.restart(rg, "vm");
    expect(await powerState(rg, "vm")).toBe("PowerState/running");

    await compute.virtualMachines.deallocate(rg, "vm");
    expect(await powerState(rg, "vm")).toBe("PowerState/deallocated");
    await expectRefused(compute.virtualMachines.restart(rg, "vm"), 409, "OperationNotAllowed");
    // Powering off a deallocated VM leaves it deallocated.
    await compute.virtualMachines.powerOff(rg, "vm");
    expect(await powerState(rg, "vm")).toBe("PowerState/deallocated");

    await compute.virtualMachines.start(rg, "vm");
    const view = await compute.virtualMachines.instanceView(rg, "vm");
    expect(view.statuses?.map((s) => s.code)).toEqual(["ProvisioningState/succeeded", "PowerState/running"]);
    expect(view.statuses?.[1]?.displayStatus).toBe("VM running");
    const expanded = await compute.virtualMachines.get(rg, "vm", { expand: "instanceView" });
    expect(expanded.instanceView?.statuses?.[1]?.code).toBe("PowerState/running");
  });

  it("a create that failed (AllocationFailed) leaves a stopped, Failed VM; a PUT that succeeds boots it", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    const rule = fixture.emu.faults.add({
      match: { operation: "VirtualMachines_CreateOrUpdate", pathIncludes: `/resourceGroups/${rg}/` },
      action: { kind: "lroFail", code: "AllocationFailed", message: "no capacity" },
      times: 1,
    });
    const osDiskId = await newDisk(rg, "vm-os", { osType: "Linux" });
    const nicId = await newNic(rg, "vm-nic");
    const body = attachedVm({ osDiskId, nicId });
    expect((await thrownBy(compute.virtualMachines.createOrUpdate(rg, "vm", body))).message).toContain("no capacity");
    fixture.emu.faults.remove(rule);
    const view = await compute.virtualMachines.instanceView(rg, "vm");
    expect(view.statuses?.map((s) => s.code)).toEqual(["ProvisioningState/failed", "PowerState/stopped"]);
    expect(existsSync(device(rg, "vm", "os"))).toBe(false);

    await compute.virtualMachines.createOrUpdate(rg, "vm", body);
    expect(await powerState(rg, "vm")).toBe("PowerState/running");
    expect(existsSync(device(rg, "vm", "os"))).toBe(true);
    // An ordinary stopped VM stays stopped through an update.
    await compute.virtualMachines.powerOff(rg, "vm");
    await compute.virtualMachines.createOrUpdate(rg, "vm", body);
    expect(await powerState(rg, "vm")).toBe("PowerState/stopped");
  });

  it("refuses to start a VM whose disk has an active SAS", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    const dataId = await newDisk(rg, "data");
    await newVm(rg, "vm", [attach(0, dataId)]);
    // No SAS on a disk of an allocated VM.
    await expectRefused(
      compute.disks.grantAccess(rg, "data", { access: "Read", durationInSeconds: 600 }),
      409,
      "Conflict",
    );

    await compute.virtualMachines.deallocate(rg, "vm");
    const access = await compute.disks.grantAccess(rg, "data", { access: "Read", durationInSeconds: 600 });
    expect(access.accessSAS).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/md-/);
    expect(await expectRefused(compute.virtualMachines.start(rg, "vm"), 409, "OperationNotAllowed")).toContain("SAS");
    expect(await powerState(rg, "vm")).toBe("PowerState/deallocated");

    await compute.disks.revokeAccess(rg, "data");
    await compute.virtualMachines.start(rg, "vm");
    expect(await powerState(rg, "vm")).toBe("PowerState/running");
  });
});

describe("deleting", () => {
  it("deletes data disks with deleteOption Delete and keeps Detach disks", async () => {
    const { compute, network } = fixture.azure;
    const rg = await newGroup();
    const goesId = await newDisk(rg, "goes");
    const staysId = await newDisk(rg, "stays");
    await newVm(rg, "vm", [attach(0, goesId, "Delete"), attach(1, staysId, "Detach"), empty(2, { name: "scratch" })]);
    expect(await diskNames(rg)).toEqual(["goes", "scratch", "stays", "vm-os"]);

    await compute.virtualMachines.delete(rg, "vm");
    await expectRefused(compute.virtualMachines.get(rg, "vm"), 404, "ResourceNotFound");
    expect(await diskNames(rg)).toEqual(["stays", "vm-os"]);
    await expectRefused(compute.disks.get(rg, "goes"), 404, "ResourceNotFound");
    expect(await diskView(rg, "stays")).toEqual({ managedBy: undefined, diskState: "Unattached" });
    expect(await diskView(rg, "vm-os")).toEqual({ managedBy: undefined, diskState: "Unattached" });
    expect((await network.networkInterfaces.get(rg, "vm-nic")).virtualMachine).toBeUndefined();
    expect(existsSync(fixture.emu.deviceDir(rg, "vm"))).toBe(false);
  });

  it("refuses to delete a disk attached to a VM, running or deallocated", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    const dataId = await newDisk(rg, "data");
    const vm = await newVm(rg, "vm", [attach(0, dataId)]);
    expect(await expectRefused(compute.disks.delete(rg, "data"), 409, "OperationNotAllowed")).toContain(vm.id!);
    await expectRefused(compute.disks.delete(rg, "vm-os"), 409, "OperationNotAllowed");
    await compute.virtualMachines.deallocate(rg, "vm");
    await expectRefused(compute.disks.delete(rg, "data"), 409, "OperationNotAllowed");
    await setDataDisks(rg, "vm", []);
    await compute.disks.delete(rg, "data");
    expect(await diskNames(rg)).toEqual(["vm-os"]);
  });

  it("refuses a NIC that another VM uses with NicInUse", async () => {
    const { compute } = fixture.azure;
    const rg = await newGroup();
    const first = await newVm(rg, "first");
    const nicId = first.networkProfile!.networkInterfaces![0]!.id!;
    const osDiskId = await newDisk(rg, "second-os", { osType: "Linux" });
    expect(
      await expectRefused(
        compute.virtualMachines.createOrUpdate(rg, "second", attachedVm({ osDiskId, nicId })),
        400,
        "NicInUse",
      ),
    ).toContain(first.id!);
    expect(await diskView(rg, "second-os")).toEqual({ managedBy: undefined, diskState: "Unattached" });
    await expectRefused(compute.virtualMachines.get(rg, "second"), 404, "ResourceNotFound");
  });
});
