import { existsSync } from "node:fs";
import { request } from "node:https";
import { describe, expect, it } from "vitest";
import { useEmulator } from "./helpers/emulator";
import { expectRefused, refusal } from "./helpers/errors";

const fixture = useEmulator();
const LOCATION = "westeurope";

let counter = 0;
/** A unique name per call: every test works in its own resources. */
const unique = (prefix: string) => `${prefix}-${++counter}`;

async function newGroup(prefix = "rg", location = LOCATION): Promise<string> {
  const name = unique(prefix);
  await fixture.azure.resources.resourceGroups.createOrUpdate(name, { location });
  return name;
}

async function newVnet(
  rg: string,
  name: string,
  options: { location?: string; space?: string; subnets?: Record<string, string> } = {},
) {
  const subnets = Object.entries(options.subnets ?? { default: "10.0.0.0/24" }).map(([n, addressPrefix]) => ({
    name: n,
    addressPrefix,
  }));
  return fixture.azure.network.virtualNetworks.beginCreateOrUpdateAndWait(rg, name, {
    location: options.location ?? LOCATION,
    addressSpace: { addressPrefixes: [options.space ?? "10.0.0.0/16"] },
    subnets,
  });
}

function subnetRef(rg: string, vnet: string, subnet = "default"): string {
  return `/subscriptions/${fixture.emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Network/virtualNetworks/${vnet}/subnets/${subnet}`;
}

async function newNic(rg: string, name: string, subnetId: string, ip?: { static: string }, location = LOCATION) {
  return fixture.azure.network.networkInterfaces.beginCreateOrUpdateAndWait(rg, name, {
    location,
    ipConfigurations: [
      {
        name: "ipconfig1",
        subnet: { id: subnetId },
        privateIPAllocationMethod: ip ? "Static" : "Dynamic",
        ...(ip ? { privateIPAddress: ip.static } : {}),
      },
    ],
  });
}

/** A running VM on an attached, empty Linux OS disk: the smallest VM the emulator accepts. */
async function newVm(rg: string, name: string, nicId: string, dataDisks: { lun: number; sizeGB: number }[] = []) {
  const { compute } = fixture.azure;
  const disk = await compute.disks.createOrUpdate(rg, `${name}-os`, {
    location: LOCATION,
    sku: { name: "Standard_LRS" },
    osType: "Linux",
    creationData: { createOption: "Empty" },
    diskSizeGB: 1,
  });
  return compute.virtualMachines.createOrUpdate(rg, name, {
    location: LOCATION,
    hardwareProfile: { vmSize: "Standard_B2s" },
    storageProfile: {
      osDisk: { createOption: "Attach", osType: "Linux", managedDisk: { id: disk.id! } },
      dataDisks: dataDisks.map((d) => ({
        lun: d.lun,
        createOption: "Empty",
        diskSizeGB: d.sizeGB,
        deleteOption: "Detach",
      })),
    },
    networkProfile: { networkInterfaces: [{ id: nicId }] },
  });
}

async function collect<T>(pages: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of pages) out.push(item);
  return out;
}

