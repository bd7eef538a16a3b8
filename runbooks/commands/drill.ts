import { resolve } from "node:path";
import type { CommandModule } from "yargs";
import type { DrillOptions } from "../drill";
import { contextFor, emit, EXIT, type CliIo, type GlobalArgs } from "./common";
import { blueprintOrPlan, planOption } from "./plan";

type Args = GlobalArgs & {
  blueprint?: string;
  plan?: string;
  "report-dir": string;
  keep: boolean;
  "recovery-point": string;
};

export function drillCommand(io: CliIo, state: { code: number }): CommandModule<GlobalArgs, Args> {
  return {
    command: "drill [blueprint]",
    describe:
      "The whole cycle on one blueprint, measured, with a report: precheck, test failover, byte-for-byte verification, cleanup",
    builder: (y) =>
      y
        .positional("blueprint", { type: "string", describe: "Blueprint stack" })
        .option("plan", {
          ...planOption,
          describe: "Drill a recovery plan: its groups in order with their gates and hooks, then its cleanup",
        })
        .check((a) => blueprintOrPlan("drill", a))
        .option("report-dir", {
          type: "string",
          default: "drill-report",
          describe:
            "Where the report goes (index.html, summary.json, drill.json): a new or empty directory, or an " +
            "earlier drill's report (replaced); any other is refused, exit 2",
        })
        .option("recovery-point", {
          type: "string",
          default: "latest",
          describe:
            "latest, an ISO 8601 time (each disk at its newest DR-side point at or before it) or a point id " +
            "(ferry points <blueprint> lists them)",
        })
        .option("keep", {
          type: "boolean",
          default: false,
          describe: "Leave the test VMs up at the end; ferry cleanup removes them",
        })
        .example("$0 drill web", "A drill of web in its test network; report in drill-report/")
        .example("$0 drill --plan shop", "Every blueprint of plan shop, group after group, with its hooks")
        .example(
          "$0 drill web --report-dir $(Build.ArtifactStagingDirectory)/drill --json",
          "From the scheduled pipeline",
        )
        .epilogue(
          "Production is not touched: the test VMs come from snapshots of the staging disks, in the isolated " +
            "test network, and replication goes on. Exit 0 when the drill passed; 3 when the precheck refused; 4 " +
            "when a disk did not verify; 5 when it ran and verified but missed the blueprint's rpoTargetSeconds " +
            "or rtoTargetSeconds; 1 otherwise. The report (index.html) opens offline and prints: its banner says " +
            "which ferry ran it, where, by whom and when, and whether the latencies were emulated.",
        ) as never,
    handler: async (a) => {
      const { drill, drillPlan } = await import("../drill");
      const { prepareReportDir } = await import("../report-dir");
      const ctx = await contextFor(a, io);
      const reportDir = resolve(a["report-dir"]);
      // Written only where it deletes nobody's files: new, empty, or an earlier drill's report.
      prepareReportDir(reportDir);
      const run =
        a.plan !== undefined
          ? (o: DrillOptions) => drillPlan(ctx, a.plan!, o)
          : (o: DrillOptions) => drill(ctx, a.blueprint!, o);
      const { summary, recorder } = await run({
        reportDir,
        keep: a.keep,
        recoveryPoint: a["recovery-point"],
        env: io.env,
        onStep: (name, ok, secs, detail) => {
          if (!a.json)
            io.out(`  ${ok ? "ok  " : "FAIL"}  ${name} (${secs.toFixed(1)} s)${detail && !ok ? `: ${detail}` : ""}`);
        },
      });
      emit(io, a, { ...summary, reportDir }, () => `\n${recorder.table(summary)}\nreport: ${reportDir}/index.html`);
      if (summary.verdict === "targetMissed") state.code = EXIT.targetMissed;
      else if (!summary.ok) {
        const precheckFailed = recorder.steps.some((s) => s.name.startsWith("precheck") && s.status === "failed");
        state.code = recorder.verifications.some((v) => !v.ok)
          ? EXIT.mismatch
          : precheckFailed
            ? EXIT.refused
            : EXIT.failed;
      }
    },
  };
}
