import { randomUUID } from "node:crypto";
import { Agent } from "node:https";
import type { OperationSpec } from "@azure/core-client";
import { beforeAll, describe, expect, it } from "vitest";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm } from "../../testing";
import { useEmulator } from "../helpers/emulator";
import {
  at,
  expectConforms,
  expectSchema,
  OPERATION_STATUS,
  send,
  type ConformsOptions,
  type Exchange,
} from "./exchange";
import { apiVersionOf, loadSpecs, specOf, type Specs } from "./spec";

// Every ARM operation of emulator/README.md's tables, driven over HTTPS and checked against the
// specification the SDK packages carry: the status code it documents, the body against its schema
// (required present, types right, nothing it does not define), long-running operations' headers and
// status bodies. The requests use the api-version of the spec they are checked against.

const fx = useEmulator();
const REGION = "westeurope";
let specs: Specs;
let agent: Agent;

beforeAll(() => {
  specs = loadSpecs();
  agent = new Agent({ ca: fx.emu.caCertPem, keepAlive: true });
});

const arm = (path: string) => `${fx.emu.endpoint}/subscriptions/${fx.emu.subscriptionId}${path}`;
const group = () => `conf-${randomUUID().slice(0, 8)}`;

/** Sends the operation's request with its spec's api-version and checks the answer against the spec. */
async function conform(
  operationId: string,
  call: (s: Specs) => unknown,
  method: string,
  path: string,
  body?: unknown,
  options: ConformsOptions = {},
): Promise<{ ex: Exchange; spec: OperationSpec }> {
  const spec = await specOf(call, specs);
  expect(spec.httpMethod).toBe(method);
  const ex = await send(agent, method, arm(path), { apiVersion: apiVersionOf(spec), body });
  expectConforms(operationId, spec, ex, options);
  await expectLroConforms(ex, spec);
  return { ex, spec };
}

/**
 * ARM's asynchronous-operation contract: a 202 says where to poll (`Location`); `Azure-AsyncOperation`
 * answers a status body until a terminal status; a `Location` answers 202 while running, then the result.
 */