/** One ARM request outside the SDK, to see what the emulator says to a malformed one. */
function rawGet(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const url = new URL(path, fixture.emu.endpoint);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", headers, ca: fixture.emu.caCertPem }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("resource groups", () => {
  it("creates, gets, checks existence and lists a group", async () => {
    const { resourceGroups } = fixture.azure.resources;
    const name = unique("Rg-Mixed.Case");
    const created = await resourceGroups.createOrUpdate(name, { location: "West Europe", tags: { owner: "ferry" } });
    expect(created).toMatchObject({
      id: `/subscriptions/${fixture.emu.subscriptionId}/resourceGroups/${name}`,
      name,
      location: "westeurope",
      tags: { owner: "ferry" },
      properties: { provisioningState: "Succeeded" },
    });

    // Names are case-insensitive; the group keeps the casing it was created with.
    const got = await resourceGroups.get(name.toUpperCase());
    expect(got.name).toBe(name);
    expect((await resourceGroups.checkExistence(name)).body).toBe(true);
    expect((await resourceGroups.checkExistence(unique("never-created"))).body).toBe(false);

    const listed = await collect(resourceGroups.list());
    expect(listed.filter((g) => g.name === name)).toHaveLength(1);

    // A second PUT with the same location updates it (tags replaced).
    const updated = await resourceGroups.createOrUpdate(name, { location: LOCATION, tags: { owner: "ops" } });
    expect(updated.tags).toEqual({ owner: "ops" });
  });

  it("refuses to move a group to another region", async () => {
    const rg = await newGroup();
    await expectRefused(
      fixture.azure.resources.resourceGroups.createOrUpdate(rg, { location: "eastus" }),
      409,
      "InvalidResourceLocation",
    );
  });

  it("answers ResourceGroupNotFound for a missing group, on the group and on resources inside it", async () => {
    const missing = unique("missing");
    const { resources, network, compute } = fixture.azure;
    const message = await expectRefused(resources.resourceGroups.get(missing), 404, "ResourceGroupNotFound");
    expect(message).toContain(missing);
    await expectRefused(network.virtualNetworks.get(missing, "vnet"), 404, "ResourceGroupNotFound");
    await expectRefused(compute.disks.get(missing, "disk"), 404, "ResourceGroupNotFound");
    await expectRefused(resources.resourceGroups.beginDeleteAndWait(missing), 404, "ResourceGroupNotFound");
  });

  it("refuses an invalid group name with InvalidResourceGroupName", async () => {
    // Passes the SDK's own pattern check; Azure refuses a name ending in a period.
    await expectRefused(
      fixture.azure.resources.resourceGroups.createOrUpdate("ends-with-period.", { location: LOCATION }),
      400,
      "InvalidResourceGroupName",
    );
    await expectRefused(
      fixture.azure.resources.resourceGroups.createOrUpdate("has space", { location: LOCATION }),
      400,
      "InvalidResourceGroupName",
    );
  });

  it("refuses an unknown location with LocationNotAvailableForResourceType", async () => {
    const name = unique("nowhere");
    const message = await expectRefused(
      fixture.azure.resources.resourceGroups.createOrUpdate(name, { location: "atlantis" }),
      400,
      "LocationNotAvailableForResourceType",
    );
    expect(message).toContain("atlantis");
    expect((await fixture.azure.resources.resourceGroups.checkExistence(name)).body).toBe(false);
  });

  it("deletes a group with everything in it, VMs first so their disks and NICs come free", async () => {
    const { resources, network, compute } = fixture.azure;
    const rg = await newGroup("doomed");
    await newVnet(rg, "vnet");
    await fixture.azure.network.networkSecurityGroups.beginCreateOrUpdateAndWait(rg, "nsg", { location: LOCATION });
    const nic = await newNic(rg, "nic", subnetRef(rg, "vnet"));
    await newVm(rg, "vm", nic.id!, [{ lun: 0, sizeGB: 1 }]);
    expect(existsSync(fixture.emu.devicePath(rg, "vm", 0))).toBe(true);
    expect((await collect(resources.resources.listByResourceGroup(rg))).map((r) => r.type).sort()).toEqual([
      "Microsoft.Compute/disks",
      "Microsoft.Compute/disks",
      "Microsoft.Compute/virtualMachines",
      "Microsoft.Network/networkInterfaces",
      "Microsoft.Network/networkSecurityGroups",
      "Microsoft.Network/virtualNetworks",
    ]);

    await resources.resourceGroups.beginDeleteAndWait(rg);

    await expectRefused(resources.resourceGroups.get(rg), 404, "ResourceGroupNotFound");
    expect((await resources.resourceGroups.checkExistence(rg)).body).toBe(false);
    expect(existsSync(fixture.emu.deviceDir(rg, "vm"))).toBe(false);
    const inGroup = (id: string | undefined) =>
      id?.toLowerCase().includes(`/resourcegroups/${rg.toLowerCase()}/`) ?? false;
    expect((await collect(resources.resources.list())).filter((r) => inGroup(r.id))).toEqual([]);
    expect((await collect(compute.disks.list())).filter((d) => inGroup(d.id))).toEqual([]);
    expect((await collect(network.networkInterfaces.listAll())).filter((n) => inGroup(n.id))).toEqual([]);
    expect((await collect(network.virtualNetworks.listAll())).filter((v) => inGroup(v.id))).toEqual([]);

    // A group of the same name starts empty: nothing of the old one comes back.
    await resources.resourceGroups.createOrUpdate(rg, { location: LOCATION });
    await expectRefused(compute.disks.get(rg, "vm-os"), 404, "ResourceNotFound");
    await expectRefused(compute.virtualMachines.get(rg, "vm"), 404, "ResourceNotFound");
    await expectRefused(network.networkInterfaces.get(rg, "nic"), 404, "ResourceNotFound");
    await expectRefused(network.virtualNetworks.get(rg, "vnet"), 404, "ResourceNotFound");
    expect(await collect(resources.resources.listByResourceGroup(rg))).toEqual([]);
  });

  it("refuses to delete a group whose disk is attached to a VM in another group", async () => {
    const { resources, compute } = fixture.azure;
    const disks = await newGroup("disks");
    const vms = await newGroup("vms");
    await newVnet(vms, "vnet");
    const nic = await newNic(vms, "nic", subnetRef(vms, "vnet"));
    const disk = await compute.disks.createOrUpdate(disks, "data", {
      location: LOCATION,
      creationData: { createOption: "Empty" },
      diskSizeGB: 1,
    });
    const vm = await newVm(vms, "vm", nic.id!);
    await compute.virtualMachines.update(vms, "vm", {
      storageProfile: { dataDisks: [{ lun: 0, createOption: "Attach", managedDisk: { id: disk.id! } }] },
    });
    await expectRefused(resources.resourceGroups.beginDeleteAndWait(disks), 409, "ResourceGroupDeletionBlocked");
    expect((await compute.disks.get(disks, "data")).managedBy).toBe(vm.id);

    // Deleting the VM's group detaches the disk, which then goes with its own group.
    await resources.resourceGroups.beginDeleteAndWait(vms);
    expect((await compute.disks.get(disks, "data")).managedBy).toBeUndefined();
    await resources.resourceGroups.beginDeleteAndWait(disks);
    expect((await resources.resourceGroups.checkExistence(disks)).body).toBe(false);
  });

  it("refuses to delete a group whose vnet or NSG is used from another group", async () => {
    const { resources, network } = fixture.azure;
    const shared = await newGroup("shared-net");
    const apps = await newGroup("apps");
    const nsg = await network.networkSecurityGroups.beginCreateOrUpdateAndWait(shared, "nsg", { location: LOCATION });
    await newVnet(shared, "vnet");
    const nic = await newNic(apps, "nic", subnetRef(shared, "vnet"));
    expect(nic.ipConfigurations?.[0]?.subnet?.id).toBe(subnetRef(shared, "vnet"));
    expect(await refusal(resources.resourceGroups.beginDeleteAndWait(shared))).toMatchObject({
      statusCode: 409,
      code: "ResourceGroupDeletionBlocked",
    });
    expect((await network.subnets.get(shared, "vnet", "default")).ipConfigurations).toHaveLength(1);

    // The NIC moves to a vnet of its own group but keeps the shared NSG: still blocked.
    await newVnet(apps, "local");
    await network.networkInterfaces.beginCreateOrUpdateAndWait(apps, "nic", {
      location: LOCATION,
      networkSecurityGroup: { id: nsg.id! },
      ipConfigurations: [{ name: "ipconfig1", subnet: { id: subnetRef(apps, "local") } }],
    });
    const message = await expectRefused(
      resources.resourceGroups.beginDeleteAndWait(shared),
      409,
      "ResourceGroupDeletionBlocked",
    );
    expect(message).toContain("nsg");
    expect((await network.networkSecurityGroups.get(shared, "nsg")).networkInterfaces?.map((n) => n.id)).toEqual([
      nic.id,
    ]);

    await resources.resourceGroups.beginDeleteAndWait(apps);
    await resources.resourceGroups.beginDeleteAndWait(shared);
    expect((await resources.resourceGroups.checkExistence(shared)).body).toBe(false);
  });
});

