import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DrillRecorder } from "../../../runbooks/drill-report";
import { newPlanRun, type PlanRunState } from "../../../runbooks/plan-state";

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A plan run of two groups: db behind an osReady gate, web with a DNS hook after it. */
function planRun(t0: number): PlanRunState {
  const iso = (s: number) => new Date(t0 + s * 1000).toISOString();
  const s = newPlanRun(
    "shop",
    "failover-test",
    [
      { name: "db", blueprints: ["bp-db"] },
      { name: "web", blueprints: ["bp-web"] },
    ],
    "plan-op",
    iso(0),
  );
  s.phase = "succeeded";
  s.rtoSeconds = 30;
  Object.assign(s.groups[0]!, {
    status: "succeeded",
    startedAt: iso(0),
    recoveredAt: iso(12),
    rtoSeconds: 12,
    gate: { kind: "osReady", status: "passed", startedAt: iso(10), endedAt: iso(12) },
  });
  Object.assign(s.groups[1]!, {
    status: "succeeded",
    startedAt: iso(12),
    recoveredAt: iso(30),
    rtoSeconds: 30,
    hooks: [
      {
        when: "after",
        passed: true,
        onFailure: "stop",
        tail: [],
        result: {
          script: "hooks/dns-switch.mjs",
          exitCode: 0,
          timedOut: false,
          startedAt: iso(30),
          endedAt: iso(31.5),
          durationMs: 1500,
          outputLines: 2,
        },
      },
    ],
  });
  return s;
}

describe("drill report of a plan", () => {
  it("puts each group, its gate and its hooks on the timeline, in the plan's lane", () => {
    const rec = new DrillRecorder("ferry drill --plan shop");
    rec.addPlan(planRun(rec.startedAt.getTime()));
    const lane = rec.steps.filter((s) => s.lane === "plan shop");
    expect(lane.map((s) => [s.name, s.startMs, s.endMs])).toEqual([
      ["group db: bp-db", 0, 12_000],
      ["group db: gate osReady", 10_000, 12_000],
      ["group web: bp-web", 12_000, 30_000],
      ["group web: after hook hooks/dns-switch.mjs (exit 0)", 30_000, 31_500],
    ]);
  });

  it("summarises RTO per group and for the plan, and each hook's exit status and duration, on the page too", () => {
    const rec = new DrillRecorder("ferry drill --plan shop");
    rec.addPlan(planRun(rec.startedAt.getTime()));
    const dir = mkdtempSync(join(tmpdir(), "ferry-plan-report-"));
    made.push(dir);
    const summary = rec.write(dir);
    expect(summary.plan).toMatchObject({
      plan: "shop",
      rtoSeconds: 30,
      groups: [
        { name: "db", rtoSeconds: 12, gate: { kind: "osReady", status: "passed", seconds: 2 }, hooks: [] },
        {
          name: "web",
          rtoSeconds: 30,
          gate: null,
          hooks: [{ script: "hooks/dns-switch.mjs", exitCode: 0, seconds: 1.5 }],
        },
      ],
    });
    const html = readFileSync(join(dir, "index.html"), "utf8");
    expect(html).toMatch(/<h2>Recovery plan shop<\/h2>/);
    expect(html).toMatch(/after hooks\/dns-switch\.mjs: exit 0, 1\.5 s/);
  });

  it("fails the drill when the plan did not succeed", () => {
    const rec = new DrillRecorder("ferry drill --plan shop");
    rec.addPlan({ ...planRun(rec.startedAt.getTime()), phase: "failed" });
    expect(rec.summary().verdict).toBe("failed");
  });
});
