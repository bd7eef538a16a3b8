import { parseResourceId, sameResourceId } from "../../core/resource-id";
import { isNotFound, UserError, unlessNotFound } from "../../core/errors";
import { recoveredVmName } from "../../stacks/plan";
import { diskLabel, landingZone, loadBlueprint } from "../blueprints";
import type { RunbookContext } from "../context";
import type { Operation } from "../journal";
import type { FailbackBridge } from "../recovery-points";
import { rowNics, type BlueprintRow } from "../../core/schemas/blueprint";
import { virtualNetworkOf } from "./new-vm";
import { currentMode } from "../mode";

/** One disk on its way home: the DR VM's disk, and the primary source disk it goes back into. */
export interface FailbackDisk {
  row: string;
  role: "os" | "data";
  lun?: number;
  /** The recovered VM in the DR region, and its disk (a failover source, never a new primary source). */
  drVmId: string;
  drDiskId: string;
  /** The primary VM and the disk of it this DR disk replaces. */
  primaryVmId: string;
  primaryDiskId: string;
  /** The recovery point the failover started from: the primary's last replicated state, the base of both deltas. */
  basePointId: string;
  /** `newVm`: the primary VM or disk is gone; the disk is restored into a new VM in the primary region. */
  restore: "inPlace" | "newVm";
  /**
   * The DR disk's failback base when the failover took none: the DR-side recovery point of the staging disk it
   * attached as-is (the same disk, at the point the VM started from). Absent: the base the failover took.
   */
  drBaseId?: string;
  /**
   * The failover recovered an older point than the staging disk held (its DR-side snapshot `pointDrSnapshotId`),
   * so `basePointId`, the primary-side snapshot of that point, is usually gone. What the primary changed since it is
   * read in the DR region instead: the diff from that snapshot to `bridge`, the newest DR-side point of the same
   * staging disk at failover (absent: the failover held none, so the failback copies the whole disk).
   */
  older?: { pointDrSnapshotId: string; bridge?: FailbackBridge };
}

export interface FailbackPlan {
  blueprint: string;
  /** The failover this failback returns from. */
  failover: string;
  disks: FailbackDisk[];
  /** `--to-new-vm`: the subnet in the primary region that a new VM's NIC goes into (rows whose primary VM is gone). */
  newVmSubnetId?: string;
}

/**
 * `ferry failback prepare`: picks the completed failover to return from (the latest, or the one
 * named), reads each recovered VM's disks in the DR region and maps each back to the primary
 * source disk it was recovered from, by role and LUN. The mapping is kept in the journal (an
 * operation `failback-prepare`) for the steps after it. A primary VM or disk that no longer exists
 * is refused, unless `toNewVm` says to restore those rows into new VMs.
 */
