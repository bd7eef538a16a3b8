import { writeSync } from "node:fs";
import yargs, { type Argv } from "yargs";
import { hideBin } from "yargs/helpers";
import { pino } from "pino";
import { formatErrorForCli, isFerryError, isUserError, UserError } from "../core/errors";
import { createLogger } from "../core/logger";
import type { Source } from "../core/schemas/source";
import { versionLine } from "../core/version";
import { enableSource, transitionSource } from "../adapters/state/admin";
import { loadSyncConfig, type SyncConfig } from "./config";
import { checkHealth } from "./cycle";
import { startMetricsServer } from "./metrics";
import { ProgressPrinter } from "./progress";
import { createSyncRuntime, type SyncRuntime } from "./runtime";
import { acquireInstanceLock } from "./instance-lock";

/** Exit codes of `ferry-sync`. */
export const EXIT = { ok: 0, failed: 1, usage: 2, mismatch: 3, busy: 4, interrupted: 130 } as const;

const print = (text: string) => writeSync(1, text.endsWith("\n") ? text : `${text}\n`);

/** How a command uses the runtime. */
interface RuntimeForOptions {
  /** Progress lines on a terminal's stderr. */
  progress: boolean;
  /** The command prints JSON on stdout: log lines go to stderr so stdout stays one document. */
  json?: boolean;
  /**
   * The command touches staging disks: it registers as the one process of its instance on this
   * appliance, and refuses while another one (the daemon) runs. `advice` says what to do then.
   */
  exclusive?: { command: string; advice: string };
}

async function runtimeFor(configPath: string, options: RuntimeForOptions): Promise<SyncRuntime> {
  const config: SyncConfig = loadSyncConfig(configPath);
  const printer = options.progress && process.stderr.isTTY ? new ProgressPrinter(process.stderr) : undefined;
  const rt = await createSyncRuntime(config, {
    ...(printer ? { onProgress: (id, p) => printer.update(id, p) } : {}),
    ...(options.json
      ? {
          logger: createLogger({
            name: "ferry-sync",
            level: config.logLevel,
            destination: pino.destination({ fd: 2, sync: true }),
          }),
        }
      : {}),
  });
  if (options.exclusive) {
    try {
      await acquireInstanceLock({
        runDir: config.runDir,
        instanceId: config.instanceId,
        deviceDir: config.deviceDir,
        command: options.exclusive.command,
      });
    } catch (e) {
      if (!isFerryError(e) || e.code !== "InstanceBusy") throw e;
      throw new UserError(`${e.message} ${options.exclusive.advice}`, { code: "InstanceBusy", cause: e });
    }
  }
  return rt;
}

function summary(s: Source) {
  return {
    sourceDiskId: s.sourceDiskId,
    stagingDiskId: s.stagingDiskId,
    lun: s.applianceLun,
    blueprint: s.protection?.blueprint ?? null,
    row: s.protection?.row ?? null,
    disk: s.protection?.disk ?? null,
    state: s.state,
    paused: s.paused,
    applied: s.applied?.snapshotId ?? null,
    appliedAt: s.applied?.createdAt ?? null,
    applying: s.applying?.snapshotId ?? null,
    lagSeconds: s.applied ? Math.round((Date.now() - Date.parse(s.applied.createdAt)) / 1000) : null,
    bytesCopied: s.bytesCopied,
    lastError: s.lastError ? `${s.lastError.code}: ${s.lastError.message}` : null,
  };
}

/** The daemon: ticks until SIGTERM/SIGINT, then stops copies at a checkpoint within the shutdown bound. */
async function run(configPath: string): Promise<number> {
  const rt = await runtimeFor(configPath, {
    progress: true,
    exclusive: { command: "run", advice: "Stop it first (systemctl stop ferry-sync), or leave it running." },
  });
  const { config, daemon, logger } = rt;
  const metricsServer = config.metrics.enabled
    ? await startMetricsServer({
        host: config.metrics.host,
        port: config.metrics.port,
        metrics: daemon.metrics,
        staleAfterInMs: Math.max(30_000, config.sync.tickSeconds * 6000),
      })
    : undefined;
  logger.info(
    {
      applianceId: config.applianceId,
      instanceId: config.instanceId,
      metricsPort: metricsServer?.port ?? null,
      deviceDir: config.deviceDir,
    },
    "ferry-sync started",
  );
  daemon.start();
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        // A second signal: leave now. Whatever was being applied stays `applying` and is re-applied at the next start.
        logger.warn({ signal }, "second signal: exiting at once");
        logger.flush();
        process.exit(EXIT.interrupted);
      }
      stopping = true;
      logger.info(
        { signal, timeoutInSeconds: config.shutdownTimeoutInSeconds },
        "stopping: copies stop at a checkpoint",
      );
      void daemon.stop(config.shutdownTimeoutInSeconds * 1000).then(async (clean) => {
        await metricsServer?.close();
        logger.info(
          { clean },
          clean ? "ferry-sync stopped" : "ferry-sync stopped before every copy reached a checkpoint",
        );
        logger.flush();
        resolve(clean ? EXIT.ok : EXIT.failed);
      });
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}

