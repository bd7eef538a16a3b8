import type { CommandModule } from "yargs";
import { UserError } from "../../core/errors";
import { contextFor, emit, type CliIo, type GlobalArgs } from "./common";

type Args = GlobalArgs & { blueprints?: string[]; all: boolean };

export function protectCommand(io: CliIo): CommandModule<GlobalArgs, Args> {
  return {
    command: "protect [blueprints..]",
    describe:
      "Bring a blueprint's protection up to date with its stack file: staging disks, DR for new disks, the RPO " +
      "target and retention the sync daemon reads (standby only; safe to run again)",
    builder: (y) =>
      y
        .positional("blueprints", { type: "string", array: true, describe: "Blueprint stacks" })
        .option("all", { type: "boolean", default: false, describe: "Every blueprint stack" })
        .check((a) => {
          if ((a.blueprints?.length ?? 0) > 0 === a.all)
            throw new UserError("ferry protect: name blueprint stacks, or --all for every one (one of the two).", {
              code: "Usage",
            });
          return true;
        })
        .example("$0 protect web-linux", "After a change to stacks/Pulumi.web-linux.yaml")
        .example("$0 protect --all --json", "Every blueprint stack, from the pipeline on a push to main")
        .epilogue(
          "In one run: validate the stack config; update the stack in standby (a new row's staging disks are " +
            "created; a staging disk is never deleted); enable DR for disks not protected yet (prepare empty for " +
            "the staging disks this run created, keep for ones that existed: nothing is wiped); write each " +
            "protected disk's RPO target, retention and row into its record, which the sync daemon reads. A disk " +
            "disabled by `ferry sources disable` stays disabled. Refused, nothing changed: a blueprint in failover, " +
            "test or failback mode (finish that runbook first), and a row removed from the stack file while its " +
            "disks are protected (`ferry sources disable` them first). With several blueprints, one that fails " +
            "does not stop the others; the run fails at the end, naming each.",
        ) as never,
    handler: async (a) => {
      const { formatProtect, protectEach, protectFailures } = await import("../protect");
      const ctx = await contextFor(a, io);
      const stacks = a.all
        ? (await ctx.deployer.stacks()).filter((s) => s.kind === "blueprint").map((s) => s.name)
        : a.blueprints!;
      const { results, failures } = await protectEach(ctx, stacks);
      if (results.length > 0 || failures.length === 0)
        emit(io, a, results, () =>
          results.length === 0
            ? "No blueprint stacks (stacks/Pulumi.<name>.yaml with ferry:kind: blueprint)."
            : formatProtect(results),
        );
      if (failures.length > 0) throw protectFailures(failures, stacks.length);
    },
  };
}