describe("request checks", () => {
  const path = () => `/subscriptions/${fixture.emu.subscriptionId}/resourcegroups?api-version=2025-04-01`;

  it("answers 401 AuthenticationFailed without a bearer token", async () => {
    const none = await rawGet(path(), {});
    expect(none.status).toBe(401);
    expect(none.body.error?.code).toBe("AuthenticationFailed");
    const basic = await rawGet(path(), { authorization: "Basic dXNlcjpwYXNz" });
    expect(basic.status).toBe(401);
    expect(basic.body.error?.code).toBe("AuthenticationFailed");
  });

  it("answers 400 MissingApiVersionParameter without api-version", async () => {
    const res = await rawGet(`/subscriptions/${fixture.emu.subscriptionId}/resourcegroups`, {
      authorization: "Bearer anything",
    });
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe("MissingApiVersionParameter");
    const ok = await rawGet(path(), { authorization: "Bearer anything" });
    expect(ok.status).toBe(200);
  });
});

describe("virtual networks and subnets", () => {
  it("creates a vnet with inline subnets and serves them", async () => {
    const rg = await newGroup();
    const vnet = await newVnet(rg, "vnet", {
      space: "10.1.0.0/16",
      subnets: { app: "10.1.1.0/24", data: "10.1.2.0/24" },
    });
    expect(vnet).toMatchObject({
      name: "vnet",
      location: LOCATION,
      provisioningState: "Succeeded",
      addressSpace: { addressPrefixes: ["10.1.0.0/16"] },
    });
    expect(vnet.subnets?.map((s) => [s.name, s.addressPrefix, s.id])).toEqual([
      ["app", "10.1.1.0/24", subnetRef(rg, "vnet", "app")],
      ["data", "10.1.2.0/24", subnetRef(rg, "vnet", "data")],
    ]);
    const got = await fixture.azure.network.virtualNetworks.get(rg, "vnet");
    expect(got.subnets?.map((s) => s.name)).toEqual(["app", "data"]);
  });

  it("manages subnets as child resources: create, get, list, delete", async () => {
    const { subnets } = fixture.azure.network;
    const rg = await newGroup();
    await newVnet(rg, "vnet", { subnets: {} });
    const created = await subnets.beginCreateOrUpdateAndWait(rg, "vnet", "web", { addressPrefix: "10.0.5.0/24" });
    expect(created).toMatchObject({
      id: subnetRef(rg, "vnet", "web"),
      name: "web",
      addressPrefix: "10.0.5.0/24",
      provisioningState: "Succeeded",
    });
    await subnets.beginCreateOrUpdateAndWait(rg, "vnet", "db", { addressPrefix: "10.0.6.0/24" });

    expect((await subnets.get(rg, "vnet", "web")).addressPrefix).toBe("10.0.5.0/24");
    expect((await collect(subnets.list(rg, "vnet"))).map((s) => s.name)).toEqual(["web", "db"]);
    expect((await fixture.azure.network.virtualNetworks.get(rg, "vnet")).subnets?.map((s) => s.name)).toEqual([
      "web",
      "db",
    ]);

    await subnets.beginDeleteAndWait(rg, "vnet", "web");
    await expectRefused(subnets.get(rg, "vnet", "web"), 404, "ResourceNotFound");
    expect((await collect(subnets.list(rg, "vnet"))).map((s) => s.name)).toEqual(["db"]);
    // Deleting what is not there succeeds, as in Azure.
    await subnets.beginDeleteAndWait(rg, "vnet", "web");
  });

  it("refuses a subnet outside the vnet's address space", async () => {
    const rg = await newGroup();
    await newVnet(rg, "vnet", { space: "10.2.0.0/16", subnets: {} });
    await expectRefused(
      fixture.azure.network.subnets.beginCreateOrUpdateAndWait(rg, "vnet", "out", { addressPrefix: "10.3.0.0/24" }),
      400,
      "NetcfgSubnetRangeOutsideVnet",
    );
    // Partly outside is outside too.
    await expectRefused(
      fixture.azure.network.subnets.beginCreateOrUpdateAndWait(rg, "vnet", "wide", { addressPrefix: "10.2.0.0/15" }),
      400,
      "NetcfgSubnetRangeOutsideVnet",
    );
    await expectRefused(
      newVnet(rg, "inline", { space: "10.2.0.0/16", subnets: { out: "192.168.0.0/24" } }),
      400,
      "NetcfgSubnetRangeOutsideVnet",
    );
    expect(await collect(fixture.azure.network.subnets.list(rg, "vnet"))).toEqual([]);
  });

  it("refuses overlapping subnets", async () => {
    const rg = await newGroup();
    await newVnet(rg, "vnet", { subnets: { a: "10.0.0.0/24" } });
    await expectRefused(
      fixture.azure.network.subnets.beginCreateOrUpdateAndWait(rg, "vnet", "b", { addressPrefix: "10.0.0.128/25" }),
      400,
      "NetcfgSubnetRangesOverlap",
    );
    await expectRefused(
      newVnet(rg, "inline", { subnets: { a: "10.0.0.0/23", b: "10.0.1.0/24" } }),
      400,
      "NetcfgSubnetRangesOverlap",
    );
    // Adjacent ranges do not overlap.
    await fixture.azure.network.subnets.beginCreateOrUpdateAndWait(rg, "vnet", "b", { addressPrefix: "10.0.1.0/24" });
    expect((await collect(fixture.azure.network.subnets.list(rg, "vnet"))).map((s) => s.name)).toEqual(["a", "b"]);
  });

  it("refuses to delete a subnet, or its vnet, while a NIC uses it", async () => {
    const { network } = fixture.azure;
    const rg = await newGroup();
    await newVnet(rg, "vnet");
    await newNic(rg, "nic", subnetRef(rg, "vnet"));
    await expectRefused(network.subnets.beginDeleteAndWait(rg, "vnet", "default"), 400, "InUseSubnetCannotBeDeleted");
    await expectRefused(network.virtualNetworks.beginDeleteAndWait(rg, "vnet"), 400, "InUseSubnetCannotBeDeleted");
    // Re-declaring the vnet without the subnet is a delete too.
    await expectRefused(newVnet(rg, "vnet", { subnets: { other: "10.0.1.0/24" } }), 400, "InUseSubnetCannotBeDeleted");
    expect((await network.subnets.get(rg, "vnet", "default")).ipConfigurations?.map((c) => c.id)).toEqual([
      `/subscriptions/${fixture.emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Network/networkInterfaces/nic/ipConfigurations/ipconfig1`,
    ]);

    await network.networkInterfaces.beginDeleteAndWait(rg, "nic");
    await network.subnets.beginDeleteAndWait(rg, "vnet", "default");
    await network.virtualNetworks.beginDeleteAndWait(rg, "vnet");
    await expectRefused(network.virtualNetworks.get(rg, "vnet"), 404, "ResourceNotFound");
  });
});

