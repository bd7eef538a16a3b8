import { Readable } from "node:stream";
import { createHttpHeaders } from "@azure/core-rest-pipeline";
import type { HttpClient, PipelineRequest } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import { createAzureClients } from "../../../adapters/azure/clients";
import { staticTokenCredential } from "../../../adapters/azure/credentials";
import { createHttpClient } from "../../../adapters/azure/http";
import { subscriptionId } from "./fixtures";

const emulator = "https://127.0.0.1:8443";
const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/** Answers like ARM would for a GET of any resource: its id, name and location. */
function fakeArm() {
  const requests: PipelineRequest[] = [];
  const client: HttpClient = {
    async sendRequest(request) {
      requests.push(request);
      const path = new URL(request.url).pathname;
      const body = { id: path, name: path.split("/").at(-1), location: "northeurope", properties: {} };
      return {
        request,
        status: 200,
        headers: createHttpHeaders({ "content-type": "application/json" }),
        bodyAsText: JSON.stringify(body),
      };
    },
  };
  return { client, requests };
}

function clientsFor(fake: HttpClient, armEndpoint?: string) {
  return createAzureClients({
    subscriptionId,
    credential: staticTokenCredential("local-token"),
    ...(armEndpoint !== undefined && { armEndpoint }),
    httpClient: createHttpClient({ caCertPem: pem, inner: fake }),
    retryOptions: { maxRetries: 0 },
  });
}

describe("createAzureClients", () => {
  it("points all three ARM clients at the emulator, with the bearer token and the CA agent", async () => {
    const fake = fakeArm();
    const clients = clientsFor(fake.client, `${emulator}/`);
    expect(clients.armEndpoint).toBe(emulator);
    expect(clients.subscriptionId).toBe(subscriptionId);

    const disk = await clients.compute.disks.get("dr-rg", "web1-os-staging");
    const vnet = await clients.network.virtualNetworks.get("dr-network-rg", "dr-vnet");
    const group = await clients.resources.resourceGroups.get("dr-rg");
    expect([disk.name, vnet.name, group.name]).toEqual(["web1-os-staging", "dr-vnet", "dr-rg"]);

    const urls = fake.requests.map((r) => r.url.replace(/\?.*$/, ""));
    expect(urls).toEqual([
      `${emulator}/subscriptions/${subscriptionId}/resourceGroups/dr-rg/providers/Microsoft.Compute/disks/web1-os-staging`,
      `${emulator}/subscriptions/${subscriptionId}/resourceGroups/dr-network-rg/providers/Microsoft.Network/virtualNetworks/dr-vnet`,
      `${emulator}/subscriptions/${subscriptionId}/resourcegroups/dr-rg`,
    ]);
    for (const request of fake.requests) {
      expect(request.headers.get("authorization")).toBe("Bearer local-token");
      expect(request.agent).toBeDefined();
      expect(new URL(request.url).searchParams.get("api-version")).toMatch(/^\d{4}-\d{2}-\d{2}/);
    }
  });

  it("asks the credential for the endpoint's audience", async () => {
    const scopes: string[][] = [];
    const fake = fakeArm();
    const clients = createAzureClients({
      subscriptionId,
      armEndpoint: emulator,
      httpClient: fake.client,
      retryOptions: { maxRetries: 0 },
      credential: {
        async getToken(requested) {
          scopes.push([requested].flat());
          return { token: "t", expiresOnTimestamp: Date.now() + 3_600_000 };
        },
      },
    });
    await clients.compute.disks.get("rg", "d");
    await clients.network.virtualNetworks.get("rg", "v");
    await clients.resources.resourceGroups.get("rg");
    expect(scopes).toEqual([[`${emulator}/.default`], [`${emulator}/.default`], [`${emulator}/.default`]]);
  });

  it("defaults to public Azure's endpoint", async () => {
    const fake = fakeArm();
    const clients = createAzureClients({
      subscriptionId,
      credential: staticTokenCredential(),
      httpClient: fake.client,
    });
    expect(clients.armEndpoint).toBe("https://management.azure.com");
    await clients.compute.disks.get("rg", "d");
    expect(fake.requests[0]!.url).toMatch(/^https:\/\/management\.azure\.com\/subscriptions\//);
  });

  it("uses the same HttpClient for page blobs, with the SAS as the only credential", async () => {
    const requests: PipelineRequest[] = [];
    const fake: HttpClient = {
      async sendRequest(request) {
        requests.push(request);
        if (request.method === "HEAD") {
          return {
            request,
            status: 200,
            headers: createHttpHeaders({ "Content-Length": "1048576", "x-ms-blob-type": "PageBlob" }),
          };
        }
        return {
          request,
          status: 206,
          headers: createHttpHeaders({
            "Content-Length": "4",
            "Content-Range": "bytes 0-3/1048576",
            "x-ms-blob-type": "PageBlob",
            ETag: '"0x1"',
          }),
          readableStreamBody: Readable.from([Buffer.from([1, 2, 3, 4])]),
        };
      },
    };
    const clients = clientsFor(fake);
    const sasUrl = `${emulator}/disks/web1-os/snapshot?sv=2024-01-01&sr=b&sig=abc`;
    const blob = clients.pageBlob(sasUrl);

    const properties = await blob.getProperties();
    expect(properties.contentLength).toBe(1048576);
    expect(properties.blobType).toBe("PageBlob");

    const download = await blob.download(0, 4);
    const chunks: Buffer[] = [];
    for await (const chunk of download.readableStreamBody!) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from([1, 2, 3, 4]));

    expect(requests.map((r) => r.method)).toEqual(["HEAD", "GET"]);
    for (const request of requests) {
      expect(request.url.startsWith(`${emulator}/disks/web1-os/snapshot?`)).toBe(true);
      expect(new URL(request.url).searchParams.get("sig")).toBe("abc");
      expect(request.headers.get("authorization")).toBeUndefined();
      expect(request.agent).toBeDefined();
    }
    expect(requests[1]!.headers.get("x-ms-range") ?? requests[1]!.headers.get("range")).toBe("bytes=0-3");
  });
});