export async function prepareFailback(
  ctx: RunbookContext,
  stack: string,
  options: { operation?: string; toNewVm?: boolean; subnetId?: string } = {},
): Promise<{ plan: FailbackPlan; op: Operation }> {
  const config = await loadBlueprint(ctx, stack);
  const b = config.blueprint;
  // The store's mode, not the stack file's: the failover may have run on another host.
  const mode = await currentMode(ctx, b.name);
  if (mode !== "failover") {
    throw new UserError(
      `Blueprint ${b.name} is in ${mode}, not failover: there is nothing to fail back. ` +
        `(A drill ends with ferry cleanup.)`,
      { code: "NotFailedOver" },
    );
  }
  const failovers = (await ctx.journal.list(b.name)).filter(
    (o) => o.kind === "failover-planned" || o.kind === "failover-unplanned",
  );
  const failover = options.operation
    ? failovers.find((o) => o.id === options.operation)
    : failovers.find((o) => o.status === "succeeded");
  if (!failover) {
    throw new UserError(
      options.operation
        ? `No failover ${options.operation} of ${b.name} in the journal. ` +
            `Its failovers: ${failovers.map((o) => `${o.id} (${o.status})`).join(", ") || "none"}.`
        : `No completed failover of ${b.name} in the journal (the state store's table ` +
            `${ctx.store.tableName}). Name one with --operation, or check that ferry.json names the ` +
            `state store the failover ran against.`,
      { code: "NoFailover" },
    );
  }
  if (failover.status !== "succeeded") {
    throw new UserError(
      `Failover ${failover.id} of ${b.name} ${failover.status}: finish it first ` +
        `(run the same failover again), then fail back.`,
      { code: "FailoverNotComplete" },
    );
  }

  // Attach-as-is disks whose failover found a DR-side point took no base of their own: that point is it.
  const bases = (failover.details?.failbackBases ?? {}) as Record<string, string>;
  // Disks recovered at an older point: that point's DR snapshot, and the newest point held for the failback.
  const olderPoints = (failover.details?.drPoints ?? {}) as Record<string, { drSnapshotId?: string; older?: boolean }>;
  const bridges = (failover.details?.failbackBridges ?? {}) as Record<string, FailbackBridge>;
  const olderOf = (sourceDiskId: string): FailbackDisk["older"] => {
    const p = Object.entries(olderPoints).find(([k]) => sameResourceId(k, sourceDiskId))?.[1];
    if (!p?.older || !p.drSnapshotId) return undefined;
    const bridge = bridges[sourceDiskId.toLowerCase()];
    return { pointDrSnapshotId: p.drSnapshotId, ...(bridge ? { bridge } : {}) };
  };
  const op = await ctx.journal.start("failback-prepare", b.name);
  try {
    const plan = await ctx.journal.step(op, "map the DR VMs' disks to the primary source disks", async () => {
      const problems: string[] = [];
      const disks: FailbackDisk[] = [];
      const primaryGone = new Set<string>();
      const rg = (await landingZone(ctx)).resourceGroupName;
      for (const row of b.rows) {
        const vmName = recoveredVmName(row, "failover");
        const dr = await unlessNotFound(ctx.azure.compute.virtualMachines.get(rg, vmName));
        if (!dr) {
          problems.push(
            `${row.name}: the recovered VM ${vmName} is not in ${rg}. ` +
              `Run the failover again (it converges), then prepare.`,
          );
          continue;
        }
        let primary: boolean;
        try {
          primary = await existing(ctx, row.sourceVmId);
        } catch (e) {
          problems.push(
            `${row.name}: the primary region ${row.sourceRegion} does not answer (${(e as Error).message}). ` +
              `Fail back once it is back.`,
          );
          continue;
        }
        const wanted = [
          {
            role: "os" as const,
            sourceDiskId: row.osDisk.sourceDiskId,
            drDiskId: dr.storageProfile?.osDisk?.managedDisk?.id,
          },
          ...row.dataDisks.map((d) => ({
            role: "data" as const,
            lun: d.lun,
            sourceDiskId: d.sourceDiskId,
            drDiskId: dr.storageProfile?.dataDisks?.find((x) => x.lun === d.lun)?.managedDisk?.id,
          })),
        ];
        for (const w of wanted) {
          const what = diskLabel(w);
          if (!w.drDiskId) {
            problems.push(
              `${row.name}: ${vmName} has no ${what}. Attach it back as the failover left it, then prepare.`,
            );
            continue;
          }
          const basePointId =
            failover.recoveryPoints?.[w.sourceDiskId] ??
            Object.entries(failover.recoveryPoints ?? {}).find(([k]) => sameResourceId(k, w.sourceDiskId))?.[1];
          if (!basePointId) {
            problems.push(`${row.name}: failover ${failover.id} recorded no recovery point for ${w.sourceDiskId}.`);
            continue;
          }
          const primaryDisk = await existing(ctx, w.sourceDiskId);
          const gone = !primary || !primaryDisk;
          if (!primary) primaryGone.add(row.name);
          if (gone && !options.toNewVm) {
            problems.push(
              `${row.name}: the primary ${!primary ? `VM ${row.sourceVmId}` : `${what} ${w.sourceDiskId}`} ` +
                `no longer exists, so there is nothing to fail back into. ` +
                `Use --to-new-vm to restore this row into a new VM in ${row.sourceRegion}.`,
            );
            continue;
          }
          const older = olderOf(w.sourceDiskId);
          disks.push({
            row: row.name,
            role: w.role,
            ...(w.role === "data" ? { lun: w.lun } : {}),
            drVmId: dr.id!,
            drDiskId: w.drDiskId,
            primaryVmId: row.sourceVmId,
            primaryDiskId: w.sourceDiskId,
            basePointId,
            restore: gone ? "newVm" : "inPlace",
            ...(bases[w.sourceDiskId.toLowerCase()] ? { drBaseId: bases[w.sourceDiskId.toLowerCase()] } : {}),
            ...(older ? { older } : {}),
          });
        }
      }
      // A row whose VM is gone gets a new VM, and its NIC needs a subnet in the primary region.
      const vmGone = [...new Set(disks.filter((d) => d.restore === "newVm").map((d) => d.row))].filter((r) =>
        primaryGone.has(r),
      );
      if (vmGone.length) {
        if (!options.subnetId) {
          problems.push(
            `${vmGone.join(", ")}: a new VM needs a subnet for its NIC. ` +
              `Add --subnet <the id of a subnet in ${b.rows.find((r) => r.name === vmGone[0])!.sourceRegion}>.`,
          );
        } else {
          const region = await subnetRegion(ctx, options.subnetId);
          for (const r of vmGone) {
            const want = b.rows.find((x) => x.name === r)!.sourceRegion;
            if (region instanceof Error) problems.push(`--subnet ${options.subnetId}: ${region.message}`);
            else if (region.toLowerCase() !== want.toLowerCase())
              problems.push(
                `${r}: the subnet is in ${region}, not in the primary region ${want}. Name a subnet there.`,
              );
            else
              problems.push(
                ...(await nicSubnetProblems(
                  ctx,
                  b.rows.find((x) => x.name === r)!,
                  options.subnetId,
                )),
              );
          }
        }
      }
      if (problems.length)
        throw new UserError(
          `Failback of ${b.name} cannot be prepared; nothing was changed:\n  ${[...new Set(problems)].join("\n  ")}`,
          { code: "FailbackNotPossible", details: { problems } },
        );
      return {
        blueprint: b.name,
        failover: failover.id,
        disks,
        ...(vmGone.length ? { newVmSubnetId: options.subnetId! } : {}),
      } satisfies FailbackPlan;
    });
    for (const d of plan.disks.filter((x) => x.older && !x.older.bridge))
      ctx.logger.warn(
        { row: d.row, disk: diskLabel(d), older: d.older },
        `${d.row} ${diskLabel(d)}: failed over to an older point with no newer DR-side point held ` +
          "(a failover by an older ferry): failback sync copies the whole disk",
      );
    op.details = { failback: plan };
    await ctx.journal.end(op, "succeeded");
    ctx.logger.info({ blueprint: b.name, failover: failover.id, disks: plan.disks.length }, "failback prepared");
    return { plan, op };
  } catch (e) {
    await ctx.journal.end(op, "failed", e);
    throw e;
  }
}

