import { UserError } from "../core/errors";
import { sameResourceId } from "../core/resource-id";
import type { Blueprint } from "../core/schemas/blueprint";
import {
  diskProgressOf,
  type BlueprintRunState,
  type DiskProgress,
  type ModeRecord,
} from "../core/schemas/blueprint-state";
import type { BlueprintPlan, RecoveredDiskPlan } from "./plan";

// A bare `pulumi up` of a blueprint in failover (or test, or failback) mode must be safe by itself:
// the pause at an apply boundary, the detach and the DR snapshots exist only in the runbook, so the
// program checks the store for each before it declares a recovered resource on a disk. Pure: the
// program reads the store at the edge and hands the record here.

/** The `ferry` command that brings a blueprint to where its mode record says it is. */
export function commandFor(stack: string, mode: ModeRecord): string {
  const kind = mode.operationKind ?? "";
  if (mode.mode === "test") return `ferry failover ${stack} --test`;
  if (mode.mode === "failback") return `ferry failback ${stack}`;
  return `ferry failover ${stack} ${kind === "failover-planned" ? "--planned" : "--unplanned"}`;
}

/**
 * Refuses a recovering mode whose record lacks the recovery point of a source disk: the program
 * would have no point to recover it at. Throws {@link UserError} "MissingRecoveryPoint".
 */
export function assertRecordedPoints(blueprint: Blueprint, stack: string, mode: ModeRecord): void {
  const missing = blueprint.rows.flatMap((r) =>
    [r.osDisk.sourceDiskId, ...r.dataDisks.map((d) => d.sourceDiskId)]
      .filter((id) => !Object.keys(mode.recoveryPoints).some((k) => sameResourceId(k, id)))
      .map((id) => `${r.name}: ${id}`),
  );
  if (!missing.length) return;
  throw new UserError(
    `Blueprint ${stack} is in ${mode.mode} (operation ${mode.operation}, in the state store), but the store ` +
      `records no recovery point for:\n  ${missing.join("\n  ")}\nNothing was recovered. Run ` +
      `\`${commandFor(stack, mode)}\`: it pauses the sync, records each disk's point and runs the update.`,
    { code: "MissingRecoveryPoint", details: { missing } },
  );
}

/** Whether a runbook is detaching the disk's staging disk now: recorded as detaching, within the time it set. */
function detachUnderWay(progress: DiskProgress, now: Date): boolean {
  return progress.detachingUntil !== undefined && Date.parse(progress.detachingUntil) > now.getTime();
}

/**
 * Why a disk may not be recovered now, or undefined when it may; "detaching" when a runbook is detaching its
 * staging disk now (its VM waits for the detach).
 */
function problemOf(d: RecoveredDiskPlan, state: BlueprintRunState, now: Date): string | "detaching" | undefined {
  const progress = diskProgressOf(state.mode, d.sourceDiskId);
  const point = d.recoveryPoint.snapshotId;
  if (d.strategy === "fromSnapshot" && progress.snapshotTaken) return undefined;
  // Copied from its DR-side point: the staging disk is not read, whatever its sync does.
  if (d.strategy === "fromSnapshot" && d.recoveryPoint.drSnapshotId) return undefined;
  const sync = state.sync[d.sourceDiskId.toLowerCase()];
  let notPaused: string | undefined;
  if (!sync) notPaused = "has no source row in the state store (DR is not enabled for it)";
  else if (!sync.paused) notPaused = "is syncing (not paused)";
  else if (sync.applying) notPaused = `is paused while applying ${sync.applying} (a half-applied staging disk)`;
  else if (!sync.applied || !sameResourceId(sync.applied, point))
    notPaused = `is paused at ${sync.applied ?? "no applied point"}, not at the recorded recovery point`;
  if (notPaused) {
    return d.strategy === "fromSnapshot"
      ? `its sync ${notPaused}, and the store does not record its DR snapshot at ${point} as taken`
      : `its sync ${notPaused}; attached as-is it must stay paused at ${point}`;
  }
  if (d.strategy === "attachAsIs" && !progress.detached) {
    if (detachUnderWay(progress, now)) return "detaching";
    return "the store does not record its staging disk as detached from the sync appliance";
  }
  return undefined;
}

/** What {@link assertSafeToRecover} found: every disk ready, or a runbook detaching some now. */
export interface RecoveryReadiness {
  /**
   * Source disk ids (lower case) of the attach-as-is disks a runbook is detaching from the appliance now: the
   * program declares their rows' other resources and holds each such row's VM until the store records the detach
   * ({@link awaitDetached}).
   */
  detaching: string[];
}

