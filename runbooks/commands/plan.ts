import type { CommandModule } from "yargs";
import { UserError } from "../../core/errors";
import type { PlanOperationKind, PlanRunState } from "../plan-state";
import { contextFor, emit, seconds, table, type CliIo, type GlobalArgs } from "./common";

/**
 * A plan run for people: its operation's status (`waiting` at a manual step: neither done nor failed), one line per
 * group (status, blueprints, gate, hooks, RTO), then the plan's RTO.
 */
export function formatPlanRun(s: PlanRunState, op?: { id: string; status: string }): string {
  const rows = s.groups.map((g) => [
    g.name,
    g.status,
    g.members.map((m) => `${m.blueprint} ${m.status}${m.operationId ? ` (${m.operationId})` : ""}`).join(", "),
    g.gate ? `${g.gate.kind} ${g.gate.status}` : undefined,
    g.hooks.length
      ? g.hooks
          .map(
            (h) =>
              `${h.when} ${h.result.script} ${h.result.timedOut ? "timed out" : `exit ${h.result.exitCode}`} ` +
              `${(h.result.durationMs / 1000).toFixed(1)} s`,
          )
          .join("; ")
      : undefined,
    seconds(g.rtoSeconds),
  ]);
  const waiting = s.groups.find((g) => g.status === "awaitingApproval");
  const approvals = s.groups
    .filter((g) => g.approval)
    .map((g) => `\napproved after ${g.name}: by ${g.approval!.by} at ${g.approval!.at} (${g.approval!.message})`)
    .join("");
  const next =
    s.phase === "awaitingApproval" && waiting
      ? `\n\nWaiting for approval after group ${waiting.name}: ${waiting.awaiting ?? ""}\n` +
        `Once done: ferry plan resume ${s.plan}`
      : s.phase === "failed" || s.phase === "running"
        ? `\n\nStopped: fix the cause, then ferry plan resume ${s.plan}`
        : "";
  return (
    `plan ${s.plan}, ${s.kind}: ${op && op.status !== s.phase ? `${op.status}, ` : ""}${s.phase}` +
    `${op ? ` (${op.id})` : ""}\n\n` +
    table(["GROUP", "STATUS", "BLUEPRINTS", "GATE", "HOOKS", "RTO"], rows) +
    (s.rtoSeconds !== undefined ? `\n\nRTO of the plan: ${seconds(s.rtoSeconds)}` : "") +
    approvals +
    next
  );
}

/** Runs a plan for a command (`failover --plan`, `cleanup --plan`, `failback complete --plan`) and prints it. */
export async function runPlanCommand(
  io: CliIo,
  a: GlobalArgs & { plan?: string; yes?: boolean },
  kind: PlanOperationKind,
  what: string,
  options: { acceptOlderPoint?: boolean } = {},
): Promise<void> {
  const { loadPlan, runPlan } = await import("../plan");
  const ctx = await contextFor(a, io);
  const loaded = loadPlan(ctx, a.plan!);
  const groups = loaded.plan.groups.map((g) => g.name).join(", ");
  if (!a.yes && !(await ctx.confirm(`${what} by plan ${loaded.name} (groups ${groups}). Go on?`)))
    throw new UserError("Not confirmed: nothing was done. Add --yes where nobody can answer (pipelines).", {
      code: "NotConfirmed",
    });
  const { state, op } = await runPlan(ctx, loaded.name, {
    kind,
    ...(options.acceptOlderPoint ? { acceptOlderPoint: true } : {}),
  });
  emit(io, a, { operation: op.id, status: op.status, ...state }, () => formatPlanRun(state, op));
}

/** The `--plan` option of the commands that run a plan. */
export const planOption = {
  type: "string",
  describe: "Run a recovery plan (plans/<plan>.yaml) instead of one blueprint",
} as const;

/** Exactly one of a blueprint and `--plan`, for `command` (`precheck`, `failback complete`). */
export function blueprintOrPlan(command: string, a: { blueprint?: string; plan?: string }): true {
  if ((a.blueprint === undefined) === (a.plan === undefined))
    throw new UserError(`ferry ${command}: name a blueprint, or a plan with --plan <plan> (one of the two).`, {
      code: "Usage",
    });
  return true;
}

type PlanArgs = GlobalArgs & { plan: string; "approved-by"?: string };

export function planCommand(io: CliIo): CommandModule<GlobalArgs, PlanArgs> {
  return {
    command: "plan <action>",
    describe: "A recovery plan's state, and going on after a stop or a manual step: status, resume",
    builder: (y) =>
      y
        .command<PlanArgs>(
          "status <plan>",
          "The plan's latest run: each group's blueprints, gate, hooks and RTO, and what it waits for",
          (c) =>
            c
              .positional("plan", { type: "string", demandOption: true, describe: "Plan (plans/<plan>.yaml)" })
              .example("$0 plan status shop", "Where the last run of plan shop is"),
          async (a) => {
            const { latestPlanRun, loadPlan } = await import("../plan");
            const ctx = await contextFor(a, io);
            loadPlan(ctx, a.plan);
            const latest = await latestPlanRun(ctx, a.plan);
            if (!latest) {
              emit(io, a, { plan: a.plan, phase: "neverRun" }, () => `plan ${a.plan}: never run`);
              return;
            }
            emit(io, a, { operation: latest.op.id, status: latest.op.status, ...latest.state }, () =>
              formatPlanRun(latest.state, latest.op),
            );
          },
        )
        .command<PlanArgs>(
          "resume <plan>",
          "Continue the plan's stopped run; at a manual step, record the approval (who and when) and go on",
          (c) =>
            c
              .positional("plan", { type: "string", demandOption: true, describe: "Plan (plans/<plan>.yaml)" })
              .option("approved-by", {
                type: "string",
                describe: "Who approves a manual step (default: $FERRY_APPROVED_BY, else the OS user at this host)",
              })
              .example("$0 plan resume shop", "After the manual step's check, or once a failure is fixed")
              .example(
                "$0 plan resume shop --approved-by $(Build.RequestedForEmail)",
                "In the pipeline stage after the environment's approval",
              ),
          async (a) => {
            const { resumePlan } = await import("../plan");
            const ctx = await contextFor(a, io);
            const by = a["approved-by"] ?? io.env.FERRY_APPROVED_BY;
            const { state, op } = await resumePlan(ctx, a.plan, by ? { approvedBy: by } : {});
            emit(io, a, { operation: op.id, status: op.status, ...state }, () => formatPlanRun(state, op));
          },
        )
        .demandCommand(1, "Name an action: status or resume.") as never,
    handler: () => undefined,
  };
}
