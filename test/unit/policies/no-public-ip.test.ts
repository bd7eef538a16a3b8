import { describe, expect, it } from "vitest";
import { noPublicIp as rule } from "../../../policies/rules/no-public-ip";
import {
  UNKNOWN,
  asInPreview,
  blueprintStack,
  expectOne,
  find,
  type FixtureResource,
  urnOf,
  violationsOf,
} from "./fixtures";

describe("ferry-no-public-ip", () => {
  it("passes ferry's stacks, which have no public IP", async () => {
    for (const mode of ["standby", "failover", "test"] as const)
      expect(await violationsOf(rule, blueprintStack(mode))).toEqual([]);
  });

  it("refuses any public IP address resource, tagged by ferry or not", async () => {
    const stack = blueprintStack("standby");
    const pip: FixtureResource = {
      type: "azure-native:network:PublicIPAddress",
      name: "jump",
      parentType: "pulumi:pulumi:Stack",
      props: { publicIpAddressName: "jump", resourceGroupName: "dr-rg", location: "northeurope" },
      dependencies: [],
      propertyDependencies: {},
    };
    stack.resources.push(pip);
    const v = expectOne(
      await violationsOf(rule, stack),
      "PublicIPAddress 'jump' is a public IP address",
      "Remove it",
      "Azure Bastion",
    );
    expect(v.urn).toBe(urnOf(pip));
  });

  it("refuses a NIC IP configuration with a public IP", async () => {
    const stack = blueprintStack("failover");
    find(stack, "web1-nic").props.ipConfigurations[0].publicIPAddress = {
      id: "/subscriptions/x/resourceGroups/dr-rg/providers/Microsoft.Network/publicIPAddresses/jump",
    };
    expectOne(
      await violationsOf(rule, stack),
      "NetworkInterface 'web1-nic' has a public IP address on IP configuration 'ipconfig1'",
      "Remove publicIPAddress from it",
    );
  });

  it("refuses a public IP whose id is not known yet (a preview): it is still set", async () => {
    const stack = blueprintStack("failover");
    const nic = find(stack, "web1-nic");
    nic.props.ipConfigurations[0].publicIPAddress = UNKNOWN;
    asInPreview(nic);
    expectOne(await violationsOf(rule, stack), "has a public IP address on IP configuration 'ipconfig1'");
  });

  it("refuses a VM network interface configuration with a public IP", async () => {
    const stack = blueprintStack("failover");
    find(stack, "web1").props.networkProfile.networkInterfaceConfigurations = [
      { name: "nic0", ipConfigurations: [{ name: "ip0", publicIPAddressConfiguration: { name: "pip0" } }] },
    ];
    expectOne(
      await violationsOf(rule, stack),
      "VirtualMachine 'web1' gives its network interface configuration 'nic0' a public IP (IP configuration 'ip0')",
      "Remove publicIPAddressConfiguration",
    );
  });
});
