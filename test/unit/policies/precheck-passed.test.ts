import { describe, expect, it } from "vitest";
import { precheckPassed, precheckPassedPolicy } from "../../../policies/rules/precheck-passed";
import { NOW, blueprintStack, expectOne, find, urnOf, violationsOf } from "./fixtures";

const rule = precheckPassedPolicy({ now: () => NOW });
const minutesBefore = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();

describe("ferry-failover-precheck-passed", () => {
  it("passes a failover stack on fresh facts of a passed precheck", async () => {
    expect(await violationsOf(rule, blueprintStack("failover"))).toEqual([]);
  });

  it("passes a drill and a failback on facts for their mode", async () => {
    expect(await violationsOf(rule, blueprintStack("test"))).toEqual([]);
    expect(await violationsOf(rule, blueprintStack("failback"))).toEqual([]);
  });

  it("does not apply to a stack without recovered resources (standby), facts or not", async () => {
    const stack = blueprintStack("standby");
    expect(await violationsOf(rule, stack, {})).toEqual([]);
  });

  it("refuses recovered resources without facts, and says to run the precheck first", async () => {
    const stack = blueprintStack("failover");
    expectOne(
      await violationsOf(rule, stack, {}),
      "holds no precheck facts",
      "Run `ferry precheck web` first",
      "--policy-pack-config",
    );
  });

  it("refuses facts that do not parse, naming the field", async () => {
    const stack = blueprintStack("failover");
    stack.facts.checkedAt = "an hour ago";
    expectOne(
      await violationsOf(rule, stack),
      "precheck facts in the policy config are not valid",
      "checkedAt: is not an ISO 8601 date-time",
      "ferry precheck web",
    );
  });

  it("refuses a precheck that did not pass, with what it reported", async () => {
    const stack = blueprintStack("failover");
    stack.facts.passed = false;
    stack.facts.problems = ["Source web1-lun0 is degraded."];
    expectOne(
      await violationsOf(rule, stack),
      "The precheck of blueprint 'web'",
      "did not pass",
      "Source web1-lun0 is degraded.",
      "run `ferry precheck web` again",
    );
  });

  it("refuses facts of another blueprint", async () => {
    const stack = blueprintStack("failover");
    stack.facts.blueprint = "billing";
    expectOne(
      await violationsOf(rule, stack),
      "facts are for blueprint 'billing'",
      "recovers blueprint 'web'",
      "Run `ferry precheck web`",
    );
  });

  it("refuses facts checked for another mode", async () => {
    const stack = blueprintStack("failover");
    stack.facts.mode = "test";
    expectOne(await violationsOf(rule, stack), "checked for mode 'test'", "are in mode 'failover'");
  });

  it("refuses stale facts, naming their age and the limit", async () => {
    const stack = blueprintStack("failover");
    stack.facts.checkedAt = minutesBefore(45);
    expectOne(
      await violationsOf(rule, stack),
      "are 45 minutes old",
      `checked at ${minutesBefore(45)}`,
      "limit of 30 minutes (maxAgeMinutes)",
      "Run `ferry precheck web` again",
    );
  });

  it("names an age just over the limit to the second", async () => {
    const stack = blueprintStack("failover");
    stack.facts.checkedAt = new Date(NOW.getTime() - 30 * 60_000 - 5_000).toISOString();
    expectOne(await violationsOf(rule, stack), "are 30 minutes 5 seconds old", "limit of 30 minutes");
    stack.facts.checkedAt = minutesBefore(30);
    expect(await violationsOf(rule, stack)).toEqual([]);
  });

  it("takes the limit from maxAgeMinutes", async () => {
    const stack = blueprintStack("failover");
    stack.facts.checkedAt = minutesBefore(45);
    stack.config["ferry-failover-precheck-passed"]!.maxAgeMinutes = 60;
    expect(await violationsOf(rule, stack)).toEqual([]);
    stack.config["ferry-failover-precheck-passed"]!.maxAgeMinutes = 10;
    stack.facts.checkedAt = minutesBefore(11);
    expectOne(await violationsOf(rule, stack), "are 11 minutes old", "limit of 10 minutes");
  });

  it("refuses a maxAgeMinutes that is not a positive number", async () => {
    const stack = blueprintStack("failover");
    stack.config["ferry-failover-precheck-passed"]!.maxAgeMinutes = -5;
    expectOne(await violationsOf(rule, stack), "sets maxAgeMinutes to -5", "not a positive number of minutes");
  });

  it("refuses facts from the future beyond clock skew", async () => {
    const stack = blueprintStack("failover");
    stack.facts.checkedAt = minutesBefore(-60);
    expectOne(await violationsOf(rule, stack), "60 minutes in the future", "Check the clocks");
    stack.facts.checkedAt = minutesBefore(-2);
    expect(await violationsOf(rule, stack)).toEqual([]);
  });

  it("refuses a recovered resource made from a point the precheck did not approve", async () => {
    const stack = blueprintStack("failover");
    const vm = find(stack, "web1");
    const other = vm.props.tags["ferry-recovery-point"].replace(/-ab12$/, "-ff00");
    vm.props.tags["ferry-recovery-point"] = other;
    const v = expectOne(
      await violationsOf(rule, stack),
      "Recovered VirtualMachine 'web1'",
      `recovery point ${other}`,
      "not one of the recovery points the precheck approved",
    );
    expect(v.urn).toBe(urnOf(vm));
  });

  it("refuses a recovered disk at another point than the one approved for its source disk", async () => {
    const stack = blueprintStack("failover");
    const disk = find(stack, "web1-lun0-disk");
    const source = stack.blueprint.rows[0]!.dataDisks[0]!.sourceDiskId;
    // The OS disk's point: approved, but not for this disk's source.
    const osPoint = stack.facts.recoveryPoints[stack.blueprint.rows[0]!.osDisk.sourceDiskId]!;
    disk.props.tags["ferry-recovery-point"] = osPoint;
    const v = expectOne(
      await violationsOf(rule, stack),
      "Recovered Disk 'web1-lun0-disk'",
      `made from recovery point ${osPoint}`,
      `approved ${stack.facts.recoveryPoints[source]} for its source disk ${source.toLowerCase()}`,
    );
    expect(v.urn).toBe(urnOf(disk));
  });

  it("compares recovery points as ARM ids, case-insensitively", async () => {
    const stack = blueprintStack("failover");
    const snapshot = find(stack, "web1-lun0-snapshot");
    snapshot.props.tags["ferry-recovery-point"] = snapshot.props.tags["ferry-recovery-point"].toUpperCase();
    expect(await violationsOf(rule, stack)).toEqual([]);
  });

  it("refuses a recovered resource without a recovery point tag", async () => {
    const stack = blueprintStack("failover");
    delete find(stack, "web1-nic").props.tags["ferry-recovery-point"];
    expectOne(
      await violationsOf(rule, stack),
      "Recovered NetworkInterface 'web1-nic' carries no ferry-recovery-point tag",
    );
  });

  it("runs on the system clock by default", async () => {
    const stack = blueprintStack("failover");
    stack.facts.checkedAt = new Date().toISOString();
    expect(await violationsOf(precheckPassed, stack)).toEqual([]);
    stack.facts.checkedAt = new Date(Date.now() - 45 * 60_000).toISOString();
    expectOne(await violationsOf(precheckPassed, stack), "are 45 minutes");
  });
});
