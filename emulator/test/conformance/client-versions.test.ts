import { Agent } from "node:https";
import { ComputeManagementClient } from "@azure/arm-compute";
import { NetworkManagementClient } from "@azure/arm-network";
import { PrivateDnsManagementClient } from "@azure/arm-privatedns";
import { ResourceManagementClient } from "@azure/arm-resources";
import type { TokenCredential } from "@azure/core-auth";
import { createHttpHeaders, type HttpClient } from "@azure/core-rest-pipeline";
import { ComputeManagementClient as AutoRestComputeClient } from "azure-arm-compute-autorest";
import { PrivateDnsManagementClient as AutoRestPrivateDnsClient } from "azure-arm-privatedns-autorest";
import { beforeAll, describe, expect, it } from "vitest";
import { servedApiVersions } from "../../arm/api-versions";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm } from "../../testing";
import { useEmulator } from "../helpers/emulator";
import { send } from "./exchange";

// The api-versions the installed SDK clients send, read from the clients themselves (each operation sent once to
// an HTTP client that keeps the request and answers 404): every one is served, and answered with what ferry's
// modular @azure/arm-compute deserializes. emulator/arm/api-versions.ts lists them with their sources.

const fx = useEmulator();
const REGION = "westeurope";
const RG = "clientversions";

/** An operation group (the part of an operation id before `_`), the path it addresses, a call that sends it. */
interface Sent {
  group: string;
  client: string;
  call: () => unknown;
}

