import { z } from "zod";
import { pulumiStackName, resourceName } from "./fields";

// A recovery plan (`plans/<name>.yaml`): the order in which blueprints fail over, what must be true
// between two groups, and the operator's own steps (zx hooks) around them. Parsed with parseWith, so
// every problem names its key and the fix. What needs I/O (the blueprints and rows exist, the hooks
// are there and parse) is checked by the runbooks when they load the plan.

/** A zx hook: a script in the repository, run with the plan's context. */
export const PlanHookSchema = z.strictObject({
  /** Path of the script relative to the repository (`hooks/dns-switch.mjs`); it must stay inside it. */
  script: z
    .string()
    .min(1)
    .regex(/\.(mjs|js)$/, "is not a hook script. Name a zx script in the repository, like hooks/dns-switch.mjs"),
  /** How long it may run, in seconds, before it is killed and counted as failed. Default 300. */
  timeoutSeconds: z.int().min(1).max(86_400).optional(),
  /**
   * The script's arguments, as written (`["--zone", "app.internal"]`): its settings, never a secret (a plan is a
   * tracked file; a hook signs in to Azure as the pipeline's identity). Default none.
   */
  args: z.array(z.string()).max(64).optional(),
  /**
   * What its failure (exit code not 0, or timed out) does: `stop` stops the plan with a resumable state;
   * `continue` records it and goes on. Default stop.
   */
  onFailure: z.enum(["stop", "continue"]).optional(),
});
export type PlanHook = z.output<typeof PlanHookSchema>;

/**
 * What must be true of a group's recovered VMs before the next group starts: each VM's guest OS reports
 * ready, or its application answers (both as its blueprint row's `readiness` defines them), or a hook
 * exits 0.
 */
export const PlanGateSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("osReady") }),
  z.strictObject({ kind: z.literal("appReady") }),
  z.strictObject({
    kind: z.literal("hook"),
    script: PlanHookSchema.shape.script,
    /** How long the gate hook may run, in seconds. Default 300. */
    timeoutSeconds: PlanHookSchema.shape.timeoutSeconds,
    /** The gate hook's arguments. Default none. */
    args: PlanHookSchema.shape.args,
  }),
]);
export type PlanGate = z.output<typeof PlanGateSchema>;

/** A blueprint of a group, whole (its name) or narrowed to some of its rows. */
export const PlanMemberSchema = z.union([
  pulumiStackName,
  z.strictObject({
    /** The blueprint stack. */
    blueprint: pulumiStackName,
    /**
     * Rows the group's gate waits for and its hooks are told about. The blueprint still fails over whole
     * (one `up`, one operation). Default: every row.
     */
    rows: z.array(resourceName).min(1).optional(),
  }),
]);
export type PlanMember = z.output<typeof PlanMemberSchema>;

/** A person confirms before the plan goes on past this group. */
export const ManualStepSchema = z.strictObject({
  waitFor: z.literal("approval"),
  /** What the person is asked to check, shown by `ferry plan status` and recorded with the approval. */
  message: z.string().min(1),
});

export const PlanGroupSchema = z.strictObject({
  /** The group's name, as the report and the hooks' `FERRY_GROUP` say it. */
  name: resourceName,
  /** The blueprints that fail over together, in parallel. */
  blueprints: z.array(PlanMemberSchema).min(1, "lists no blueprint. Name at least one blueprint stack"),
  /** How many of the group's blueprints fail over at once. Default 4. */
  concurrency: z.int().min(1).max(50).default(4),
  /** Hooks run, in order, before the group's first failover starts. */
  before: z.array(PlanHookSchema).default([]),
  /** Hooks run, in order, once the group's gate passed. */
  after: z.array(PlanHookSchema).default([]),
  /** What must hold before the next group starts. Default: the failovers succeeded (VMs created). */
  gate: PlanGateSchema.optional(),
  /** How long the gate may take, in seconds, from the group's failovers' end. Default 900. */
  gateTimeoutSeconds: z.int().min(1).max(86_400).default(900),
  /** A person approves (`ferry plan resume`) after the group's `after` hooks, before the next group. */
  manualStep: ManualStepSchema.optional(),
});
export type PlanGroup = z.output<typeof PlanGroupSchema>;

export const RecoveryPlanSchema = z
  .strictObject({
    /** What the plan recovers, for people. */
    description: z.string().optional(),
    /** The groups, in the order they fail over (failback goes home in reverse order). */
    groups: z.array(PlanGroupSchema).min(1, "has no group. A plan lists at least one group of blueprints"),
  })
  .superRefine((plan, ctx) => {
    const groups = new Map<string, number>();
    const blueprints = new Map<string, string>();
    plan.groups.forEach((g, i) => {
      if (groups.has(g.name))
        ctx.addIssue({
          code: "custom",
          path: ["groups", i, "name"],
          message: `is the name of group ${groups.get(g.name)} too. Give each group its own name`,
        });
      groups.set(g.name, i);
      g.blueprints.forEach((m, j) => {
        const name = memberBlueprint(m);
        const other = blueprints.get(name);
        if (other !== undefined)
          ctx.addIssue({
            code: "custom",
            path: ["groups", i, "blueprints", j],
            message:
              `names blueprint ${name}, which group ${other} has already. A blueprint fails over whole, once: ` +
              "list it in one group only",
          });
        blueprints.set(name, g.name);
      });
    });
  });
export type RecoveryPlan = z.output<typeof RecoveryPlanSchema>;

/** The blueprint stack a group member names. */
export function memberBlueprint(m: PlanMember): string {
  return typeof m === "string" ? m : m.blueprint;
}

/** The rows a group member narrows its blueprint to, or undefined for all. */
export function memberRows(m: PlanMember): string[] | undefined {
  return typeof m === "string" ? undefined : m.rows;
}

/** Every hook a plan runs (before, after, gates), each once, in plan order. */
export function planHooks(plan: RecoveryPlan): { group: string; when: "before" | "after" | "gate"; hook: PlanHook }[] {
  return plan.groups.flatMap((g) => [
    ...g.before.map((hook) => ({ group: g.name, when: "before" as const, hook })),
    ...(g.gate?.kind === "hook"
      ? [
          {
            group: g.name,
            when: "gate" as const,
            hook: {
              script: g.gate.script,
              ...(g.gate.timeoutSeconds !== undefined ? { timeoutSeconds: g.gate.timeoutSeconds } : {}),
              ...(g.gate.args !== undefined ? { args: g.gate.args } : {}),
            },
          },
        ]
      : []),
    ...g.after.map((hook) => ({ group: g.name, when: "after" as const, hook })),
  ]);
}
