import { describe, expect, it } from "vitest";
import { checkBody, loadSpecs, specOf } from "../conformance/spec";

// The conformance tier's schema check must be able to fail: each case starts from a disk body the
// DiskRP schema accepts and changes one thing.

async function diskSchema() {
  const spec = await specOf((s) => s.compute.disks.get("rg", "d"), loadSpecs());
  return { mapper: spec.responses[200]!.bodyMapper!, models: spec.serializer.modelMappers };
}

const disk = () => ({
  id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d",
  name: "d",
  type: "Microsoft.Compute/disks",
  location: "westeurope",
  sku: { name: "Standard_LRS" },
  properties: {
    creationData: { createOption: "Empty" },
    diskSizeGB: 1,
    timeCreated: "2025-01-01T00:00:00Z",
    provisioningState: "Succeeded",
  },
});

describe("checkBody against the DiskRP schema", () => {
  it("accepts a disk as the specification's examples show it", async () => {
    const { mapper, models } = await diskSchema();
    expect(checkBody(disk(), mapper, models)).toEqual([]);
  });

  it("names a property the schema does not define, inside the flattened properties too", async () => {
    const { mapper, models } = await diskSchema();
    const body = disk() as Record<string, unknown>;
    (body.properties as Record<string, unknown>).generation = "V2";
    expect(checkBody(body, mapper, models)).toEqual([
      { path: "$.properties.generation", problem: "is not defined by the schema" },
    ]);
  });

  it("lets a listed extension through", async () => {
    const { mapper, models } = await diskSchema();
    const body = disk() as Record<string, unknown>;
    body.emulated = true;
    expect(checkBody(body, mapper, models, { extensions: ["$.emulated"] })).toEqual([]);
  });

  it("names a value of the wrong type", async () => {
    const { mapper, models } = await diskSchema();
    const body = disk();
    (body.properties as Record<string, unknown>).diskSizeGB = "1";
    expect(checkBody(body, mapper, models)).toEqual([
      { path: "$.properties.diskSizeGB", problem: 'is "1", not a number' },
    ]);
  });

  it("names a required property that is absent", async () => {
    const { mapper, models } = await diskSchema();
    const body = disk() as Record<string, unknown>;
    delete body.location;
    expect(checkBody(body, mapper, models)).toEqual([{ path: "$.location", problem: "is required but absent" }]);
  });

  it("names a required nested property that is absent (creationData.createOption)", async () => {
    const { mapper, models } = await diskSchema();
    const body = disk();
    body.properties.creationData = {} as never;
    expect(checkBody(body, mapper, models)).toEqual([
      { path: "$.properties.creationData.createOption", problem: "is required but absent" },
    ]);
  });
});
