import { describe, expect, it } from "vitest";
import { formatOperation } from "../../../runbooks/commands/failover";
import type { Operation } from "../../../runbooks/journal";
import {
  formatPrecheck,
  precheckJunit,
  rpoCheck,
  type PrecheckResult,
  type RpoCheckInput,
} from "../../../runbooks/precheck";

const disk = "/subscriptions/s/resourceGroups/prod/providers/Microsoft.Compute/disks/web-os";
const now = new Date("2026-12-01T12:00:00Z");

/** A point `ageSeconds` old against a 300 s target, not accepted. */
function input(ageSeconds: number, acceptOlderPoint = false): RpoCheckInput {
  return {
    name: "web OS disk",
    row: "web",
    disk: "os",
    sourceDiskId: disk,
    point: {
      sourceDiskId: disk,
      snapshotId: "/subscriptions/s/resourceGroups/snaps/providers/Microsoft.Compute/snapshots/web-os-1",
      createdAt: new Date(now.getTime() - ageSeconds * 1000).toISOString(),
    },
    targetSeconds: 300,
    now,
    stack: "bp-web",
    acceptOlderPoint,
  };
}

describe("rpoCheck", () => {
  it("passes a point within the target and says its age", () => {
    const r = rpoCheck(input(120));
    expect(r.check).toMatchObject({ ok: true, message: "120 s old, within the blueprint's RPO target of 300 s" });
    expect(r.check.accepted).toBeUndefined();
    expect(r.accepted).toBeUndefined();
  });

  it("fails an older point naming the disk, its age, the target and both ways on", () => {
    const r = rpoCheck(input(328));
    expect(r.check.ok).toBe(false);
    expect(r.check.name).toBe("web OS disk: within the RPO target");
    expect(r.check.message).toBe(
      "The recovery point of web OS disk is 328 s old, older than the blueprint's RPO target of 300 s. " +
        "Find why the sync lags (`ferry sources list bp-web`), or recover this point anyway with --accept-older-point.",
    );
    expect(r.accepted).toBeUndefined();
  });

  it("turns the older point into an accepted warning with --accept-older-point", () => {
    const r = rpoCheck(input(328, true));
    expect(r.check).toMatchObject({
      ok: true,
      accepted: true,
      message:
        "The recovery point is 328 s old, older than the blueprint's RPO target of 300 s: " +
        "accepted with --accept-older-point.",
    });
    expect(r.accepted).toEqual({
      row: "web",
      disk: "os",
      sourceDiskId: disk,
      snapshotId: input(0).point.snapshotId,
      ageSeconds: 328,
      targetSeconds: 300,
    });
  });

  it("prints an accepted check as WARN and the precheck still passes", () => {
    const r = rpoCheck(input(328, true));
    const result: PrecheckResult = {
      blueprint: "web",
      mode: "failover",
      passed: true,
      checkedAt: now.toISOString(),
      checks: [r.check],
      recoveryPoints: {},
      acceptedOlderPoints: [r.accepted!],
    };
    expect(formatPrecheck(result).split("\n")).toEqual([
      "precheck of web for failover: PASSED",
      `WARN  web OS disk: within the RPO target  ${r.check.message}`,
    ]);
  });
});

describe("an accepted older point elsewhere", () => {
  it("is a passing JUnit test case whose output carries the warning", () => {
    const r = rpoCheck(input(328, true));
    const xml = precheckJunit({
      blueprint: "web",
      mode: "failover",
      passed: true,
      checkedAt: now.toISOString(),
      checks: [r.check],
      recoveryPoints: {},
      acceptedOlderPoints: [r.accepted!],
    });
    expect(xml).toContain('failures="0"');
    expect(xml).toContain(
      '<testcase classname="ferry.precheck.web" name="web OS disk: within the RPO target"><system-out>WARN: The ' +
        "recovery point is 328 s old, older than the blueprint's RPO target of 300 s: accepted with " +
        "--accept-older-point.</system-out></testcase>",
    );
  });

  it("is named in the failover's summary with its age and the target", () => {
    const op: Operation = {
      id: "failover-test-1",
      kind: "failover-test",
      blueprint: "web",
      startedAt: now.toISOString(),
      status: "succeeded",
      steps: [],
      rto: [],
      details: { acceptedOlderPoints: [rpoCheck(input(328, true)).accepted] },
    };
    expect(formatOperation(op).split("\n").at(-1)).toBe(
      "Accepted older than the RPO target (--accept-older-point): web os 328 s / 300 s",
    );
  });
});
