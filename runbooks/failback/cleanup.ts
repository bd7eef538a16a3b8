import { parseResourceId } from "../../core/resource-id";
import { UserError, unlessNotFound } from "../../core/errors";
import { loadBlueprint } from "../blueprints";
import type { RunbookContext } from "../context";
import type { Operation } from "../journal";
import { deleteFailbackSnapshots, snapshots, TAG_PREVIOUS } from "./common";
import { failbackStateStore } from "./state";

/**
 * `ferry cleanup --failback`: after a completed failback, removes the primary's previous disks
 * (tagged by complete), the failback's snapshots of the DR disks, and the sync snapshots of the
 * previous disks. (The command asks first, unless --yes.)
 */
export async function cleanupFailback(
  ctx: RunbookContext,
  stack: string,
): Promise<{ op: Operation; deleted: string[] }> {
  const b = (await loadBlueprint(ctx, stack)).blueprint;
  const store = failbackStateStore(ctx);
  const state = await store.read(b.name);
  if (!state || state.phase !== "completed") {
    throw new UserError(
      state?.phase === "cleaned"
        ? `The failback of ${b.name} is already cleaned up.`
        : `No completed failback of ${b.name}: cleanup --failback removes the previous primary disks ` +
            `only after ferry failback complete.`,
      { code: "NotCompleted" },
    );
  }
  const deleted: string[] = [];
  const { op } = await ctx.journal.run("failback-cleanup", b.name, async (op) => {
    await ctx.journal.step(op, "delete the primary's previous disks", async () => {
      for (const d of state.disks) {
        const p = parseResourceId(d.primaryDiskId);
        const disk = await unlessNotFound(ctx.azure.compute.disks.get(p.resourceGroup, p.name));
        if (!disk) continue;
        if (!disk.tags?.[TAG_PREVIOUS])
          throw new UserError(
            `${p.name} is not tagged ${TAG_PREVIOUS}: it was not replaced by this failback, so it is not deleted.`,
            { code: "NotReplaced" },
          );
        if (disk.managedBy)
          throw new UserError(
            `${p.name} is attached to ${disk.managedBy}: it is in use again, so it is not deleted. ` +
              `Detach it first if it is to go.`,
            { code: "DiskInUse" },
          );
        await ctx.azure.compute.disks.delete(p.resourceGroup, p.name, ctx.poll);
        deleted.push(d.primaryDiskId);
      }
    });
    await ctx.journal.step(op, "delete the failback's snapshots", async () => {
      await deleteFailbackSnapshots(ctx, state);
      const snaps = snapshots(ctx);
      for (const d of state.disks) {
        for (const id of await snaps.listOwn({
          sourceDiskId: d.primaryDiskId,
          snapshotResourceGroup: parseResourceId(d.madeFrom.snapshotId).resourceGroup,
        }))
          await snaps.delete(id);
      }
    });
    state.phase = "cleaned";
    await store.save(state);
    op.details = { deleted };
  });
  return { op, deleted };
}
