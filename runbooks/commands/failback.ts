import type { Argv, CommandModule } from "yargs";
import { checkPrimary, prepareFailback } from "../failback";
import { nameOf } from "../blueprints";
import { contextFor, emit, EXIT, table, type CliIo, type GlobalArgs } from "./common";

type FailbackArgs = GlobalArgs & { blueprint: string; operation?: string; "to-new-vm": boolean };

export function failbackCommand(io: CliIo, state: { code: number }): CommandModule<GlobalArgs, FailbackArgs> {
  return {
    command: "failback <action>",
    describe: "Bring a failed-over blueprint home: prepare (map DR disks to primary disks), check-primary",
    builder: (y) =>
      (y as Argv<GlobalArgs>)
        .command<FailbackArgs>(
          "prepare <blueprint>",
          "Map each recovered VM's disks back to the primary source disks, and keep the mapping",
          (c) =>
            c
              .positional("blueprint", { type: "string", demandOption: true, describe: "Blueprint stack (in failover mode)" })
              .option("operation", { type: "string", describe: "The failover to return from (default: the latest completed)" })
              .option("to-new-vm", { type: "boolean", default: false, describe: "Rows whose primary VM or disks are gone: restore into a new VM in the primary region" })
              .example("$0 failback prepare web", "Map web's DR disks back to its primary disks"),
          async (a) => {
            const ctx = await contextFor(a, io);
            const { plan } = await prepareFailback(ctx, a.blueprint, { ...(a.operation ? { operation: a.operation } : {}), toNewVm: a["to-new-vm"] });
            emit(io, a, plan, () =>
              [
                `failback of ${plan.blueprint} from ${plan.failover}: prepared`,
                "",
                table(
                  ["ROW", "DISK", "DR DISK", "PRIMARY DISK", "BASE POINT", "RESTORE"],
                  plan.disks.map((d) => [d.row, d.role === "os" ? "OS" : `LUN ${d.lun}`, nameOf(d.drDiskId), nameOf(d.primaryDiskId), nameOf(d.basePointId), d.restore === "inPlace" ? "in place" : "new VM"]),
                ),
              ].join("\n"),
            );
          },
        )
        .command<FailbackArgs>(
          "check-primary <blueprint>",
          "Blockers on the primary side (running VM, disks in use, region down, size gone) and what will be overwritten; exit 0 only without blockers",
          (c) => c.positional("blueprint", { type: "string", demandOption: true, describe: "Blueprint stack" }).example("$0 failback check-primary web", "Before syncing web back"),
          async (a) => {
            const ctx = await contextFor(a, io);
            const r = await checkPrimary(ctx, a.blueprint);
            emit(io, a, r, () => [`primary side of ${a.blueprint}: ${r.passed ? "ready" : "BLOCKED"}`, "", table(["", "CHECK", "DETAIL"], r.checks.map((c) => [c.level === "ok" ? "ok" : c.level === "warning" ? "WARN" : "BLOCK", c.name, c.message]))].join("\n"));
            if (!r.passed) state.code = EXIT.refused;
          },
        )
        .demandCommand(1, "Name an action: prepare or check-primary.") as never,
    handler: () => undefined,
  };
}
