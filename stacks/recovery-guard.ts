import { UserError } from "../core/errors";
import { sameResourceId } from "../core/resource-id";
import type { Blueprint } from "../core/schemas/blueprint";
import { diskProgressOf, type BlueprintRunState, type ModeRecord } from "../core/schemas/blueprint-state";
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

/** Why a disk may not be recovered now, or undefined when it may. */
function problemOf(d: RecoveredDiskPlan, state: BlueprintRunState): string | undefined {
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
  if (d.strategy === "attachAsIs" && !progress.detached)
    return "the store does not record its staging disk as detached from the sync appliance";
  return undefined;
}

/**
 * Refuses to declare recovered resources unless the store shows every disk ready for its strategy:
 * a from-snapshot disk's snapshot of the staging disk is taken only while its sync is paused at
 * exactly the recorded point and not applying (or once the record says it was taken); an
 * attach-as-is disk only while paused there and detached from the appliance. Throws
 * {@link UserError} "NotReadyToRecover", naming each disk, what is wrong, and the command to run.
 */
export function assertSafeToRecover(plan: BlueprintPlan, stack: string, state: BlueprintRunState): void {
  const mode = state.mode;
  if (plan.mode === "standby" || !mode) return;
  const problems: string[] = [];
  for (const row of plan.rows) {
    for (const d of [row.osDisk, ...row.dataDisks]) {
      const problem = problemOf(d, state);
      if (problem)
        problems.push(
          `${row.row} ${d.role === "os" ? "OS disk" : `data disk LUN ${d.lun}`} (${d.sourceDiskId}, ` +
            `${d.strategy}): ${problem}`,
        );
    }
  }
  if (!problems.length) return;
  throw new UserError(
    `Blueprint ${stack} is in ${mode.mode} (operation ${mode.operation}, in the state store), but not every disk ` +
      `can be recovered at its recorded point; nothing was recovered:\n  ${problems.join("\n  ")}\n` +
      `Run \`${commandFor(stack, mode)}\`: it pauses the sync at an apply boundary, detaches what is attached ` +
      "as-is and runs the update.",
    { code: "NotReadyToRecover", details: { problems } },
  );
}
