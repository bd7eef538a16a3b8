import { readFileSync } from "node:fs";
import { load } from "js-yaml";
import { describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import { planHooks, RecoveryPlanSchema } from "../../../core/schemas/plan";
import { parseWith } from "../../../core/validate";
import { readStackFile } from "../../../stacks/config";

const parse = (doc: unknown) => parseWith(RecoveryPlanSchema, doc, { what: "plan p" });

function problems(doc: unknown): string {
  try {
    parse(doc);
  } catch (e) {
    if (isUserError(e)) return e.message;
    throw e;
  }
  throw new Error("the plan parsed");
}

describe("recovery plan schema", () => {
  it("fills the defaults: concurrency 4, no hooks, gate timeout 900 s", () => {
    const plan = parse({ groups: [{ name: "db", blueprints: ["bp-db"] }] });
    expect(plan.groups[0]).toEqual({
      name: "db",
      blueprints: ["bp-db"],
      concurrency: 4,
      before: [],
      after: [],
      gateTimeoutSeconds: 900,
    });
  });

  it("refuses a blueprint listed in two groups, naming the key and the group that has it", () => {
    const message = problems({
      groups: [
        { name: "a", blueprints: ["bp-x"] },
        { name: "b", blueprints: [{ blueprint: "bp-x", rows: ["r1"] }] },
      ],
    });
    expect(message).toMatch(/groups\[1\]\.blueprints\[0\]: names blueprint bp-x, which group a has already/);
  });

  it("refuses two groups of one name", () => {
    expect(
      problems({
        groups: [
          { name: "a", blueprints: ["bp-x"] },
          { name: "a", blueprints: ["bp-y"] },
        ],
      }),
    ).toMatch(/groups\[1\]\.name: is the name of group 0 too/);
  });

  it("refuses an unknown gate kind, naming the kinds there are", () => {
    expect(problems({ groups: [{ name: "a", blueprints: ["bp-x"], gate: { kind: "pingable" } }] })).toMatch(
      /groups\[0\]\.gate\.kind: .*osReady.*appReady.*hook/,
    );
  });

  it("refuses a hook that is not a script, and a manual step without its message", () => {
    const message = problems({
      groups: [
        {
          name: "a",
          blueprints: ["bp-x"],
          after: [{ script: "hooks/switch.sh" }],
          manualStep: { waitFor: "approval" },
        },
      ],
    });
    expect(message).toMatch(/groups\[0\]\.after\[0\]\.script: is not a hook script/);
    expect(message).toMatch(/groups\[0\]\.manualStep\.message/);
  });

  it("lists every hook once, a gate hook as `gate`, in plan order", () => {
    const plan = parse({
      groups: [
        {
          name: "a",
          blueprints: ["bp-a"],
          before: [{ script: "hooks/b.mjs" }],
          gate: { kind: "hook", script: "hooks/g.mjs" },
        },
        { name: "b", blueprints: ["bp-b"], after: [{ script: "hooks/d.mjs", onFailure: "continue" }] },
      ],
    });
    expect(planHooks(plan).map((h) => `${h.group} ${h.when} ${h.hook.script}`)).toEqual([
      "a before hooks/b.mjs",
      "a gate hooks/g.mjs",
      "b after hooks/d.mjs",
    ]);
  });

  it("hands a hook its arguments, a gate hook's too", () => {
    const plan = parse({
      groups: [
        {
          name: "a",
          blueprints: ["bp-a"],
          gate: { kind: "hook", script: "hooks/g.mjs", args: ["--vm-agent"] },
          after: [{ script: "hooks/d.mjs", args: ["--zone", "app.internal"] }],
        },
      ],
    });
    expect(planHooks(plan).map((h) => h.hook.args)).toEqual([["--vm-agent"], ["--zone", "app.internal"]]);
    const refused = problems({ groups: [{ name: "a", blueprints: ["b"], after: [{ script: "h.mjs", args: "--x" }] }] });
    expect(refused).toMatch(/groups\[0\]\.after\[0\]\.args/);
  });

  it("the example plan parses and names the example blueprint stacks", () => {
    const plan = parse(load(readFileSync("plans/example.yaml", "utf8")));
    for (const g of plan.groups)
      for (const m of g.blueprints) {
        const stack = typeof m === "string" ? m : m.blueprint;
        expect(readStackFile(`stacks/Pulumi.${stack}.yaml`).raw.kind).toBe("blueprint");
      }
  });
});
