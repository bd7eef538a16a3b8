import { encodeGuestRecord, type GuestIdentity } from "../guest-identity";
import { writeAt } from "./bytes";

export type { GuestIdentity };

/**
 * Makes the guest of an OS disk (its device path, or its file) a guest that reports `identity` through the VM agent,
 * as an installed OS would: the emulator's instance view then shows its computer name, OS name and version. Written
 * into the disk's first 4 KiB, so it travels with the disk's bytes. Do not use on a disk whose first 4 KiB hold
 * something else (a file system that uses them).
 */
export function writeGuestIdentity(path: string, identity: GuestIdentity): void {
  writeAt(path, 0, encodeGuestRecord(identity));
}
