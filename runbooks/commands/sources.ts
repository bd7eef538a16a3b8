import type { Argv, CommandModule } from "yargs";
import { UserError } from "../../core/errors";
import { nameOf } from "../../core/resource-id";
import type { Source } from "../../core/schemas/source";
import type { RunbookContext } from "../context";
import { contextFor, emit, type CliIo, type GlobalArgs } from "./common";

/** The source disks a command names: one ARM id, or every disk of a blueprint stack. */
async function disksOf(ctx: RunbookContext, target: string, disk?: string): Promise<string[]> {
  if (target.startsWith("/subscriptions/")) return [target];
  const { loadBlueprint, sourceDisks } = await import("../blueprints");
  const disks = sourceDisks((await loadBlueprint(ctx, target)).blueprint).map((d) => d.sourceDiskId);
  if (!disk) return disks;
  const hit = disks.find(
    (d) => d.toLowerCase() === disk.toLowerCase() || nameOf(d).toLowerCase() === disk.toLowerCase(),
  );
  if (!hit)
    throw new UserError(`${disk} is not a disk of blueprint ${target}. Its disks: ${disks.map(nameOf).join(", ")}.`, {
      code: "UnknownDisk",
    });
  return [hit];
}

function line(s: Source, now: Date) {
  return {
    disk: nameOf(s.sourceDiskId),
    sourceDiskId: s.sourceDiskId,
    stagingDisk: nameOf(s.stagingDiskId),
    lun: s.applianceLun,
    state: s.state,
    paused: s.paused,
    appliedAt: s.applied?.createdAt,
    lagSeconds: s.applied ? Math.round((now.getTime() - Date.parse(s.applied.createdAt)) / 1000) : undefined,
    applying: s.applying?.snapshotId,
    bytesCopied: s.bytesCopied,
    lastError: s.lastError ? `${s.lastError.code}: ${s.lastError.message}` : undefined,
  };
}

type SourcesArgs = GlobalArgs & { target?: string; disk?: string; prepare?: "wipe" | "keep" | "empty"; yes: boolean };

export function sourcesCommand(io: CliIo): CommandModule<GlobalArgs, SourcesArgs> {
  return {
    command: "sources <action>",
    describe: "Protected source disks: list, enable or disable DR, retry a backfill, check health",
    builder: (y) =>
      (y as Argv<GlobalArgs>)
        .command<SourcesArgs>(
          "list [target]",
          "List sources (of one blueprint, or all) with health, lag against the RPO target and last error",
          (c) => c.positional("target", { type: "string", describe: "Blueprint stack (default: every source)" }),
          async (a) => {
            const { formatSources, listSources } = await import("../sources");
            const ctx = await contextFor(a, io);
            // An ARM id names one source: it is listed with what its row recorded.
            const lines = a.target?.startsWith("/subscriptions/")
              ? (await listSources(ctx)).filter((l) => l.sourceDiskId.toLowerCase() === a.target!.toLowerCase())
              : await listSources(ctx, a.target);
            emit(io, a, lines, () => formatSources(lines));
          },
        )
        .command<SourcesArgs>(
          "enable <target>",
          "Enable DR for the disks of a blueprint: attach each staging disk to the appliance and register its source",
          (c) =>
            c
              .positional("target", { type: "string", demandOption: true, describe: "Blueprint stack" })
              .option("disk", { type: "string", describe: "Only this source disk (ARM id or name)" })
              .option("prepare", {
                choices: ["wipe", "keep", "empty"] as const,
                describe:
                  "wipe: erase and zero the staging disks; keep: continue without wiping; empty: they are new. Asked on a terminal; required otherwise",
              })
              .example(
                "$0 sources enable web --prepare empty",
                "Protect every disk of blueprint web (new staging disks)",
              ),
          async (a) => {
            const { enableDr } = await import("../sources");
            const ctx = await contextFor(a, io);
            const [disk] = a.disk ? await disksOf(ctx, a.target!, a.disk) : [];
            const enabled = await enableDr(ctx, a.target!, {
              ...(a.prepare ? { prepare: a.prepare } : {}),
              ...(disk ? { sourceDiskId: disk } : {}),
            });
            emit(
              io,
              a,
              enabled.map((s) => line(s, ctx.now())),
              () =>
                enabled
                  .map(
                    (s) =>
                      `enabled: ${nameOf(s.sourceDiskId)} → ${nameOf(s.stagingDiskId)} at appliance LUN ${s.applianceLun} (${s.state})`,
                  )
                  .join("\n"),
            );
          },
        )
        .command<SourcesArgs>(
          "disable <target>",
          "Disable DR: the sync stops, staging disks leave the appliance and are kept",
          (c) =>
            c
              .positional("target", {
                type: "string",
                demandOption: true,
                describe: "Blueprint stack, or the ARM id of one source disk",
              })
              .option("disk", { type: "string", describe: "Only this source disk of the blueprint" })
              .option("yes", { type: "boolean", default: false, describe: "Do not ask" }),
          async (a) => {
            const { disableDr } = await import("../sources");
            const ctx = await contextFor(a, io);
            const disks = await disksOf(ctx, a.target!, a.disk);
            if (
              !a.yes &&
              !(await ctx.confirm(`Disable DR for ${disks.length} disk(s) of ${a.target}? They stop being protected.`))
            ) {
              throw new UserError("Not confirmed: nothing was disabled. Add --yes in a pipeline.", {
                code: "NotConfirmed",
              });
            }
            const done: Source[] = [];
            for (const d of disks) done.push(await disableDr(ctx, d));
            emit(
              io,
              a,
              done.map((s) => line(s, ctx.now())),
              () =>
                done
                  .map((s) => `disabled: ${nameOf(s.sourceDiskId)}; staging disk ${nameOf(s.stagingDiskId)} kept`)
                  .join("\n"),
            );
          },
        )
        .command<SourcesArgs>(
          transitionCommand(io, "retry-backfill", "Copy every disk again from the start", { type: "retryBackfill" }),
        )
        .command<SourcesArgs>(
          transitionCommand(
            io,
            "check-health",
            "Verify each staging disk against its recovery point at the next tick",
            { type: "checkHealth" },
          ),
        )
        .demandCommand(1, "Name an action: list, enable, disable, retry-backfill, check-health.") as never,
    handler: () => undefined,
  };
}

/** `sources retry-backfill` and `sources check-health`: one state-machine event on each disk named. */
function transitionCommand(
  io: CliIo,
  action: "retry-backfill" | "check-health",
  describe: string,
  event: { type: "retryBackfill" } | { type: "checkHealth" },
): CommandModule<GlobalArgs, SourcesArgs> {
  return {
    command: `${action} <target>`,
    describe,
    builder: (c) =>
      c
        .positional("target", {
          type: "string",
          demandOption: true,
          describe: "Blueprint stack, or the ARM id of one source disk",
        })
        .option("disk", { type: "string", describe: "Only this source disk of the blueprint" }) as never,
    handler: async (a) => {
      const { transitionSource } = await import("../../adapters/state/admin");
      const ctx = await contextFor(a, io);
      const done: Source[] = [];
      for (const d of await disksOf(ctx, a.target!, a.disk))
        done.push((await transitionSource(ctx.store, d, event, ctx.now())).source);
      emit(
        io,
        a,
        done.map((s) => line(s, ctx.now())),
        () => done.map((s) => `${nameOf(s.sourceDiskId)}: ${s.state}`).join("\n"),
      );
    },
  };
}
