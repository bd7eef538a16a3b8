import { BlueprintSchema, type Blueprint } from "../../../core/schemas/blueprint";
import { parseLandingZoneOutputs, type LandingZoneOutputs } from "../../../core/schemas/landing-zone";
import type { BlueprintMode, BlueprintRunState } from "../../../core/schemas/blueprint-state";
import type { RecoveryPoint } from "../../../core/schemas/recovery-point";
import { validBlueprint, validLandingZoneOutputs } from "../core/fixtures";

/** The landing-zone stack the blueprint fixture names (ferry:landingZoneStack). */
export const LANDING_ZONE_STACK = "lz-northeurope";

/** The core blueprint fixture (web1: Linux, OS attach-as-is, data from snapshot; db1: Windows), parsed. */
export function blueprint(mutate?: (raw: ReturnType<typeof validBlueprint>) => void): Blueprint {
  const raw = validBlueprint();
  mutate?.(raw);
  return BlueprintSchema.parse(raw);
}

/** The outputs of the landing zone the blueprint fixture fails over into (northeurope, dr-rg), parsed. */
export function landingZone(): LandingZoneOutputs {
  return parseLandingZoneOutputs(validLandingZoneOutputs(), LANDING_ZONE_STACK);
}

/** A recovery point for every source disk of a blueprint. */
export function recoveryPoints(b: Blueprint, at = "2026-11-22T05:00:00.000Z"): Record<string, RecoveryPoint> {
  const out: Record<string, RecoveryPoint> = {};
  for (const row of b.rows) {
    for (const id of [row.osDisk.sourceDiskId, ...row.dataDisks.map((d) => d.sourceDiskId)]) {
      const name = id.split("/").pop();
      out[id] = {
        snapshotId: id.replace(/\/disks\/[^/]+$/, `/snapshots/ferry-${name}-20261122T050000Z-ab12`),
        sourceDiskId: id,
        createdAt: at,
      };
    }
  }
  return out;
}

/**
 * The run state a runbook leaves for the program in `mode` at `points`: every disk's sync paused at
 * its point and not applying, detached from the appliance, its DR snapshot not yet taken.
 */
export function readyRunState(
  mode: BlueprintMode,
  points: Record<string, RecoveryPoint>,
  operation = "op-1",
): BlueprintRunState {
  const ids = Object.keys(points);
  return {
    mode: {
      mode,
      since: "2026-11-22T05:01:00.000Z",
      operation,
      operationKind: mode === "test" ? "failover-test" : "failover-unplanned",
      recoveryPoints: points,
      disks: Object.fromEntries(
        ids.map((id) => [id.toLowerCase(), { pausedAt: points[id]!.snapshotId, detached: true }]),
      ),
    },
    sync: Object.fromEntries(ids.map((id) => [id.toLowerCase(), { paused: true, applied: points[id]!.snapshotId }])),
  };
}
