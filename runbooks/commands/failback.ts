import type { Argv, CommandModule } from "yargs";
import { UserError } from "../../core/errors";
import { nameOf } from "../../core/resource-id";
import type { FailbackState } from "../failback/state";
import { contextFor, emit, EXIT, table, type CliIo, type GlobalArgs } from "./common";
import { blueprintOrPlan, planOption, runPlanCommand } from "./plan";

type FailbackArgs = GlobalArgs & {
  blueprint: string;
  plan?: string;
  operation?: string;
  "to-new-vm": boolean;
  subnet?: string;
  yes: boolean;
};

const MiB = 1024 ** 2;

/** Each disk of a failback: its new disk and the passes copied into it. */
function formatState(state: FailbackState, title: string): string {
  return [
    title,
    "",
    table(
      ["ROW", "DISK", "NEW PRIMARY DISK", "PASSES", "LAST DELTA", "MOVED", "SECONDS"],
      state.disks.map((d) => [
        d.row,
        d.role === "os" ? "OS" : `LUN ${d.lun}`,
        nameOf(d.newDiskId),
        String(d.passes.length),
        d.passes.length ? `${(d.passes.at(-1)!.unionBytes / MiB).toFixed(1)} MiB` : "-",
        `${(d.passes.reduce((n, p) => n + p.bytesRead + p.bytesZeroed, 0) / MiB).toFixed(1)} MiB`,
        d.passes.reduce((n, p) => n + p.seconds, 0).toFixed(1),
      ]),
    ),
    // A whole disk copied instead of a delta is never silent.
    ...state.disks.flatMap((d) =>
      d.passes
        .filter((p) => p.full)
        .map(
          (p) =>
            `${d.row} ${d.role === "os" ? "OS disk" : `data disk LUN ${d.lun}`}: a full copy, ` +
            `${(p.bytesRead / MiB).toFixed(1)} MiB to move (${p.fullReason ?? "no delta could be had"}), not a delta`,
        ),
    ),
  ].join("\n");
}

