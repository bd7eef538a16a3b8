import type { StartEmulatorOptions } from "../../index";
import { useEmulatorWith, type EmulatorFixture } from "../../testing/vitest";
import { clientsFor, type EmulatorClients, type EmulatorRetryOptions } from "./clients";

export { clientsFor, type EmulatorClients } from "./clients";

/** An emulator per test file, with the SDK clients pointed at it. */
export function useEmulator(
  options: Partial<StartEmulatorOptions> = {},
): EmulatorFixture<EmulatorClients, EmulatorRetryOptions> {
  return useEmulatorWith(clientsFor, options);
}
