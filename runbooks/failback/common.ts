import { parseResourceId, sameResourceId } from "../../core/resource-id";
import { UserError } from "../../core/errors";
import { SnapshotService, TAG_ROLE } from "../../sync/snapshots";
import type { Delta } from "../../sync/union-copy";
import { detachFromAppliance } from "../appliance";
import { diskLabel } from "../blueprints";
import type { RunbookContext } from "../context";
import type { FailbackDisk } from "./prepare";
import type { FailbackDiskState, FailbackState } from "./state";

// Helpers the failback steps share: tags, names, the failback appliance, the failback's snapshots.

/** On what a failback makes (new disks, snapshots, NICs, VMs): the prepare operation it follows. */
export const TAG_FAILBACK = "ferry-failback";
/** On a primary disk a failback replaced: the complete operation that did. cleanup --failback deletes only these. */
export const TAG_PREVIOUS = "ferry-failback-previous";

/** "row OS disk", "row data disk LUN 1": how logs and messages name a failback disk. */
export function label(d: Pick<FailbackDisk, "row" | "role" | "lun">): string {
  return `${d.row} ${diskLabel(d)}`;
}

/**
 * The sync's snapshot service, for the failback's own snapshots and points (`applianceId` tags a
 * point as the sync takes it).
 */
export function snapshots(ctx: RunbookContext, applianceId = ""): SnapshotService {
  return new SnapshotService(ctx.azure, { applianceId, pollIntervalInMs: ctx.poll.updateIntervalInMs, now: ctx.now });
}

/** The sync appliance of a primary region that failback sync copies on (`failback.appliances` in ferry.json). */
export function applianceFor(ctx: RunbookContext, region: string): { vmId: string; deviceDir: string } {
  const entry = Object.entries(ctx.config.failback.appliances).find(([r]) => r.toLowerCase() === region.toLowerCase());
  if (!entry) {
    throw new UserError(
      `No failback appliance for the primary region ${region}. Add failback.appliances.${region} = ` +
        `{ "vmId": "<the appliance VM's id>" } to ferry.json, and run ferry failback sync on that VM.`,
      { code: "NoFailbackAppliance" },
    );
  }
  return entry[1];
}

/**
 * Where a disk at the primary's last replicated point differs from the DR disk's snapshot `to`:
 * what the DR VM wrote since its failback base, and what the primary wrote between the failover's
 * point and that last replicated one. After a failover to an older point the primary-side snapshot
 * of that point is usually gone: the primary's changes up to the newest DR-side point at failover
 * (its bridge) are the diff of the two DR-side points of the staging disk, and only those after the
 * bridge are diffed on the primary's snapshots. `undefined`: an older point without a bridge (the
 * failover held none), so no delta is known.
 *
 * Azure diffs any two incremental snapshots of one disk, the older given as the previous snapshot
 * ("Create an incremental snapshot for managed disks", learn.microsoft.com/azure/virtual-machines/
 * disks-incremental-snapshots; Get Page Ranges, `x-ms-previous-snapshot-url`), and each incremental
 * snapshot is a whole point in time, so points pruned between the two do not matter (the emulator
 * serves it so: emulator/README.md, "a family's middle"). A snapshot of the pair itself gone is
 * what `planPass` checks for.
 */
export function sinceFailover(d: FailbackDiskState, to: string): Delta[] | undefined {
  const primarySince = (from: string) =>
    sameResourceId(d.madeFrom.snapshotId, from) ? [] : [{ from, to: d.madeFrom.snapshotId }];
  if (!d.older) return [{ from: d.drBase, to }, ...primarySince(d.basePointId)];
  const bridge = d.older.bridge;
  if (!bridge) return undefined;
  return [
    { from: d.drBase, to },
    ...(sameResourceId(bridge.drSnapshotId, d.older.pointDrSnapshotId)
      ? []
      : [{ from: d.older.pointDrSnapshotId, to: bridge.drSnapshotId }]),
    ...primarySince(bridge.sourceSnapshotId),
  ];
}

/** Deletes the snapshots of DR disks this failback took (its passes); returns how many. */
export async function deleteFailbackSnapshots(ctx: RunbookContext, state: FailbackState): Promise<number> {
  const snaps = snapshots(ctx);
  const groups = new Set(state.disks.map((d) => parseResourceId(d.drDiskId).resourceGroup));
  let n = 0;
  for (const g of groups) {
    for await (const s of ctx.azure.compute.snapshots.listByResourceGroup(g)) {
      if (s.tags?.[TAG_FAILBACK] === state.prepare && s.tags?.[TAG_ROLE] === "failback") {
        await snaps.delete(s.id!);
        n++;
      }
    }
  }
  return n;
}

/** The new primary disks off the appliances they were synced on (one update per appliance). */
export async function detachNewDisks(ctx: RunbookContext, state: FailbackState): Promise<void> {
  for (const appliance of new Set(state.disks.map((d) => d.applianceId))) {
    await detachFromAppliance(
      ctx,
      appliance,
      state.disks.filter((d) => d.applianceId === appliance).map((d) => d.newDiskId),
    );
  }
}
