import { parseResourceId, sameResourceId } from "../../core/resource-id";
import { FerryError, UserError, unlessNotFound } from "../../core/errors";
import type { Blueprint } from "../../core/schemas/blueprint";
import { attachToAppliance } from "../appliance";
import { landingZone, loadBlueprint, nameOf } from "../blueprints";
import type { RunbookContext } from "../context";
import type { Operation } from "../journal";
import { recordMode, recordReplacedSources } from "../mode";
import { withNextStep } from "../next-step";
import { waitUntilReady } from "../readiness";
import { detachNewDisks, label, snapshots } from "./common";
import { completeStepsFrom, nextCompletePhase, type CompleteStep } from "./complete-phase";
import { restoreIntoNewVm } from "./new-vm";
import { syncPass } from "./pass";
import { reprotect } from "./reprotect";
import { failbackStateStore, type FailbackCompleteState, type FailbackState, type FailbackStateStore } from "./state";
import { swapPrimaryDisks, tagPrevious } from "./swap";
import { settleAll } from "../../core/settle";
import { drPointsOf, releaseDrPoints } from "../recovery-points";

/**
 * `ferry failback complete`: stops the DR VMs, copies the last delta, takes the returned disks off
 * the appliance and their first recovery points, deallocates each primary VM and swaps its OS and
 * data disks for the synced ones (the previous disks stay, tagged), starts the primary VMs (and
 * waits for OS and app ready where the row asks), makes the returned disks the blueprint's sources,
 * and re-establishes forward replication without a full backfill: each staging disk already holds
 * (attach-as-is) or is caught up by the union of the deltas to (from-snapshot) exactly the returned
 * disk's first point; the stack goes back to standby in between. Each step moves the state to its
 * next phase (complete-phase.ts) once it is done; a re-run starts at the step after the recorded one.
 */
export async function failbackComplete(
  ctx: RunbookContext,
  stack: string,
): Promise<{ op: Operation; state: FailbackState }> {
  const progress: { blueprint?: string; state?: FailbackState } = {};
  try {
    return await completeRun(ctx, stack, progress);
  } catch (e) {
    // Refused before its operation began: the refusal says it all.
    if (progress.blueprint === undefined) throw e;
    throw withNextStep(e, completeNextStep(progress.blueprint, progress.state?.complete), "FailbackCompleteFailed");
  }
}

/**
 * What a failed complete leaves and what to do: a re-run starts at the step after the recorded phase;
 * before any swap a rollback is still possible (it starts the DR VMs again), after one it is not.
 */
export function completeNextStep(blueprint: string, c: FailbackCompleteState | undefined): string {
  const again = `run \`ferry failback complete ${blueprint} --yes\` again to continue it`;
  if (!c) return `Nothing was changed: ${again}.`;
  if (c.swapped.length)
    return (
      `failback complete stopped after ${c.phase} (recorded), with the disks of ${c.swapped.join(", ")} swapped: ` +
      `${again} from there (a rollback is no longer possible).`
    );
  const stopped = c.phase === "notStarted" ? "the DR VMs may be stopped" : "the DR VMs are stopped";
  return (
    `failback complete stopped after ${c.phase} (recorded); ${stopped} and the workload is down until it ` +
    `finishes: ${again} from there, or \`ferry failback rollback ${blueprint}\` to abandon the failback ` +
    "(it starts the DR VMs again)."
  );
}

