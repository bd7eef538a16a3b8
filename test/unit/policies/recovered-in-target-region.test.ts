import { describe, expect, it } from "vitest";
import { recoveredInTargetRegion as rule } from "../../../policies/rules/recovered-in-target-region";
import { UNKNOWN, asInPreview, blueprintStack, expectOne, find, urnOf, violationsOf } from "./fixtures";

describe("ferry-recovered-in-target-region", () => {
  it("passes a failover and a drill in the target region and allowed subnets", async () => {
    expect(await violationsOf(rule, blueprintStack("failover"))).toEqual([]);
    expect(await violationsOf(rule, blueprintStack("test"))).toEqual([]);
  });

  it("leaves staging disks alone: a standby stack needs no facts", async () => {
    expect(await violationsOf(rule, blueprintStack("standby"), {})).toEqual([]);
  });

  it("refuses every recovered resource when the facts are missing", async () => {
    const violations = await violationsOf(rule, blueprintStack("failover"), {});
    expect(violations.map((v) => v.urn?.split("::").pop())).toEqual([
      "web1-nic",
      "web1-lun0-snapshot",
      "web1-lun0-disk",
      "web1",
    ]);
    for (const v of violations)
      expect(v.message).toMatch(
        /^The policy config holds no precheck facts, so the region of Recovered \w+ '[\w-]+' cannot be checked\. Run `ferry precheck web --policy-config <file>` first/,
      );
  });

  it("refuses a recovered VM in a source region", async () => {
    const stack = blueprintStack("failover");
    const vm = find(stack, "web1");
    vm.props.location = "westeurope";
    const v = expectOne(
      await violationsOf(rule, stack),
      "Recovered VirtualMachine 'web1' is in 'westeurope', a source region of the blueprint",
      "target region 'northeurope'",
    );
    expect(v.urn).toBe(urnOf(vm));
  });

  it("refuses a source region however it is spelt", async () => {
    const stack = blueprintStack("failover");
    find(stack, "web1-lun0-snapshot").props.location = "West Europe";
    expectOne(
      await violationsOf(rule, stack),
      "Recovered Snapshot 'web1-lun0-snapshot' is in 'West Europe', a source region",
    );
  });

  it("refuses a recovered disk outside the target region", async () => {
    const stack = blueprintStack("failover");
    find(stack, "web1-lun0-disk").props.location = "uksouth";
    expectOne(
      await violationsOf(rule, stack),
      "Recovered Disk 'web1-lun0-disk' is in 'uksouth', not in the target region 'northeurope'",
    );
  });

  it("compares canonical region names", async () => {
    const stack = blueprintStack("failover");
    find(stack, "web1").props.location = "North Europe";
    expect(await violationsOf(rule, stack)).toEqual([]);
  });

  it("refuses a recovered resource without a location", async () => {
    const stack = blueprintStack("failover");
    delete find(stack, "web1-nic").props.location;
    expectOne(
      await violationsOf(rule, stack),
      "Recovered NetworkInterface 'web1-nic' declares no location",
      "Set location to the target region 'northeurope'",
    );
  });

  it("refuses a recovered NIC in a subnet the precheck did not allow", async () => {
    const stack = blueprintStack("failover");
    const other = stack.facts.allowedSubnetIds[0]!.replace(/subnets\/app$/, "subnets/dmz");
    find(stack, "web1-nic").props.ipConfigurations[0].subnet.id = other;
    expectOne(
      await violationsOf(rule, stack),
      `Recovered NetworkInterface 'web1-nic' joins subnet ${other} (IP configuration 'ipconfig1'), which is not one the precheck allowed`,
      `Use one of: ${stack.facts.allowedSubnetIds[0]}`,
    );
  });

  it("refuses a drill NIC in the production subnet when the precheck allowed the test subnet", async () => {
    const stack = blueprintStack("test");
    const production = blueprintStack("failover").facts.allowedSubnetIds[0]!;
    find(stack, "web1-test-nic").props.ipConfigurations[0].subnet.id = production;
    expectOne(await violationsOf(rule, stack), `joins subnet ${production}`);
  });

  it("compares subnet ids as ARM ids, case-insensitively", async () => {
    const stack = blueprintStack("failover");
    const nic = find(stack, "web1-nic");
    nic.props.ipConfigurations[0].subnet.id = nic.props.ipConfigurations[0].subnet.id.toUpperCase();
    expect(await violationsOf(rule, stack)).toEqual([]);
  });

  it("refuses a recovered NIC IP configuration without a subnet", async () => {
    const stack = blueprintStack("failover");
    delete find(stack, "web1-nic").props.ipConfigurations[0].subnet;
    expectOne(await violationsOf(rule, stack), "has IP configuration 'ipconfig1' without a subnet");
  });

  it("leaves a subnet id the engine does not know yet (a preview) to the update", async () => {
    const stack = blueprintStack("failover");
    const nic = find(stack, "web1-nic");
    nic.props.ipConfigurations[0].subnet.id = UNKNOWN;
    asInPreview(nic);
    expect(await violationsOf(rule, stack)).toEqual([]);
  });
});
