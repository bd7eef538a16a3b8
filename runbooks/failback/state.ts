import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
  openSync,
  fsyncSync,
  closeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import type { RecoveryPoint } from "../../core/schemas/recovery-point";
import type { Delta } from "../../sync/union-copy";
import type { RunbookContext } from "../context";
import type { FailbackDisk } from "./prepare";

/** One pass of failback sync over one disk. */
export interface FailbackPass {
  pass: number;
  /** The snapshot of the DR disk the new primary disk equals after this pass. */
  snapshotId: string;
  /** Bytes of the union of the deltas this pass had to make equal. */
  unionBytes: number;
  bytesRead: number;
  bytesZeroed: number;
  seconds: number;
  /** No delta could be had (a snapshot gone): the whole disk was copied. */
  full?: boolean;
}

export interface FailbackDiskState extends FailbackDisk {
  /** The staging disk of the primary disk (the DR disk itself when it was attached as is), its LUN on the DR appliance, and the primary region. */
  stagingDiskId: string;
  stagingLun: number;
  region: string;
  /** The new disk in the primary region the DR disk's data is copied into, and its LUN on the primary appliance. */
  newDiskId: string;
  applianceId: string;
  applianceLun: number;
  /** The primary source's last replicated point the new disk was made from. */
  madeFrom: RecoveryPoint;
  /** The DR disk's snapshot taken by the failover before its VM started (the base of the DR-side delta). */
  drBase: string;
  /** The DR disk snapshot the new disk durably equals. */
  applied?: string;
  /** A pass under way: the new disk is torn on the union of these deltas until it ends. */
  applying?: { snapshotId: string; deltas: Delta[] | null };
  passes: FailbackPass[];
}

export interface FailbackState {
  blueprint: string;
  /** The failback-prepare operation whose mapping this follows. */
  prepare: string;
  failover: string;
  phase: "syncing" | "completed" | "rolledBack" | "cleaned";
  disks: FailbackDiskState[];
  /** `--to-new-vm`: where a new VM's NIC goes. */
  newVmSubnetId?: string;
  /** What failback complete has done, step by step (it is re-run from where it stopped). */
  complete?: {
    drStopped?: boolean;
    finalDone?: boolean;
    swapped: string[];
    /** The first recovery point of each returned disk, by new disk id. */
    points: Record<string, RecoveryPoint>;
    configUpdated?: boolean;
    standby?: boolean;
  };
}

// --- state, kept beside the journal and written atomically -----------------------------------

function stateFile(ctx: RunbookContext, blueprint: string): string {
  // Beside the journal (it travels with it between pipeline agents), outside its per-blueprint folders of operations.
  return join(ctx.config.journalDir, ".failback", `${blueprint}.json`);
}

export function readFailbackState(ctx: RunbookContext, blueprint: string): FailbackState | undefined {
  const p = stateFile(ctx, blueprint);
  if (!existsSync(p)) return undefined;
  return JSON.parse(readFileSync(p, "utf8")) as FailbackState;
}

export function saveState(ctx: RunbookContext, state: FailbackState): void {
  const p = stateFile(ctx, state.blueprint);
  mkdirSync(dirname(p), { recursive: true });
  const tmp = `${p}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2));
  const fd = openSync(tmp, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, p);
}
