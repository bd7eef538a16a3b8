import { describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import { parseLandingZoneOutputs } from "../../../core/schemas/landing-zone";
import { subscriptionId, validLandingZoneOutputs } from "./fixtures";

function refusal(outputs: unknown): { code: string; message: string } {
  try {
    parseLandingZoneOutputs(outputs, "lz-ne");
  } catch (e) {
    expect(isUserError(e)).toBe(true);
    return e as { code: string; message: string };
  }
  throw new Error("expected the outputs to be refused");
}

describe("parseLandingZoneOutputs", () => {
  it("keeps what blueprints and runbooks read and drops the rest", () => {
    const outputs = validLandingZoneOutputs() as { appliance: { vmId: string }; targetSubnetId: string };
    const zone = parseLandingZoneOutputs(outputs, "lz-ne");
    expect(Object.keys(zone).sort()).toEqual(
      [
        "appliance",
        "location",
        "resourceGroupName",
        "snapshotResourceGroups",
        "stateStore",
        "subscriptionId",
        "targetSubnetId",
        "testSubnetId",
      ].sort(),
    );
    // What the two read of the appliance and the table, not the rest (vmName, accountName).
    expect(zone.appliance).toEqual({ vmId: outputs.appliance.vmId });
    expect(zone.stateStore).toEqual({ url: "https://ferrystate01.table.core.windows.net", tableName: "ferrySources" });
    expect([zone.subscriptionId, zone.location, zone.resourceGroupName]).toEqual([
      subscriptionId,
      "northeurope",
      "dr-rg",
    ]);
    expect(zone.targetSubnetId).toBe(outputs.targetSubnetId);
    expect(zone.snapshotResourceGroups).toEqual({ westeurope: "ferry-snapshots-westeurope" });
  });

  it("reads a landing zone deployed before snapshot groups as having none (enabling DR then names the key)", () => {
    const outputs = validLandingZoneOutputs() as Record<string, unknown>;
    delete outputs.snapshotResourceGroups;
    expect(parseLandingZoneOutputs(outputs, "lz-ne").snapshotResourceGroups).toEqual({});
  });

  it.each([[{}], [undefined]])("refuses a landing zone with no outputs (%j): it is not deployed", (outputs) => {
    expect(refusal(outputs)).toMatchObject({
      code: "NoLandingZone",
      message: "The landing-zone stack lz-ne has no outputs: deploy it first (pulumi up -s lz-ne).",
    });
  });

  it("refuses outputs another version made, naming each and how to make them again", () => {
    const outputs = validLandingZoneOutputs() as Record<string, unknown>;
    delete outputs.subscriptionId;
    outputs.testSubnetId = "app";
    const e = refusal(outputs);
    expect(e.code).toBe("InvalidLandingZoneOutputs");
    expect(e.message).toMatch(/^Invalid outputs of the landing-zone stack lz-ne \(2 problems\):/);
    expect(e.message).toMatch(/subscriptionId: is missing/);
    expect(e.message).toMatch(/testSubnetId: is not the ARM id of a Microsoft\.Network\/virtualNetworks\/subnets/);
    expect(e.message).toMatch(/deploy it again \(pulumi up -s lz-ne\)\.$/);
  });
});
