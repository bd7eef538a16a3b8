import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { startEmulator } from "./index";

/**
 * `npm run emulator -- --data <dir> [--port <n>] [--latency zero|azure] [--speedup <x>] [--faults <file>]
 *   [--guest-devices auto|fuse|links] [--throttling azure|off]`
 * Prints one JSON line when ready and serves until SIGTERM or SIGINT.
 */
async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName("ferry-emulator")
    .usage(
      "$0 --data <dir> [options]\n\nA local Azure (ARM subset and managed-disk data plane) over HTTPS on 127.0.0.1.",
    )
    .option("data", {
      type: "string",
      demandOption: true,
      describe: "Data folder (state, disk files, snapshots, TLS material)",
    })
    .option("port", { type: "number", default: 0, describe: "Port on 127.0.0.1 (0: any free port)" })
    .option("latency", { choices: ["zero", "azure"] as const, default: "zero" as const, describe: "Latency profile" })
    .option("speedup", { type: "number", default: 1, describe: "Divide the profile's durations by this factor (≥ 1)" })
    .option("throttling", {
      choices: ["off", "azure"] as const,
      default: "off" as const,
      describe: "Throttle requests as Azure does (429 with Retry-After; refill rates times --speedup)",
    })
    .option("faults", { type: "string", describe: 'JSON fault file: {"rules":[…],"regionOutages":[…]}' })
    .option("subscription", { type: "string", describe: "Subscription id for a new data folder" })
    .option("guest-devices", {
      choices: ["auto", "fuse", "links"] as const,
      default: "auto" as const,
      describe:
        "How guests reach their disks: fuse (root: point-in-time snapshots, stopped VMs cannot write), links, or auto",
    })
    .example("$0 --data /tmp/azure", "Start with zero latency on a free port")
    .example("$0 --data /tmp/azure --latency azure --speedup 10", "Azure-like durations, ten times faster")
    .strict()
    .help()
    .parseAsync();
  if (!Number.isInteger(argv.port) || argv.port < 0 || argv.port > 65535)
    throw new Error(`--port must be an integer from 0 to 65535, got ${argv.port}.`);
  if (!(argv.speedup >= 1)) throw new Error(`--speedup must be a number ≥ 1, got ${argv.speedup}.`);
  const emu = await startEmulator({
    dataDir: argv.data,
    port: argv.port,
    latency: argv.latency,
    speedup: argv.speedup,
    throttling: argv.throttling,
    ...(argv.faults ? { faults: argv.faults } : {}),
    ...(argv.subscription ? { subscriptionId: argv.subscription } : {}),
    guestDevices: argv["guest-devices"],
  });
  process.stdout.write(
    `${JSON.stringify({ endpoint: emu.endpoint, caCertPath: emu.caCertPath, subscriptionId: emu.subscriptionId, dataDir: emu.dataDir })}\n`,
  );
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    emu.close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`ferry emulator: error while stopping: ${String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`ferry emulator: ${(e as Error).message}\n`);
  process.exit(2);
});