function withConfig<T>(y: Argv<T>) {
  return y.option("config", { type: "string", demandOption: true, describe: "Path of the daemon's JSON config" });
}

async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  await yargs(argv)
    .scriptName("ferry-sync")
    .usage(
      "$0 <command> --config <file>\n\nThe ferry sync daemon: keeps staging disks identical to recent recovery points of their source disks.",
    )
    .command("run", "Run the daemon until SIGTERM", withConfig, async (a) => {
      code = await run(a.config);
    })
    .command(
      "once",
      "Run one sync cycle of every due source (or of one source, due or not) and exit",
      (y) =>
        withConfig(y)
          .option("source", { type: "string", describe: "ARM id of one source disk" })
          .option("json", { type: "boolean", default: false }),
      async (a) => {
        const rt = await runtimeFor(a.config, {
          progress: !a.json,
          json: a.json,
          exclusive: {
            command: "once",
            advice:
              "It syncs due sources itself: `ferry-sync check-health <source>` has it sync and verify one now. " +
              "To run one cycle by hand, stop it first (systemctl stop ferry-sync).",
          },
        });
        const outcomes = await rt.daemon.tick(
          a.source ? { filter: (s) => s.sourceDiskId.toLowerCase() === a.source!.toLowerCase(), force: true } : {},
        );
        const result = [...outcomes.entries()].map(([id, o]) => ({ sourceDiskId: id, ...o }));
        if (a.json) print(JSON.stringify(result));
        else
          for (const r of result)
            print(
              `${r.sourceDiskId}: ${r.kind}${"reason" in r ? ` (${r.reason})` : ""}${"error" in r ? ` ${r.error.code}: ${r.error.message}` : ""}`,
            );
        code = result.some((r) => r.kind === "failed")
          ? EXIT.failed
          : result.some((r) => r.kind === "fenced")
            ? EXIT.busy
            : EXIT.ok;
      },
    )
    .command(
      "verify <source>",
      "Compare a staging disk with its applied recovery point now (check health)",
      (y) =>
        withConfig(y)
          .positional("source", { type: "string", demandOption: true, describe: "ARM id of the source disk" })
          .option("json", { type: "boolean", default: false }),
      async (a) => {
        const rt = await runtimeFor(a.config, {
          progress: false,
          json: a.json,
          exclusive: {
            command: "verify",
            advice:
              "`ferry-sync check-health <source>` has it verify the staging disk at its next tick " +
              "(`ferry-sync list` shows the outcome).",
          },
        });
        const stored = await rt.store.get(a.source);
        if (!stored)
          throw new UserError(`No source ${a.source} is registered. List them with \`ferry-sync list\`.`, {
            code: "SourceNotFound",
          });
        const outcome = await checkHealth(stored, rt.ctx);
        if (a.json) print(JSON.stringify(outcome));
        else if (outcome.kind === "verified")
          print(
            outcome.ok
              ? "identical to the applied recovery point"
              : `differs from the applied recovery point at byte ${outcome.firstDifferenceAt}`,
          );
        else if (outcome.kind === "failed")
          print(`verification failed: ${outcome.error.code}: ${outcome.error.message}`);
        else
          print(
            `not verified now: ${"reason" in outcome ? outcome.reason : outcome.kind}. Nothing was recorded; try again later.`,
          );
        code =
          outcome.kind === "verified"
            ? outcome.ok
              ? EXIT.ok
              : EXIT.mismatch
            : outcome.kind === "failed"
              ? EXIT.failed
              : EXIT.busy;
      },
    )
    .command(
      "list",
      "List the sources of this appliance",
      (y) => withConfig(y).option("json", { type: "boolean", default: false }),
      async (a) => {
        const rt = await runtimeFor(a.config, { progress: false, json: a.json });
        const rows = (await rt.store.list({ applianceId: rt.config.applianceId })).map((r) => summary(r.source));
        if (a.json) print(JSON.stringify(rows));
        else
          for (const r of rows)
            print(
              `${r.blueprint ? `${r.blueprint}/${r.row}/${r.disk}  ` : ""}${r.sourceDiskId.split("/").pop()}  ` +
                `lun${r.lun}  ${r.state}${r.paused ? " (paused)" : ""}  lag ${r.lagSeconds ?? "—"} s  ${r.lastError ?? ""}`,
            );
      },
    )
    .command(
      "enable",
      "Register a source disk with its staging disk (already attached to this appliance)",
      (y) =>
        withConfig(y)
          .option("source", { type: "string", demandOption: true, describe: "ARM id of the source disk" })
          .option("staging", { type: "string", demandOption: true, describe: "ARM id of the staging disk" })
          .option("lun", { type: "number", demandOption: true, describe: "LUN of the staging disk on the appliance" })
          .option("prepare", {
            choices: ["wipe", "keep", "empty"] as const,
            demandOption: true,
            describe: "wipe: erase and zero it; keep: continue without wiping; empty: it is new",
          })
          .option("snapshot-resource-group", {
            type: "string",
            describe:
              "ferry's snapshot group of the source's region (the landing zone's snapshotResourceGroups); " +
              "without it, the disk's own group, where the appliance's roles allow no snapshots",
          }),
      async (a) => {
        const rt = await runtimeFor(a.config, { progress: false });
        const stored = await enableSource(rt.store, rt.azure, {
          sourceDiskId: a.source,
          stagingDiskId: a.staging,
          applianceId: rt.config.applianceId,
          applianceLun: a.lun,
          prepare: a.prepare,
          ...(a.snapshotResourceGroup ? { snapshotResourceGroup: a.snapshotResourceGroup } : {}),
        });
        print(
          `enabled: ${stored.source.sourceDiskId} → lun${stored.source.applianceLun} (${stored.source.state}). To undo: ferry-sync disable ${stored.source.sourceDiskId} --config ${a.config}`,
        );
      },
    )
    .command(
      ["retry-backfill <source>", "check-health <source>", "disable <source>"],
      "retry-backfill: copy everything again; check-health: verify at the next tick; disable: stop syncing (the staging disk is kept)",
      (y) => withConfig(y).positional("source", { type: "string", demandOption: true }),
      async (a) => {
        const rt = await runtimeFor(a.config, { progress: false });
        const verb = String(a._[0]);
        const event =
          verb === "retry-backfill"
            ? { type: "retryBackfill" as const }
            : verb === "check-health"
              ? { type: "checkHealth" as const }
              : { type: "disable" as const };
        const stored = await transitionSource(rt.store, a.source, event);
        print(`${stored.source.sourceDiskId}: ${stored.source.state}`);
      },
    )
    .demandCommand(1, "Name a command: run, once, verify, list, enable, retry-backfill, check-health, disable.")
    .example("$0 run --config /etc/ferry/sync.json", "Run the daemon (the systemd unit does this)")
    .example("$0 once --config sync.json --source <diskId>", "Sync one source now")
    .example(
      "$0 verify <diskId> --config sync.json",
      "Exit 0 when the staging disk equals its recovery point, 3 when it differs",
    )
    .epilogue(
      "Exit codes: 0 ok, 1 a sync failed, 2 bad config or usage, 3 verify found a difference, " +
        "4 busy (another process runs as this instance, or holds or is applying the source: nothing was done), " +
        "130 interrupted twice.",
    )
    .strict()
    .fail((msg, err) => {
      throw err ?? new UserError(`${msg} Run \`ferry-sync --help\` for the commands and options.`, { code: "Usage" });
    })
    .help()
    .version(versionLine("ferry-sync"))
    .parseAsync();
  return code;
}

main(hideBin(process.argv)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`ferry-sync: ${formatErrorForCli(e)}\n`);
    process.exit(isFerryError(e) && e.code === "InstanceBusy" ? EXIT.busy : isUserError(e) ? EXIT.usage : EXIT.failed);
  },
);
