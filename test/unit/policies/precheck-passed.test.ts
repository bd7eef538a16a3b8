import { describe, expect, it } from "vitest";
import { precheckPassed, precheckPassedPolicy } from "../../../policies/rules/precheck-passed";
import { NOW, blueprintStack, expectOne, find, urnOf, violationsOf, type FixtureStack } from "./fixtures";

const rule = precheckPassedPolicy({ now: () => NOW });
const minutesBefore = (m: number) => new Date(NOW.getTime() - m * 60_000).toISOString();

/** The rule's violations on one resource of the stack: a resource rule judges each before it is created. */
const on = (stack: FixtureStack, name: string, r = rule) =>
  violationsOf(r, { resources: [find(stack, name)], config: stack.config });

describe("ferry-failover-precheck-passed", () => {
  it("is a resource policy: it judges each resource before the engine creates it", () => {
    expect(rule).toHaveProperty("validateResource");
    expect(rule).not.toHaveProperty("validateStack");
  });

  it("passes a failover stack on fresh facts of a passed precheck", async () => {
    expect(await violationsOf(rule, blueprintStack("failover"))).toEqual([]);
  });

  it("passes a drill and a failback on facts for their mode", async () => {
    expect(await violationsOf(rule, blueprintStack("test"))).toEqual([]);
    expect(await violationsOf(rule, blueprintStack("failback"))).toEqual([]);
  });

  it("leaves staging disks and failback bases alone, facts or not", async () => {
    const stack = blueprintStack("failover");
    expect(await violationsOf(rule, blueprintStack("standby"), {})).toEqual([]);
    expect(await violationsOf(rule, { resources: [find(stack, "web1-os-failback-base")], config: {} })).toEqual([]);
  });

  it("refuses each recovered VM, NIC, disk and snapshot without facts, saying to run the precheck", async () => {
    const violations = await violationsOf(rule, blueprintStack("failover"), {});
    expect(violations.map((v) => v.urn?.split("::").pop())).toEqual([
      "web1-nic",
      "web1-lun0-snapshot",
      "web1-lun0-disk",
      "web1",
    ]);
    expect(violations[3]!.message).toContain("holds no precheck facts");
    expect(violations[3]!.message).toContain("Recovered VirtualMachine 'web1'");
    expect(violations[3]!.message).toContain("Run `ferry precheck web --policy-config <file>` first");
    expect(violations[3]!.message).toContain("--policy-pack-config");
  });

  it("refuses facts that do not parse, naming the field", async () => {
    const stack = blueprintStack("failover");
    stack.facts.checkedAt = "an hour ago";
    expectOne(
      await on(stack, "web1"),
      "precheck facts in the policy config are not valid",
      "checkedAt: is not an ISO 8601 date-time",
      "ferry precheck web",
    );
  });

  it("refuses a precheck that did not pass, with what it reported", async () => {
    const stack = blueprintStack("failover");
    stack.facts.passed = false;
    stack.facts.problems = ["Source web1-lun0 is degraded."];
    const v = expectOne(
      await on(stack, "web1"),
      "The precheck of blueprint 'web'",
      "did not pass, so Recovered VirtualMachine 'web1' may not be created",
      "Source web1-lun0 is degraded.",
      "run `ferry precheck web` again",
    );
    expect(v.urn).toBe(urnOf(find(stack, "web1")));
  });

  it("refuses facts of another blueprint", async () => {
    const stack = blueprintStack("failover");
    stack.facts.blueprint = "billing";
    expectOne(
      await on(stack, "web1-nic"),
      "facts are for blueprint 'billing'",
      "recovers blueprint 'web'",
      "Run `ferry precheck web`",
    );
  });

  it("refuses a recovered resource without a blueprint tag", async () => {
    const stack = blueprintStack("failover");
    delete find(stack, "web1").props.tags["ferry-blueprint"];
    expectOne(await on(stack, "web1"), "carries no ferry-blueprint tag", "precheck of blueprint 'web'");
  });

  it("refuses facts checked for another mode", async () => {
    const stack = blueprintStack("failover");
    stack.facts.mode = "test";
    expectOne(await on(stack, "web1-lun0-disk"), "checked for mode 'test'", "is in mode 'failover'");
  });

  it("refuses facts of another operation", async () => {
    const stack = blueprintStack("failover");
    stack.facts.operation = "op-0";
    expectOne(
      await on(stack, "web1-lun0-snapshot"),
      "checked for operation 'op-0'",
      "belongs to operation 'op-1'",
      "ferry precheck web --operation op-1",
    );
  });

  it("binds to no operation when the facts name none", async () => {
    const stack = blueprintStack("failover");
    delete stack.facts.operation;
    expect(await violationsOf(rule, stack)).toEqual([]);
  });

  it("refuses stale facts, naming their age and the limit", async () => {
    const stack = blueprintStack("failover");
    stack.facts.checkedAt = minutesBefore(45);
    expectOne(
      await on(stack, "web1"),
      "are 45 minutes old",
      `checked at ${minutesBefore(45)}`,
      "limit of 30 minutes (maxAgeMinutes)",
      "Run `ferry precheck web` again",
    );
  });

  it("names an age just over the limit to the second", async () => {
    const stack = blueprintStack("failover");
    stack.facts.checkedAt = new Date(NOW.getTime() - 30 * 60_000 - 5_000).toISOString();
    expectOne(await on(stack, "web1"), "are 30 minutes 5 seconds old", "limit of 30 minutes");
    stack.facts.checkedAt = minutesBefore(30);
    expect(await on(stack, "web1")).toEqual([]);
  });

  it("takes the limit from maxAgeMinutes", async () => {
    const stack = blueprintStack("failover");
    stack.facts.checkedAt = minutesBefore(45);
    stack.config["ferry-failover-precheck-passed"]!.maxAgeMinutes = 60;
    expect(await on(stack, "web1")).toEqual([]);
    stack.config["ferry-failover-precheck-passed"]!.maxAgeMinutes = 10;
    stack.facts.checkedAt = minutesBefore(11);
    expectOne(await on(stack, "web1"), "are 11 minutes old", "limit of 10 minutes");
  });

  it("refuses a maxAgeMinutes that is not a positive number", async () => {
    const stack = blueprintStack("failover");
    stack.config["ferry-failover-precheck-passed"]!.maxAgeMinutes = -5;
    expectOne(await on(stack, "web1"), "sets maxAgeMinutes to -5", "not a positive number of minutes");
  });

  it("refuses facts from the future beyond clock skew", async () => {
    const stack = blueprintStack("failover");
    stack.facts.checkedAt = minutesBefore(-60);
    expectOne(await on(stack, "web1"), "60 minutes in the future", "Check the clocks");
    stack.facts.checkedAt = minutesBefore(-2);
    expect(await on(stack, "web1")).toEqual([]);
  });

  it("refuses a recovered VM made from a point the precheck did not approve", async () => {
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

  it("refuses a recovered snapshot of a source disk the precheck did not check", async () => {
    const stack = blueprintStack("failover");
    const source = stack.blueprint.rows[0]!.dataDisks[0]!.sourceDiskId;
    delete stack.facts.recoveryPoints[source];
    const messages = (await on(stack, "web1-lun0-snapshot")).map((v) => v.message);
    expect(
      messages.some((m) =>
        m.includes(`recovers source disk ${source.toLowerCase()}, which the precheck did not check`),
      ),
    ).toBe(true);
  });

  it("refuses a resource whose own point is approved when another disk's point differs from the facts", async () => {
    const stack = blueprintStack("failover");
    const source = stack.blueprint.rows[0]!.dataDisks[0]!.sourceDiskId;
    stack.facts.recoveryPoints[source] = stack.facts.recoveryPoints[source]!.replace(/.$/, (c) =>
      c === "0" ? "1" : "0",
    );
    // The NIC names the OS disk's point, which the facts still approve: only the set gives it away.
    expectOne(
      await on(stack, "web1-nic"),
      "recovery points are not the ones the precheck approved",
      "ferry precheck web",
    );
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
    expect(await on(stack, "web1", precheckPassed)).toEqual([]);
    stack.facts.checkedAt = new Date(Date.now() - 45 * 60_000).toISOString();
    expectOne(await on(stack, "web1", precheckPassed), "are 45 minutes");
  });
});
