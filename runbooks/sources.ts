import { nameOf, parseResourceId, sameResourceId } from "../core/resource-id";
import { isNotFound, UserError } from "../core/errors";
import { enableSource, setProtection, setSnapshotResourceGroup, transitionSource } from "../adapters/state/admin";
import { osDiskGeneration, type HyperVGeneration } from "../core/schemas/blueprint";
import type { PrepareMode, Source, SourceProtection } from "../core/schemas/source";
import { attachToAppliance, detachFromAppliance } from "./appliance";
import { diskRole, landingZone, loadBlueprint, sourceDisks, stagingDiskOf, type LandingZoneFacts } from "./blueprints";
import type { RunbookContext } from "./context";

export interface EnableOptions {
  /**
   * `wipe`: erase and zero the staging disk; `keep`: continue without wiping; `empty`: it is new. Asked on a terminal
   * when absent.
   */
  prepare?: PrepareMode;
  /** Only this source disk of the blueprint. Default: every one. */
  sourceDiskId?: string;
}

/**
 * Enables DR for the disks of a blueprint: attaches each staging disk to the sync appliance and
 * registers its source (`pending`); the daemon checks the device and backfills. A staging disk the
 * blueprint stack just created is empty; one that held data needs `wipe` or `keep`.
 */
export async function enableDr(ctx: RunbookContext, stack: string, options: EnableOptions = {}): Promise<Source[]> {
  const config = await loadBlueprint(ctx, stack);
  const zone = await landingZone(ctx);
  let prepare = options.prepare;
  if (!prepare) {
    const answer = await ctx.choose("Wipe and zero the staging disks, or continue without wiping?", ["wipe", "keep"]);
    if (!answer)
      throw new UserError(
        "Say how to prepare the staging disks: --prepare wipe (erase and zero), keep (continue without wiping) or empty (new disks).",
        { code: "PrepareRequired" },
      );
    prepare = answer as PrepareMode;
  }
  const disks = sourceDisks(config.blueprint).filter(
    (d) => !options.sourceDiskId || sameResourceId(d.sourceDiskId, options.sourceDiskId),
  );
  if (disks.length === 0)
    throw new UserError(`${options.sourceDiskId} is not a disk of blueprint ${stack}.`, { code: "UnknownDisk" });
  const target = config.blueprint.rpoTargetSeconds;
  const protectionOf = (id: string): SourceProtection => {
    const d = disks.find((x) => sameResourceId(x.sourceDiskId, id))!;
    return {
      blueprint: config.blueprint.name,
      row: d.row,
      disk: diskRole(d),
      ...(target !== undefined ? { rpoTargetSeconds: target } : {}),
    };
  };
  // Every disk's snapshot group is found before anything is attached: a refusal changes nothing.
  const todo: { sourceDiskId: string; snapshotResourceGroup: string }[] = [];
  const moved: { sourceDiskId: string; snapshotResourceGroup: string }[] = [];
  const enabled: Source[] = [];
  for (const d of disks) {
    const existing = (await ctx.store.get(d.sourceDiskId))?.source;
    const active = existing !== undefined && existing.state !== "disabled";
    if (active && existing.snapshotResourceGroup !== undefined)
      // Enabled already: its labels and RPO target follow the blueprint as it is now.
      enabled.push((await setProtection(ctx.store, d.sourceDiskId, protectionOf(d.sourceDiskId), ctx.now())).source);
    else {
      const group = {
        sourceDiskId: d.sourceDiskId,
        snapshotResourceGroup: await snapshotGroupOf(ctx, zone, d.sourceDiskId),
      };
      if (!active && d.role === "os") {
        const row = config.blueprint.rows.find((r) => r.name === d.row)!;
        await checkGeneration(ctx, stack, row.name, row.osDisk);
      }
      (active ? moved : todo).push(group);
    }
  }
  // Enabled before snapshot groups: its snapshots go to ferry's group from the next cycle on.
  for (const d of moved) {
    await setSnapshotResourceGroup(ctx.store, d.sourceDiskId, d.snapshotResourceGroup, ctx.now());
    const stored = await setProtection(ctx.store, d.sourceDiskId, protectionOf(d.sourceDiskId), ctx.now());
    ctx.logger.warn(
      { sourceDiskId: d.sourceDiskId, snapshotResourceGroup: d.snapshotResourceGroup },
      "the sync's snapshots of this disk move to ferry's snapshot group; delete its older ones tagged " +
        "ferry-role=sync in the disk's own group",
    );
    enabled.push(stored.source);
  }
  for (const d of todo) {
    const existing = await ctx.store.get(d.sourceDiskId);
    const staging = await stagingDiskOf(ctx, stack, d.sourceDiskId);
    const lun = await attachToAppliance(ctx, zone.applianceId, staging);
    if (existing) await ctx.store.delete(existing);
    const stored = await enableSource(
      ctx.store,
      ctx.azure,
      {
        sourceDiskId: d.sourceDiskId,
        stagingDiskId: staging,
        applianceId: zone.applianceId,
        applianceLun: lun,
        prepare,
        snapshotResourceGroup: d.snapshotResourceGroup,
        protection: protectionOf(d.sourceDiskId),
      },
      ctx.now(),
    );
    ctx.logger.info(
      {
        sourceDiskId: d.sourceDiskId,
        stagingDiskId: staging,
        lun,
        prepare,
        snapshotResourceGroup: d.snapshotResourceGroup,
      },
      "DR enabled",
    );
    enabled.push(stored.source);
  }
  return enabled;
}

