import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mountGuestFs } from "./guest-fs";

/**
 * The files of the ransomware drill's application on a guest's ext4 data disk: ledger files of random bytes, written
 * whole and hashed, then read back from a recovered disk and compared by hash. The drill (`npm run drill -- --scenario
 * ransomware`) and the integration test (test/runbooks/point-failover.test.ts) both use them. Root only, as
 * {@link mountGuestFs} is.
 */

/** Options of {@link writeLedgerFiles}. */
export interface WriteLedgerFilesOptions {
  /** Make a new ext4 file system on the device first. Default false. */
  format?: boolean;
  /** How many files: `ledger-0.dat` … Default {@link LEDGER_FILES}. */
  files?: number;
  /** Write only these of them (by index), leaving the others as they are. Default: every one. */
  only?: number[];
}

/** How many ledger files the application keeps. */
export const LEDGER_FILES = 12;

/** The name of ledger file `i`. */
export const ledgerFile = (i: number) => `ledger-${i}.dat`;

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/**
 * Writes ledger files of fresh random bytes (each a little longer than the one before, 96 KiB and up) on the ext4
 * file system of `device`, in place over what they held: what the application writes, and what ransomware writes over
 * it. Then it unmounts: each point taken afterwards holds a clean file system, as after an orderly stop of the
 * application. Returns the SHA-256 (hex) of each file written, by name.
 */
export function writeLedgerFiles(device: string, options: WriteLedgerFilesOptions = {}): Map<string, string> {
  const count = options.files ?? LEDGER_FILES;
  const which = options.only ?? Array.from({ length: count }, (_, i) => i);
  const m = mountGuestFs(device, { format: options.format ?? false });
  try {
    const out = new Map<string, string>();
    for (const i of which) {
      const data = randomBytes(96 * 1024 + i * 512);
      writeFileSync(join(m.dir, ledgerFile(i)), data);
      out.set(ledgerFile(i), sha256(data));
    }
    execFileSync("sync");
    return out;
  } finally {
    m.unmount();
  }
}

/** A recovered disk's ledger: its file-system check and the hash of each file. */
export interface LedgerRead {
  /** `e2fsck -fn` exit status: 0 is a clean file system. */
  fsckExitCode: number;
  /** e2fsck's summary line (files and blocks in use), or its last lines when it found errors. */
  fsck: string;
  /** SHA-256 (hex) of each ledger file by name; a file that is missing is left out. */
  files: Map<string, string>;
}

/**
 * Checks the ext4 file system at `path` (a recovered disk's device, or a copy of its file) with `e2fsck -fn`, which
 * changes nothing, then mounts it read-only and hashes each of `count` ledger files.
 */
export function readLedgerFiles(path: string, count = LEDGER_FILES): LedgerRead {
  const fsck = spawnSync("e2fsck", ["-fn", path], { encoding: "utf8" });
  const fsckExitCode = fsck.status ?? -1;
  // Its summary ("…: 23/65536 files (0.0% non-contiguous), …") ends its standard output; its version line is on
  // standard error.
  const lines = (fsckExitCode === 0 ? fsck.stdout : `${fsck.stdout}\n${fsck.stderr}`).trim().split("\n");
  const m = mountGuestFs(path, { readOnly: true });
  try {
    const files = new Map<string, string>();
    for (let i = 0; i < count; i++) {
      try {
        files.set(ledgerFile(i), sha256(readFileSync(join(m.dir, ledgerFile(i)))));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
    }
    return { fsckExitCode, fsck: lines.slice(fsckExitCode === 0 ? -1 : -3).join(" "), files };
  } finally {
    m.unmount();
  }
}

/** How a recovered ledger compares with what the application and the ransomware wrote. */
export interface LedgerComparison {
  /** Files expected. */
  files: number;
  /** Files whose hash is the application's (good) one. */
  good: number;
  /** Files whose hash is the ransomware's. */
  garbage: number;
  /** Files missing, or neither (a torn write). */
  other: string[];
}

/** Compares each expected file's hash with the good and the garbage hashes (pure). */
export function compareLedger(
  read: Map<string, string>,
  good: Map<string, string>,
  garbage: Map<string, string>,
): LedgerComparison {
  const out: LedgerComparison = { files: good.size, good: 0, garbage: 0, other: [] };
  for (const [name, hash] of good) {
    const got = read.get(name);
    if (got === hash) out.good++;
    else if (got !== undefined && got === garbage.get(name)) out.garbage++;
    else out.other.push(name);
  }
  return out;
}
