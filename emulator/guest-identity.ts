import { closeSync, openSync, readSync } from "node:fs";

/**
 * What a guest OS tells Azure about itself through its VM agent, reported in the VM's instance view: its computer name
 * and its operating system. On Azure the agent reads them inside the guest; a VM on an attached (specialized) OS disk
 * reports the name its guest already had, never one the VM request gave (it gives none: no `osProfile`).
 *
 * The emulator has no guest OS, so a disk says who its guest is by a guest record in its first 4 KiB: the magic line
 * {@link GUEST_RECORD_MAGIC}, then this object as one line of JSON. It lives in the disk's bytes, so whatever copies
 * the bytes (a snapshot, a disk made from it, ferry's sync writing a staging disk block by block) carries it, as the
 * registry hive that holds a Windows computer name is carried on Azure.
 */
export interface GuestIdentity {
  /** The guest's computer name (Windows) or host name (Linux). */
  computerName: string;
  /** e.g. "Windows Server 2022 Datacenter", "ubuntu". */
  osName: string;
  /** e.g. "10.0.20348.2849", "24.04". */
  osVersion: string;
}

export const GUEST_RECORD_MAGIC = "FERRY-EMULATOR-GUEST/1\n";
/** The record is read from, and must fit in, the disk's first this many bytes. */
export const GUEST_RECORD_BYTES = 4096;

/** The bytes to write at offset 0 of an OS disk so that its guest reports `identity`. */
export function encodeGuestRecord(identity: GuestIdentity): Buffer {
  const text = `${GUEST_RECORD_MAGIC}${JSON.stringify(identity)}\n`;
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > GUEST_RECORD_BYTES) throw new Error(`a guest record takes at most ${GUEST_RECORD_BYTES} bytes`);
  return bytes;
}

/** Parses the first bytes of a disk; undefined when they hold no guest record. */
export function decodeGuestRecord(head: Buffer): GuestIdentity | undefined {
  const magic = Buffer.from(GUEST_RECORD_MAGIC, "utf8");
  if (head.length < magic.length || !head.subarray(0, magic.length).equals(magic)) return undefined;
  const rest = head.subarray(magic.length);
  const end = rest.indexOf(0x0a);
  if (end < 0) return undefined;
  try {
    const parsed: unknown = JSON.parse(rest.subarray(0, end).toString("utf8"));
    if (parsed === null || typeof parsed !== "object") return undefined;
    const { computerName, osName, osVersion } = parsed as Record<string, unknown>;
    if (typeof computerName !== "string" || typeof osName !== "string" || typeof osVersion !== "string")
      return undefined;
    return { computerName, osName, osVersion };
  } catch {
    return undefined;
  }
}

/** The guest record of a disk file, read as the guest agent would report it; undefined when it holds none. */
export function readGuestRecord(file: string): GuestIdentity | undefined {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(GUEST_RECORD_BYTES);
    const n = readSync(fd, head, 0, head.length, 0);
    return decodeGuestRecord(head.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}
