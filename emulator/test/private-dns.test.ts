import { Agent } from "node:https";
import { PrivateDnsManagementClient } from "@azure/arm-privatedns";
import { createDefaultHttpClient, type HttpClient } from "@azure/core-rest-pipeline";
import { beforeAll, describe, expect, it } from "vitest";
import { useEmulator } from "./helpers/emulator";
import { expectRefused } from "./helpers/errors";

// Azure Private DNS through the unmodified @azure/arm-privatedns client (a modular client: endpoint and
// credentials.scopes, as arm-compute's).
const fixture = useEmulator();
let dns: PrivateDnsManagementClient;
let counter = 0;
const unique = (prefix: string) => `${prefix}${++counter}`;

beforeAll(() => {
  const agent = new Agent({ ca: fixture.emu.caCertPem, keepAlive: true });
  const inner = createDefaultHttpClient();
  const httpClient: HttpClient = {
    sendRequest: (request) => {
      request.agent ??= agent;
      return inner.sendRequest(request);
    },
  };
  dns = new PrivateDnsManagementClient(
    { getToken: async () => ({ token: "t", expiresOnTimestamp: Date.now() + 3_600_000 }) },
    fixture.emu.subscriptionId,
    {
      endpoint: fixture.emu.endpoint,
      credentials: { scopes: [`${fixture.emu.endpoint}/.default`] },
      httpClient,
      updateIntervalInMs: 10,
      retryOptions: { maxRetries: 0 },
    } as ConstructorParameters<typeof PrivateDnsManagementClient>[2],
  );
});

/** A resource group with a zone in it. */
async function newZone(): Promise<{ rg: string; zone: string }> {
  const rg = unique("dns-rg-");
  await fixture.azure.resources.resourceGroups.createOrUpdate(rg, { location: "westeurope" });
  const zone = `${unique("z")}.contoso.internal`;
  await dns.privateZones.createOrUpdate(rg, zone, { location: "global" }).pollUntilDone();
  return { rg, zone };
}