/** The mapping of the latest successful `failback prepare` of a blueprint. */
export async function preparedFailback(ctx: RunbookContext, blueprint: string): Promise<FailbackPlan> {
  const op = (await ctx.journal.list(blueprint)).find((o) => o.kind === "failback-prepare" && o.status === "succeeded");
  const plan = op?.details?.failback as FailbackPlan | undefined;
  if (!plan)
    throw new UserError(`No prepared failback of ${blueprint}. Run \`ferry failback prepare ${blueprint}\` first.`, {
      code: "NotPrepared",
    });
  return plan;
}

/**
 * What a new VM of `row` would be refused for its NICs: each NIC that names a subnet gets the subnet of that name in
 * the virtual network of `subnetId` (a VM's NICs share one network), which must be there.
 */
async function nicSubnetProblems(ctx: RunbookContext, row: BlueprintRow, subnetId: string): Promise<string[]> {
  const vnet = parseResourceId(virtualNetworkOf(subnetId));
  const problems: string[] = [];
  for (const n of rowNics(row)) {
    if (!n.subnet) continue;
    const there = await unlessNotFound(ctx.azure.network.subnets.get(vnet.resourceGroup, vnet.name, n.subnet));
    if (!there)
      problems.push(
        `${row.name}: NIC ${n.index + 1} names the subnet ${n.subnet} (rows[].${n.keyPrefix}subnet), and ${vnet.name}, ` +
          `the virtual network of --subnet, has none: a new VM's NICs share that network. Create ${n.subnet} in ` +
          `${vnet.name}, or name with --subnet a subnet of a network that has it.`,
      );
  }
  return problems;
}

/** The region of a subnet's virtual network, or why it cannot be read. */
async function subnetRegion(ctx: RunbookContext, subnetId: string): Promise<string | Error> {
  const m =
    /\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/virtualNetworks\/([^/]+)\/subnets\/([^/]+)$/i.exec(
      subnetId,
    );
  if (!m)
    return new Error(
      "is not a subnet id " +
        "(/subscriptions/…/resourceGroups/…/providers/Microsoft.Network/virtualNetworks/…/subnets/…)",
    );
  try {
    await ctx.azure.network.subnets.get(m[1]!, m[2]!, m[3]!);
    return (await ctx.azure.network.virtualNetworks.get(m[1]!, m[2]!)).location!;
  } catch (e) {
    return new Error(isNotFound(e) ? "no such subnet" : (e as Error).message);
  }
}

async function existing(ctx: RunbookContext, id: string): Promise<boolean> {
  const p = parseResourceId(id);
  const read =
    p.type.toLowerCase() === "virtualmachines"
      ? ctx.azure.compute.virtualMachines.get(p.resourceGroup, p.name)
      : ctx.azure.compute.disks.get(p.resourceGroup, p.name);
  return (await unlessNotFound<unknown>(read)) !== undefined;
}
