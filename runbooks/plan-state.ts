import type { HookResult } from "./hooks";

// What a plan run records of itself (in its plan operation's `details.plan`), and the decisions a
// re-run or a resume makes on it. No I/O: plan.ts reads and writes it.

/** The operations a plan runs for each of its blueprints. */
export const planOperationKinds = [
  "failover-planned",
  "failover-unplanned",
  "failover-test",
  "cleanup",
  "failback-complete",
] as const;
export type PlanOperationKind = (typeof planOperationKinds)[number];

/** Whether the kind goes home (groups in reverse order): a drill's cleanup and a failback. */
export function reversed(kind: PlanOperationKind): boolean {
  return kind === "cleanup" || kind === "failback-complete";
}

/** One hook run of a group (before, after, or its gate), with the last lines it printed. */
export interface HookRecord {
  when: "before" | "after" | "gate";
  result: HookResult;
  /** Exit 0 and not timed out. */
  passed: boolean;
  onFailure: "stop" | "continue";
  /** Its last output lines (redacted), for `ferry plan status`; every line is in the log. */
  tail: string[];
}

/** One blueprint's operation in a group. */
export interface MemberRecord {
  blueprint: string;
  status: "notStarted" | "running" | "succeeded" | "failed";
  /** The blueprint's own operation (its journal: steps, resource events, RTO per row). */
  operationId?: string;
  startedAt?: string;
  endedAt?: string;
  error?: string;
}

export interface GateRecord {
  kind: "osReady" | "appReady" | "hook";
  status: "running" | "passed" | "failed";
  startedAt: string;
  endedAt?: string;
  detail?: string;
}

export interface ApprovalRecord {
  /** Who approved: `--approved-by`, else the OS user at the host. */
  by: string;
  host: string;
  at: string;
  /** The message the person was asked to confirm. */
  message: string;
}

export type GroupStatus = "notStarted" | "running" | "succeeded" | "failed" | "awaitingApproval";

export interface GroupRecord {
  name: string;
  status: GroupStatus;
  startedAt?: string;
  endedAt?: string;
  members: MemberRecord[];
  hooks: HookRecord[];
  gate?: GateRecord;
  /** When the gate passed (or the failovers ended, without one): the group is recovered. */
  recoveredAt?: string;
  /** Seconds from the plan's start to `recoveredAt`: the group's RTO. */
  rtoSeconds?: number;
  approval?: ApprovalRecord;
  /** The manual step's message while the group awaits approval. */
  awaiting?: string;
}

export type PlanPhase = "running" | "awaitingApproval" | "failed" | "succeeded";

/** A plan run: what `ferry plan status` shows and what a resume continues. */
export interface PlanRunState {
  plan: string;
  kind: PlanOperationKind;
  phase: PlanPhase;
  /** When the plan first started (a resumed run keeps it): the plan's RTO counts from here. */
  startedAt: string;
  /** The plan operations that ran it, first to last. */
  operations: string[];
  /** In run order (reversed for the way home). */
  groups: GroupRecord[];
  /** Seconds from the start to the last group recovered. */
  rtoSeconds?: number;
}

/** A fresh run state for `groups` (already in run order). */
export function newPlanRun(
  plan: string,
  kind: PlanOperationKind,
  groups: { name: string; blueprints: string[] }[],
  operationId: string,
  at: string,
): PlanRunState {
  return {
    plan,
    kind,
    phase: "running",
    startedAt: at,
    operations: [operationId],
    groups: groups.map((g) => ({
      name: g.name,
      status: "notStarted",
      members: g.blueprints.map((blueprint) => ({ blueprint, status: "notStarted" })),
      hooks: [],
    })),
  };
}

/**
 * The state a new run of the same plan and kind starts from: an unfinished earlier run is continued
 * (its recovered groups stay recovered, and in the group it stopped in, its blueprints that succeeded
 * are not run again); a finished one, or none, starts over. A group that awaits approval is approved
 * by `approval` (a resume); without one the run is refused by the caller.
 */
export function continuePlanRun(
  previous: PlanRunState | undefined,
  fresh: PlanRunState,
  operationId: string,
  approval?: ApprovalRecord,
): PlanRunState {
  if (!previous || previous.phase === "succeeded" || previous.kind !== fresh.kind) return fresh;
  const byName = new Map(previous.groups.map((g) => [g.name, g]));
  return {
    ...fresh,
    startedAt: previous.startedAt,
    operations: [...previous.operations, operationId],
    groups: fresh.groups.map((g) => {
      const old = byName.get(g.name);
      if (!old) return g;
      if (old.status === "succeeded") return old;
      if (old.status === "awaitingApproval") {
        if (!approval) return old;
        const { awaiting: _awaiting, ...rest } = old;
        return { ...rest, status: "succeeded", approval: { ...approval, message: old.awaiting ?? approval.message } };
      }
      // Failed or interrupted: run it again, but not its blueprints that got through.
      const done = new Map(old.members.filter((m) => m.status === "succeeded").map((m) => [m.blueprint, m]));
      return { ...g, members: g.members.map((m) => done.get(m.blueprint) ?? m) };
    }),
  };
}

/** The group awaiting approval, if the run stopped at a manual step. */
export function awaitingGroup(state: PlanRunState | undefined): GroupRecord | undefined {
  return state?.groups.find((g) => g.status === "awaitingApproval");
}

/** Whether a run state is still to be continued (it failed, was interrupted, or waits for a person). */
export function unfinished(state: PlanRunState | undefined): boolean {
  return state !== undefined && state.phase !== "succeeded";
}
