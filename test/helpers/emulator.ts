import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { createAzureClients, type AzureClients, type AzureRetryOptions } from "../../adapters/azure/clients";
import { staticTokenCredential } from "../../adapters/azure/credentials";
import { startEmulator, type RunningEmulator, type StartEmulatorOptions } from "@ferry/emulator";

export interface EmulatorFixture {
  emu: RunningEmulator;
  azure: AzureClients;
  dataDir: string;
  /** Clients with other retry settings (e.g. none, to see a fault's first answer). */
  clients(retryOptions: AzureRetryOptions): AzureClients;
}

/** A temporary data folder. */
export function tempDir(prefix = "ferry-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function clientsFor(
  emu: RunningEmulator,
  retryOptions: AzureRetryOptions = { maxRetries: 3, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
): AzureClients {
  return createAzureClients({
    subscriptionId: emu.subscriptionId,
    credential: staticTokenCredential(),
    armEndpoint: emu.endpoint,
    caCertPem: emu.caCertPem,
    retryOptions,
  });
}

/** Starts an emulator in-process for a test file, on a temp folder removed afterwards. */
export function useEmulator(options: Partial<StartEmulatorOptions> = {}): EmulatorFixture {
  const fixture = {} as EmulatorFixture;
  beforeAll(async () => {
    fixture.dataDir = options.dataDir ?? tempDir();
    fixture.emu = await startEmulator({ ...options, dataDir: fixture.dataDir });
    fixture.azure = clientsFor(fixture.emu);
    fixture.clients = (retryOptions) => clientsFor(fixture.emu, retryOptions);
  });
  afterAll(async () => {
    await fixture.emu?.close();
    if (!options.dataDir) rmSync(fixture.dataDir, { recursive: true, force: true });
  });
  return fixture;
}
