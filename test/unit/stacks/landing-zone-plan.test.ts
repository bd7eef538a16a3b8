import { describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import { LandingZoneConfigSchema } from "../../../stacks/config";
import { planLandingZone } from "../../../stacks/landing-zone-plan";

const DR = "22222222-2222-2222-2222-222222222222";
const OTHER = "33333333-3333-3333-3333-333333333333";

const config = (subnetSubscription: string, extra: Record<string, unknown> = {}) =>
  LandingZoneConfigSchema.parse({
    kind: "landing-zone",
    region: "northeurope",
    resourceGroup: "dr-rg",
    targetSubnetId: `/subscriptions/${subnetSubscription}/resourceGroups/dr-network-rg/providers/Microsoft.Network/virtualNetworks/dr-vnet/subnets/app`,
    testNetwork: {
      name: "dr-test-vnet",
      addressPrefix: "10.99.0.0/16",
      subnetName: "app",
      subnetPrefix: "10.99.1.0/24",
    },
    stateStore: { accountName: "ferrystate01" },
    appliance: { sshPublicKey: "ssh-ed25519 AAAAC3Nza test" },
    ...extra,
  });

/** The UserError message planning a landing zone with these extra keys throws. */
function refusal(extra: Record<string, unknown>): string {
  let thrown: unknown;
  try {
    planLandingZone(config(DR, extra), DR);
  } catch (e) {
    thrown = e;
  }
  expect(isUserError(thrown)).toBe(true);
  return (thrown as Error).message;
}

const PROD = `/subscriptions/${DR}/resourceGroups/prod-rg`;

describe("planLandingZone", () => {
  it("scopes the appliance's role to the DR group of the provider's subscription", () => {
    expect(planLandingZone(config(DR), DR).resourceGroupId).toBe(`/subscriptions/${DR}/resourceGroups/dr-rg`);
  });

  it("refuses a target subnet of another subscription than the provider's, naming both settings", () => {
    let thrown: unknown;
    try {
      planLandingZone(config(OTHER), DR);
    } catch (e) {
      thrown = e;
    }
    expect(isUserError(thrown)).toBe(true);
    expect((thrown as Error).message).toMatch(
      new RegExp(
        `ferry:targetSubnetId is a subnet of subscription ${OTHER}, but the landing zone deploys to ${DR} \\(the stack's azure-native:subscriptionId\\)`,
      ),
    );
  });

  it("plans a snapshot group per source region, in this subscription, with the only delete right", () => {
    const plan = planLandingZone(
      config(DR, { sourceScopes: [PROD], snapshotResourceGroups: { westeurope: "ferry-snaps-we" } }),
      DR,
    );
    expect(plan.snapshotGroups).toEqual([
      {
        region: "westeurope",
        name: "ferry-snaps-we",
        id: `/subscriptions/${DR}/resourceGroups/ferry-snaps-we`,
        logicalName: "snapshots-westeurope",
      },
    ]);
    const deleteScopes = plan.roles
      .filter((r) => r.actions.some((a) => a.endsWith("/delete")))
      .flatMap((r) => r.assignments.map((a) => a.scope));
    expect(deleteScopes).toEqual([`/subscriptions/${DR}/resourceGroups/ferry-snaps-we`]);
  });

  it("declares no source or snapshot role without a scope for it (Azure refuses empty assignable scopes)", () => {
    expect(planLandingZone(config(DR), DR).roles.map((r) => r.logicalName)).toEqual(["appliance-role"]);
  });

  it("gives the DR region's snapshot group (the recovery points) the snapshot role as any other", () => {
    const plan = planLandingZone(config(DR, { snapshotResourceGroups: { northeurope: "ferry-points" } }), DR);
    const scopes = plan.roles.find((r) => r.logicalName === "appliance-snapshot-role")!.assignments.map((a) => a.scope);
    expect(scopes).toEqual([`/subscriptions/${DR}/resourceGroups/ferry-points`]);
  });

  it("refuses the DR resource group as a snapshot group", () => {
    expect(refusal({ snapshotResourceGroups: { westeurope: "DR-RG" } })).toMatch(
      /ferry:snapshotResourceGroups\.westeurope is DR-RG, the DR resource group/,
    );
  });

  it("refuses a group of protected disks as a snapshot group: no delete right in production", () => {
    expect(refusal({ sourceScopes: [PROD], snapshotResourceGroups: { westeurope: "prod-rg" } })).toMatch(
      /ferry:snapshotResourceGroups\.westeurope is prod-rg, a group of protected disks \(in ferry:sourceScopes\)/,
    );
  });

  it("refuses one group named for two regions", () => {
    expect(refusal({ snapshotResourceGroups: { westeurope: "snaps", eastus: "snaps" } })).toMatch(
      /ferry:snapshotResourceGroups names snaps for both westeurope and eastus/,
    );
  });

  it("refuses a source scope of another subscription: a disk's snapshots stay in its subscription", () => {
    expect(refusal({ sourceScopes: [`/subscriptions/${OTHER}/resourceGroups/prod-rg`] })).toMatch(
      new RegExp(`ferry:sourceScopes names /subscriptions/${OTHER}/resourceGroups/prod-rg, a group of subscription`),
    );
  });
});
