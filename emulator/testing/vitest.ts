import { rmSync } from "node:fs";
import { afterAll, beforeAll } from "vitest";
import { startEmulator, type RunningEmulator, type StartEmulatorOptions } from "../index";
import { tempDir } from "./temp-dir";

/** Builds a test's clients for a running emulator; `retryOptions` as the client takes them. */
export type EmulatorClientsFactory<Clients, RetryOptions> = (
  emu: RunningEmulator,
  retryOptions?: RetryOptions,
) => Clients;

/** A test file's emulator: set once its `beforeAll` has run. */
export interface EmulatorFixture<Clients, RetryOptions> {
  emu: RunningEmulator;
  /** The clients of the factory, with its default retries. */
  azure: Clients;
  dataDir: string;
  /** Clients with other retry settings (e.g. none, to see a fault's first answer). */
  clients(retryOptions: RetryOptions): Clients;
}

/**
 * `@ferry/emulator/testing/vitest`: starts an emulator in-process before a test file's tests, on
 * `options.dataDir` or a temp folder (removed afterwards), and closes it after them. The clients
 * are whatever `clientsFor` builds: the SDK clients, or a client library's own bundle of them.
 */
export function useEmulatorWith<Clients, RetryOptions>(
  clientsFor: EmulatorClientsFactory<Clients, RetryOptions>,
  options: Partial<StartEmulatorOptions> = {},
): EmulatorFixture<Clients, RetryOptions> {
  const fixture = {} as EmulatorFixture<Clients, RetryOptions>;
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
