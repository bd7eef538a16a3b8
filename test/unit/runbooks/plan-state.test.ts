import { describe, expect, it } from "vitest";
import { continuePlanRun, newPlanRun, reversed, type PlanRunState } from "../../../runbooks/plan-state";

const groups = [
  { name: "db", blueprints: ["bp-db"] },
  { name: "web", blueprints: ["bp-w1", "bp-w2"] },
];

function stoppedInWeb(): PlanRunState {
  const s = newPlanRun("shop", "failover-test", groups, "op-1", "2026-01-01T00:00:00.000Z");
  s.phase = "failed";
  s.groups[0]!.status = "succeeded";
  s.groups[0]!.members[0] = { blueprint: "bp-db", status: "succeeded", operationId: "db-op" };
  s.groups[1]!.status = "failed";
  s.groups[1]!.members = [
    { blueprint: "bp-w1", status: "succeeded", operationId: "w1-op" },
    { blueprint: "bp-w2", status: "failed", operationId: "w2-op", error: "boom" },
  ];
  return s;
}

describe("plan run state", () => {
  it("a re-run keeps the recovered groups and the blueprints that got through, and re-runs the rest", () => {
    const fresh = newPlanRun("shop", "failover-test", groups, "op-2", "2026-01-01T01:00:00.000Z");
    const next = continuePlanRun(stoppedInWeb(), fresh, "op-2");
    expect(next.startedAt).toBe("2026-01-01T00:00:00.000Z");
    expect(next.operations).toEqual(["op-1", "op-2"]);
    expect(next.groups[0]!.status).toBe("succeeded");
    expect(next.groups[1]!.status).toBe("notStarted");
    expect(next.groups[1]!.members.map((m) => `${m.blueprint} ${m.status}`)).toEqual([
      "bp-w1 succeeded",
      "bp-w2 notStarted",
    ]);
  });

  it("starts over after a run that succeeded, or one of another kind", () => {
    const done = { ...stoppedInWeb(), phase: "succeeded" as const };
    const fresh = newPlanRun("shop", "failover-test", groups, "op-2", "2026-01-01T01:00:00.000Z");
    expect(continuePlanRun(done, fresh, "op-2")).toBe(fresh);
    const cleanup = newPlanRun("shop", "cleanup", groups, "op-3", "2026-01-01T01:00:00.000Z");
    expect(continuePlanRun(stoppedInWeb(), cleanup, "op-3")).toBe(cleanup);
  });

  it("approves the group awaiting approval only with an approval, keeping its message", () => {
    const waiting = stoppedInWeb();
    waiting.phase = "awaitingApproval";
    waiting.groups[0]!.status = "awaitingApproval";
    waiting.groups[0]!.awaiting = "check the replicas";
    const fresh = () => newPlanRun("shop", "failover-test", groups, "op-2", "2026-01-01T01:00:00.000Z");
    expect(continuePlanRun(waiting, fresh(), "op-2").groups[0]!.status).toBe("awaitingApproval");
    const approved = continuePlanRun(waiting, fresh(), "op-2", {
      by: "alice",
      host: "h",
      at: "2026-01-01T00:30:00.000Z",
      message: "",
    });
    expect(approved.groups[0]).toMatchObject({
      status: "succeeded",
      approval: { by: "alice", message: "check the replicas" },
    });
    expect(approved.groups[0]!.awaiting).toBeUndefined();
  });

  it("goes home in reverse: cleanup and failback", () => {
    expect(reversed("cleanup")).toBe(true);
    expect(reversed("failback-complete")).toBe(true);
    expect(reversed("failover-planned")).toBe(false);
  });
});