export function failbackCommand(io: CliIo, state: { code: number }): CommandModule<GlobalArgs, FailbackArgs> {
  return {
    command: "failback <action>",
    describe: "Bring a failed-over blueprint home: prepare, check-primary, sync, complete (or rollback)",
    builder: (y) =>
      (y as Argv<GlobalArgs>)
        .command<FailbackArgs>(
          "prepare <blueprint>",
          "Map each recovered VM's disks back to the primary source disks, and keep the mapping",
          (c) =>
            c
              .positional("blueprint", {
                type: "string",
                demandOption: true,
                describe: "Blueprint stack (in failover mode)",
              })
              .option("operation", {
                type: "string",
                describe: "The failover to return from (default: the latest completed)",
              })
              .option("to-new-vm", {
                type: "boolean",
                default: false,
                describe: "Rows whose primary VM or disks are gone: restore into a new VM in the primary region",
              })
              .option("subnet", {
                type: "string",
                describe: "With --to-new-vm, where a VM is gone: the subnet in the primary region for the new VM's NIC",
              })
              .example("$0 failback prepare web", "Map web's DR disks back to its primary disks"),
          async (a) => {
            const { prepareFailback } = await import("../failback/prepare");
            const ctx = await contextFor(a, io);
            const { plan } = await prepareFailback(ctx, a.blueprint, {
              ...(a.operation ? { operation: a.operation } : {}),
              toNewVm: a["to-new-vm"],
              ...(a.subnet ? { subnetId: a.subnet } : {}),
            });
            emit(io, a, plan, () =>
              [
                `failback of ${plan.blueprint} from ${plan.failover}: prepared`,
                "",
                table(
                  ["ROW", "DISK", "DR DISK", "PRIMARY DISK", "BASE POINT", "RESTORE"],
                  plan.disks.map((d) => [
                    d.row,
                    d.role === "os" ? "OS" : `LUN ${d.lun}`,
                    nameOf(d.drDiskId),
                    nameOf(d.primaryDiskId),
                    d.older ? `${nameOf(d.older.pointDrSnapshotId)} (older point)` : nameOf(d.basePointId),
                    d.restore === "inPlace" ? "in place" : "new VM",
                  ]),
                ),
              ].join("\n"),
            );
          },
        )
        .command<FailbackArgs>(
          "check-primary <blueprint>",
          "Blockers on the primary side (running VM, disks in use, region down, size gone, too few vCPUs for new VMs) and what will be overwritten; exit 0 only without blockers",
          (c) =>
            c
              .positional("blueprint", { type: "string", demandOption: true, describe: "Blueprint stack" })
              .example("$0 failback check-primary web", "Before syncing web back"),
          async (a) => {
            const { checkPrimary } = await import("../failback/check-primary");
            const ctx = await contextFor(a, io);
            const r = await checkPrimary(ctx, a.blueprint);
            emit(io, a, r, () =>
              [
                `primary side of ${a.blueprint}: ${r.passed ? "ready" : "BLOCKED"}`,
                "",
                table(
                  ["", "CHECK", "DETAIL"],
                  r.checks.map((c) => [
                    c.level === "ok" ? "ok" : c.level === "warning" ? "WARN" : "BLOCK",
                    c.name,
                    c.message,
                  ]),
                ),
              ].join("\n"),
            );
            if (!r.passed) state.code = EXIT.refused;
          },
        )
        .command<FailbackArgs>(
          "sync <blueprint>",
          "Copy the DR disks home, delta only (the DR side's writes ∪ the primary's writes after its last replicated point), into new primary disks; repeats until the delta is small",
          (c) =>
            c
              .positional("blueprint", { type: "string", demandOption: true, describe: "Blueprint stack (prepared)" })
              .example(
                "$0 failback sync web",
                "On the primary region's appliance, after prepare; run it again to catch up",
              ),
          async (a) => {
            const { failbackSync } = await import("../failback/sync");
            const ctx = await contextFor(a, io);
            const { state } = await failbackSync(ctx, a.blueprint);
            emit(io, a, state, () =>
              formatState(
                state,
                `failback of ${a.blueprint}: synced (run it again to catch up, then ferry failback complete)`,
              ),
            );
          },
        )
        .command<FailbackArgs>(
          "complete [blueprint]",
          "Stop the DR VMs, copy the final delta, swap the primary VMs' disks for the synced ones, start them, back to standby, and reprotect without a full backfill",
          (c) =>
            c
              .positional("blueprint", { type: "string", describe: "Blueprint stack (synced)" })
              .option("plan", {
                ...planOption,
                describe: "Complete the failback of every blueprint of a recovery plan, its groups in reverse order",
              })
              .option("yes", { type: "boolean", default: false, describe: "Do not ask" })
              .check((x) => blueprintOrPlan("failback complete", x))
              .example("$0 failback complete web --yes", "In a pipeline, behind an approval")
              .example("$0 failback complete --plan shop --yes", "Every blueprint of plan shop, web tier first"),
          async (a) => {
            if (a.plan !== undefined) {
              await runPlanCommand(io, a, "failback-complete", "Stop the DR VMs and move the workload home");
              return;
            }
            const { failbackComplete } = await import("../failback/complete");
            const ctx = await contextFor(a, io);
            if (
              !a.yes &&
              !(await ctx.confirm(
                `Stop the DR VMs of ${a.blueprint} and move the workload back to the primary region?`,
              ))
            ) {
              throw new UserError("Not confirmed: nothing was changed. Add --yes in a pipeline.", {
                code: "NotConfirmed",
              });
            }
            const { state } = await failbackComplete(ctx, a.blueprint);
            emit(io, a, state, () =>
              formatState(
                state,
                `failback of ${a.blueprint}: complete; the previous primary disks are kept until ferry cleanup ${a.blueprint} --failback`,
              ),
            );
          },
        )
        .command<FailbackArgs>(
          "rollback <blueprint>",
          "Before complete swapped any disk: back to where the failback started (new primary disks deleted, DR VMs running, sync resumed)",
          (c) =>
            c
              .positional("blueprint", { type: "string", demandOption: true, describe: "Blueprint stack" })
              .example("$0 failback rollback web", "Abandon a failback in progress"),
          async (a) => {
            const { failbackRollback } = await import("../failback/rollback");
            const ctx = await contextFor(a, io);
            const { op } = await failbackRollback(ctx, a.blueprint);
            emit(
              io,
              a,
              op,
              () => `failback of ${a.blueprint}: rolled back (${op.id}); the workload stays in the DR region`,
            );
          },
        )
        .demandCommand(1, "Name an action: prepare, check-primary, sync, complete or rollback.") as never,
    handler: () => undefined,
  };
}
