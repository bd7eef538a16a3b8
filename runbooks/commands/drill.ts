import type { CommandModule } from "yargs";
import { UserError } from "../../core/errors";
import { contextFor, type CliIo, type GlobalArgs } from "./common";

type Args = GlobalArgs & { blueprint: string };

export function drillCommand(io: CliIo, _state: { code: number }): CommandModule<GlobalArgs, Args> {
  return {
    command: "drill <blueprint>",
    describe: "The whole cycle on one blueprint, measured, with a report",
    builder: (y) => y.positional("blueprint", { type: "string", demandOption: true }) as never,
    handler: async (a) => {
      await contextFor(a, io);
      throw new UserError("not yet", { code: "Usage" });
    },
  };
}
