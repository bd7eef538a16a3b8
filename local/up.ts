import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { startEmulator, type RunningEmulator } from "@ferry/emulator";
import { createLogger } from "../core/logger";
import { sourceDisks, loadBlueprint } from "../runbooks/blueprints";
import { startAzurite, type RunningAzurite } from "./azurite";
import { writeLocalCliFiles } from "./cli-files";
import { onInterrupt } from "../runbooks/signals";
import { createLocalWorld, DR, PRIMARY, type LocalWorld } from "./world";

/**
 * `npm run local -- up`: the local world, serving until Ctrl-C, for the `ferry` CLI to be tried
 * against. It starts the local Azure (the emulator) and Table storage (Azurite), builds a primary
 * and a DR region, deploys the landing zone, protects blueprint bp-web (two VMs: one row
 * attach-as-is, one from-snapshot) and keeps the appliance's sync daemon running, so that the
 * recovery points stay fresh for `ferry precheck` and `ferry failover`. It writes `ferry.json` and
 * `ferry.env` into its folder and prints the line that runs the CLI with them. Ctrl-C stops the
 * servers and removes the folder (disks, journal, stacks, log): nothing of it outlives the servers.
 */

const HELP = `npm run local -- up [--latency azure|zero] [--speedup <n>]

  Starts the local world and serves it until Ctrl-C: the local Azure and Azurite, a primary and a DR
  region, the landing zone, blueprint bp-web protected, the sync daemon running. Writes ferry.json and
  ferry.env into its temporary folder and prints the line that runs the ferry CLI with them. Ctrl-C
  stops the servers and removes the folder.

  --latency  azure (default): Azure-like durations, sped up; zero: no latency
  --speedup  divides the Azure-like latencies (default 10; 1 is Azure's own pace)

Exit 0 when Ctrl-C stops it once it serves; 1 when it could not start; 2 for bad usage; 130 on Ctrl-C
while it starts.`;

/** The blueprint it protects: bp-web, one row per failover strategy. */
const WORKLOAD = "web";

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function usage(message: string): number {
  process.stderr.write(`${message}\nRun \`npm run local -- --help\` for the usage.\n`);
  return 2;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        latency: { type: "string", default: "azure" },
        speedup: { type: "string", default: "10" },
        help: { type: "boolean", default: false },
      },
    });
  } catch (e) {
    return usage((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    print(HELP);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== "up")
    return usage(`Name the command: up (got ${positionals.length ? positionals.join(" ") : "none"}).`);
  const latency = values.latency;
  if (latency !== "azure" && latency !== "zero") return usage(`--latency must be azure or zero (got ${latency}).`);
  const speedup = Number(values.speedup);
  if (!(speedup >= 1)) return usage(`--speedup must be a number ≥ 1 (got ${values.speedup}).`);

  const dir = mkdtempSync(join(tmpdir(), "ferry-local-"));
  // However the process ends through process.exit (a second Ctrl-C included), its disks do not stay.
  process.once("exit", () => removeFolder(dir));
  const logPath = join(dir, "local.log");
  const logger = createLogger({
    name: "ferry-local",
    level: "debug",
    destination: pino.destination({ dest: logPath, sync: true }),
    env: {},
  });
  let emu: RunningEmulator | undefined;
  let azurite: RunningAzurite | undefined;
  let world: LocalWorld | undefined;
  let stopping: Promise<void> | undefined;
  // Each server gets a bounded time to close: one that hangs must not keep the process alive.
  const bounded = (p: Promise<unknown> | undefined) =>
    Promise.race([p?.catch(() => undefined), new Promise((r) => setTimeout(r, 10_000).unref())]);
  const stop = () =>
    (stopping ??= (async () => {
      await bounded(world?.close());
      await bounded(emu?.close());
      await bounded(azurite?.close());
      removeFolder(dir);
    })());

  let serving = false;
  let interrupted = false;
  onInterrupt(
    () => {
      interrupted = true;
      const code = serving ? 0 : 130;
      void stop().finally(() => {
        print(serving ? `servers stopped; ${dir} removed` : `interrupted: servers stopped; ${dir} removed`);
        process.exit(code);
      });
    },
    // A second Ctrl-C does not wait for the servers (the exit handler still removes the folder).
    () => process.exit(130),
  );

  print(
    `ferry local world (${latency === "azure" ? `Azure-like latencies ÷ ${speedup}` : "no latency"}); log: ${logPath}`,
  );
  try {
    emu = await startEmulator({
      dataDir: join(dir, "azure"),
      latency,
      speedup,
      warn: (m) => logger.warn(m),
    });
    azurite = await startAzurite({ dataDir: join(dir, "azurite") });
    print(`  local Azure ${emu.endpoint}, Table storage ${azurite.tableEndpoint}`);
    if (emu.guestDevicesFallback) print(`  guests reach their disks through links: ${emu.guestDevicesFallback}`);
    world = await createLocalWorld({
      emu,
      tableConnectionString: azurite.connectionString,
      tableName: "ferrySources",
      dir: join(dir, "ferry"),
      logger,
      pollIntervalInMs: 50,
      retry: { maxRetries: 5, retryDelayInMs: 100, maxRetryDelayInMs: 2000 },
      // As often as the emulator's Azure-like snapshot rate allows (7 per disk per 5 minutes, sped up).
      syncIntervalSeconds: latency === "azure" ? Math.max(5, Math.ceil(43 / speedup)) : 5,
    });
    print(`  regions ${PRIMARY.location} (primary, group ${PRIMARY.rg}) and ${DR.location} (DR, group ${DR.rg})`);
    const app = await world.workload(WORKLOAD, {
      strategies: [
        { os: "attachAsIs", data: "attachAsIs" },
        { os: "fromSnapshot", data: "fromSnapshot" },
      ],
      dataLuns: [0],
    });
    await world.protect(app, 600_000);
    const disks = sourceDisks((await loadBlueprint(world.ctx, app.stack)).blueprint);
    // From here the daemon syncs on its own schedule, as the appliance's does.
    world.sync.daemon.start();
    print(`  blueprint ${app.stack} protected: ${app.vms.length} VMs, ${disks.length} disks, the sync daemon running`);
    const files = writeLocalCliFiles({
      dir,
      config: world.config,
      tableConnectionString: azurite.connectionString,
      startedBy: "npm run local -- up",
    });
    print(`  wrote ${files.configPath} and ${files.envPath}`);
    print("");
    print("The ferry CLI against it, from this repository:");
    print(`  ${files.useLine("sources list")}`);
    print(
      `  then: npm run ferry:local -- precheck ${app.stack} --test, ` +
        `failover ${app.stack} --test, history ${app.stack}…`,
    );
    print("");
    print(`serving until Ctrl-C (which stops the servers and removes ${dir})`);
    serving = true;
  } catch (e) {
    // A Ctrl-C while starting: the servers going make the start fail; the signal handler exits.
    if (interrupted) return new Promise(() => undefined);
    // The log outlives the folder: it says why.
    const kept = join(tmpdir(), `ferry-local-failed-${process.pid}.log`);
    try {
      renameSync(logPath, kept);
    } catch {
      // No log to keep (the folder went already): the message below is all there is.
    }
    process.stderr.write(`ferry local world: could not start: ${(e as Error).message}\n(log: ${kept})\n`);
    await stop();
    return 1;
  }
  return new Promise(() => undefined);
}

/** Removes the world's folder; one that cannot be removed is said, not thrown (the exit code stays). */
function removeFolder(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  } catch (e) {
    process.stderr.write(`ferry local world: could not remove ${dir}: ${(e as Error).message}\n`);
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`ferry local world failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