async function completeRun(
  ctx: RunbookContext,
  stack: string,
  progress: { blueprint?: string; state?: FailbackState },
): Promise<{ op: Operation; state: FailbackState }> {
  const b = (await loadBlueprint(ctx, stack)).blueprint;
  const store = failbackStateStore(ctx);
  const state = await store.read(b.name);
  if (!state || state.phase !== "syncing") {
    throw new UserError(
      state?.phase === "completed"
        ? `The failback of ${b.name} is already complete.`
        : `No failback of ${b.name} is under way. Run \`ferry failback prepare ${b.name}\` and ` +
            `\`ferry failback sync ${b.name}\` first.`,
      { code: "NotSyncing" },
    );
  }
  const unsynced = state.disks.filter((d) => !d.applied && !d.applying);
  if (!state.disks.length || unsynced.length)
    throw new UserError(
      `Not every disk of ${b.name} has had a failback sync pass ` +
        `(${unsynced.map(label).join(", ") || "none made"}). Run \`ferry failback sync ${b.name}\` first.`,
      { code: "NotSynced" },
    );
  const { op } = await ctx.journal.run("failback-complete", b.name, async (op) => {
    Object.assign(progress, { blueprint: b.name, state });
    op.details = { prepare: state.prepare };
    if (!state.complete) {
      // Recorded before the first step: rollback then knows complete began (it may have stopped DR VMs).
      state.complete = { phase: "notStarted", swapped: [], points: {} };
      await store.save(state);
    }
    const c = state.complete;
    const run = completeSteps({ ctx, stack, blueprint: b, state, complete: c, store, op });
    for (const step of completeStepsFrom(c.phase)) {
      await run[step]();
      c.phase = nextCompletePhase(c.phase, step);
      if (c.phase === "succeeded") state.phase = "completed";
      await store.save(state);
    }
    op.details = {
      prepare: state.prepare,
      swapped: c.swapped,
      previousDisks: state.disks.map((d) => d.primaryDiskId),
      returnedDisks: state.disks.map((d) => d.newDiskId),
    };
  });
  return { op, state };
}

/** What every step of one failback complete run works on. */
interface CompleteRun {
  ctx: RunbookContext;
  stack: string;
  /** The blueprint as the run found it (its source disk ids are the previous ones until rewriteSources). */
  blueprint: Blueprint;
  state: FailbackState;
  complete: FailbackCompleteState;
  store: FailbackStateStore;
  op: Operation;
}

