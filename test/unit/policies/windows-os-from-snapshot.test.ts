import { describe, expect, it } from "vitest";
import { windowsOsFromSnapshot as rule } from "../../../policies/rules/windows-os-from-snapshot";
import { blueprint } from "../stacks/fixtures";
import { blueprintStack, expectOne, find, urnOf, violationsOf } from "./fixtures";

describe("ferry-windows-os-from-snapshot (advisory)", () => {
  it("is advisory", () => {
    expect(rule.enforcementLevel).toBe("advisory");
  });

  it("says nothing about a Linux VM on its staging OS disk", async () => {
    expect(await violationsOf(rule, blueprintStack("failover"))).toEqual([]);
  });

  it("recommends fromSnapshot for a Windows VM on its staging OS disk", async () => {
    const stack = blueprintStack("failover");
    const vm = find(stack, "web1");
    vm.props.storageProfile.osDisk.osType = "Windows";
    const v = expectOne(
      await violationsOf(rule, stack),
      "Recovered VirtualMachine 'web1' boots Windows from its staging disk attached as-is (ferry-os-strategy: attachAsIs)",
      "Prefer osStrategy fromSnapshot for row 'web1'",
      "keeps syncing",
      "leaves it untouched",
    );
    expect(v.urn).toBe(urnOf(vm));
  });

  it("says nothing about a Windows VM whose OS disk comes from a snapshot", async () => {
    const stack = blueprintStack("failover");
    const vm = find(stack, "web1");
    vm.props.storageProfile.osDisk.osType = "Windows";
    vm.props.tags["ferry-os-strategy"] = "fromSnapshot";
    expect(await violationsOf(rule, stack)).toEqual([]);
  });

  it("advises on the core fixture's Windows row (db1), as the program declares it", async () => {
    const stack = blueprintStack("failover", blueprint());
    const violations = await violationsOf(rule, stack);
    expect(violations.map((v) => v.urn?.split("::").pop())).toEqual(["DB1"]);
  });
});