/**
 * Refuses to declare recovered resources unless the store shows every disk ready for its strategy:
 * a from-snapshot disk's snapshot of the staging disk is taken only while its sync is paused at
 * exactly the recorded point and not applying (or once the record says it was taken); an
 * attach-as-is disk only while paused there and detached from the appliance, or being detached by a runbook now
 * (until the time it recorded: the VM then waits, see {@link RecoveryReadiness}). Throws
 * {@link UserError} "NotReadyToRecover", naming each disk, what is wrong, and the command to run.
 */
export function assertSafeToRecover(
  plan: BlueprintPlan,
  stack: string,
  state: BlueprintRunState,
  now: Date = new Date(),
): RecoveryReadiness {
  const mode = state.mode;
  const detaching: string[] = [];
  if (plan.mode === "standby" || !mode) return { detaching };
  const problems: string[] = [];
  for (const row of plan.rows) {
    for (const d of [row.osDisk, ...row.dataDisks]) {
      const problem = problemOf(d, state, now);
      if (problem === "detaching") detaching.push(d.sourceDiskId.toLowerCase());
      else if (problem)
        problems.push(
          `${row.row} ${d.role === "os" ? "OS disk" : `data disk LUN ${d.lun}`} (${d.sourceDiskId}, ` +
            `${d.strategy}): ${problem}`,
        );
    }
  }
  if (!problems.length) return { detaching };
  throw new UserError(
    `Blueprint ${stack} is in ${mode.mode} (operation ${mode.operation}, in the state store), but not every disk ` +
      `can be recovered at its recorded point; nothing was recovered:\n  ${problems.join("\n  ")}\n` +
      `Run \`${commandFor(stack, mode)}\`: it pauses the sync at an apply boundary, detaches what is attached ` +
      "as-is and runs the update.",
    { code: "NotReadyToRecover", details: { problems } },
  );
}

/** Options of {@link awaitDetached}. */
export interface AwaitDetachedOptions {
  /** Reads the blueprint's run state from the state store again. */
  read: () => Promise<BlueprintRunState>;
  /** Time between reads, in milliseconds. Default 500. */
  intervalInMs?: number;
  /** Said once, when the first read finds a detach still under way (the program's log). */
  onWait?: (message: string) => void;
  /** The clock. Default: the system's. */
  now?: () => Date;
}

/**
 * Waits until the state store records each of `detaching` (source disk ids) detached from the appliance by
 * `operation`: what a recovered VM on those disks waits for when the runbook detaches them beside its `up`.
 * Throws {@link UserError} "NotReadyToRecover" when another operation set the mode, when the runbook withdrew the
 * detach (it failed), or when the time it recorded passes with the disk still attached.
 */
export async function awaitDetached(
  stack: string,
  operation: string,
  detaching: string[],
  options: AwaitDetachedOptions,
): Promise<void> {
  const now = options.now ?? (() => new Date());
  let said = false;
  for (;;) {
    const state = await options.read();
    const mode = state.mode;
    if (!mode || mode.operation !== operation) {
      throw new UserError(
        `Blueprint ${stack}: operation ${operation} was detaching staging disks for this update, but the state store ` +
          `now records ${mode ? `${mode.mode} by operation ${mode.operation}` : "no mode"}. Nothing was ` +
          `recovered on those disks. Run \`ferry history ${stack}\` to see which operation holds the blueprint.`,
        { code: "NotReadyToRecover", details: { operation, now: mode?.operation } },
      );
    }
    const waiting: string[] = [];
    const problems: string[] = [];
    for (const id of detaching) {
      const p = diskProgressOf(mode, id);
      if (p.detached) continue;
      if (detachUnderWay(p, now())) waiting.push(id);
      else
        problems.push(
          p.detachingUntil
            ? `${id}: not recorded detached by ${p.detachingUntil}, the time its runbook set`
            : `${id}: its detach was withdrawn (the runbook's detach failed)`,
        );
    }
    if (problems.length) {
      throw new UserError(
        `Blueprint ${stack} (operation ${operation}): the staging disks of these attach-as-is disks did not leave ` +
          `the sync appliance, so their VMs were not created:\n  ${problems.join("\n  ")}\n` +
          `Run \`${commandFor(stack, mode)}\`: it detaches them and continues the update.`,
        { code: "NotReadyToRecover", details: { problems } },
      );
    }
    if (!waiting.length) return;
    if (!said) {
      said = true;
      options.onWait?.(
        `waiting for the runbook to detach ${waiting.length} staging disk(s) from the appliance before their VMs`,
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalInMs ?? 500));
  }
}
