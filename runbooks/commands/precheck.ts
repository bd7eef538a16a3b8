import { writeFileSync } from "node:fs";
import type { CommandModule } from "yargs";
import { contextFor, emit, EXIT, type CliIo, type GlobalArgs } from "./common";

type Args = GlobalArgs & { blueprint: string; test: boolean; junit?: string };

export function precheckCommand(io: CliIo, state: { code: number }): CommandModule<GlobalArgs, Args> {
  return {
    command: "precheck <blueprint>",
    describe: "The strict checks before a failover; exit 0 only when every one passes",
    builder: (y) =>
      y
        .positional("blueprint", { type: "string", demandOption: true, describe: "Blueprint stack" })
        .option("test", {
          type: "boolean",
          default: false,
          describe: "Check for a test failover (the isolated test network)",
        })
        .option("junit", { type: "string", describe: "Also write a JUnit report here (the pipeline's test tab)" })
        .example("$0 precheck web", "A table of checks")
        .example("$0 precheck web --json", "The facts the policy pack is handed")
        .example("$0 precheck web --junit precheck.xml", "For PublishTestResults in a pipeline") as never,
    handler: async (a) => {
      const { formatPrecheck, precheck, precheckJunit } = await import("../precheck");
      const ctx = await contextFor(a, io);
      const r = await precheck(ctx, a.blueprint, { mode: a.test ? "test" : "failover" });
      if (a.junit) writeFileSync(a.junit, precheckJunit(r));
      emit(io, a, { passed: r.passed, checks: r.checks, facts: r.facts }, () => formatPrecheck(r));
      if (!r.passed) state.code = EXIT.refused;
    },
  };
}
