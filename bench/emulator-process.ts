import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { createAzureClients, type AzureClients } from "../adapters/azure/clients";
import { staticTokenCredential } from "../adapters/azure/credentials";

export interface EmulatorProcess {
  endpoint: string;
  caCertPath: string;
  caCertPem: string;
  subscriptionId: string;
  dataDir: string;
  azure: AzureClients;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The emulator in its own process, as `npm run emulator` starts it: the benchmarks measure ferry
 * and the reference tools against a server that does not share their event loop.
 */
export async function startEmulatorProcess(dataDir: string): Promise<EmulatorProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.FERRY_EMULATOR_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
      "--import",
      "tsx",
      "emulator/cli.ts",
      "--data",
      dataDir,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`the emulator exited with ${code} before it was ready`)));
  });
  const info = JSON.parse(line) as { endpoint: string; caCertPath: string; subscriptionId: string; dataDir: string };
  const caCertPem = readFileSync(info.caCertPath, "utf8");
  const azure = createAzureClients({
    subscriptionId: info.subscriptionId,
    credential: staticTokenCredential(),
    armEndpoint: info.endpoint,
    caCertPem,
  });
  return {
    ...info,
    caCertPem,
    azure,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
