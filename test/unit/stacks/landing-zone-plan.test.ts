import { describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import { LandingZoneConfigSchema } from "../../../stacks/config";
import { planLandingZone } from "../../../stacks/landing-zone-plan";

const DR = "22222222-2222-2222-2222-222222222222";
const OTHER = "33333333-3333-3333-3333-333333333333";

const config = (subnetSubscription: string) =>
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
  });

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
});
