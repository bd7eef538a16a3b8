import type { NetworkInterfaceReference, VirtualMachine } from "@azure/arm-compute";
import { describe, expect, it } from "vitest";
import { useEmulator } from "./helpers/emulator";
import { expectRefused } from "./helpers/errors";

const fixture = useEmulator();
const LOCATION = "westeurope";

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

/** A resource group with two vnets (`vnet` with subnets `front` and `back`, `other` with `default`) and an OS disk. */
async function newGroup(): Promise<{ rg: string; osDiskId: string }> {
  const rg = unique("nics");
  const { network, compute } = fixture.azure;
  await fixture.azure.resources.resourceGroups.createOrUpdate(rg, { location: LOCATION });
  await network.virtualNetworks.beginCreateOrUpdateAndWait(rg, "vnet", {
    location: LOCATION,
    addressSpace: { addressPrefixes: ["10.0.0.0/16"] },
    subnets: [
      { name: "front", addressPrefix: "10.0.0.0/24" },
      { name: "back", addressPrefix: "10.0.1.0/24" },
    ],
  });
  await network.virtualNetworks.beginCreateOrUpdateAndWait(rg, "other", {
    location: LOCATION,
    addressSpace: { addressPrefixes: ["10.9.0.0/16"] },
    subnets: [{ name: "default", addressPrefix: "10.9.0.0/24" }],
  });
  const disk = await compute.disks.createOrUpdate(rg, "os", {
    location: LOCATION,
    sku: { name: "StandardSSD_LRS" },
    creationData: { createOption: "Empty" },
    diskSizeGB: 1,
    osType: "Linux",
  });
  return { rg, osDiskId: disk.id! };
}

/** A NIC on `vnet/subnet` of the group, with accelerated networking when asked. */
async function nic(rg: string, name: string, subnet: string, accelerated = false): Promise<string> {
  const [vnet, sub] = subnet.split("/");
  const id =
    `/subscriptions/${fixture.emu.subscriptionId}/resourceGroups/${rg}` +
    `/providers/Microsoft.Network/virtualNetworks/${vnet}/subnets/${sub}`;
  const made = await fixture.azure.network.networkInterfaces.beginCreateOrUpdateAndWait(rg, name, {
    location: LOCATION,
    enableAcceleratedNetworking: accelerated,
    ipConfigurations: [{ name: "ipconfig1", subnet: { id } }],
  });
  return made.id!;
}

function vm(osDiskId: string, vmSize: string, nics: NetworkInterfaceReference[]): VirtualMachine {
  return {
    location: LOCATION,
    hardwareProfile: { vmSize },
    storageProfile: { osDisk: { createOption: "Attach", osType: "Linux", managedDisk: { id: osDiskId } } },
    networkProfile: { networkInterfaces: nics },
  };
}

describe("network interfaces of a VM", () => {
  it("refuses more NICs than the size takes with Azure's NetworkInterfaceCountExceeded, and leaves no VM", async () => {
    const { compute } = fixture.azure;
    const { rg, osDiskId } = await newGroup();
    const ids = [await nic(rg, "a", "vnet/front"), await nic(rg, "b", "vnet/front"), await nic(rg, "c", "vnet/back")];
    const nics = ids.map((id, i) => ({ id, primary: i === 0 }));
    const message = await expectRefused(
      compute.virtualMachines.createOrUpdate(rg, "vm", vm(osDiskId, "Standard_D2s_v5", nics)),
      400,
      "NetworkInterfaceCountExceeded",
    );
    expect(message).toBe(
      "The number of network interfaces for virtual machine vm exceeds the maximum allowed for the virtual machine " +
        "size Standard_D2s_v5. The number of network interfaces is 3 and the maximum allowed is 2. ",
    );
    await expectRefused(compute.virtualMachines.get(rg, "vm"), 404, "ResourceNotFound");
    expect((await fixture.azure.network.networkInterfaces.get(rg, "a")).virtualMachine).toBeUndefined();
  });

  it("takes as many NICs as the size's MaxNetworkInterfaces says, in different subnets of one vnet", async () => {
    const { compute, network } = fixture.azure;
    const { rg, osDiskId } = await newGroup();
    const ids = [];
    for (const [i, subnet] of ["vnet/front", "vnet/back", "vnet/back", "vnet/front"].entries())
      ids.push(await nic(rg, `n${i}`, subnet));
    const skus = [];
    for await (const s of compute.resourceSkus.list({ filter: `location eq '${LOCATION}'` }))
      if (s.name === "Standard_D8s_v5") skus.push(s);
    expect(skus[0]!.capabilities).toContainEqual({ name: "MaxNetworkInterfaces", value: "4" });
    const made = await compute.virtualMachines.createOrUpdate(
      rg,
      "vm",
      vm(
        osDiskId,
        "Standard_D8s_v5",
        ids.map((id, i) => ({ id, primary: i === 1 })),
      ),
    );
    expect(made.networkProfile!.networkInterfaces!.map((n) => [n.id, n.primary])).toEqual(
      ids.map((id, i) => [id, i === 1]),
    );
    expect((await network.networkInterfaces.get(rg, "n1")).primary).toBe(true);
    expect((await network.networkInterfaces.get(rg, "n0")).primary).toBe(false);
  });

  it("refuses several NICs none of which is primary, naming the NIC without the property", async () => {
    const { rg, osDiskId } = await newGroup();
    const ids = [await nic(rg, "a", "vnet/front"), await nic(rg, "b", "vnet/back")];
    const message = await expectRefused(
      fixture.azure.compute.virtualMachines.createOrUpdate(
        rg,
        "vm",
        vm(osDiskId, "Standard_D2s_v5", [{ id: ids[0]!, primary: false }, { id: ids[1]! }]),
      ),
      400,
      "NetworkInterfaceMustHavePrimaryPropertySet",
    );
    expect(message).toBe("Network interface b must have Primary property set.");
  });

  it("refuses two primary NICs", async () => {
    const { rg, osDiskId } = await newGroup();
    const ids = [await nic(rg, "a", "vnet/front"), await nic(rg, "b", "vnet/back")];
    const message = await expectRefused(
      fixture.azure.compute.virtualMachines.createOrUpdate(
        rg,
        "vm",
        vm(
          osDiskId,
          "Standard_D2s_v5",
          ids.map((id) => ({ id, primary: true })),
        ),
      ),
      400,
      "VirtualMachineMustHaveOnePrimaryNetworkInterface",
    );
    expect(message).toContain("has 2 network interfaces marked primary (a, b)");
  });

  it("refuses NICs in two virtual networks", async () => {
    const { rg, osDiskId } = await newGroup();
    const ids = [await nic(rg, "a", "vnet/front"), await nic(rg, "b", "other/default")];
    const message = await expectRefused(
      fixture.azure.compute.virtualMachines.createOrUpdate(
        rg,
        "vm",
        vm(
          osDiskId,
          "Standard_D2s_v5",
          ids.map((id, i) => ({ id, primary: i === 0 })),
        ),
      ),
      400,
      "NetworkInterfacesInDifferentVirtualNetworks",
    );
    expect(message).toMatch(/a is in \/subscriptions\/.*\/virtualNetworks\/vnet, b in .*\/virtualNetworks\/other\.$/);
  });
});

