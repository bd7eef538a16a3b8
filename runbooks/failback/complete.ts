import { parseResourceId, sameResourceId } from "../../core/resource-id";
import { FerryError, UserError, unlessNotFound } from "../../core/errors";
import { attachToAppliance } from "../appliance";
import { landingZone, loadBlueprint, nameOf } from "../blueprints";
import type { RunbookContext } from "../context";
import type { Operation } from "../journal";
import { waitUntilReady } from "../readiness";
import { detachNewDisks, label, snapshots, TAG_PREVIOUS } from "./common";
import { restoreIntoNewVm } from "./new-vm";
import { syncPass } from "./pass";
import { reprotect } from "./reprotect";
import { readFailbackState, saveState, type FailbackDiskState, type FailbackState } from "./state";

/**
 * `ferry failback complete`: stops the DR VMs, copies the last delta, deallocates each primary VM
 * and swaps its OS and data disks for the synced ones (the previous disks stay, tagged), takes the
 * returned disks' first recovery points, starts the primary VMs (and waits for OS and app ready
 * where the row asks), makes the returned disks the blueprint's sources, and re-establishes
 * forward replication without a full backfill: each staging disk already holds (attach-as-is) or
 * is caught up by the union of the deltas to (from-snapshot) exactly the returned disk's first
 * point. Then the stack goes back to standby. Every step is recorded; a re-run continues.
 */