/**
 * Refuses to protect an OS disk whose Hyper-V generation the blueprint row does not state: its staging disk and
 * the disks recovered from it would carry the wrong one, and the recovered VM would not boot (a Gen2 OS on a Gen1
 * VM, or the reverse). A disk that names no generation is V1, as a row that states none.
 */
async function checkGeneration(
  ctx: RunbookContext,
  stack: string,
  row: string,
  osDisk: { sourceDiskId: string; hyperVGeneration?: HyperVGeneration | undefined },
): Promise<void> {
  const p = parseResourceId(osDisk.sourceDiskId);
  const source = (await ctx.azure.compute.disks.get(p.resourceGroup, p.name)).hyperVGeneration ?? "V1";
  const stated = osDiskGeneration(osDisk);
  if (source.toUpperCase() === stated) return;
  throw new UserError(
    `The OS disk of row ${row} (${nameOf(osDisk.sourceDiskId)}) is Hyper-V generation ${source}, but the blueprint ` +
      `${osDisk.hyperVGeneration ? `states ${stated}` : `states none, which means ${stated}`}: the recovered ` +
      `VM would not boot. Set rows[].osDisk.hyperVGeneration: ${source} for row ${row} in stack ${stack}, deploy it ` +
      `(pulumi up -s ${stack}), and enable again.`,
    { code: "GenerationMismatch" },
  );
}

/**
 * ferry's snapshot group for a source disk: the landing zone's group of the disk's region. The sync
 * takes, and deletes, the disk's snapshots there and never in the disk's own group; Azure takes a
 * disk's incremental snapshots in any group of the disk's subscription and region
 * (https://learn.microsoft.com/azure/virtual-machines/disks-incremental-snapshots#restrictions).
 */
export async function snapshotGroupOf(
  ctx: Pick<RunbookContext, "azure" | "config">,
  zone: Pick<LandingZoneFacts, "subscriptionId" | "snapshotResourceGroups">,
  sourceDiskId: string,
): Promise<string> {
  const stack = ctx.config.landingZoneStack;
  const p = parseResourceId(sourceDiskId);
  if (p.subscriptionId.toLowerCase() !== zone.subscriptionId.toLowerCase())
    throw new UserError(
      `${sourceDiskId} is a disk of subscription ${p.subscriptionId}, but the landing zone ${stack} and its ` +
        `snapshot groups are in ${zone.subscriptionId}: Azure takes a disk's incremental snapshots only in the ` +
        "disk's own subscription. Protect disks of the landing zone's subscription.",
      { code: "SubscriptionMismatch" },
    );
  let location: string;
  try {
    location = (await ctx.azure.compute.disks.get(p.resourceGroup, p.name)).location;
  } catch (e) {
    if (!isNotFound(e)) throw e;
    throw new UserError(
      `The source disk ${sourceDiskId} does not exist. Check the id (az disk show --query id -o tsv).`,
      {
        code: "EnableRefused",
        cause: e,
      },
    );
  }
  const region = location.toLowerCase().replace(/\s+/g, "");
  const group = Object.hasOwn(zone.snapshotResourceGroups, region) ? zone.snapshotResourceGroups[region] : undefined;
  if (group === undefined) {
    const known = Object.keys(zone.snapshotResourceGroups);
    throw new UserError(
      `${nameOf(sourceDiskId)} is in ${region}, and the landing zone ${stack} has no snapshot group there` +
        `${known.length ? ` (it has for ${known.join(", ")})` : ""}: the sync keeps a disk's snapshots in ferry's ` +
        `group of the disk's region, never in the disk's own. Set ferry:snapshotResourceGroups.${region} in the ` +
        `landing zone's stack file to a new group's name, deploy it (pulumi up -s ${stack}), and enable again.`,
      { code: "NoSnapshotGroup" },
    );
  }
  return group;
}

/** Disables DR for a source: sync stops, the staging disk is detached from the appliance and kept. */
export async function disableDr(ctx: RunbookContext, sourceDiskId: string): Promise<Source> {
  const stored = await transitionSource(ctx.store, sourceDiskId, { type: "disable" }, ctx.now());
  await detachFromAppliance(ctx, stored.source.applianceId, [stored.source.stagingDiskId]);
  ctx.logger.info(
    { sourceDiskId, stagingDiskId: stored.source.stagingDiskId },
    "DR disabled; the staging disk is kept",
  );
  return stored.source;
}