describe("accelerated networking", () => {
  it("the SKU list says which sizes take it", async () => {
    const capability = new Map<string, string | undefined>();
    for await (const s of fixture.azure.compute.resourceSkus.list({ filter: `location eq '${LOCATION}'` }))
      capability.set(s.name!, s.capabilities?.find((c) => c.name === "AcceleratedNetworkingEnabled")?.value);
    expect(capability.get("Standard_D2s_v5")).toBe("True");
    expect(capability.get("Standard_B2s")).toBe("False");
  });

  it("refuses a NIC with accelerated networking on a size without it, with Azure's code and message", async () => {
    const { rg, osDiskId } = await newGroup();
    const id = await nic(rg, "a", "vnet/front", true);
    const message = await expectRefused(
      fixture.azure.compute.virtualMachines.createOrUpdate(rg, "vm", vm(osDiskId, "Standard_B2s", [{ id }])),
      400,
      "VMSizeIsNotPermittedToEnableAcceleratedNetworking",
    );
    expect(message).toMatch(
      /^Virtual Machine size Standard_B2s is not in the allowed list of VM sizes for accelerated networking to be enabled on Network Interface \/subscriptions\/.*\/virtualMachines\/vm\. Allowed sizes: .*Standard_D2s_v5/,
    );
    expect(message).not.toContain("Standard_B2s,");
  });

  it("keeps a NIC's accelerated networking on a size with it", async () => {
    const { rg, osDiskId } = await newGroup();
    const id = await nic(rg, "a", "vnet/front", true);
    await fixture.azure.compute.virtualMachines.createOrUpdate(rg, "vm", vm(osDiskId, "Standard_D2s_v5", [{ id }]));
    expect((await fixture.azure.network.networkInterfaces.get(rg, "a")).enableAcceleratedNetworking).toBe(true);
  });

  it("refuses a resize to a size without it while a NIC has it", async () => {
    const { compute } = fixture.azure;
    const { rg, osDiskId } = await newGroup();
    const id = await nic(rg, "a", "vnet/front", true);
    await compute.virtualMachines.createOrUpdate(rg, "vm", vm(osDiskId, "Standard_D2s_v5", [{ id }]));
    await compute.virtualMachines.deallocate(rg, "vm");
    await expectRefused(
      compute.virtualMachines.update(rg, "vm", { hardwareProfile: { vmSize: "Standard_B2s" } }),
      400,
      "VMSizeIsNotPermittedToEnableAcceleratedNetworking",
    );
    expect((await compute.virtualMachines.get(rg, "vm")).hardwareProfile!.vmSize).toBe("Standard_D2s_v5");
  });

  it("refuses turning it on for a NIC attached to a VM whose size does not take it", async () => {
    const { rg, osDiskId } = await newGroup();
    const id = await nic(rg, "a", "vnet/front");
    await fixture.azure.compute.virtualMachines.createOrUpdate(rg, "vm", vm(osDiskId, "Standard_B2s", [{ id }]));
    await expectRefused(nic(rg, "a", "vnet/front", true), 400, "VMSizeIsNotPermittedToEnableAcceleratedNetworking");
    expect((await fixture.azure.network.networkInterfaces.get(rg, "a")).enableAcceleratedNetworking).toBe(false);
  });
});
