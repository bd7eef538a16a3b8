import { Agent } from "node:https";
import { beforeAll, describe, expect, it } from "vitest";
import { createGroup } from "../../testing";
import { useEmulator } from "../helpers/emulator";
import { expectSchema, send } from "./exchange";
import { apiVersionOf, loadSpecs, specOf, type Specs } from "./spec";

// Each resource type refuses an api-version Azure does not serve for it, as ARM does: a resource
// provider's type with 400 NoRegisteredProviderFound (naming the type, the location and the versions
// it serves), ARM's own types with 400 InvalidApiVersionParameter. The error body has the schema the
// operation's specification gives its errors (its `default` response).

const fx = useEmulator();
const REGION = "westeurope";
const RG = "versions";
let specs: Specs;
let agent: Agent;

beforeAll(async () => {
  specs = loadSpecs();
  agent = new Agent({ ca: fx.emu.caCertPem, keepAlive: true });
  await createGroup(fx.azure, RG, REGION);
});

const arm = (path: string) => `${fx.emu.endpoint}/subscriptions/${fx.emu.subscriptionId}${path}`;
const N = `/resourceGroups/${RG}/providers/Microsoft.Network`;
const C = `/resourceGroups/${RG}/providers/Microsoft.Compute`;
const NEVER = "2099-01-01";

interface Case {
  type: string;
  path: string;
  call: (s: Specs) => unknown;
}

const providerTypes: Case[] = [
  { type: "virtualNetworks", path: `${N}/virtualNetworks/v`, call: (s) => s.network.virtualNetworks.get(RG, "v") },
  {
    type: "virtualNetworks/subnets",
    path: `${N}/virtualNetworks/v/subnets/s`,
    call: (s) => s.network.subnets.get(RG, "v", "s"),
  },
  {
    type: "networkSecurityGroups",
    path: `${N}/networkSecurityGroups/n`,
    call: (s) => s.network.networkSecurityGroups.get(RG, "n"),
  },
  {
    type: "networkInterfaces",
    path: `${N}/networkInterfaces/n`,
    call: (s) => s.network.networkInterfaces.get(RG, "n"),
  },
  { type: "disks", path: `${C}/disks/d`, call: (s) => s.compute.disks.get(RG, "d") },
  { type: "snapshots", path: `${C}/snapshots/s`, call: (s) => s.compute.snapshots.get(RG, "s") },
  { type: "virtualMachines", path: `${C}/virtualMachines/v`, call: (s) => s.compute.virtualMachines.get(RG, "v") },
  {
    type: "locations/usages",
    path: `/providers/Microsoft.Compute/locations/${REGION}/usages`,
    call: (s) => s.compute.usageOperations.list(REGION),
  },
  {
    type: "locations/vmSizes",
    path: `/providers/Microsoft.Compute/locations/${REGION}/vmSizes`,
    call: (s) => s.compute.virtualMachineSizes.list(REGION),
  },
];

describe("resource-provider types refuse an api-version they do not serve", () => {
  for (const c of providerTypes) {
    it(`${c.type}: 400 NoRegisteredProviderFound naming the type, the location and the versions it serves`, async () => {
      const spec = await specOf(c.call, specs);
      const ex = await send(agent, "GET", arm(c.path), { apiVersion: NEVER });
      expect(ex.status).toBe(400);
      expectSchema(ex.body, spec.responses.default!.bodyMapper!, spec);
      const error = (ex.body as { error: { code: string; message: string } }).error;
      expect(error.code).toBe("NoRegisteredProviderFound");
      expect(error.message).toContain(
        `No registered resource provider found for location '${REGION}' and API version '${NEVER}' ` +
          `for type '${c.type}'. The supported api-versions are '`,
      );
      expect(error.message).toContain(apiVersionOf(spec));
    });
  }

  it("disks refuse ComputeRP's api-version: disks are DiskRP's, with versions of their own", async () => {
    const vmVersion = apiVersionOf(await specOf((s) => s.compute.virtualMachines.get(RG, "v"), specs));
    const ex = await send(agent, "GET", arm(`${C}/disks/d`), { apiVersion: vmVersion });
    expect(ex.status).toBe(400);
    expect((ex.body as { error: { code: string } }).error.code).toBe("NoRegisteredProviderFound");
  });

  it("a create names the location of its body", async () => {
    const ex = await send(agent, "PUT", arm(`${C}/disks/d`), {
      apiVersion: NEVER,
      body: { location: "northeurope", properties: { creationData: { createOption: "Empty" }, diskSizeGB: 1 } },
    });
    expect((ex.body as { error: { message: string } }).error.message).toContain("for location 'northeurope'");
    expect(fx.emu.requests.at(-1)).toMatchObject({ operationId: "Disks_CreateOrUpdate", status: 400 });
  });
});

describe("ARM's own types refuse an api-version they do not serve", () => {
  const cases: Case[] = [
    { type: "resourceGroups", path: `/resourcegroups/${RG}`, call: (s) => s.resources.resourceGroups.get(RG) },
    { type: "resources", path: "/resources", call: (s) => s.resources.resources.list() },
  ];
  for (const c of cases) {
    it(`${c.type}: 400 InvalidApiVersionParameter with the versions it serves`, async () => {
      const spec = await specOf(c.call, specs);
      const ex = await send(agent, "GET", arm(c.path), { apiVersion: NEVER });
      expect(ex.status).toBe(400);
      expectSchema(ex.body, spec.responses.default!.bodyMapper!, spec);
      const error = (ex.body as { error: { code: string; message: string } }).error;
      expect(error.code).toBe("InvalidApiVersionParameter");
      expect(error.message).toMatch(
        new RegExp(`^The api-version '${NEVER}' is invalid\\. The supported versions are '[^']*${apiVersionOf(spec)}`),
      );
    });
  }
});

describe("errors have the schema of the operation's error response", () => {
  it("Disks_Get of a missing disk: 404 with Azure's error body", async () => {
    const spec = await specOf((s) => s.compute.disks.get(RG, "missing"), specs);
    const ex = await send(agent, "GET", arm(`${C}/disks/missing`), { apiVersion: apiVersionOf(spec) });
    expect(ex.status).toBe(404);
    expectSchema(ex.body, spec.responses.default!.bodyMapper!, spec);
    expect((ex.body as { error: { code: string } }).error.code).toBe("ResourceNotFound");
  });
});
