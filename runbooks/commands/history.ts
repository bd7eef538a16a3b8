import type { CommandModule } from "yargs";
import { contextFor, emit, type CliIo, type GlobalArgs } from "./common";

type Args = GlobalArgs & { blueprint: string };

export function historyCommand(io: CliIo): CommandModule<GlobalArgs, Args> {
  return {
    command: "history <blueprint>",
    describe: "Every operation of a blueprint: stack history and runbook journal, with RPO and per-row RTO",
    builder: (y) =>
      y
        .positional("blueprint", { type: "string", demandOption: true })
        .example("$0 history web --json", "For a report") as never,
    handler: async (a) => {
      const { formatHistory, history } = await import("../history");
      const ctx = await contextFor(a, io);
      const lines = await history(ctx, a.blueprint);
      emit(io, a, lines, () => (lines.length ? formatHistory(lines) : `No operations on ${a.blueprint} yet.`));
    },
  };
}
