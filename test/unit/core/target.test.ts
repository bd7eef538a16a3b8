import { describe, expect, it } from "vitest";
import { TargetSchema } from "../../../core/schemas";
import { parseWith } from "../../../core/validate";
import { expectOneProblem, problemsOf, validTarget } from "./fixtures";

type Target = Record<string, unknown>;
const target = (): Target => validTarget() as Target;

describe("TargetSchema", () => {
  it("parses a compliant target", () => {
    expect(parseWith(TargetSchema, target())).toEqual({ vmSizes: ["Standard_D2s_v5", "Standard_E8-4s_v5"] });
  });

  const cases: [string, (t: Target) => void, string, ...string[]][] = [
    ["empty VM size list", (t) => (t.vmSizes = []), "vmSizes", "at least 1"],
    ["VM size in display form", (t) => (t.vmSizes = ["Standard D2s v5"]), "vmSizes[0]", "Standard_D2s_v5"],
    ["unknown key", (t) => (t.location = "northeurope"), "location", "is not a recognised key", "vmSizes"],
  ];

  it.each(cases)("refuses %s", (_, change, path, ...hints) => {
    const t = target();
    change(t);
    expectOneProblem(TargetSchema, t, path, ...hints);
  });

  it.each([
    ["subscriptionId", "00000000-0000-0000-0000-000000000000", "the stack's azure-native:subscriptionId"],
    ["region", "northeurope", "ferry:landingZoneStack"],
    ["resourceGroup", "dr-rg", "ferry:landingZoneStack"],
    ["networkResourceGroup", "dr-network-rg", "ferry:landingZoneStack"],
    ["virtualNetwork", "dr-vnet", "ferry:landingZoneStack"],
    ["subnet", "app", "ferry:landingZoneStack"],
    ["testVirtualNetwork", "dr-test-vnet", "ferry:landingZoneStack"],
    ["testSubnet", "app", "ferry:landingZoneStack"],
    ["tenantId", "11111111-1111-1111-1111-111111111111", "ferry.json's azure.credential"],
    ["credentials", { kind: "workloadIdentity" }, "ferry.json's azure.credential"],
  ])("refuses %s, saying where it is now", (key, value, where) => {
    const t = { ...target(), [key]: value };
    expectOneProblem(TargetSchema, t, key, where, "Remove it");
  });

  it("never echoes a secret left under the old credentials", () => {
    const t = { ...target(), credentials: { kind: "pulumiSecret", clientSecret: "hunter2-plain-secret" } };
    expect(JSON.stringify(problemsOf(TargetSchema, t))).not.toContain("hunter2");
  });
});