describe("network security groups", () => {
  it("creates an NSG, attaches it to a subnet, and refuses to delete it while in use", async () => {
    const { network } = fixture.azure;
    const rg = await newGroup();
    const nsg = await network.networkSecurityGroups.beginCreateOrUpdateAndWait(rg, "nsg", {
      location: LOCATION,
      securityRules: [
        {
          name: "ssh",
          protocol: "Tcp",
          access: "Allow",
          direction: "Inbound",
          priority: 100,
          sourceAddressPrefix: "*",
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRange: "22",
        },
      ],
    });
    expect(nsg).toMatchObject({ name: "nsg", location: LOCATION, provisioningState: "Succeeded" });
    expect(nsg.securityRules?.map((r) => [r.name, r.destinationPortRange, r.priority])).toEqual([["ssh", "22", 100]]);

    await newVnet(rg, "vnet", { subnets: {} });
    const subnet = await network.subnets.beginCreateOrUpdateAndWait(rg, "vnet", "app", {
      addressPrefix: "10.0.1.0/24",
      networkSecurityGroup: { id: nsg.id! },
    });
    expect(subnet.networkSecurityGroup?.id).toBe(nsg.id);
    expect((await network.networkSecurityGroups.get(rg, "nsg")).subnets?.map((s) => s.id)).toEqual([
      subnetRef(rg, "vnet", "app"),
    ]);

    const message = await expectRefused(
      network.networkSecurityGroups.beginDeleteAndWait(rg, "nsg"),
      400,
      "InUseNetworkSecurityGroupCannotBeDeleted",
    );
    expect(message).toContain(subnetRef(rg, "vnet", "app"));

    // Detached from the subnet, it can go.
    await network.subnets.beginCreateOrUpdateAndWait(rg, "vnet", "app", { addressPrefix: "10.0.1.0/24" });
    expect((await network.networkSecurityGroups.get(rg, "nsg")).subnets).toBeUndefined();
    await network.networkSecurityGroups.beginDeleteAndWait(rg, "nsg");
    await expectRefused(network.networkSecurityGroups.get(rg, "nsg"), 404, "ResourceNotFound");
  });

  it("refuses to attach an NSG that does not exist or lives in another region", async () => {
    const { network } = fixture.azure;
    const rg = await newGroup();
    await newVnet(rg, "vnet", { subnets: {} });
    const far = await network.networkSecurityGroups.beginCreateOrUpdateAndWait(rg, "far", { location: "northeurope" });
    await expectRefused(
      network.subnets.beginCreateOrUpdateAndWait(rg, "vnet", "app", {
        addressPrefix: "10.0.1.0/24",
        networkSecurityGroup: { id: far.id! },
      }),
      400,
      "InvalidResourceReference",
    );
    await expectRefused(
      network.subnets.beginCreateOrUpdateAndWait(rg, "vnet", "app", {
        addressPrefix: "10.0.1.0/24",
        networkSecurityGroup: { id: `${far.id}-missing` },
      }),
      400,
      "InvalidResourceReference",
    );
  });
});

