import type { VirtualMachine } from "@azure/arm-compute";
import { describe, expect, it } from "vitest";
import { useEmulator } from "./helpers/emulator";
import { expectRefused } from "./helpers/errors";

const fixture = useEmulator();
const LOCATION = "westeurope";

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

/** A resource group with a vnet and a NIC in it. */
async function newGroup(): Promise<{ rg: string; nicId: string }> {
  const rg = unique("gen");
  await fixture.azure.resources.resourceGroups.createOrUpdate(rg, { location: LOCATION });
  await fixture.azure.network.virtualNetworks.beginCreateOrUpdateAndWait(rg, "vnet", {
    location: LOCATION,
    addressSpace: { addressPrefixes: ["10.0.0.0/16"] },
    subnets: [{ name: "default", addressPrefix: "10.0.0.0/24" }],
  });
  const subnet =
    `/subscriptions/${fixture.emu.subscriptionId}/resourceGroups/${rg}` +
    "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default";
  const nic = await fixture.azure.network.networkInterfaces.beginCreateOrUpdateAndWait(rg, "nic", {
    location: LOCATION,
    ipConfigurations: [{ name: "ipconfig1", subnet: { id: subnet } }],
  });
  return { rg, nicId: nic.id! };
}

/** An empty 1 GiB Linux OS disk of the given generation (none: the request names none). */
async function osDisk(rg: string, name: string, hyperVGeneration?: "V1" | "V2"): Promise<string> {
  const disk = await fixture.azure.compute.disks.createOrUpdate(rg, name, {
    location: LOCATION,
    sku: { name: "StandardSSD_LRS" },
    creationData: { createOption: "Empty" },
    diskSizeGB: 1,
    osType: "Linux",
    ...(hyperVGeneration ? { hyperVGeneration } : {}),
  });
  return disk.id!;
}

function vmOn(osDiskId: string, nicId: string, vmSize: string): VirtualMachine {
  return {
    location: LOCATION,
    hardwareProfile: { vmSize },
    storageProfile: { osDisk: { createOption: "Attach", osType: "Linux", managedDisk: { id: osDiskId } } },
    networkProfile: { networkInterfaces: [{ id: nicId }] },
  };
}

describe("Hyper-V generation of disks", () => {
  it("an Empty disk takes the generation its request names, and a snapshot and its copy keep it", async () => {
    const { compute } = fixture.azure;
    const { rg } = await newGroup();
    const id = await osDisk(rg, "os", "V2");
    expect((await compute.disks.get(rg, "os")).hyperVGeneration).toBe("V2");
    const snap = await compute.snapshots.createOrUpdate(rg, "snap", {
      location: LOCATION,
      incremental: true,
      creationData: { createOption: "Copy", sourceResourceId: id },
    });
    expect(snap.hyperVGeneration).toBe("V2");
    const copy = await compute.disks.createOrUpdate(rg, "copy", {
      location: LOCATION,
      sku: { name: "StandardSSD_LRS" },
      creationData: { createOption: "Copy", sourceResourceId: snap.id! },
    });
    expect(copy.hyperVGeneration).toBe("V2");
  });
});

describe("Hyper-V generation of VMs", () => {
  it("refuses a Gen2 OS disk on a Gen1-only size with Azure's BadRequest, and leaves no VM", async () => {
    const { compute } = fixture.azure;
    const { rg, nicId } = await newGroup();
    const diskId = await osDisk(rg, "os", "V2");
    const message = await expectRefused(
      compute.virtualMachines.createOrUpdate(rg, "vm", vmOn(diskId, nicId, "Standard_D2_v3")),
      400,
      "BadRequest",
    );
    expect(message).toContain("The selected VM size 'Standard_D2_v3' cannot boot Hypervisor Generation '2'.");
    await expectRefused(compute.virtualMachines.get(rg, "vm"), 404, "ResourceNotFound");
    expect((await compute.disks.get(rg, "os")).diskState).toBe("Unattached");
  });

  it("boots a Gen2 OS disk on a size that offers Gen2 and reports V2 in the instance view", async () => {
    const { compute } = fixture.azure;
    const { rg, nicId } = await newGroup();
    const diskId = await osDisk(rg, "os", "V2");
    await compute.virtualMachines.createOrUpdate(rg, "vm", vmOn(diskId, nicId, "Standard_D2s_v5"));
    expect((await compute.virtualMachines.instanceView(rg, "vm")).hyperVGeneration).toBe("V2");
  });

  it("treats an OS disk that names no generation as Gen1: it boots on a Gen1-only size", async () => {
    const { compute } = fixture.azure;
    const { rg, nicId } = await newGroup();
    const diskId = await osDisk(rg, "os");
    await compute.virtualMachines.createOrUpdate(rg, "vm", vmOn(diskId, nicId, "Standard_D2_v3"));
    expect((await compute.virtualMachines.instanceView(rg, "vm")).hyperVGeneration).toBe("V1");
  });

  it("refuses to resize a Gen2 VM to a Gen1-only size", async () => {
    const { compute } = fixture.azure;
    const { rg, nicId } = await newGroup();
    const diskId = await osDisk(rg, "os", "V2");
    await compute.virtualMachines.createOrUpdate(rg, "vm", vmOn(diskId, nicId, "Standard_D2s_v5"));
    await compute.virtualMachines.deallocate(rg, "vm");
    const message = await expectRefused(
      compute.virtualMachines.update(rg, "vm", { hardwareProfile: { vmSize: "Standard_A2_v2" } }),
      400,
      "BadRequest",
    );
    expect(message).toContain("select a Hypervisor Generation '2' VM Size");
    expect((await compute.virtualMachines.get(rg, "vm")).hardwareProfile?.vmSize).toBe("Standard_D2s_v5");
  });
});

describe("Resource SKUs", () => {
  it("name each size's HyperVGenerations for the filtered region", async () => {
    const generations = new Map<string, string | undefined>();
    const regions = new Set<string>();
    for await (const sku of fixture.azure.compute.resourceSkus.list({ filter: `location eq '${LOCATION}'` })) {
      generations.set(sku.name!, sku.capabilities?.find((c) => c.name === "HyperVGenerations")?.value);
      for (const l of sku.locations ?? []) regions.add(l);
    }
    expect([...regions]).toEqual([LOCATION]);
    expect(generations.get("Standard_D2_v3")).toBe("V1");
    expect(generations.get("Standard_D2s_v5")).toBe("V1,V2");
  });

  it("refuses a filter other than location", async () => {
    const list = async () => {
      for await (const _ of fixture.azure.compute.resourceSkus.list({ filter: "name eq 'Standard_D2s_v5'" }));
    };
    await expectRefused(list(), 400, "InvalidFilter");
  });
});
