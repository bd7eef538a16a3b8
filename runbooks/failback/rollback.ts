import { parseResourceId, sameResourceId } from "../../core/resource-id";
import { UserError, unlessNotFound } from "../../core/errors";
import { releaseHolds, setPaused } from "../../adapters/state/admin";
import { loadBlueprint } from "../blueprints";
import type { RunbookContext } from "../context";
import type { Operation } from "../journal";
import { withNextStep } from "../next-step";
import { deleteFailbackSnapshots, detachNewDisks } from "./common";
import { failbackStateStore } from "./state";

/**
 * `ferry failback rollback`: before complete has swapped any primary disk, returns to where the
 * failback started: the DR VMs run (started again if complete stopped them), the new primary
 * disks and failback snapshots go, the primary disks' sync resumes with its holds released.
 */
export async function failbackRollback(ctx: RunbookContext, stack: string): Promise<{ op: Operation }> {
  const progress: { blueprint?: string } = {};
  try {
    return await rollbackRun(ctx, stack, progress);
  } catch (e) {
    // Refused before its operation began: the refusal says it all.
    if (progress.blueprint === undefined) throw e;
    // Each step converges when run again: a started VM starts, a deleted disk or snapshot is gone.
    throw withNextStep(
      e,
      `The rollback stopped part-way (the failback stays under way): run ` +
        `\`ferry failback rollback ${progress.blueprint}\` again to finish it.`,
      "FailbackRollbackFailed",
    );
  }
}

async function rollbackRun(
  ctx: RunbookContext,
  stack: string,
  progress: { blueprint?: string },
): Promise<{ op: Operation }> {
  const b = (await loadBlueprint(ctx, stack)).blueprint;
  const store = failbackStateStore(ctx);
  const state = await store.read(b.name);
  if (!state || state.phase !== "syncing")
    throw new UserError(`No failback of ${b.name} is under way: nothing to roll back.`, { code: "NotSyncing" });
  if (state.complete?.swapped.length) {
    throw new UserError(
      `failback complete already swapped the disks of ${state.complete.swapped.join(", ")}: ` +
        `the primary runs on the returned disks. Finish with ferry failback complete ${b.name}.`,
      { code: "AlreadySwapped" },
    );
  }
  const { op } = await ctx.journal.run("failback-rollback", b.name, async (op) => {
    progress.blueprint = b.name;
    // Once complete has begun it may have stopped some DR VMs, even if its stop step did not end;
    // starting one that runs changes nothing.
    if (state.complete) {
      const vms = [...new Set(state.disks.map((d) => d.drVmId))];
      await ctx.journal.step(op, "start the DR VMs again", () =>
        Promise.all(
          vms.map((id) =>
            ctx.azure.compute.virtualMachines.start(
              parseResourceId(id).resourceGroup,
              parseResourceId(id).name,
              ctx.poll,
            ),
          ),
        ),
      );
    }
    await ctx.journal.step(op, "delete the new primary disks", async () => {
      await detachNewDisks(ctx, state);
      for (const d of state.disks) {
        const p = parseResourceId(d.newDiskId);
        await unlessNotFound(ctx.azure.compute.disks.delete(p.resourceGroup, p.name, ctx.poll));
      }
    });
    await ctx.journal.step(op, "delete the failback snapshots", () => deleteFailbackSnapshots(ctx, state));
    await ctx.journal.step(op, "resume the primary disks' sync", async () => {
      for (const d of state.disks) {
        if (!(await ctx.store.get(d.primaryDiskId))) continue;
        await releaseHolds(ctx.store, d.primaryDiskId, (by) => by === state.prepare, ctx.now());
        // Attach-as-is disks stay paused: their staging disks are the DR VMs' disks until a failback.
        const s = (await ctx.store.get(d.primaryDiskId))!.source;
        if (!sameResourceId(s.stagingDiskId, d.drDiskId)) await setPaused(ctx.store, d.primaryDiskId, false, ctx.now());
      }
    });
    state.phase = "rolledBack";
    await store.save(state);
  });
  return { op };
}
