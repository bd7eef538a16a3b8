import type { RunStateStore } from "../../adapters/state/run-state";
import { UserError } from "../../core/errors";
import type { RecoveryPoint } from "../../core/schemas/recovery-point";
import type { Delta } from "../../sync/union-copy";
import type { RunbookContext } from "../context";
import { isCompletePhase, type CompletePhase } from "./complete-phase";
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
  /** With `full`: why no delta could be had (the snapshot that is gone). */
  fullReason?: string;
}

export interface FailbackDiskState extends FailbackDisk {
  /**
   * The staging disk of the primary disk (the DR disk itself when it was attached as is), its LUN on
   * the DR appliance, and the primary region.
   */
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
  applying?: PassPlan;
  passes: FailbackPass[];
}

/**
 * What one pass copies: into the new disk, the DR disk's snapshot `snapshotId`, on the union of `deltas`; `null`:
 * no delta is known, so the whole disk, for the reason `fullReason` says.
 */
export interface PassPlan {
  snapshotId: string;
  deltas: Delta[] | null;
  fullReason?: string;
}

/**
 * Where a failback is: `syncing` from the first failback sync until complete has succeeded (complete
 * has its own phases, below), then `completed` and after cleanup `cleaned`; or `rolledBack`.
 */
export type FailbackPhase = "syncing" | "completed" | "rolledBack" | "cleaned";

/** What failback complete has done; a re-run goes on from there. */
export interface FailbackCompleteState {
  /** The last step of complete that is done (see complete-phase.ts); a re-run starts at the step after it. */
  phase: CompletePhase;
  /**
   * Rows whose primary VM has the returned disks. The swap goes row by row (in parallel), so a swap
   * step that failed half-way is re-run for the other rows only; rollback is refused once one is here.
   */
  swapped: string[];
  /** The first recovery point of each returned disk, by new disk id in lower case, taken disk by disk. */
  points: Record<string, RecoveryPoint>;
}

export interface FailbackState {
  blueprint: string;
  /** The failback-prepare operation whose mapping this follows. */
  prepare: string;
  failover: string;
  phase: FailbackPhase;
  disks: FailbackDiskState[];
  /** `--to-new-vm`: where a new VM's NIC goes. */
  newVmSubnetId?: string;
  /** Set by the first failback complete. */
  complete?: FailbackCompleteState;
}

/**
 * Where failback state is kept: one record per blueprint, read and written whole. Every read and
 * write of it goes through here, so that moving it (into the Table-storage state store) changes
 * only {@link failbackStateStore}.
 */
export interface FailbackStateStore {
  /** The blueprint's failback state; undefined when no failback of it was ever synced. */
  read(blueprint: string): Promise<FailbackState | undefined>;
  /**
   * Writes the whole state, durably, before it resolves. Calls may overlap (the passes over several
   * disks save one state object as each ends): each writes the state as it is at the call, in call order.
   */
  save(state: FailbackState): Promise<void>;
}

/**
 * The failback state store: a document per blueprint in the run-state store (the state store's
 * table), so that a failback continues from any host. Each write is conditional on the ETag of the
 * last read or write through the same run-state store: a state written meanwhile by another host
 * is refused ("ConcurrentUpdate"), never overwritten. Writes through one store land in call order.
 */
export function failbackStateStore(ctx: Pick<RunbookContext, "runState">): FailbackStateStore {
  const store = ctx.runState;
  let memory = remembered.get(store);
  if (!memory) remembered.set(store, (memory = { etags: new Map(), writes: new Map() }));
  const { etags, writes } = memory;
  return {
    async read(blueprint) {
      const found = await store.get<unknown>(blueprint, failbackKey);
      if (!found) {
        etags.delete(blueprint);
        return undefined;
      }
      etags.set(blueprint, found.etag);
      return parseFailbackState(JSON.stringify(found.doc), `The failback state of ${blueprint} in the state store`);
    },
    save(state) {
      const snapshot = JSON.parse(JSON.stringify(state)) as FailbackState;
      const write = (writes.get(state.blueprint) ?? Promise.resolve()).then(async () => {
        const etag = etags.get(state.blueprint);
        etags.set(
          state.blueprint,
          etag === undefined
            ? await store.create(state.blueprint, failbackKey, snapshot)
            : await store.replace(state.blueprint, failbackKey, snapshot, etag),
        );
      });
      writes.set(
        state.blueprint,
        write.catch(() => undefined),
      );
      return write;
    },
  };
}

const failbackKey = "failback";

// The ETag each blueprint's state was last read or written with, per run-state store (one per
// runbook context), and the chain of its writes.
const remembered = new WeakMap<RunStateStore, { etags: Map<string, string>; writes: Map<string, Promise<void>> }>();

/** The failback state of a blueprint, or undefined: `failbackStateStore(ctx).read(blueprint)`. */
export function readFailbackState(
  ctx: Pick<RunbookContext, "runState">,
  blueprint: string,
): Promise<FailbackState | undefined> {
  return failbackStateStore(ctx).read(blueprint);
}

/** What failback complete kept before it had phases: a flag per step done. */
interface FlaggedCompleteState {
  drStopped?: boolean;
  finalDone?: boolean;
  swapped?: string[];
  points?: Record<string, RecoveryPoint>;
  configUpdated?: boolean;
  standby?: boolean;
}

const failbackPhases: readonly FailbackPhase[] = ["syncing", "completed", "rolledBack", "cleaned"];

/**
 * A failback state from its stored text (`where` names it in errors). A state written before
 * complete had phases (a flag per step) is read as the phase of its last flag: that version re-ran
 * every step without a flag, and the steps after that phase are the same ones. Anything else that
 * is not a failback state is refused with a {@link UserError}.
 */
export function parseFailbackState(text: string, where: string): FailbackState {
  const refuse = (why: string) =>
    new UserError(
      `${where} is not a failback state this ferry can read: ${why}. Restore it from a backup of the ` +
        `state store, or run the ferry version that wrote it.`,
      { code: "InvalidFailbackState", details: { where } },
    );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw refuse(`not JSON (${(e as Error).message})`);
  }
  const state = raw as FailbackState | null;
  if (typeof state !== "object" || state === null || typeof state.blueprint !== "string")
    throw refuse("it names no blueprint");
  if (!failbackPhases.includes(state.phase)) throw refuse(`its phase "${String(state.phase)}" is unknown`);
  if (!Array.isArray(state.disks)) throw refuse("it has no disks");
  const complete = state.complete as (Partial<FailbackCompleteState> & FlaggedCompleteState) | undefined;
  if (complete === undefined) return state;
  if (typeof complete !== "object" || complete === null) throw refuse("its complete is not an object");
  if (complete.phase !== undefined && !isCompletePhase(complete.phase))
    throw refuse(`its complete phase "${String(complete.phase)}" is unknown`);
  const phase =
    complete.phase ?? (state.phase === "completed" || state.phase === "cleaned" ? "succeeded" : phaseOfFlags(complete));
  return { ...state, complete: { phase, swapped: complete.swapped ?? [], points: complete.points ?? {} } };
}

function phaseOfFlags(c: FlaggedCompleteState): CompletePhase {
  // Each flag was set once its step and every step before it were done.
  if (c.standby) return "standby";
  if (c.configUpdated) return "sourcesRewritten";
  if (c.finalDone) return "finalPassCopied";
  if (c.drStopped) return "drVmsStopped";
  return "notStarted";
}