describe("network interfaces", () => {
  it("allocates dynamic addresses from .4 without repeating, and keeps a static address", async () => {
    const { network } = fixture.azure;
    const rg = await newGroup();
    await newVnet(rg, "vnet", { subnets: { default: "10.0.0.0/24" } });
    const subnet = subnetRef(rg, "vnet");
    const ipOf = (nic: { ipConfigurations?: { privateIPAddress?: string }[] }) =>
      nic.ipConfigurations?.[0]?.privateIPAddress;

    const pinned = await newNic(rg, "pinned", subnet, { static: "10.0.0.5" });
    expect(pinned.ipConfigurations?.[0]).toMatchObject({
      privateIPAddress: "10.0.0.5",
      privateIPAllocationMethod: "Static",
      primary: true,
    });
    expect(pinned.macAddress).toMatch(/^00-0D-3A-[0-9A-F]{2}-[0-9A-F]{2}-[0-9A-F]{2}$/);

    const first = await newNic(rg, "first", subnet);
    const second = await newNic(rg, "second", subnet);
    const third = await newNic(rg, "third", subnet);
    expect([ipOf(first), ipOf(second), ipOf(third)]).toEqual(["10.0.0.4", "10.0.0.6", "10.0.0.7"]);
    expect(first.ipConfigurations?.[0]?.privateIPAllocationMethod).toBe("Dynamic");

    // A new PUT of a dynamic NIC keeps its address; so does a GET of the static one.
    expect(ipOf(await newNic(rg, "first", subnet))).toBe("10.0.0.4");
    expect(ipOf(await network.networkInterfaces.get(rg, "pinned"))).toBe("10.0.0.5");
    // The MAC address survives an update too.
    expect((await newNic(rg, "pinned", subnet, { static: "10.0.0.5" })).macAddress).toBe(pinned.macAddress);
  });

  it("refuses a static address outside the NIC's subnet with PrivateIPAddressNotInSubnet", async () => {
    const rg = await newGroup();
    await newVnet(rg, "vnet", { subnets: { default: "10.0.0.0/24", other: "10.0.1.0/24" } });
    // In the vnet's address space and in another of its subnets: still not this subnet's.
    const message = await expectRefused(
      newNic(rg, "outside", subnetRef(rg, "vnet"), { static: "10.0.1.20" }),
      400,
      "PrivateIPAddressNotInSubnet",
    );
    expect(message).toBe(
      "Private static IP address 10.0.1.20 does not belong to the range of subnet prefix 10.0.0.0/24.",
    );
    await expectRefused(fixture.azure.network.networkInterfaces.get(rg, "outside"), 404, "ResourceNotFound");
  });

  it("refuses each of the five addresses Azure reserves with PrivateIPAddressInReservedRange", async () => {
    const rg = await newGroup();
    // A /27 whose last address is not .255: the broadcast is the subnet's last, whatever its size.
    await newVnet(rg, "vnet", { subnets: { default: "10.0.0.32/27" } });
    const subnet = subnetRef(rg, "vnet");
    for (const ip of ["10.0.0.32", "10.0.0.33", "10.0.0.34", "10.0.0.35", "10.0.0.63"]) {
      const message = await expectRefused(
        newNic(rg, `reserved-${ip.split(".")[3]}`, subnet, { static: ip }),
        400,
        "PrivateIPAddressInReservedRange",
      );
      expect(message).toBe(
        `Private static IP address ${ip} falls within reserved IP range of subnet prefix 10.0.0.32/27.`,
      );
    }
    // The first and last addresses a NIC may hold.
    await newNic(rg, "lowest", subnet, { static: "10.0.0.36" });
    await newNic(rg, "highest", subnet, { static: "10.0.0.62" });
  });

  it("refuses an address another NIC holds with PrivateIPAddressIsAllocated, naming both configurations", async () => {
    const rg = await newGroup();
    await newVnet(rg, "vnet", { subnets: { default: "10.0.0.0/24", other: "10.0.1.0/24" } });
    const subnet = subnetRef(rg, "vnet");
    const taken = await newNic(rg, "taken", subnet, { static: "10.0.0.20" });
    const clashId = `${taken.id!.replace(/taken$/, "clash")}/ipConfigurations/ipconfig1`;
    const message = await expectRefused(
      newNic(rg, "clash", subnet, { static: "10.0.0.20" }),
      400,
      "PrivateIPAddressIsAllocated",
    );
    expect(message).toBe(
      `IP configuration ${clashId} is using the private IP address 10.0.0.20 which is already allocated to ` +
        `resource ${taken.id}/ipConfigurations/ipconfig1.`,
    );
    await expectRefused(fixture.azure.network.networkInterfaces.get(rg, "clash"), 404, "ResourceNotFound");
    // The NIC that holds it may be put again with it; a dynamic NIC never gets it.
    await newNic(rg, "taken", subnet, { static: "10.0.0.20" });
    expect((await newNic(rg, "dynamic", subnet)).ipConfigurations?.[0]?.privateIPAddress).toBe("10.0.0.4");
  });

  it("refuses a NIC whose subnet's vnet is in another region as Azure does: not found", async () => {
    const rg = await newGroup();
    await newVnet(rg, "vnet");
    const far = await refusal(newNic(rg, "far", subnetRef(rg, "vnet"), undefined, "northeurope"));
    const nowhere = await refusal(newNic(rg, "nowhere", subnetRef(rg, "vnet", "missing")));
    const nicId = (name: string) =>
      `/subscriptions/${fixture.emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Network/` +
      `networkInterfaces/${name}`;
    const notFound = (subnet: string, nic: string) =>
      `Resource ${subnet} referenced by resource ${nicId(nic)} was not found. Please make sure that the ` +
      "referenced resource exists, and that both resources are in the same region.";
    expect(far).toEqual({
      statusCode: 400,
      code: "InvalidResourceReference",
      message: notFound(subnetRef(rg, "vnet"), "far"),
    });
    expect(nowhere).toEqual({
      statusCode: 400,
      code: "InvalidResourceReference",
      message: notFound(subnetRef(rg, "vnet", "missing"), "nowhere"),
    });
    await expectRefused(fixture.azure.network.networkInterfaces.get(rg, "far"), 404, "ResourceNotFound");
  });

  it("answers CheckIPAddressAvailability: free, held (with free ones from there up) or reserved", async () => {
    const { network } = fixture.azure;
    const rg = await newGroup();
    await newVnet(rg, "vnet", { subnets: { default: "10.0.0.0/24" } });
    const subnet = subnetRef(rg, "vnet");
    await newNic(rg, "a", subnet, { static: "10.0.0.10" });
    await newNic(rg, "b", subnet, { static: "10.0.0.12" });
    const check = (ip: string) => network.virtualNetworks.checkIPAddressAvailability(rg, "vnet", ip);
    expect(await check("10.0.0.11")).toEqual({ available: true });
    expect(await check("10.0.0.10")).toEqual({
      available: false,
      availableIPAddresses: ["10.0.0.11", "10.0.0.13", "10.0.0.14", "10.0.0.15", "10.0.0.16"],
    });
    expect(await check("10.0.0.255")).toMatchObject({ available: false, isPlatformReserved: true });
    expect(await check("10.0.5.5")).toEqual({ available: false });
  });

  it("refuses to delete a NIC attached to a VM with NicInUse, and deletes it once the VM is gone", async () => {
    const { network, compute } = fixture.azure;
    const rg = await newGroup();
    await newVnet(rg, "vnet");
    const nic = await newNic(rg, "nic", subnetRef(rg, "vnet"));
    const vm = await newVm(rg, "vm", nic.id!);
    expect((await network.networkInterfaces.get(rg, "nic")).virtualMachine?.id).toBe(vm.id);

    const message = await expectRefused(network.networkInterfaces.beginDeleteAndWait(rg, "nic"), 400, "NicInUse");
    expect(message).toContain(vm.id!);
    await expectRefused(network.subnets.beginDeleteAndWait(rg, "vnet", "default"), 400, "InUseSubnetCannotBeDeleted");

    await compute.virtualMachines.delete(rg, "vm");
    expect((await network.networkInterfaces.get(rg, "nic")).virtualMachine).toBeUndefined();
    await network.networkInterfaces.beginDeleteAndWait(rg, "nic");
    await expectRefused(network.networkInterfaces.get(rg, "nic"), 404, "ResourceNotFound");
  });
});
