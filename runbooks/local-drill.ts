import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAzureClients } from "../core/azure/clients";
import { staticTokenCredential } from "../core/azure/credentials";
import { startEmulator } from "../emulator/index";

/**
 * `npm run drill`: the local disaster-recovery drill. Today it starts the local Azure (Azure-like
 * latency, sped up), proves it answers through the Azure SDK, prints its endpoint and stops.
 * `--keep` keeps it serving until Ctrl-C, for poking at it with the SDK or curl.
 */
const STEPS = [
  "start the local Azure (emulator) and Table storage (Azurite)",
  "create a primary environment: a Linux VM whose OS disk holds an ext4 file system, and a data disk",
  "deploy the landing zone and a blueprint, enable DR, backfill the staging disks",
  "run a workload that keeps writing, sync, precheck",
  "fail over with each strategy (attach as-is, from snapshot) and verify every recovered disk byte for byte",
  "clean up and write drill-report/ (HTML timeline, RTO per strategy, RPO) and summary.json",
];

async function main(): Promise<void> {
  const keep = process.argv.includes("--keep");
  const dataDir = mkdtempSync(join(tmpdir(), "ferry-drill-"));
  const emu = await startEmulator({ dataDir, latency: "azure", speedup: 10 });
  let stopped = false;
  const stop = async (code: number) => {
    if (stopped) return;
    stopped = true;
    await emu.close();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(130));
  process.on("SIGTERM", () => void stop(143));

  const azure = createAzureClients({
    subscriptionId: emu.subscriptionId,
    credential: staticTokenCredential(),
    armEndpoint: emu.endpoint,
    caCertPem: emu.caCertPem,
  });
  const started = Date.now();
  await azure.resources.resourceGroups.createOrUpdate("ferry-drill", { location: "westeurope" });
  const group = await azure.resources.resourceGroups.get("ferry-drill");
  process.stdout.write(
    [
      "ferry drill",
      "",
      `local Azure (emulator): ${emu.endpoint}`,
      `  subscription:  ${emu.subscriptionId}`,
      `  CA certificate: ${emu.caCertPath}`,
      `  data folder:   ${emu.dataDir}`,
      `  check:         resource group '${group.name}' created and read back in ${Date.now() - started} ms through @azure/arm-resources`,
      "",
      "The full drill will:",
      ...STEPS.map((s, i) => `  ${i + 1}. ${s}`),
      "Only step 1 (the emulator) runs today.",
      "",
    ].join("\n"),
  );
  if (keep) {
    process.stdout.write("Serving until Ctrl-C.\n");
    return;
  }
  await stop(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`ferry drill failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
