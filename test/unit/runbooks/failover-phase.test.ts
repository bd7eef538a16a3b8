import { describe, expect, it } from "vitest";
import { failoverPhaseReached, failoverToResume } from "../../../runbooks/failover-phase";
import type { Operation } from "../../../runbooks/journal";

function op(fields: Partial<Operation>): Operation {
  return {
    id: "failover-unplanned-1",
    kind: "failover-unplanned",
    blueprint: "web",
    startedAt: "2026-01-01T00:00:00Z",
    status: "failed",
    steps: [],
    rto: [],
    ...fields,
  };
}

describe("failover phases", () => {
  it("orders the phases: detached comes after the precheck and before up", () => {
    expect(failoverPhaseReached("up", "stagingDetached")).toBe(true);
    expect(failoverPhaseReached("prechecked", "stagingDetached")).toBe(false);
  });

  it("resumes a failed failover of the same kind that got its staging disks off the appliance", () => {
    const failed = op({ phase: "stagingDetached" });
    expect(failoverToResume([failed], "unplanned")).toBe(failed);
  });

  it("resumes one abandoned by its host (recorded failed when its lease was taken over) past up", () => {
    const abandoned = op({ phase: "up", error: "abandoned: its host a stopped renewing" });
    expect(failoverToResume([abandoned], "unplanned")).toBe(abandoned);
  });

  it("starts afresh after a failure before the detach, whatever its steps are named", () => {
    const early = op({
      phase: "prechecked",
      steps: [{ name: "detach attach-as-is staging disks", startedAt: "2026-01-01T00:00:01Z", status: "failed" }],
    });
    expect(failoverToResume([early], "unplanned")).toBeUndefined();
  });

  it("does not resume a failover of another kind, one that succeeded, or one followed by a cleanup", () => {
    expect(failoverToResume([op({ phase: "stagingDetached" })], "planned")).toBeUndefined();
    expect(failoverToResume([op({ phase: "succeeded", status: "succeeded" })], "unplanned")).toBeUndefined();
    const cleanup = op({ id: "cleanup-1", kind: "cleanup", status: "succeeded" });
    expect(failoverToResume([cleanup, op({ phase: "stagingDetached" })], "unplanned")).toBeUndefined();
  });

  it("treats a phase it does not know (an older record) as not started", () => {
    expect(failoverToResume([op({ phase: "somethingElse" })], "unplanned")).toBeUndefined();
  });
});
