/**
 * `@ferry/emulator/testing`: what a client's tests (and drills, and benchmarks) build on, free of
 * any test runner: small Azure environments built through the SDK clients, deterministic byte
 * patterns and positional I/O on the device paths a VM's guest sees, temp folders, failing calls.
 * The vitest fixture is `@ferry/emulator/testing/vitest`.
 */
export {
  createEmptyDisk,
  createTrustedLaunchDisk,
  createGroup,
  createNic,
  createSubnet,
  createVm,
  type ArmClients,
  type CreateVmOptions,
  type SubnetLayout,
} from "./azure-env";
export { pattern, readAt, writeAt } from "./bytes";
export { writeGuestIdentity, type GuestIdentity } from "./guest";
export { thrownBy } from "./errors";
export { tempDir } from "./temp-dir";