const token: TokenCredential = {
  getToken: () => Promise.resolve({ token: "t", expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/** The api-version of every request the installed clients send for the operation groups the emulator serves. */
async function sentVersions(): Promise<{ group: string; client: string; version: string }[]> {
  const kept: { url?: URL } = {};
  const httpClient: HttpClient = {
    sendRequest: (request) => {
      kept.url = new URL(request.url);
      return Promise.resolve({
        request,
        status: 404,
        headers: createHttpHeaders({ "content-type": "application/json" }),
        bodyAsText: '{"error":{"code":"NotFound","message":"kept, not sent"}}',
      });
    },
  };
  const endpoint = "https://127.0.0.1:1";
  const scopes = [`${endpoint}/.default`];
  const retryOptions = { maxRetries: 0 };
  const modular = new ComputeManagementClient(token, "s", {
    endpoint,
    credentials: { scopes },
    httpClient,
    retryOptions,
  });
  const privateDns = new PrivateDnsManagementClient(token, "s", {
    endpoint,
    credentials: { scopes },
    httpClient,
    retryOptions,
  });
  const coreClient = { endpoint, $host: endpoint, credentialScopes: scopes, httpClient, retryOptions };
  const autorest = new AutoRestComputeClient(token, "s", coreClient);
  const autorestDns = new AutoRestPrivateDnsClient(token, "s", coreClient);
  const network = new NetworkManagementClient(token, "s", coreClient);
  const resources = new ResourceManagementClient(token, "s", coreClient);
  const first = (pages: AsyncIterable<unknown>) => pages[Symbol.asyncIterator]().next();
  const calls: Sent[] = [
    { group: "Disks", client: "arm-compute", call: () => modular.disks.get("r", "d") },
    { group: "Snapshots", client: "arm-compute", call: () => modular.snapshots.get("r", "s") },
    { group: "VirtualMachines", client: "arm-compute", call: () => modular.virtualMachines.get("r", "v") },
    { group: "Usage", client: "arm-compute", call: () => first(modular.usage.list(REGION)) },
    {
      group: "VirtualMachineSizes",
      client: "arm-compute",
      call: () => first(modular.virtualMachineSizes.list(REGION)),
    },
    { group: "ResourceSkus", client: "arm-compute", call: () => first(modular.resourceSkus.list()) },
    { group: "Disks", client: "arm-compute 23 (AutoRest)", call: () => autorest.disks.get("r", "d") },
    { group: "Snapshots", client: "arm-compute 23 (AutoRest)", call: () => autorest.snapshots.get("r", "s") },
    {
      group: "VirtualMachines",
      client: "arm-compute 23 (AutoRest)",
      call: () => autorest.virtualMachines.get("r", "v"),
    },
    { group: "Usage", client: "arm-compute 23 (AutoRest)", call: () => first(autorest.usageOperations.list(REGION)) },
    {
      group: "VirtualMachineSizes",
      client: "arm-compute 23 (AutoRest)",
      call: () => first(autorest.virtualMachineSizes.list(REGION)),
    },
    { group: "ResourceSkus", client: "arm-compute 23 (AutoRest)", call: () => first(autorest.resourceSkus.list()) },
    { group: "VirtualNetworks", client: "arm-network", call: () => network.virtualNetworks.get("r", "v") },
    { group: "Subnets", client: "arm-network", call: () => network.subnets.get("r", "v", "s") },
    { group: "NetworkSecurityGroups", client: "arm-network", call: () => network.networkSecurityGroups.get("r", "n") },
    { group: "NetworkInterfaces", client: "arm-network", call: () => network.networkInterfaces.get("r", "n") },
    { group: "PrivateZones", client: "arm-privatedns", call: () => privateDns.privateZones.get("r", "z.internal") },
    {
      group: "RecordSets",
      client: "arm-privatedns",
      call: () => privateDns.recordSets.get("r", "z.internal", "A", "app"),
    },
    {
      group: "VirtualNetworkLinks",
      client: "arm-privatedns",
      call: () => privateDns.virtualNetworkLinks.get("r", "z.internal", "l"),
    },
    {
      group: "PrivateZones",
      client: "arm-privatedns 3 (AutoRest)",
      call: () => autorestDns.privateZones.get("r", "z.internal"),
    },
    {
      group: "RecordSets",
      client: "arm-privatedns 3 (AutoRest)",
      call: () => autorestDns.recordSets.get("r", "z.internal", "A", "app"),
    },
    {
      group: "VirtualNetworkLinks",
      client: "arm-privatedns 3 (AutoRest)",
      call: () => autorestDns.virtualNetworkLinks.get("r", "z.internal", "l"),
    },
    { group: "ResourceGroups", client: "arm-resources", call: () => resources.resourceGroups.get("r") },
    { group: "Resources", client: "arm-resources", call: () => first(resources.resources.list()) },
  ];
  const out: { group: string; client: string; version: string }[] = [];
  for (const c of calls) {
    delete kept.url;
    await Promise.resolve(c.call()).catch(() => undefined);
    // Set by the HTTP client during the call (TypeScript cannot see through the closure).
    const url = kept.url as URL | undefined;
    const version = url?.searchParams.get("api-version");
    if (!version) throw new Error(`${c.client} sent no request for ${c.group}`);
    out.push({ group: c.group, client: c.client, version });
  }
  return out;
}

describe("the api-versions the installed clients send", () => {
  let sent: { group: string; client: string; version: string }[];
  let agent: Agent;

  beforeAll(async () => {
    sent = await sentVersions();
    agent = new Agent({ ca: fx.emu.caCertPem, keepAlive: true });
    await createGroup(fx.azure, RG, REGION);
  });

  it("are each served for their resource type", () => {
    const missing = sent.filter((s) => !servedApiVersions(s.group).includes(s.version));
    expect(missing).toEqual([]);
  });

  it("are all a served type has: no version that no client sends", () => {
    const unused = [...new Set(sent.map((s) => s.group))].flatMap((group) =>
      servedApiVersions(group)
        .filter((v) => !sent.some((s) => s.group === group && s.version === v))
        .map((v) => `${group} ${v}`),
    );
    expect(unused).toEqual([]);
  });

  it("a version Azure never published for virtual machines is refused as ARM refuses it", async () => {
    // ComputeRP has no 2025-01-01 (azure-rest-api-specs: no …/ComputeRP/stable/2025-01-01).
    const path =
      `/subscriptions/${fx.emu.subscriptionId}/resourceGroups/${RG}` + "/providers/Microsoft.Compute/virtualMachines/v";
    const ex = await send(agent, "GET", `${fx.emu.endpoint}${path}`, { apiVersion: "2025-01-01" });
    expect(ex.status).toBe(400);
    expect((ex.body as { error: { code: string } }).error.code).toBe("NoRegisteredProviderFound");
  });
});

describe("ferry's modular @azure/arm-compute reads every answer at the versions it sends", () => {
  it("disks, snapshots, access, VMs through their lifecycle, usages, sizes and SKUs", async () => {
    const c = fx.azure.compute;
    const rg = "modular";
    await createGroup(fx.azure, rg, REGION);
    const subnet = await createSubnet(fx.azure, rg, REGION, "vnet");
    const nicId = await createNic(fx.azure, rg, REGION, "nic", subnet);
    const osDiskId = await createEmptyDisk(fx.azure, rg, REGION, "os", 1, { osType: "Linux" });
    const disk = await c.disks.get(rg, "os");
    expect(disk).toMatchObject({ id: osDiskId, diskState: "Unattached", provisioningState: "Succeeded" });
    expect(disk.uniqueId).toMatch(/^[0-9a-f-]{36}$/);
    expect(disk.timeCreated).toBeInstanceOf(Date);
    const snap = await c.snapshots.createOrUpdate(rg, "snap", {
      location: REGION,
      incremental: true,
      creationData: { createOption: "Copy", sourceResourceId: osDiskId },
    });
    expect(snap).toMatchObject({ incremental: true, provisioningState: "Succeeded" });
    expect(snap.incrementalSnapshotFamilyId).toBeTruthy();
    const grant = await c.snapshots.grantAccess(rg, "snap", { access: "Read", durationInSeconds: 60 });
    expect(grant.accessSAS).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/md-westeurope\//);
    await c.snapshots.revokeAccess(rg, "snap");
    const vm = await createVm(fx.azure, rg, REGION, "vm", { osDiskId, nicId });
    expect(vm).toMatchObject({ provisioningState: "Succeeded", location: REGION });
    expect(vm.vmId).toMatch(/^[0-9a-f-]{36}$/);
    expect(vm.storageProfile?.osDisk?.managedDisk?.id?.toLowerCase()).toBe(osDiskId.toLowerCase());
    const view = await c.virtualMachines.instanceView(rg, "vm");
    expect(view.statuses?.map((s) => s.code)).toContain("PowerState/running");
    await c.virtualMachines.powerOff(rg, "vm");
    await c.virtualMachines.deallocate(rg, "vm");
    await c.virtualMachines.start(rg, "vm");
    const updated = await c.virtualMachines.update(rg, "vm", { tags: { a: "b" } });
    expect(updated.tags).toEqual({ a: "b" });
    const listed = [];
    for await (const v of c.virtualMachines.list(rg)) listed.push(v.name);
    expect(listed).toEqual(["vm"]);
    const usages = [];
    for await (const u of c.usage.list(REGION)) usages.push(u);
    expect(usages.find((u) => u.name.value === "cores")?.limit).toBeGreaterThan(0);
    const sizes = [];
    for await (const s of c.virtualMachineSizes.list(REGION)) sizes.push(s.name);
    expect(sizes).toContain("Standard_D2s_v5");
    const skus = [];
    for await (const s of c.resourceSkus.list({ filter: `location eq '${REGION}'` })) skus.push(s);
    expect(skus.find((s) => s.name === "Standard_D2s_v5")?.capabilities?.length).toBeGreaterThan(0);
    await c.virtualMachines.delete(rg, "vm");
    await c.snapshots.delete(rg, "snap");
    await c.disks.delete(rg, "os");
    await expect(c.disks.get(rg, "os")).rejects.toMatchObject({ statusCode: 404 });
  });
});
