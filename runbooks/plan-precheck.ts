import { escapeHtml as esc } from "../core/html";
import { isUserError } from "../core/errors";
import { memberBlueprint } from "../core/schemas/plan";
import type { RunbookContext } from "./context";
import { checkPlan, loadPlan } from "./plan";
import { formatPrecheck, precheck, precheckJunit, type PrecheckResult } from "./precheck";

/** Options for {@link precheckPlan}. */
export interface PrecheckPlanOptions {
  /** Check for a failover (the target network) or a drill (the test network). Default failover. */
  mode?: "failover" | "test";
  /** As the precheck's `acceptOlderPoint`. Default false. */
  acceptOlderPoint?: boolean;
}

/** The precheck of a plan: its own problems (blueprints, rows, gates, hooks) and each blueprint's precheck. */
export interface PlanPrecheckResult {
  plan: string;
  mode: "failover" | "test";
  passed: boolean;
  checkedAt: string;
  /** What is wrong with the plan itself, each naming its key and the fix. */
  problems: string[];
  blueprints: PrecheckResult[];
}

/**
 * `ferry precheck --plan`: passes only when the plan can run (every blueprint and row exists, each readiness gate
 * has the rows' checks, every hook is there and parses) and every blueprint's own precheck passes.
 */
export async function precheckPlan(
  ctx: RunbookContext,
  name: string,
  options: PrecheckPlanOptions = {},
): Promise<PlanPrecheckResult> {
  const mode = options.mode ?? "failover";
  const checkedAt = ctx.now().toISOString();
  const loaded = loadPlan(ctx, name);
  const problems = await checkPlan(ctx, loaded);
  const blueprints: PrecheckResult[] = [];
  for (const g of loaded.plan.groups)
    for (const m of g.blueprints) {
      try {
        blueprints.push(
          await precheck(ctx, memberBlueprint(m), { mode, acceptOlderPoint: options.acceptOlderPoint ?? false }),
        );
      } catch (e) {
        // The plan's problems say it already (an unknown blueprint): one line per cause.
        if (!isUserError(e)) throw e;
      }
    }
  return {
    plan: name,
    mode,
    passed: problems.length === 0 && blueprints.every((b) => b.passed),
    checkedAt,
    problems,
    blueprints,
  };
}

export function formatPlanPrecheck(r: PlanPrecheckResult): string {
  const own = r.problems.length ? r.problems.map((p) => `FAIL  ${p}`) : ["ok    every blueprint, row, gate and hook"];
  return [
    `precheck of plan ${r.plan} for ${r.mode}: ${r.passed ? "PASSED" : "FAILED"}`,
    ...own,
    ...r.blueprints.map((b) => `\n${formatPrecheck(b)}`),
  ].join("\n");
}

/** A plan's precheck as JUnit: a suite for the plan itself, then each blueprint's. */
export function planPrecheckJunit(r: PlanPrecheckResult): string {
  const own =
    `<testsuite name="ferry precheck plan ${esc(r.plan)} (${r.mode})" tests="${Math.max(1, r.problems.length)}" ` +
    `failures="${r.problems.length}" timestamp="${r.checkedAt}">\n` +
    (r.problems.length
      ? r.problems.map(
          (p, i) =>
            `  <testcase classname="ferry.plan.${esc(r.plan)}" name="problem ${i + 1}">` +
            `<failure message="${esc(p)}"/></testcase>`,
        )
      : [`  <testcase classname="ferry.plan.${esc(r.plan)}" name="blueprints, rows, gates and hooks"></testcase>`]
    ).join("\n") +
    "\n</testsuite>";
  const suites = r.blueprints.map((b) =>
    precheckJunit(b)
      .replace(/^<\?xml[^>]*>\n/, "")
      .trimEnd(),
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n${[own, ...suites].join("\n")}\n</testsuites>\n`;
}
