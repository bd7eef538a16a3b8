import { describe, expect, it } from "vitest";
import {
  formatResourceId,
  normalizeResourceId,
  parseResourceId,
  resourceTypeOf,
  sameResourceId,
} from "../../../core/resource-id";
import { isUserError } from "../../../core/errors";
import { subscriptionId } from "./fixtures";

const diskId = `/subscriptions/${subscriptionId}/resourceGroups/prod-rg/providers/Microsoft.Compute/disks/web1-os`;
const subnetId = `/subscriptions/${subscriptionId}/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/app`;

describe("parseResourceId", () => {
  it("splits a top-level resource id", () => {
    expect(parseResourceId(diskId)).toEqual({
      subscriptionId,
      resourceGroup: "prod-rg",
      provider: "Microsoft.Compute",
      type: "disks",
      name: "web1-os",
    });
  });

  it("splits a nested resource id with its parent", () => {
    expect(parseResourceId(subnetId)).toEqual({
      subscriptionId,
      resourceGroup: "net-rg",
      provider: "Microsoft.Network",
      type: "subnets",
      name: "app",
      parent: { type: "virtualNetworks", name: "vnet1" },
    });
  });

  it("matches the fixed segments case-insensitively and ignores a trailing slash", () => {
    const id = `/SUBSCRIPTIONS/${subscriptionId}/resourcegroups/rg/PROVIDERS/microsoft.compute/disks/d1/`;
    expect(parseResourceId(id)).toMatchObject({
      resourceGroup: "rg",
      provider: "microsoft.compute",
      type: "disks",
      name: "d1",
    });
  });

  it.each([
    ["no leading slash", diskId.slice(1), "must start with /subscriptions/"],
    ["a doubled slash", diskId.replace("/disks/", "/disks//"), "empty segment"],
    [
      "a subscription that is not a GUID",
      diskId.replace(subscriptionId, "prod"),
      'subscription id "prod" is not a GUID',
    ],
    [
      "no resource group",
      `/subscriptions/${subscriptionId}/providers/Microsoft.Compute/disks/d`,
      "/resourceGroups/<resource group>",
    ],
    [
      "a resource group id",
      `/subscriptions/${subscriptionId}/resourceGroups/rg`,
      "/providers/<Namespace>/<type>/<name>",
    ],
    [
      "a type without a name",
      `/subscriptions/${subscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/disks`,
      "/providers/<Namespace>/<type>/<name>",
    ],
    ["a name missing in a nested id", subnetId.replace("/app", ""), "every resource type must be followed by a name"],
    ["an extension resource", `${diskId}/providers/Microsoft.Insights/diagnosticSettings/x`, "extension resources"],
  ])("refuses %s with a UserError that shows the expected form", (_, id, problem) => {
    let error: unknown;
    try {
      parseResourceId(id);
    } catch (e) {
      error = e;
    }
    expect(isUserError(error)).toBe(true);
    expect(error).toMatchObject({ code: "InvalidResourceId" });
    expect((error as Error).message).toContain(problem);
    expect((error as Error).message).toContain(
      "/subscriptions/<subscription id>/resourceGroups/<resource group>/providers/",
    );
  });

  it("does not echo a SAS pasted in place of an id", () => {
    expect(() => parseResourceId("https://a.blob.core.windows.net/c/d?sv=1&sig=secret")).toThrow(/\?<redacted>/);
  });
});

describe("formatResourceId", () => {
  it("is the inverse of parseResourceId, nested resources included", () => {
    expect(formatResourceId(parseResourceId(diskId))).toBe(diskId);
    expect(formatResourceId(parseResourceId(subnetId))).toBe(subnetId);
    const deep = `/subscriptions/${subscriptionId}/resourceGroups/rg/providers/Microsoft.Sql/servers/s1/databases/db1/backupShortTermRetentionPolicies/default`;
    const parsed = parseResourceId(deep);
    expect(parsed.parent).toEqual({ type: "databases", name: "db1", parent: { type: "servers", name: "s1" } });
    expect(formatResourceId(parsed)).toBe(deep);
  });
});

describe("resource id helpers", () => {
  it("give the full type, and compare ids case-insensitively", () => {
    expect(resourceTypeOf(parseResourceId(subnetId))).toBe("Microsoft.Network/virtualNetworks/subnets");
    expect(sameResourceId(diskId, diskId.toUpperCase() + "/")).toBe(true);
    expect(sameResourceId(diskId, diskId.replace("web1-os", "web2-os"))).toBe(false);
    expect(normalizeResourceId("/A/B/")).toBe("/a/b");
  });
});
