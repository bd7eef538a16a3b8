import { createAzureClients, type AzureClients, type AzureRetryOptions } from "../../adapters/azure/clients";
import { staticTokenCredential } from "../../adapters/azure/credentials";
import type { RunningEmulator, StartEmulatorOptions } from "@ferry/emulator";
import { useEmulatorWith, type EmulatorFixture as Fixture } from "@ferry/emulator/testing/vitest";

export { tempDir } from "@ferry/emulator/testing";

/** A test file's emulator with ferry's clients. */
export type EmulatorFixture = Fixture<AzureClients, AzureRetryOptions>;

/** Ferry's clients for an emulator; short retries by default, so a test does not wait out Azure's backoff. */
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
  return useEmulatorWith(clientsFor, options);
}
