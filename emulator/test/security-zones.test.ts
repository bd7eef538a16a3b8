import type { Disk, VirtualMachine } from "@azure/arm-compute";
import { describe, expect, it } from "vitest";
import { useEmulator } from "./helpers/emulator";
import { expectRefused } from "./helpers/errors";

const fixture = useEmulator();
const LOCATION = "westeurope";
const GiB = 1024 ** 3;

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

/** A resource group with a vnet and a NIC in it. */
async function newGroup(): Promise<{ rg: string; nicId: string }> {
  const rg = unique("sec");
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

/** A 1 GiB Gen2 Linux OS disk: Trusted Launch through UploadPreparedSecure, sealed; else an Empty Standard one. */
async function osDisk(rg: string, name: string, o: { trustedLaunch?: boolean; zone?: string } = {}): Promise<Disk> {
  const { compute } = fixture.azure;
  const base: Disk = {
    location: LOCATION,
    sku: { name: "Premium_LRS" },
    osType: "Linux",
    hyperVGeneration: "V2",
    ...(o.zone ? { zones: [o.zone] } : {}),
  };
  if (!o.trustedLaunch)
    return compute.disks.createOrUpdate(rg, name, { ...base, creationData: { createOption: "Empty" }, diskSizeGB: 1 });
  await compute.disks.createOrUpdate(rg, name, {
    ...base,
    securityProfile: { securityType: "TrustedLaunch" },
    creationData: { createOption: "UploadPreparedSecure", uploadSizeBytes: GiB + 512 },
  });
  await compute.disks.grantAccess(rg, name, { access: "Write", durationInSeconds: 60 });
  await compute.disks.revokeAccess(rg, name);
  return compute.disks.get(rg, name);
}

function vmOn(osDiskId: string, nicId: string, o: { vmSize?: string; trustedLaunch?: boolean; zone?: string } = {}) {
  const vm: VirtualMachine = {
    location: LOCATION,
    hardwareProfile: { vmSize: o.vmSize ?? "Standard_D2s_v5" },
    storageProfile: { osDisk: { createOption: "Attach", osType: "Linux", managedDisk: { id: osDiskId } } },
    networkProfile: { networkInterfaces: [{ id: nicId }] },
    ...(o.zone ? { zones: [o.zone] } : {}),
    ...(o.trustedLaunch
      ? {
          securityProfile: {
            securityType: "TrustedLaunch",
            uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
          },
        }
      : {}),
  };
  return vm;
}

describe("security types of disks", () => {
  it("refuses an Empty disk with a security type: only UploadPreparedSecure and copies make one", async () => {
    const { rg } = await newGroup();
    const message = await expectRefused(
      fixture.azure.compute.disks.createOrUpdate(rg, "os", {
        location: LOCATION,
        osType: "Linux",
        hyperVGeneration: "V2",
        securityProfile: { securityType: "TrustedLaunch" },
        creationData: { createOption: "Empty" },
        diskSizeGB: 1,
      }),
      400,
      "BadRequest",
    );
    expect(message).toContain("cannot be set on a disk created with createOption 'Empty'");
  });

  it("seals an UploadPreparedSecure disk as a Trusted Launch disk of its data's size", async () => {
    const { rg } = await newGroup();
    const disk = await osDisk(rg, "os", { trustedLaunch: true });
    expect({ type: disk.securityProfile?.securityType, state: disk.diskState, bytes: disk.diskSizeBytes }).toEqual({
      type: "TrustedLaunch",
      state: "Unattached",
      bytes: GiB,
    });
  });

  it("carries the security type through an incremental snapshot and a disk copied from it", async () => {
    const { compute } = fixture.azure;
    const { rg } = await newGroup();
    const disk = await osDisk(rg, "os", { trustedLaunch: true });
    const snap = await compute.snapshots.createOrUpdate(rg, "snap", {
      location: LOCATION,
      incremental: true,
      creationData: { createOption: "Copy", sourceResourceId: disk.id! },
    });
    const copy = await compute.disks.createOrUpdate(rg, "copy", {
      location: LOCATION,
      creationData: { createOption: "Copy", sourceResourceId: snap.id! },
    });
    expect([snap.securityProfile?.securityType, copy.securityProfile?.securityType]).toEqual([
      "TrustedLaunch",
      "TrustedLaunch",
    ]);
  });
});

describe("Trusted Launch VMs", () => {
  it("boots on a Trusted Launch OS disk and reports its securityProfile", async () => {
    const { compute } = fixture.azure;
    const { rg, nicId } = await newGroup();
    const disk = await osDisk(rg, "os", { trustedLaunch: true });
    await compute.virtualMachines.createOrUpdate(rg, "vm", vmOn(disk.id!, nicId, { trustedLaunch: true }));
    expect((await compute.virtualMachines.get(rg, "vm")).securityProfile).toEqual({
      securityType: "TrustedLaunch",
      uefiSettings: { secureBootEnabled: true, vTpmEnabled: true },
    });
  });

  it("refuses a Trusted Launch VM on a Standard OS disk with Azure's BadRequest", async () => {
    const { rg, nicId } = await newGroup();
    const disk = await osDisk(rg, "os");
    const message = await expectRefused(
      fixture.azure.compute.virtualMachines.createOrUpdate(rg, "vm", vmOn(disk.id!, nicId, { trustedLaunch: true })),
      400,
      "BadRequest",
    );
    expect(message).toBe("Security type of VM is not compatible with the security type of attached OS Disk.");
  });

  it("refuses a Standard VM on a Trusted Launch OS disk with the same message", async () => {
    const { rg, nicId } = await newGroup();
    const disk = await osDisk(rg, "os", { trustedLaunch: true });
    const message = await expectRefused(
      fixture.azure.compute.virtualMachines.createOrUpdate(rg, "vm", vmOn(disk.id!, nicId)),
      400,
      "BadRequest",
    );
    expect(message).toBe("Security type of VM is not compatible with the security type of attached OS Disk.");
  });

  it("refuses a Trusted Launch VM of a size whose SKU has TrustedLaunchDisabled", async () => {
    const { compute } = fixture.azure;
    const { rg, nicId } = await newGroup();
    const disk = await osDisk(rg, "os", { trustedLaunch: true });
    const message = await expectRefused(
      compute.virtualMachines.createOrUpdate(
        rg,
        "vm",
        vmOn(disk.id!, nicId, { trustedLaunch: true, vmSize: "Standard_NC6s_v3" }),
      ),
      400,
      "BadRequest",
    );
    expect(message).toContain(
      "The VM size 'Standard_NC6s_v3' is not supported for creation of VMs and Virtual Machine Scale Set with " +
        "'TrustedLaunch' security type.",
    );
    expect((await compute.disks.get(rg, "os")).diskState).toBe("Unattached");
  });
});

describe("zones", () => {
  it("refuses a zonal disk on a VM of another zone with Azure's BadRequest", async () => {
    const { rg, nicId } = await newGroup();
    const disk = await osDisk(rg, "os", { zone: "2" });
    const message = await expectRefused(
      fixture.azure.compute.virtualMachines.createOrUpdate(rg, "vm", vmOn(disk.id!, nicId, { zone: "1" })),
      400,
      "BadRequest",
    );
    expect(message).toBe(
      `Disk ${disk.id} cannot be attached to the VM because it is not in the same zone as the VM. ` +
        "VM zone: '1'. Disk zone: '2'.",
    );
  });

  it("refuses a regional (zoneless) LRS disk on a zonal VM", async () => {
    const { rg, nicId } = await newGroup();
    const disk = await osDisk(rg, "os");
    const message = await expectRefused(
      fixture.azure.compute.virtualMachines.createOrUpdate(rg, "vm", vmOn(disk.id!, nicId, { zone: "1" })),
      400,
      "BadRequest",
    );
    expect(message).toContain("VM zone: '1'. Disk zone: ''.");
  });

  it("attaches a ZRS disk to a VM in any zone", async () => {
    const { compute } = fixture.azure;
    const { rg, nicId } = await newGroup();
    const disk = await compute.disks.createOrUpdate(rg, "os", {
      location: LOCATION,
      sku: { name: "Premium_ZRS" },
      osType: "Linux",
      creationData: { createOption: "Empty" },
      diskSizeGB: 1,
    });
    const vm = await compute.virtualMachines.createOrUpdate(rg, "vm", vmOn(disk.id!, nicId, { zone: "3" }));
    expect(vm.zones).toEqual(["3"]);
  });

  it("refuses a size in a zone that does not offer it with SkuNotAvailable", async () => {
    const { rg, nicId } = await newGroup();
    const disk = await osDisk(rg, "os", { zone: "3" });
    const message = await expectRefused(
      fixture.azure.compute.virtualMachines.createOrUpdate(
        rg,
        "vm",
        vmOn(disk.id!, nicId, { zone: "3", vmSize: "Standard_E8s_v5" }),
      ),
      409,
      "SkuNotAvailable",
    );
    expect(message).toContain(`is currently not available in location '${LOCATION}' zones '3' for subscription`);
  });

  it("lists a size's zones and its Zone restriction in the Resource SKUs", async () => {
    const found = new Map<string, { zones?: string[]; restricted?: string[]; tl?: string }>();
    for await (const sku of fixture.azure.compute.resourceSkus.list({ filter: `location eq '${LOCATION}'` })) {
      found.set(sku.name!, {
        zones: sku.locationInfo?.[0]?.zones,
        restricted: sku.restrictions?.find((r) => r.type === "Zone")?.restrictionInfo?.zones,
        tl: sku.capabilities?.find((c) => c.name === "TrustedLaunchDisabled")?.value,
      });
    }
    expect(found.get("Standard_E8s_v5")).toEqual({ zones: ["1", "2"], restricted: ["3"], tl: undefined });
    expect(found.get("Standard_D2s_v5")).toEqual({ zones: ["1", "2", "3"], restricted: undefined, tl: undefined });
    expect(found.get("Standard_NC6s_v3")?.tl).toBe("True");
  });
});