/** The work of each step; the phase it leads to is complete-phase.ts's to say. */
function completeSteps(run: CompleteRun): Record<CompleteStep, () => Promise<void>> {
  const { ctx, stack, blueprint: b, state, complete: c, store, op } = run;
  const rows = [...new Set(state.disks.map((d) => d.row))];
  const vmOf = (row: string, which: "drVmId" | "primaryVmId") =>
    parseResourceId(state.disks.find((d) => d.row === row)![which]);
  const attachedAsIs = state.disks.filter((d) => sameResourceId(d.drDiskId, d.stagingDiskId));
  const fromSnapshot = state.disks.filter((d) => !sameResourceId(d.drDiskId, d.stagingDiskId));
  return {
    stopDrVms: () =>
      ctx.journal.step(op, "stop the DR VMs", async () => {
        await Promise.all(
          rows.map((r) => {
            const vm = vmOf(r, "drVmId");
            return ctx.azure.compute.virtualMachines.deallocate(vm.resourceGroup, vm.name, ctx.poll);
          }),
        );
      }),
    copyFinalPass: () =>
      ctx.journal.step(op, "final delta", async () => {
        // A pass left half-way is finished first; then one more from the stopped DR disks.
        await settleAll(state.disks.filter((d) => d.applying).map((d) => syncPass(ctx, store, state, d, {})));
        await settleAll(state.disks.map((d) => syncPass(ctx, store, state, d, {})));
      }),
    detachNewDisks: () =>
      ctx.journal.step(op, "detach the synced disks from the primary appliance", () => detachNewDisks(ctx, state)),
    // Before any VM can write them (a new VM starts as it is made): each equals its DR disk's final snapshot now.
    takeFirstPoints: () =>
      ctx.journal.step(op, "first recovery points of the returned disks", async () => {
        for (const d of state.disks) {
          if (c.points[d.newDiskId.toLowerCase()]) continue;
          // Taken as the DR sync takes its points of a source (its tags, its group): the daemon owns it from here.
          const old = (await ctx.store.get(d.primaryDiskId))?.source;
          const snapshotResourceGroup = old?.snapshotResourceGroup ?? parseResourceId(d.newDiskId).resourceGroup;
          const { snapshotId, sourceDiskId, createdAt } = await snapshots(ctx, old?.applianceId).take({
            sourceDiskId: d.newDiskId,
            snapshotResourceGroup,
          });
          c.points[d.newDiskId.toLowerCase()] = { snapshotId, sourceDiskId, createdAt };
          await store.save(state);
        }
      }),
    // Every primary VM at once, one journal step each; a row is recorded as soon as it is swapped.
    swapDisks: async () => {
      await settleAll(
        rows
          .filter((r) => !c.swapped.includes(r))
          .map((row) =>
            ctx.journal.step(
              op,
              `${row}: deallocate the primary VM and swap its disks`,
              async () => {
                const vm = vmOf(row, "primaryVmId");
                const disks = state.disks.filter((d) => d.row === row);
                const exists = await unlessNotFound(ctx.azure.compute.virtualMachines.get(vm.resourceGroup, vm.name));
                if (exists) await swapPrimaryDisks(ctx, vm, disks);
                else
                  await restoreIntoNewVm(
                    ctx,
                    b.rows.find((r) => r.name === row)!,
                    vm,
                    disks,
                    state.newVmSubnetId,
                    op.id,
                  );
                await tagPrevious(ctx, disks, op.id);
                c.swapped.push(row);
                await store.save(state);
              },
              row,
            ),
          ),
      );
    },
    startPrimaryVms: () =>
      ctx.journal.step(op, "start the primary VMs", async () => {
        const started = Date.now();
        await Promise.all(
          rows.map((r) => {
            const vm = vmOf(r, "primaryVmId");
            return ctx.azure.compute.virtualMachines.start(vm.resourceGroup, vm.name, ctx.poll);
          }),
        );
        const problems: string[] = [];
        for (const row of rows) {
          const readiness = b.rows.find((r) => r.name === row)?.readiness;
          if (!readiness || (!readiness.os && !readiness.app)) continue;
          const vm = vmOf(row, "primaryVmId");
          const current = await ctx.azure.compute.virtualMachines.get(vm.resourceGroup, vm.name);
          const nicId = current.networkProfile?.networkInterfaces?.[0]?.id;
          const r = await waitUntilReady(
            ctx,
            vm.resourceGroup,
            { row, vmName: vm.name, nic: { name: nicId ? nameOf(nicId) : `${vm.name}-nic` } },
            readiness,
            started,
          );
          problems.push(...r.problems);
        }
        if (problems.length)
          throw new FerryError(
            `The primary VMs run on the returned disks, but not every one is ready:\n  ${problems.join("\n  ")}\n` +
              `Fix the cause and run failback complete again.`,
            { code: "NotReady" },
          );
      }),
    rewriteSources: () =>
      ctx.journal.step(op, "make the returned disks the blueprint's sources", async () => {
        // In the state store, not the tracked stack file: a fresh clone reads the returned disks
        // through it, and committing the new ids to git is the operator's choice, never required.
        const replaced: Record<string, string> = {};
        for (const d of state.disks) if (d.newDiskId) replaced[d.primaryDiskId] = d.newDiskId;
        await recordReplacedSources(ctx, b.name, op.id, replaced);
      }),
    // Staging disks the DR VMs never used (from-snapshot) are still on the appliance: caught up before
    // the standby up deletes the DR disks and their failback base snapshots, which the deltas start from.
    catchUpStaging: () =>
      ctx.journal.step(op, "reprotect: catch up the staging disks of disks recovered from snapshots", () =>
        reprotect(ctx, state, fromSnapshot),
      ),
    upStandby: async () => {
      await recordMode(ctx, b.name, "standby", op.id, { operationKind: op.kind });
      await ctx.journal.step(op, "pulumi up (mode standby)", () =>
        ctx.deployer.up(stack, { message: `failback of ${b.name} complete (${op.id}; mode standby)` }),
      );
      // The failover's DR-side points (its from-snapshot sources, its attach-as-is bases) are no longer needed.
      const failover = (await ctx.journal.list(b.name)).find((o) => o.id === state.failover);
      await releaseDrPoints(ctx, state.failover, drPointsOf(failover));
    },
    reattachStaging: () =>
      ctx.journal.step(op, "reprotect: the staging disks the DR VMs ran on back on the appliance", async () => {
        const zone = await landingZone(ctx);
        for (const d of attachedAsIs) await attachToAppliance(ctx, zone.applianceId, d.stagingDiskId, d.stagingLun);
        await reprotect(ctx, state, attachedAsIs);
      }),
  };
}
