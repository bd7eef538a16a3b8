import { chmodSync, writeFileSync } from "node:fs";
import { UserError } from "../../core/errors";
import type { CommandModule } from "yargs";
import { contextFor, emit, EXIT, type CliIo, type GlobalArgs } from "./common";
import { blueprintOrPlan, planOption } from "./plan";

type Args = GlobalArgs & {
  blueprint?: string;
  plan?: string;
  test: boolean;
  junit?: string;
  policyConfig?: string;
  operation?: string;
  acceptOlderPoint: boolean;
};

export function precheckCommand(io: CliIo, state: { code: number }): CommandModule<GlobalArgs, Args> {
  return {
    command: "precheck [blueprint]",
    describe: "The strict checks before a failover; exit 0 only when every one passes",
    builder: (y) =>
      y
        .positional("blueprint", { type: "string", describe: "Blueprint stack" })
        .option("plan", {
          ...planOption,
          describe:
            "Check a recovery plan: the precheck of each of its blueprints, and its hooks present and parseable",
        })
        .option("test", {
          type: "boolean",
          default: false,
          describe: "Check for a test failover (the isolated test network)",
        })
        .option("junit", { type: "string", describe: "Also write a JUnit report here (the pipeline's test tab)" })
        .option("policy-config", {
          type: "string",
          describe:
            "Also write the policy pack's config (the facts) here, mode 0600, for a break-glass " +
            "`pulumi up --policy-pack policies --policy-pack-config <file>`",
        })
        .option("operation", {
          type: "string",
          describe:
            "Bind the facts to this operation id (the operation of the blueprint's mode record in the state " +
            "store, its resources' ferry-operation tag)",
        })
        .option("accept-older-point", {
          type: "boolean",
          default: false,
          describe:
            "Accept recovery points older than the blueprint's rpoTargetSeconds: a WARN that says so instead of a FAIL",
        })
        .check((a) => {
          blueprintOrPlan("precheck", a);
          if (a.plan !== undefined && (a.operation !== undefined || a.policyConfig !== undefined))
            throw new UserError("--operation and --policy-config are one blueprint's: name it instead of --plan.", {
              code: "Usage",
            });
          return true;
        })
        .example("$0 precheck web", "A table of checks")
        .example("$0 precheck --plan shop --test", "Every blueprint of plan shop, and its hooks")
        .example("$0 precheck web --json", "The facts the policy pack is handed")
        .example("$0 precheck web --junit precheck.xml", "For PublishTestResults in a pipeline")
        .example("$0 precheck web --policy-config facts.json", "For a break-glass pulumi up with the pack") as never,
    handler: async (a) => {
      const { formatPrecheck, precheck, precheckJunit } = await import("../precheck");
      const ctx = await contextFor(a, io);
      if (a.plan !== undefined) {
        const { precheckPlan, formatPlanPrecheck, planPrecheckJunit } = await import("../plan-precheck");
        const p = await precheckPlan(ctx, a.plan, {
          mode: a.test ? "test" : "failover",
          acceptOlderPoint: a.acceptOlderPoint,
        });
        if (a.junit) writeFileSync(a.junit, planPrecheckJunit(p));
        emit(io, a, p, () => formatPlanPrecheck(p));
        if (!p.passed) state.code = EXIT.refused;
        return;
      }
      const r = await precheck(ctx, a.blueprint!, {
        mode: a.test ? "test" : "failover",
        ...(a.operation ? { operation: a.operation } : {}),
        acceptOlderPoint: a.acceptOlderPoint,
      });
      if (a.junit) writeFileSync(a.junit, precheckJunit(r));
      // Written whether or not the precheck passed: a failed one replaces older facts that passed, and the
      // pack refuses it with what failed. The facts name resources and times only: nothing secret.
      if (a.policyConfig && r.facts) {
        const { packConfigFromFacts } = await import("../../policies/pack");
        const config = packConfigFromFacts(r.facts, { maxAgeMinutes: ctx.config.precheck.maxAgeMinutes });
        writeFileSync(a.policyConfig, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
        // An existing file keeps its mode through writeFileSync.
        chmodSync(a.policyConfig, 0o600);
      }
      if (r.acceptedOlderPoints.length)
        ctx.logger.warn(
          { blueprint: r.blueprint, acceptedOlderPoints: r.acceptedOlderPoints },
          "recovery points older than the RPO target accepted (--accept-older-point)",
        );
      emit(
        io,
        a,
        { passed: r.passed, checks: r.checks, facts: r.facts, acceptedOlderPoints: r.acceptedOlderPoints },
        () => formatPrecheck(r),
      );
      if (!r.passed) state.code = EXIT.refused;
    },
  };
}
