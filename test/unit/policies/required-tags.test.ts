import { describe, expect, it } from "vitest";
import { requiredTags as rule } from "../../../policies/rules/required-tags";
import { blueprintStack, expectOne, find, urnOf, violationsOf } from "./fixtures";

describe("ferry-required-tags", () => {
  it("passes what ferry's program declares in every mode", async () => {
    for (const mode of ["standby", "failover", "test", "failback"] as const)
      expect(await violationsOf(rule, blueprintStack(mode))).toEqual([]);
  });

  it("refuses a staging disk without its source disk tag", async () => {
    const stack = blueprintStack("standby");
    const disk = find(stack, "web1-os-staging");
    delete disk.props.tags["ferry-source-disk"];
    const v = expectOne(
      await violationsOf(rule, stack),
      "Disk 'web1-os-staging' is a staging disk but lacks the tag(s) ferry-source-disk (absent or empty)",
      "Declare it through ferry's program",
    );
    expect(v.urn).toBe(urnOf(disk));
  });

  it("refuses an empty tag", async () => {
    const stack = blueprintStack("failover");
    find(stack, "web1-nic").props.tags["ferry-operation"] = " ";
    expectOne(
      await violationsOf(rule, stack),
      "NetworkInterface 'web1-nic' is a recovered resource but lacks the tag(s) ferry-operation",
    );
  });

  it("refuses a recovered VM without its mode and recovery point", async () => {
    const stack = blueprintStack("failover");
    const tags = find(stack, "web1").props.tags;
    delete tags["ferry-mode"];
    delete tags["ferry-recovery-point"];
    expectOne(
      await violationsOf(rule, stack),
      "VirtualMachine 'web1' is a recovered resource but lacks the tag(s) ferry-mode, ferry-recovery-point",
    );
  });

  it("refuses a recovered disk without its source size; a snapshot need not carry it", async () => {
    const stack = blueprintStack("failover");
    delete find(stack, "web1-lun0-snapshot").props.tags["ferry-source-size-gib"];
    expect(await violationsOf(rule, stack)).toEqual([]);
    delete find(stack, "web1-lun0-disk").props.tags["ferry-source-size-gib"];
    expectOne(
      await violationsOf(rule, stack),
      "Disk 'web1-lun0-disk' is a recovered resource but lacks the tag(s) ferry-source-size-gib",
    );
  });

  it("refuses a drill resource without its blueprint", async () => {
    const stack = blueprintStack("test");
    delete find(stack, "web1-test-os-snapshot").props.tags["ferry-blueprint"];
    expectOne(
      await violationsOf(rule, stack),
      "Snapshot 'web1-test-os-snapshot' is a recovered resource but lacks the tag(s) ferry-blueprint",
    );
  });

  it("refuses a strategy or mode that is not one ferry knows", async () => {
    const stack = blueprintStack("failover");
    find(stack, "web1").props.tags["ferry-os-strategy"] = "attach";
    expectOne(
      await violationsOf(rule, stack),
      "VirtualMachine 'web1' has ferry-os-strategy 'attach', which is not one of attachAsIs, fromSnapshot",
    );
  });

  it("leaves resources that are not ferry's DR resources alone", async () => {
    const stack = blueprintStack("failover");
    find(stack, "web1").props.tags = { "ferry-role": "landing-zone" };
    expect(await violationsOf(rule, stack)).toEqual([]);
  });
});