describe("private DNS zones", () => {
  it("creates a zone in location global, provisioned, with its SOA record set counted", async () => {
    const { rg, zone } = await newZone();
    const got = await dns.privateZones.get(rg, zone);
    expect(got).toMatchObject({
      name: zone,
      location: "global",
      type: "Microsoft.Network/privateDnsZones",
      provisioningState: "Succeeded",
      numberOfRecordSets: 1,
      numberOfVirtualNetworkLinks: 0,
    });
    expect(got.etag).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("refuses a zone in a region: private DNS zones are global", async () => {
    const rg = unique("dns-rg-");
    await fixture.azure.resources.resourceGroups.createOrUpdate(rg, { location: "westeurope" });
    await expectRefused(
      dns.privateZones.createOrUpdate(rg, "x.contoso.internal", { location: "westeurope" }).pollUntilDone(),
      400,
      "LocationNotAvailableForResourceType",
    );
  });

  it("deletes a zone; a second delete answers 204 and a get 404", async () => {
    const { rg, zone } = await newZone();
    await dns.privateZones.delete(rg, zone).pollUntilDone();
    await dns.privateZones.delete(rg, zone).pollUntilDone();
    await expectRefused(dns.privateZones.get(rg, zone), 404, "ResourceNotFound");
  });

  it("lists the zones of a resource group", async () => {
    const { rg, zone } = await newZone();
    const names: string[] = [];
    for await (const z of dns.privateZones.listByResourceGroup(rg)) names.push(z.name!);
    expect(names).toEqual([zone]);
  });

  it("keeps a zone that has virtual network links (409) until they are deleted", async () => {
    const { rg, zone } = await newZone();
    const vnet = await fixture.azure.network.virtualNetworks.beginCreateOrUpdateAndWait(rg, "v", {
      location: "westeurope",
      addressSpace: { addressPrefixes: ["10.5.0.0/16"] },
    });
    const link = await dns.virtualNetworkLinks
      .createOrUpdate(rg, zone, "to-v", { location: "global", virtualNetwork: { id: vnet.id! } })
      .pollUntilDone();
    expect(link).toMatchObject({ registrationEnabled: false, virtualNetworkLinkState: "Completed" });
    await expectRefused(dns.privateZones.delete(rg, zone).pollUntilDone(), 409, "Conflict");
    await dns.virtualNetworkLinks.delete(rg, zone, "to-v").pollUntilDone();
    await dns.privateZones.delete(rg, zone).pollUntilDone();
  });
});

describe("A record sets", () => {
  it("creates (201) an A record set with its fqdn and answers it on get", async () => {
    const { rg, zone } = await newZone();
    await dns.recordSets.createOrUpdate(rg, zone, "A", "App", { ttl: 60, aRecords: [{ ipv4Address: "10.1.0.5" }] });
    const got = await dns.recordSets.get(rg, zone, "A", "app");
    expect(got).toMatchObject({
      name: "app",
      type: "Microsoft.Network/privateDnsZones/A",
      ttl: 60,
      fqdn: `app.${zone}.`,
      aRecords: [{ ipv4Address: "10.1.0.5" }],
    });
  });

  it("replaces the addresses under the ETag it was read with, and a new ETag comes back", async () => {
    const { rg, zone } = await newZone();
    const first = await dns.recordSets.createOrUpdate(rg, zone, "A", "db", {
      ttl: 60,
      aRecords: [{ ipv4Address: "10.0.0.4" }],
    });
    const second = await dns.recordSets.createOrUpdate(
      rg,
      zone,
      "A",
      "db",
      { ttl: 60, aRecords: [{ ipv4Address: "10.1.0.4" }] },
      { ifMatch: first.etag! },
    );
    expect(second.etag).not.toBe(first.etag);
    expect(second.aRecords).toEqual([{ ipv4Address: "10.1.0.4" }]);
  });

  it("refuses a write under a stale ETag (412), leaving the record set as it was", async () => {
    const { rg, zone } = await newZone();
    const first = await dns.recordSets.createOrUpdate(rg, zone, "A", "db", { aRecords: [{ ipv4Address: "10.0.0.4" }] });
    await dns.recordSets.createOrUpdate(rg, zone, "A", "db", { aRecords: [{ ipv4Address: "10.0.0.9" }] });
    await expectRefused(
      dns.recordSets.createOrUpdate(
        rg,
        zone,
        "A",
        "db",
        { aRecords: [{ ipv4Address: "10.1.0.4" }] },
        { ifMatch: first.etag! },
      ),
      412,
      "PreconditionFailed",
    );
    expect((await dns.recordSets.get(rg, zone, "A", "db")).aRecords).toEqual([{ ipv4Address: "10.0.0.9" }]);
  });

  it("refuses If-None-Match: * on a record set that exists (412)", async () => {
    const { rg, zone } = await newZone();
    await dns.recordSets.createOrUpdate(rg, zone, "A", "web", { aRecords: [] });
    await expectRefused(
      dns.recordSets.createOrUpdate(rg, zone, "A", "web", { aRecords: [] }, { ifNoneMatch: "*" }),
      412,
      "PreconditionFailed",
    );
  });

  it("patches the TTL and keeps the addresses", async () => {
    const { rg, zone } = await newZone();
    await dns.recordSets.createOrUpdate(rg, zone, "A", "web", { ttl: 300, aRecords: [{ ipv4Address: "10.0.0.7" }] });
    const patched = await dns.recordSets.update(rg, zone, "A", "web", { ttl: 30 });
    expect(patched).toMatchObject({ ttl: 30, aRecords: [{ ipv4Address: "10.0.0.7" }] });
  });

  it("refuses an address that is not IPv4 (400)", async () => {
    const { rg, zone } = await newZone();
    await expectRefused(
      dns.recordSets.createOrUpdate(rg, zone, "A", "web", { aRecords: [{ ipv4Address: "10.0.0" }] }),
      400,
      "InvalidParameter",
    );
  });

  it("lists every record set of the zone, the SOA first, and counts them on the zone", async () => {
    const { rg, zone } = await newZone();
    await dns.recordSets.createOrUpdate(rg, zone, "A", "a1", { aRecords: [] });
    await dns.recordSets.createOrUpdate(rg, zone, "A", "a2", { aRecords: [] });
    const types: string[] = [];
    for await (const r of dns.recordSets.list(rg, zone)) types.push(`${r.type!.split("/").pop()} ${r.name}`);
    expect(types).toEqual(["SOA @", "A a1", "A a2"]);
    expect((await dns.privateZones.get(rg, zone)).numberOfRecordSets).toBe(3);
  });

  it("deletes a record set (then 404 on get, 204 on a second delete)", async () => {
    const { rg, zone } = await newZone();
    await dns.recordSets.createOrUpdate(rg, zone, "A", "gone", { aRecords: [] });
    await dns.recordSets.delete(rg, zone, "A", "gone");
    await dns.recordSets.delete(rg, zone, "A", "gone");
    await expectRefused(dns.recordSets.get(rg, zone, "A", "gone"), 404, "NotFound");
  });

  it("answers 404 for a record set of a zone that does not exist", async () => {
    const rg = unique("dns-rg-");
    await fixture.azure.resources.resourceGroups.createOrUpdate(rg, { location: "westeurope" });
    await expectRefused(dns.recordSets.get(rg, "none.contoso.internal", "A", "x"), 404, "ResourceNotFound");
  });
});
