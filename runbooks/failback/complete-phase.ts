import { FerryError } from "../../core/errors";

// The phases of `ferry failback complete`, without I/O. The state keeps the phase (the last step
// that is durably done); a re-run starts at the step after it.

/** Every phase of a failback complete, in the order a run passes through them. */
export const completePhases = [
  "notStarted",
  /** The DR VMs are deallocated: nothing writes the DR disks any more. */
  "drVmsStopped",
  /** One more pass after the stop: each new disk equals its DR disk's final snapshot. */
  "finalPassCopied",
  /** The new disks are off the primary region's appliance: nothing of ferry writes them any more. */
  "newDisksDetached",
  /** Each returned disk's first recovery point is taken, before any VM can write it. */
  "firstPointsTaken",
  /** Every primary VM has the returned disks (swapped on the deallocated VM, or a new VM made on them). */
  "disksSwapped",
  /** The primary VMs run, and are OS- and app-ready where their rows ask. */
  "primaryStarted",
  /** The blueprint's source disk ids are the returned disks. */
  "sourcesRewritten",
  /** The staging disks the DR VMs did not run on are seeded to the returned disks' first points and healthy. */
  "stagingCaughtUp",
  /** The stack is up in standby: the DR VMs are gone. */
  "standby",
  /** The staging disks the DR VMs ran on are back on the appliance and healthy: the failback is complete. */
  "succeeded",
] as const;

export type CompletePhase = (typeof completePhases)[number];

/** A step of failback complete; each moves it from one phase to the next. */
export type CompleteStep =
  | "stopDrVms"
  | "copyFinalPass"
  | "detachNewDisks"
  | "takeFirstPoints"
  | "swapDisks"
  | "startPrimaryVms"
  | "rewriteSources"
  | "catchUpStaging"
  | "upStandby"
  | "reattachStaging";

// The order is forced: the first points are taken before any VM can write the returned disks (a new
// VM starts as it is made); the staging disks the DR VMs never used are caught up by deltas from the
// DR disks' failback base snapshots, which the standby `up` deletes with the DR VMs; the staging
// disks the DR VMs ran on can go back on the appliance only once those VMs are gone.
const transitions: Record<CompleteStep, { from: CompletePhase; to: CompletePhase }> = {
  stopDrVms: { from: "notStarted", to: "drVmsStopped" },
  copyFinalPass: { from: "drVmsStopped", to: "finalPassCopied" },
  detachNewDisks: { from: "finalPassCopied", to: "newDisksDetached" },
  takeFirstPoints: { from: "newDisksDetached", to: "firstPointsTaken" },
  swapDisks: { from: "firstPointsTaken", to: "disksSwapped" },
  startPrimaryVms: { from: "disksSwapped", to: "primaryStarted" },
  rewriteSources: { from: "primaryStarted", to: "sourcesRewritten" },
  catchUpStaging: { from: "sourcesRewritten", to: "stagingCaughtUp" },
  upStandby: { from: "stagingCaughtUp", to: "standby" },
  reattachStaging: { from: "standby", to: "succeeded" },
};

const steps = Object.keys(transitions) as CompleteStep[];

/**
 * The phase failback complete is in once `step` is done in `phase`. Throws a {@link FerryError}
 * with code "InvalidTransition" for a step that is not the next one: steps are never skipped or
 * repeated out of order.
 */
export function nextCompletePhase(phase: CompletePhase, step: CompleteStep): CompletePhase {
  const rule = transitions[step];
  if (rule.from !== phase) {
    const expected = completeStepAfter(phase);
    throw new FerryError(
      `failback complete in phase "${phase}" cannot take step "${step}": ` +
        (expected ? `its next step is "${expected}".` : "it is done."),
      { code: "InvalidTransition", details: { phase, step } },
    );
  }
  return rule.to;
}

/** The step that moves failback complete on from `phase`; undefined once it has succeeded. */
export function completeStepAfter(phase: CompletePhase): CompleteStep | undefined {
  return steps.find((s) => transitions[s].from === phase);
}

/** The steps a failback complete in `phase` still has to do, in order (a re-run does just these). */
export function completeStepsFrom(phase: CompletePhase): CompleteStep[] {
  const left: CompleteStep[] = [];
  for (let p = phase, s = completeStepAfter(p); s; p = transitions[s].to, s = completeStepAfter(p)) left.push(s);
  return left;
}

/** Whether failback complete in `phase` is at `milestone` or past it. */
export function completePhaseReached(phase: CompletePhase, milestone: CompletePhase): boolean {
  return completePhases.indexOf(phase) >= completePhases.indexOf(milestone);
}

/** Whether `value` (read from a stored state) names a phase of failback complete. */
export function isCompletePhase(value: unknown): value is CompletePhase {
  return (completePhases as readonly unknown[]).includes(value);
}