export async function failbackComplete(
  ctx: RunbookContext,
  stack: string,
): Promise<{ op: Operation; state: FailbackState }> {
  const config = await loadBlueprint(ctx, stack);
  const b = config.blueprint;
  const state = readFailbackState(ctx, b.name);
  if (!state || state.phase !== "syncing") {
    throw new UserError(
      state?.phase === "completed"
        ? `The failback of ${b.name} is already complete.`
        : `No failback of ${b.name} is under way. Run \`ferry failback prepare ${b.name}\` and \`ferry failback sync ${b.name}\` first.`,
      { code: "NotSyncing" },
    );
  }
  const unsynced = state.disks.filter((d) => !d.applied && !d.applying);
  if (!state.disks.length || unsynced.length)
    throw new UserError(
      `Not every disk of ${b.name} has had a failback sync pass (${unsynced.map(label).join(", ") || "none made"}). Run \`ferry failback sync ${b.name}\` first.`,
      { code: "NotSynced" },
    );
  const c = (state.complete ??= { swapped: [], points: {} });
  const rows = [...new Set(state.disks.map((d) => d.row))];
  const drVm = (row: string) => parseResourceId(state.disks.find((d) => d.row === row)!.drVmId);
  const primaryVm = (row: string) => parseResourceId(state.disks.find((d) => d.row === row)!.primaryVmId);
  const { op } = await ctx.journal.run("failback-complete", b.name, async (op) => {
    op.details = { prepare: state.prepare };
    if (!c.drStopped) {
      await ctx.journal.step(op, "stop the DR VMs", () =>
        Promise.all(
          rows.map((r) => ctx.azure.compute.virtualMachines.deallocate(drVm(r).resourceGroup, drVm(r).name, ctx.poll)),
        ),
      );
      c.drStopped = true;
      saveState(ctx, state);
    }
    if (!c.finalDone) {
      await ctx.journal.step(op, "final delta", async () => {
        // A pass left half-way is finished first; then one more from the stopped DR disks.
        await Promise.all(state.disks.filter((d) => d.applying).map((d) => syncPass(ctx, state, d, {})));
        await Promise.all(state.disks.map((d) => syncPass(ctx, state, d, {})));
      });
      c.finalDone = true;
      saveState(ctx, state);
    }
    await ctx.journal.step(op, "detach the synced disks from the primary appliance", () => detachNewDisks(ctx, state));
    // Before any VM can write to them (a new VM starts as it is made): each equals its DR disk's final snapshot now.
    await ctx.journal.step(op, "first recovery points of the returned disks", async () => {
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
        saveState(ctx, state);
      }
    });
    // Every primary VM at once: each is deallocated and checked before its disks are swapped.
    await Promise.all(
      rows
        .filter((r) => !c.swapped.includes(r))
        .map((row) => {
          const vm = primaryVm(row);
          return ctx.journal.step(
            op,
            `${row}: deallocate the primary VM and swap its disks`,
            async () => {
              const disks = state.disks.filter((d) => d.row === row);
              const exists = await unlessNotFound(ctx.azure.compute.virtualMachines.get(vm.resourceGroup, vm.name));
              if (!exists) {
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
                saveState(ctx, state);
                return;
              }
              await ctx.azure.compute.virtualMachines.deallocate(vm.resourceGroup, vm.name, ctx.poll);
              const view = await ctx.azure.compute.virtualMachines.instanceView(vm.resourceGroup, vm.name);
              const power = view.statuses?.find((s) => s.code?.startsWith("PowerState/"))?.code?.split("/")[1];
              if (power !== "deallocated")
                throw new FerryError(
                  `${vm.name} is ${power ?? "in an unknown state"}, not deallocated: its disks are not swapped while it could run. Deallocate it, then run failback complete again.`,
                  { code: "PrimaryRunning" },
                );
              const current = await ctx.azure.compute.virtualMachines.get(vm.resourceGroup, vm.name);
              const os = disks.find((d) => d.role === "os");
              const attached = current.storageProfile?.dataDisks ?? [];
              const data = [
                ...attached.map((x) => {
                  const next = disks.find((d) => d.role === "data" && d.lun === x.lun);
                  return {
                    lun: x.lun,
                    createOption: "Attach" as const,
                    managedDisk: { id: next ? next.newDiskId : x.managedDisk!.id! },
                  };
                }),
                // A data disk that was gone from the VM (--to-new-vm) comes back at its LUN.
                ...disks
                  .filter((d) => d.role === "data" && !attached.some((x) => x.lun === d.lun))
                  .map((d) => ({ lun: d.lun!, createOption: "Attach" as const, managedDisk: { id: d.newDiskId } })),
              ];
              await ctx.azure.compute.virtualMachines.update(
                vm.resourceGroup,
                vm.name,
                {
                  storageProfile: {
                    ...(os
                      ? {
                          osDisk: {
                            createOption: "Attach",
                            osType: current.storageProfile?.osDisk?.osType ?? "Linux",
                            managedDisk: { id: os.newDiskId },
                          },
                        }
                      : {}),
                    dataDisks: data,
                  },
                },
                ctx.poll,
              );
              await tagPrevious(ctx, disks, op.id);
              c.swapped.push(row);
              saveState(ctx, state);
            },
            row,
          );
        }),
    );
    await ctx.journal.step(op, "start the primary VMs", async () => {
      const started = Date.now();
      await Promise.all(
        rows.map((r) =>
          ctx.azure.compute.virtualMachines.start(primaryVm(r).resourceGroup, primaryVm(r).name, ctx.poll),
        ),
      );
      const problems: string[] = [];
      for (const row of rows) {
        const readiness = b.rows.find((r) => r.name === row)?.readiness;
        if (!readiness || (!readiness.os && !readiness.app)) continue;
        const vm = primaryVm(row);
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
          `The primary VMs run on the returned disks, but not every one is ready:\n  ${problems.join("\n  ")}\nFix the cause and run failback complete again.`,
          { code: "NotReady" },
        );
    });
    if (!c.configUpdated) {
      await ctx.journal.step(op, "make the returned disks the blueprint's sources", async () => {
        const newId = (id: string) => state.disks.find((d) => sameResourceId(d.primaryDiskId, id))?.newDiskId ?? id;
        const blueprint = {
          ...b,
          rows: b.rows.map((r) => ({
            ...r,
            osDisk: { ...r.osDisk, sourceDiskId: newId(r.osDisk.sourceDiskId) },
            dataDisks: r.dataDisks.map((x) => ({ ...x, sourceDiskId: newId(x.sourceDiskId) })),
          })),
        };
        await ctx.deployer.setConfig(stack, { blueprint });
      });
      c.configUpdated = true;
      saveState(ctx, state);
    }
    // Staging disks the DR VMs never used (from-snapshot) are still on the appliance: caught up first,
    // while the DR disks' snapshots they are caught up from still exist.
    const fromSnapshot = state.disks.filter((d) => !sameResourceId(d.drDiskId, d.stagingDiskId));
    await ctx.journal.step(op, "reprotect: catch up the staging disks of disks recovered from snapshots", () =>
      reprotect(ctx, state, fromSnapshot),
    );
    if (!c.standby) {
      await ctx.journal.step(op, "pulumi up (mode standby)", () =>
        ctx.deployer.up(stack, { message: `failback of ${b.name} complete (${op.id})`, mode: "standby" }),
      );
      c.standby = true;
      saveState(ctx, state);
    }
    const asIs = state.disks.filter((d) => sameResourceId(d.drDiskId, d.stagingDiskId));
    await ctx.journal.step(op, "reprotect: the staging disks the DR VMs ran on back on the appliance", async () => {
      const zone = await landingZone(ctx);
      for (const d of asIs) await attachToAppliance(ctx, zone.applianceId, d.stagingDiskId, d.stagingLun);
      await reprotect(ctx, state, asIs);
    });
    state.phase = "completed";
    saveState(ctx, state);
    op.details = {
      prepare: state.prepare,
      swapped: c.swapped,
      previousDisks: state.disks.map((d) => d.primaryDiskId),
      returnedDisks: state.disks.map((d) => d.newDiskId),
    };
  });
  return { op, state };
}

/** Tags the primary disks a failback replaced (those that still exist): cleanup --failback deletes only these. */
async function tagPrevious(ctx: RunbookContext, disks: FailbackDiskState[], by: string): Promise<void> {
  for (const d of disks) {
    const p = parseResourceId(d.primaryDiskId);
    const prev = await unlessNotFound(ctx.azure.compute.disks.get(p.resourceGroup, p.name));
    if (!prev) continue;
    await ctx.azure.compute.disks.update(
      p.resourceGroup,
      p.name,
      { tags: { ...prev.tags, [TAG_PREVIOUS]: by, "ferry-failback-replaced-by": d.newDiskId.toLowerCase() } },
      ctx.poll,
    );
  }
}
