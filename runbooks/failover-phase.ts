import type { Operation } from "./journal";

// The phases of a failover, without I/O. The operation record keeps the phase (the last step that
// is durably done); a re-run of a failed or abandoned failover decides on it whether it continues.

/** Every phase of a failover, in the order a run passes through them. */
export const failoverPhases = [
  "notStarted",
  /** Planned: the source VMs are powered off. */
  "sourcesStopped",
  /** Planned: every disk is synced to a point taken after the power-off. */
  "finalSynced",
  /** The sync of every disk stopped at an apply boundary. */
  "syncPaused",
  /** The precheck passed: the recovery points are chosen and held. */
  "prechecked",
  /**
   * The attach-as-is staging disks are (or are being) taken off the appliance: they can no longer be
   * synced, so the failover can only go forward.
   */
  "stagingDetached",
  /** The stack is up in the failover's mode: the VMs exist. */
  "up",
  /** The VMs are OS- and app-ready where their rows ask: the failover is done. */
  "succeeded",
] as const;

export type FailoverPhase = (typeof failoverPhases)[number];

/** Whether a failover in `phase` is at `milestone` or past it. */
export function failoverPhaseReached(phase: FailoverPhase, milestone: FailoverPhase): boolean {
  return failoverPhases.indexOf(phase) >= failoverPhases.indexOf(milestone);
}

/** The phase an operation record says a failover reached; "notStarted" for anything else. */
export function failoverPhaseOf(op: Pick<Operation, "phase">): FailoverPhase {
  return (failoverPhases as readonly unknown[]).includes(op.phase) ? (op.phase as FailoverPhase) : "notStarted";
}

/**
 * The earlier failover a new one of `kind` continues, if any: the latest failover or cleanup of the
 * blueprint (`previous`, newest first) when it is a failover of the same kind that did not succeed
 * and got its staging disks off the appliance. Its final sync is done and those disks can no longer
 * be synced, so the new run goes straight on to `up`.
 */
export function failoverToResume(previous: readonly Operation[], kind: string): Operation | undefined {
  const last = previous.find((o) => o.kind.startsWith("failover-") || o.kind === "cleanup");
  if (!last || last.kind !== `failover-${kind}`) return undefined;
  if (last.status !== "failed" && last.status !== "canceled") return undefined;
  return failoverPhaseReached(failoverPhaseOf(last), "stagingDetached") ? last : undefined;
}
