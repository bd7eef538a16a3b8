import type { CommandModule } from "yargs";
import { contextFor, emit, type CliIo, type GlobalArgs } from "./common";

type Args = GlobalArgs & { blueprint: string };

export function pointsCommand(io: CliIo): CommandModule<GlobalArgs, Args> {
  return {
    command: "points <blueprint>",
    describe:
      "The recovery points in the DR region of a blueprint's rows: time, age, each disk's point and the spread " +
      "between them (reads only the state store)",
    builder: (y) =>
      y
        .positional("blueprint", { type: "string", demandOption: true })
        .example("$0 points web", "Each row's points, newest first")
        .example("$0 points web --json", "For tools: the shape is in runbooks/README.md") as never,
    handler: async (a) => {
      const { formatPoints, listPoints } = await import("../points");
      const ctx = await contextFor(a, io);
      const report = await listPoints(ctx, a.blueprint);
      emit(io, a, report, () => formatPoints(report));
    },
  };
}