async function expectLroConforms(ex: Exchange, spec: OperationSpec): Promise<void> {
  if (ex.status === 202) expect(ex.headers.location, "a 202 carries Location").toBeDefined();
  const statusUrl = ex.headers["azure-asyncoperation"];
  if (statusUrl) {
    for (let polls = 0; ; polls++) {
      const status = await send(agent, "GET", statusUrl);
      expect(status.status).toBe(200);
      expectSchema(status.body, OPERATION_STATUS, spec);
      const s = at(status.body, "$.status");
      expect(["InProgress", "Succeeded", "Failed", "Canceled"]).toContain(s);
      if (s !== "InProgress") break;
      expect(polls).toBeLessThan(500);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  if (ex.status === 202 && spec.httpMethod === "POST") {
    const result = await send(agent, "GET", ex.headers.location!);
    expect([200, 204]).toContain(result.status);
    const mapper = spec.responses[200]?.bodyMapper;
    if (mapper) expectSchema(result.body, mapper, spec);
    else expect(result.text).toBe("");
  }
}

const TRACKED = ["$.id", "$.name", "$.type", "$.location"];
const PROVISIONED = [...TRACKED, "$.properties.provisioningState"];

async function network(rg: string) {
  await createGroup(fx.azure, rg, REGION);
  const subnetId = await createSubnet(fx.azure, rg, REGION, "vnet");
  return { subnetId };
}

async function vmEnv(rg: string) {
  const { subnetId } = await network(rg);
  const nicId = await createNic(fx.azure, rg, REGION, "nic", subnetId);
  const osDiskId = await createEmptyDisk(fx.azure, rg, REGION, "os", 1, { osType: "Linux" });
  await createVm(fx.azure, rg, REGION, "vm", { osDiskId, nicId });
  return { subnetId, nicId, osDiskId };
}

describe("Microsoft.Resources", () => {
  it("ResourceGroups_CreateOrUpdate: 201 new, 200 existing, a ResourceGroup", async () => {
    const rg = group();
    const call = (s: Specs) => s.resources.resourceGroups.createOrUpdate(rg, { location: REGION });
    const options = { returned: ["$.id", "$.name", "$.type", "$.location", "$.properties.provisioningState"] };
    const created = await conform(
      "ResourceGroups_CreateOrUpdate",
      call,
      "PUT",
      `/resourcegroups/${rg}`,
      { location: REGION },
      options,
    );
    expect(created.ex.status).toBe(201);
    const again = await conform(
      "ResourceGroups_CreateOrUpdate",
      call,
      "PUT",
      `/resourcegroups/${rg}`,
      { location: REGION },
      options,
    );
    expect(again.ex.status).toBe(200);
  });

  it("ResourceGroups_Get, _List, _CheckExistence", async () => {
    const rg = group();
    await createGroup(fx.azure, rg, REGION);
    await conform("ResourceGroups_Get", (s) => s.resources.resourceGroups.get(rg), "GET", `/resourcegroups/${rg}`);
    await conform("ResourceGroups_List", (s) => s.resources.resourceGroups.list(), "GET", "/resourcegroups");
    const head = (s: Specs) => s.resources.resourceGroups.checkExistence(rg);
    expect((await conform("ResourceGroups_CheckExistence", head, "HEAD", `/resourcegroups/${rg}`)).ex.status).toBe(204);
    expect((await conform("ResourceGroups_CheckExistence", head, "HEAD", `/resourcegroups/${group()}`)).ex.status).toBe(
      404,
    );
  });

  it("Resources_ListByResourceGroup, Resources_List", async () => {
    const rg = group();
    await network(rg);
    const byGroup = await conform(
      "Resources_ListByResourceGroup",
      (s) => s.resources.resources.listByResourceGroup(rg),
      "GET",
      `/resourcegroups/${rg}/resources`,
    );
    expect(at(byGroup.ex.body, "$.value")).toHaveLength(1);
    await conform("Resources_List", (s) => s.resources.resources.list(), "GET", "/resources");
  });

  it("ResourceGroups_Delete", async () => {
    const rg = group();
    await createGroup(fx.azure, rg, REGION);
    await conform(
      "ResourceGroups_Delete",
      (s) => s.resources.resourceGroups.beginDelete(rg),
      "DELETE",
      `/resourcegroups/${rg}`,
    );
  });
});

describe("Microsoft.Network", () => {
  const N = "/providers/Microsoft.Network";

  it("VirtualNetworks_CreateOrUpdate, _Get, _List, _ListAll, _Delete", async () => {
    const rg = group();
    await createGroup(fx.azure, rg, REGION);
    const path = `/resourceGroups/${rg}${N}/virtualNetworks/vnet`;
    const body = {
      location: REGION,
      properties: {
        addressSpace: { addressPrefixes: ["10.0.0.0/16"] },
        subnets: [{ name: "default", properties: { addressPrefix: "10.0.1.0/24" } }],
      },
    };
    const returned = { returned: [...PROVISIONED, "$.etag", "$.properties.resourceGuid"] };
    const put = (s: Specs) => s.network.virtualNetworks.beginCreateOrUpdate(rg, "vnet", {});
    expect((await conform("VirtualNetworks_CreateOrUpdate", put, "PUT", path, body, returned)).ex.status).toBe(201);
    expect((await conform("VirtualNetworks_CreateOrUpdate", put, "PUT", path, body, returned)).ex.status).toBe(200);
    await conform(
      "VirtualNetworks_Get",
      (s) => s.network.virtualNetworks.get(rg, "vnet"),
      "GET",
      path,
      undefined,
      returned,
    );
    await conform(
      "VirtualNetworks_List",
      (s) => s.network.virtualNetworks.list(rg),
      "GET",
      `/resourceGroups/${rg}${N}/virtualNetworks`,
    );
    await conform("VirtualNetworks_ListAll", (s) => s.network.virtualNetworks.listAll(), "GET", `${N}/virtualNetworks`);
    await conform("VirtualNetworks_Delete", (s) => s.network.virtualNetworks.beginDelete(rg, "vnet"), "DELETE", path);
  });

  it("VirtualNetworks_CheckIPAddressAvailability, free and held", async () => {
    const rg = group();
    const { subnetId } = await network(rg);
    await createNic(fx.azure, rg, REGION, "nic", subnetId);
    const check = (s: Specs) => s.network.virtualNetworks.checkIPAddressAvailability(rg, "vnet", "10.0.1.4");
    const path = (ip: string) =>
      `/resourceGroups/${rg}${N}/virtualNetworks/vnet/CheckIPAddressAvailability?ipAddress=${ip}`;
    const held = await conform("VirtualNetworks_CheckIPAddressAvailability", check, "GET", path("10.0.1.4"));
    expect(at(held.ex.body, "$.available")).toBe(false);
    const free = await conform("VirtualNetworks_CheckIPAddressAvailability", check, "GET", path("10.0.1.9"));
    expect(at(free.ex.body, "$.available")).toBe(true);
  });

  it("Subnets_CreateOrUpdate, _Get, _List, _Delete", async () => {
    const rg = group();
    await network(rg);
    const path = `/resourceGroups/${rg}${N}/virtualNetworks/vnet/subnets/second`;
    const returned = { returned: ["$.id", "$.name", "$.etag", "$.properties.provisioningState"] };
    const put = (s: Specs) => s.network.subnets.beginCreateOrUpdate(rg, "vnet", "second", {});
    const body = { properties: { addressPrefix: "10.0.2.0/24" } };
    expect((await conform("Subnets_CreateOrUpdate", put, "PUT", path, body, returned)).ex.status).toBe(201);
    await conform("Subnets_Get", (s) => s.network.subnets.get(rg, "vnet", "second"), "GET", path, undefined, returned);
    const list = `/resourceGroups/${rg}${N}/virtualNetworks/vnet/subnets`;
    await conform("Subnets_List", (s) => s.network.subnets.list(rg, "vnet"), "GET", list);
    await conform("Subnets_Delete", (s) => s.network.subnets.beginDelete(rg, "vnet", "second"), "DELETE", path);
  });

  it("NetworkSecurityGroups_CreateOrUpdate, _Get, _List, _ListAll, _Delete", async () => {
    const rg = group();
    await createGroup(fx.azure, rg, REGION);
    const path = `/resourceGroups/${rg}${N}/networkSecurityGroups/nsg`;
    const rule = {
      name: "ssh",
      properties: {
        protocol: "Tcp",
        sourcePortRange: "*",
        destinationPortRange: "22",
        sourceAddressPrefix: "*",
        destinationAddressPrefix: "*",
        access: "Allow",
        priority: 100,
        direction: "Inbound",
      },
    };
    const body = { location: REGION, properties: { securityRules: [rule] } };
    const returned = { returned: [...PROVISIONED, "$.etag", "$.properties.resourceGuid"] };
    const put = (s: Specs) => s.network.networkSecurityGroups.beginCreateOrUpdate(rg, "nsg", {});
    expect((await conform("NetworkSecurityGroups_CreateOrUpdate", put, "PUT", path, body, returned)).ex.status).toBe(
      201,
    );
    await conform(
      "NetworkSecurityGroups_Get",
      (s) => s.network.networkSecurityGroups.get(rg, "nsg"),
      "GET",
      path,
      undefined,
      returned,
    );
    const list = `/resourceGroups/${rg}${N}/networkSecurityGroups`;
    await conform("NetworkSecurityGroups_List", (s) => s.network.networkSecurityGroups.list(rg), "GET", list);
    const all = (s: Specs) => s.network.networkSecurityGroups.listAll();
    await conform("NetworkSecurityGroups_ListAll", all, "GET", `${N}/networkSecurityGroups`);
    const del = (s: Specs) => s.network.networkSecurityGroups.beginDelete(rg, "nsg");
    await conform("NetworkSecurityGroups_Delete", del, "DELETE", path);
  });

  it("NetworkInterfaces_CreateOrUpdate, _Get, _List, _ListAll, _Delete", async () => {
    const rg = group();
    const { subnetId } = await network(rg);
    const path = `/resourceGroups/${rg}${N}/networkInterfaces/nic`;
    const body = {
      location: REGION,
      properties: {
        ipConfigurations: [
          { name: "ipconfig1", properties: { subnet: { id: subnetId }, privateIPAllocationMethod: "Dynamic" } },
        ],
      },
    };
    const returned = { returned: [...PROVISIONED, "$.etag", "$.properties.resourceGuid"] };
    const put = (s: Specs) => s.network.networkInterfaces.beginCreateOrUpdate(rg, "nic", {});
    expect((await conform("NetworkInterfaces_CreateOrUpdate", put, "PUT", path, body, returned)).ex.status).toBe(201);
    const got = await conform(
      "NetworkInterfaces_Get",
      (s) => s.network.networkInterfaces.get(rg, "nic"),
      "GET",
      path,
      undefined,
      returned,
    );
    expect(at(got.ex.body, "$.properties.ipConfigurations")).toHaveLength(1);
    const list = `/resourceGroups/${rg}${N}/networkInterfaces`;
    await conform("NetworkInterfaces_List", (s) => s.network.networkInterfaces.list(rg), "GET", list);
    await conform(
      "NetworkInterfaces_ListAll",
      (s) => s.network.networkInterfaces.listAll(),
      "GET",
      `${N}/networkInterfaces`,
    );
    await conform(
      "NetworkInterfaces_Delete",
      (s) => s.network.networkInterfaces.beginDelete(rg, "nic"),
      "DELETE",
      path,
    );
  });
});

describe("Microsoft.Compute: disks and snapshots", () => {
  const C = "/providers/Microsoft.Compute";
  const DISK_RETURNED = [...PROVISIONED, "$.properties.timeCreated", "$.properties.uniqueId", "$.properties.diskState"];

  it("Disks_CreateOrUpdate, _Update, _Get, _ListByResourceGroup, _List, _Delete", async () => {
    const rg = group();
    await createGroup(fx.azure, rg, REGION);
    const path = `/resourceGroups/${rg}${C}/disks/d1`;
    const body = { location: REGION, properties: { creationData: { createOption: "Empty" }, diskSizeGB: 1 } };
    const put = (s: Specs) => s.compute.disks.beginCreateOrUpdate(rg, "d1", { location: REGION });
    await conform("Disks_CreateOrUpdate", put, "PUT", path, body, { returned: PROVISIONED });
    const patch = (s: Specs) => s.compute.disks.beginUpdate(rg, "d1", {});
    await conform("Disks_Update", patch, "PATCH", path, { properties: { diskSizeGB: 2 } }, { returned: DISK_RETURNED });
    await conform("Disks_Get", (s) => s.compute.disks.get(rg, "d1"), "GET", path, undefined, {
      returned: DISK_RETURNED,
    });
    const list = `/resourceGroups/${rg}${C}/disks`;
    await conform("Disks_ListByResourceGroup", (s) => s.compute.disks.listByResourceGroup(rg), "GET", list);
    await conform("Disks_List", (s) => s.compute.disks.list(), "GET", `${C}/disks`);
    await conform("Disks_Delete", (s) => s.compute.disks.beginDelete(rg, "d1"), "DELETE", path);
  });

  it("Disks_GrantAccess, _RevokeAccess: the SAS comes through the operation's Location", async () => {
    const rg = group();
    await createGroup(fx.azure, rg, REGION);
    await createEmptyDisk(fx.azure, rg, REGION, "d1");
    const path = `/resourceGroups/${rg}${C}/disks/d1`;
    const grant = (s: Specs) => s.compute.disks.beginGrantAccess(rg, "d1", { access: "Read", durationInSeconds: 60 });
    const granted = await conform("Disks_GrantAccess", grant, "POST", `${path}/beginGetAccess`, {
      access: "Read",
      durationInSeconds: 60,
    });
    expect(granted.ex.status).toBe(202);
    const result = await send(agent, "GET", granted.ex.headers.location!);
    expect(at(result.body, "$.accessSAS")).toMatch(/^https:/);
    const revoke = (s: Specs) => s.compute.disks.beginRevokeAccess(rg, "d1");
    await conform("Disks_RevokeAccess", revoke, "POST", `${path}/endGetAccess`);
  });

  it("Snapshots_CreateOrUpdate (Copy, incremental), _Update, _Get, _ListByResourceGroup, _List, _Delete", async () => {
    const rg = group();
    await createGroup(fx.azure, rg, REGION);
    const diskId = await createEmptyDisk(fx.azure, rg, REGION, "d1");
    const path = `/resourceGroups/${rg}${C}/snapshots/s1`;
    const body = {
      location: REGION,
      properties: { creationData: { createOption: "Copy", sourceResourceId: diskId }, incremental: true },
    };
    const returned = {
      returned: [
        ...PROVISIONED,
        "$.properties.timeCreated",
        "$.properties.uniqueId",
        "$.properties.incrementalSnapshotFamilyId",
      ],
    };
    const put = (s: Specs) => s.compute.snapshots.beginCreateOrUpdate(rg, "s1", { location: REGION });
    await conform("Snapshots_CreateOrUpdate", put, "PUT", path, body, { returned: PROVISIONED });
    const patch = (s: Specs) => s.compute.snapshots.beginUpdate(rg, "s1", {});
    await conform("Snapshots_Update", patch, "PATCH", path, { tags: { purpose: "conformance" } }, returned);
    await conform("Snapshots_Get", (s) => s.compute.snapshots.get(rg, "s1"), "GET", path, undefined, returned);
    const list = `/resourceGroups/${rg}${C}/snapshots`;
    await conform("Snapshots_ListByResourceGroup", (s) => s.compute.snapshots.listByResourceGroup(rg), "GET", list);
    await conform("Snapshots_List", (s) => s.compute.snapshots.list(), "GET", `${C}/snapshots`);
    await conform("Snapshots_Delete", (s) => s.compute.snapshots.beginDelete(rg, "s1"), "DELETE", path);
  });

  it("Snapshots_CreateOrUpdate (CopyStart to another region), _GrantAccess, _RevokeAccess", async () => {
    const rg = group();
    await createGroup(fx.azure, rg, REGION);
    const diskId = await createEmptyDisk(fx.azure, rg, REGION, "d1");
    const source = await fx.azure.compute.snapshots.createOrUpdate(
      rg,
      "s1",
      { location: REGION, creationData: { createOption: "Copy", sourceResourceId: diskId }, incremental: true },
      { updateIntervalInMs: 10 },
    );
    const path = `/resourceGroups/${rg}${C}/snapshots/s2`;
    const body = {
      location: "northeurope",
      properties: { creationData: { createOption: "CopyStart", sourceResourceId: source.id }, incremental: true },
    };
    const put = (s: Specs) => s.compute.snapshots.beginCreateOrUpdate(rg, "s2", { location: REGION });
    await conform("Snapshots_CreateOrUpdate", put, "PUT", path, body, { returned: PROVISIONED });
    const snap = `/resourceGroups/${rg}${C}/snapshots/s1`;
    const grant = (s: Specs) =>
      s.compute.snapshots.beginGrantAccess(rg, "s1", { access: "Read", durationInSeconds: 60 });
    await conform("Snapshots_GrantAccess", grant, "POST", `${snap}/beginGetAccess`, {
      access: "Read",
      durationInSeconds: 60,
    });
    const revoke = (s: Specs) => s.compute.snapshots.beginRevokeAccess(rg, "s1");
    await conform("Snapshots_RevokeAccess", revoke, "POST", `${snap}/endGetAccess`);
  });
});

describe("Microsoft.Compute: virtual machines", () => {
  const C = "/providers/Microsoft.Compute";
  const VM_RETURNED = [...PROVISIONED, "$.properties.vmId", "$.properties.timeCreated", "$.etag"];

  it("VirtualMachines_CreateOrUpdate: 201 for a new VM, 200 for an existing one", async () => {
    const rg = group();
    const { subnetId } = await network(rg);
    const nicId = await createNic(fx.azure, rg, REGION, "nic", subnetId);
    const osDiskId = await createEmptyDisk(fx.azure, rg, REGION, "os", 1, { osType: "Linux" });
    const body = {
      location: REGION,
      properties: {
        hardwareProfile: { vmSize: "Standard_D2s_v5" },
        storageProfile: { osDisk: { createOption: "Attach", osType: "Linux", managedDisk: { id: osDiskId } } },
        networkProfile: { networkInterfaces: [{ id: nicId }] },
      },
    };
    const path = `/resourceGroups/${rg}${C}/virtualMachines/vm`;
    const put = (s: Specs) => s.compute.virtualMachines.beginCreateOrUpdate(rg, "vm", { location: REGION });
    const created = await conform("VirtualMachines_CreateOrUpdate", put, "PUT", path, body, { returned: VM_RETURNED });
    expect(created.ex.status).toBe(201);
    const again = await conform("VirtualMachines_CreateOrUpdate", put, "PUT", path, body, { returned: VM_RETURNED });
    expect(again.ex.status).toBe(200);
  });

  it("VirtualMachines_Update, _Get (with instance view), _InstanceView, _List, _ListAll", async () => {
    const rg = group();
    await vmEnv(rg);
    const path = `/resourceGroups/${rg}${C}/virtualMachines/vm`;
    const patch = (s: Specs) => s.compute.virtualMachines.beginUpdate(rg, "vm", {});
    await conform(
      "VirtualMachines_Update",
      patch,
      "PATCH",
      path,
      { tags: { purpose: "conformance" } },
      { returned: VM_RETURNED },
    );
    await conform("VirtualMachines_Get", (s) => s.compute.virtualMachines.get(rg, "vm"), "GET", path, undefined, {
      returned: VM_RETURNED,
    });
    const expanded = await conform(
      "VirtualMachines_Get",
      (s) => s.compute.virtualMachines.get(rg, "vm", { expand: "instanceView" }),
      "GET",
      `${path}?$expand=instanceView`,
      undefined,
      { returned: [...VM_RETURNED, "$.properties.instanceView.statuses"] },
    );
    expect(at(expanded.ex.body, "$.properties.instanceView.statuses")).not.toHaveLength(0);
    const view = await conform(
      "VirtualMachines_InstanceView",
      (s) => s.compute.virtualMachines.instanceView(rg, "vm"),
      "GET",
      `${path}/instanceView`,
      undefined,
      {
        returned: ["$.statuses", "$.vmAgent.statuses"],
      },
    );
    expect(at(view.ex.body, "$.statuses")).not.toHaveLength(0);
    await conform(
      "VirtualMachines_List",
      (s) => s.compute.virtualMachines.list(rg),
      "GET",
      `/resourceGroups/${rg}${C}/virtualMachines`,
    );
    await conform("VirtualMachines_ListAll", (s) => s.compute.virtualMachines.listAll(), "GET", `${C}/virtualMachines`);
  });

  it("VirtualMachines_AttachDetachDataDisks: 202, the storage profile through Location", async () => {
    const rg = group();
    await vmEnv(rg);
    const diskId = await createEmptyDisk(fx.azure, rg, REGION, "data", 1);
    const path = `/resourceGroups/${rg}${C}/virtualMachines/vm/attachDetachDataDisks`;
    const call = (s: Specs) => s.compute.virtualMachines.beginAttachDetachDataDisks(rg, "vm", {});
    const attached = await conform("VirtualMachines_AttachDetachDataDisks", call, "POST", path, {
      dataDisksToAttach: [{ diskId, lun: 1 }],
    });
    expect(attached.ex.status).toBe(202);
    const result = await send(agent, "GET", attached.ex.headers.location!);
    expect(at(result.body, "$.dataDisks")).toMatchObject([{ lun: 1, managedDisk: { id: diskId } }]);
    await conform("VirtualMachines_AttachDetachDataDisks", call, "POST", path, { dataDisksToDetach: [{ diskId }] });
  });

  it("VirtualMachines_PowerOff, _Start, _Restart, _Deallocate, _Delete", async () => {
    const rg = group();
    await vmEnv(rg);
    const path = `/resourceGroups/${rg}${C}/virtualMachines/vm`;
    const vms = (s: Specs) => s.compute.virtualMachines;
    await conform("VirtualMachines_PowerOff", (s) => vms(s).beginPowerOff(rg, "vm"), "POST", `${path}/powerOff`);
    await conform("VirtualMachines_Start", (s) => vms(s).beginStart(rg, "vm"), "POST", `${path}/start`);
    await conform("VirtualMachines_Restart", (s) => vms(s).beginRestart(rg, "vm"), "POST", `${path}/restart`);
    await conform("VirtualMachines_Deallocate", (s) => vms(s).beginDeallocate(rg, "vm"), "POST", `${path}/deallocate`);
    await conform("VirtualMachines_Delete", (s) => vms(s).beginDelete(rg, "vm"), "DELETE", path);
  });

  it("Usage_List, VirtualMachineSizes_List", async () => {
    const loc = `${C}/locations/${REGION}`;
    const usage = await conform("Usage_List", (s) => s.compute.usageOperations.list(REGION), "GET", `${loc}/usages`);
    expect(at(usage.ex.body, "$.value")).not.toHaveLength(0);
    const sizes = await conform(
      "VirtualMachineSizes_List",
      (s) => s.compute.virtualMachineSizes.list(REGION),
      "GET",
      `${loc}/vmSizes`,
    );
    expect(at(sizes.ex.body, "$.value")).not.toHaveLength(0);
  });

  it("ResourceSkus_List", async () => {
    const filter = encodeURIComponent(`location eq '${REGION}'`);
    const skus = await conform(
      "ResourceSkus_List",
      (s) => s.compute.resourceSkus.list({ filter: `location eq '${REGION}'` }),
      "GET",
      `${C}/skus?$filter=${filter}`,
    );
    expect(at(skus.ex.body, "$.value")).not.toHaveLength(0);
  });
});

describe("Microsoft.Network: Private DNS", () => {
  const N = "/providers/Microsoft.Network";

  it("PrivateZones_CreateOrUpdate, _Update, _Get, _List, _ListByResourceGroup", async () => {
    const rg = group();
    await createGroup(fx.azure, rg, REGION);
    const path = `/resourceGroups/${rg}${N}/privateDnsZones/app.internal`;
    const returned = { returned: [...TRACKED, "$.etag", "$.properties.provisioningState"] };
    const put = (s: Specs) => s.privateDns.privateZones.beginCreateOrUpdate(rg, "app.internal", {});
    const created = await conform("PrivateZones_CreateOrUpdate", put, "PUT", path, { location: "global" }, returned);
    expect(created.ex.status).toBe(201);
    const patch = (s: Specs) => s.privateDns.privateZones.beginUpdate(rg, "app.internal", {});
    await conform("PrivateZones_Update", patch, "PATCH", path, { tags: { tier: "dns" } });
    const got = await conform(
      "PrivateZones_Get",
      (s) => s.privateDns.privateZones.get(rg, "app.internal"),
      "GET",
      path,
      undefined,
      returned,
    );
    expect(at(got.ex.body, "$.tags")).toEqual({ tier: "dns" });
    await conform(
      "PrivateZones_ListByResourceGroup",
      (s) => s.privateDns.privateZones.listByResourceGroup(rg),
      "GET",
      `/resourceGroups/${rg}${N}/privateDnsZones`,
    );
    await conform("PrivateZones_List", (s) => s.privateDns.privateZones.list(), "GET", `${N}/privateDnsZones`);
  });

  it("RecordSets_CreateOrUpdate, _Update, _Get, _ListByType, _List, _Delete (A records)", async () => {
    const rg = group();
    await createGroup(fx.azure, rg, REGION);
    const zone = `/resourceGroups/${rg}${N}/privateDnsZones/app.internal`;
    await conform(
      "PrivateZones_CreateOrUpdate",
      (s) => s.privateDns.privateZones.beginCreateOrUpdate(rg, "app.internal", {}),
      "PUT",
      zone,
      { location: "global" },
    );
    const path = `${zone}/A/web`;
    const body = { properties: { ttl: 60, aRecords: [{ ipv4Address: "10.1.0.4" }] } };
    const returned = { returned: ["$.id", "$.name", "$.type", "$.etag", "$.properties.fqdn"] };
    const put = (s: Specs) => s.privateDns.recordSets.createOrUpdate(rg, "app.internal", "A", "web", {});
    expect((await conform("RecordSets_CreateOrUpdate", put, "PUT", path, body, returned)).ex.status).toBe(201);
    expect((await conform("RecordSets_CreateOrUpdate", put, "PUT", path, body, returned)).ex.status).toBe(200);
    await conform(
      "RecordSets_Update",
      (s) => s.privateDns.recordSets.update(rg, "app.internal", "A", "web", {}),
      "PATCH",
      path,
      { properties: { aRecords: [{ ipv4Address: "10.1.0.5" }] } },
    );
    const got = await conform(
      "RecordSets_Get",
      (s) => s.privateDns.recordSets.get(rg, "app.internal", "A", "web"),
      "GET",
      path,
      undefined,
      returned,
    );
    expect(at(got.ex.body, "$.properties.aRecords")).toEqual([{ ipv4Address: "10.1.0.5" }]);
    await conform(
      "RecordSets_ListByType",
      (s) => s.privateDns.recordSets.listByType(rg, "app.internal", "A"),
      "GET",
      `${zone}/A`,
    );
    await conform("RecordSets_List", (s) => s.privateDns.recordSets.list(rg, "app.internal"), "GET", `${zone}/ALL`);
    await conform(
      "RecordSets_Delete",
      (s) => s.privateDns.recordSets.delete(rg, "app.internal", "A", "web"),
      "DELETE",
      path,
    );
  });

  it("VirtualNetworkLinks_CreateOrUpdate, _Get, _List, _Delete, then PrivateZones_Delete", async () => {
    const rg = group();
    await network(rg);
    const zone = `/resourceGroups/${rg}${N}/privateDnsZones/app.internal`;
    await conform(
      "PrivateZones_CreateOrUpdate",
      (s) => s.privateDns.privateZones.beginCreateOrUpdate(rg, "app.internal", {}),
      "PUT",
      zone,
      { location: "global" },
    );
    const vnetId = `/subscriptions/${fx.emu.subscriptionId}/resourceGroups/${rg}${N}/virtualNetworks/vnet`;
    const path = `${zone}/virtualNetworkLinks/link`;
    const body = { location: "global", properties: { virtualNetwork: { id: vnetId }, registrationEnabled: false } };
    const returned = { returned: [...TRACKED, "$.etag", "$.properties.provisioningState"] };
    const put = (s: Specs) => s.privateDns.virtualNetworkLinks.beginCreateOrUpdate(rg, "app.internal", "link", {});
    expect((await conform("VirtualNetworkLinks_CreateOrUpdate", put, "PUT", path, body, returned)).ex.status).toBe(201);
    await conform(
      "VirtualNetworkLinks_Get",
      (s) => s.privateDns.virtualNetworkLinks.get(rg, "app.internal", "link"),
      "GET",
      path,
      undefined,
      returned,
    );
    await conform(
      "VirtualNetworkLinks_List",
      (s) => s.privateDns.virtualNetworkLinks.list(rg, "app.internal"),
      "GET",
      `${zone}/virtualNetworkLinks`,
    );
    await conform(
      "VirtualNetworkLinks_Delete",
      (s) => s.privateDns.virtualNetworkLinks.beginDelete(rg, "app.internal", "link"),
      "DELETE",
      path,
    );
    await conform(
      "PrivateZones_Delete",
      (s) => s.privateDns.privateZones.beginDelete(rg, "app.internal"),
      "DELETE",
      zone,
    );
  });
});
