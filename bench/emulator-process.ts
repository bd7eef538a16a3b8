import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { createInterface } from "node:readline";
import { createAzureClients, type AzureClients } from "../adapters/azure/clients";
import { staticTokenCredential } from "../adapters/azure/credentials";
import type { LatencyProfileName, ThrottlingMode, ThrottlingStats } from "@ferry/emulator";

/** Options of {@link startEmulatorProcess}: the emulator's command-line options. */
export interface EmulatorProcessOptions {
  /** Latency profile. Default `zero`. */
  latency?: LatencyProfileName;
  /** Divides the profile's durations and multiplies throttling's refill rates (≥ 1). Default 1. */
  speedup?: number;
  /** `azure`: 429s with Retry-After as Azure Resource Manager and Compute send them. Default `off`. */
  throttling?: ThrottlingMode;
}

export interface EmulatorProcess {
  endpoint: string;
  caCertPath: string;
  caCertPem: string;
  subscriptionId: string;
  dataDir: string;
  azure: AzureClients;
  child: ChildProcess;
  /** What throttling refused so far (`GET /_emulator/throttling`). */
  throttling(): Promise<ThrottlingStats>;
  stop(): Promise<void>;
}

/**
 * The emulator in its own process, as `npm run emulator` starts it: the benchmarks measure ferry
 * and the reference tools against a server that does not share their event loop.
 */
export async function startEmulatorProcess(
  dataDir: string,
  options: EmulatorProcessOptions = {},
): Promise<EmulatorProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.FERRY_EMULATOR_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
      "--import",
      "tsx",
      "emulator/cli.ts",
      "--data",
      dataDir,
      ...(options.latency ? ["--latency", options.latency] : []),
      ...(options.speedup !== undefined ? ["--speedup", String(options.speedup)] : []),
      ...(options.throttling ? ["--throttling", options.throttling] : []),
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
    throttling: () => adminGet<ThrottlingStats>(`${info.endpoint}/_emulator/throttling`, caCertPem),
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

function adminGet<T>(url: string, ca: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => {
        try {
          resolve(JSON.parse(Buffer.concat(parts).toString("utf8")) as T);
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
    req.on("error", reject);
    req.end();
  });
}
