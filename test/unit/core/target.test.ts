import { describe, expect, it } from "vitest";
import { TargetSchema } from "../../../core/schemas";
import { parseWith } from "../../../core/validate";
import { clientId, expectOneProblem, problemsOf, validTarget } from "./fixtures";
import type { Json } from "./fixtures";

describe("TargetSchema", () => {
  it("parses a compliant target", () => {
    const target = parseWith(TargetSchema, validTarget());
    expect(target.region).toBe("northeurope");
    expect(target.credentials).toEqual({ kind: "workloadIdentity", clientId });
  });

  it.each([
    [{ kind: "managedIdentity" }],
    [{ kind: "managedIdentity", clientId }],
    [{ kind: "pulumiSecret", clientId, secretName: "ferry:drClientSecret" }],
  ])("accepts credentials %j", (credentials) => {
    const target = validTarget();
    target.credentials = credentials;
    expect(parseWith(TargetSchema, target).credentials).toEqual(credentials);
  });

  it("accepts a target without a test network", () => {
    const target = validTarget();
    delete target.testVirtualNetwork;
    delete target.testSubnet;
    expect(parseWith(TargetSchema, target).testSubnet).toBeUndefined();
  });

  const cases: [string, (t: Json) => void, string, ...string[]][] = [
    [
      "tenant id not a GUID",
      (t) => (t.tenantId = "contoso.onmicrosoft.com"),
      "tenantId",
      "is not a GUID",
      "00000000-0000-0000-0000-000000000000",
    ],
    [
      "missing subscription",
      (t) => delete t.subscriptionId,
      "subscriptionId",
      'is missing. Add "subscriptionId" (a string)',
    ],
    [
      "display-name region",
      (t) => (t.region = "North Europe"),
      "region",
      'Did you mean "northeurope"',
      "az account list-locations",
    ],
    [
      "resource group ending in a period",
      (t) => (t.resourceGroup = "dr-rg."),
      "resourceGroup",
      "not ending in a period",
    ],
    [
      "network resource group as a number",
      (t) => (t.networkResourceGroup = 42),
      "networkResourceGroup",
      "must be a string, not an integer",
    ],
    ["virtual network of one character", (t) => (t.virtualNetwork = "v"), "virtualNetwork", "2-64"],
    ["subnet with a slash", (t) => (t.subnet = "app/1"), "subnet", "letters, digits, underscores"],
    ["test subnet without test network", (t) => delete t.testVirtualNetwork, "testVirtualNetwork", "together"],
    ["test network without test subnet", (t) => delete t.testSubnet, "testSubnet", "together"],
    ["test network is production", (t) => (t.testVirtualNetwork = "DR-VNET"), "testVirtualNetwork", "isolated network"],
    ["empty VM size list", (t) => (t.vmSizes = []), "vmSizes", "at least 1"],
    ["VM size in display form", (t) => (t.vmSizes = ["Standard D2s v5"]), "vmSizes[0]", "Standard_D2s_v5"],
    [
      "unknown key",
      (t) => (t.location = "northeurope"),
      "location",
      "is not a recognised key",
      "tenantId, subscriptionId, region",
    ],
    [
      "unknown credential kind",
      (t) => (t.credentials = { kind: "servicePrincipal", clientId }),
      "credentials.kind",
      '"servicePrincipal" is not allowed',
      '"workloadIdentity", "managedIdentity", "pulumiSecret"',
    ],
    ["credentials without a kind", (t) => (t.credentials = { clientId }), "credentials.kind", 'Add "kind" with one of'],
    [
      "pulumi secret without its name",
      (t) => (t.credentials = { kind: "pulumiSecret", clientId }),
      "credentials.secretName",
      'Add "secretName"',
    ],
    [
      "workload identity with a stray key",
      (t) => (t.credentials.secretName = "x"),
      "credentials.secretName",
      "is not a recognised key",
      "kind, clientId",
    ],
  ];

  it.each(cases)("refuses %s", (_, change, path, ...hints) => {
    const target = validTarget();
    change(target);
    expectOneProblem(TargetSchema, target, path, ...hints);
  });

  it.each(["clientSecret", "password", "ClientSecret", "secret", "certificate"])(
    "refuses a plain secret under credentials.%s and never echoes it",
    (key) => {
      const target = validTarget();
      target.credentials[key] = "hunter2-plain-secret";
      const problems = problemsOf(TargetSchema, target);
      expect(problems).toHaveLength(1);
      expect(problems[0]!.path).toBe(`credentials.${key}`);
      expect(problems[0]!.message).toContain("Pulumi secret");
      expect(problems[0]!.message).toContain("workload identity");
      expect(JSON.stringify(problems)).not.toContain("hunter2");
    },
  );
});
