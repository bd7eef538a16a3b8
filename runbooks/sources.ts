import { sameResourceId } from "../core/resource-id";
import { UserError } from "../core/errors";
import { enableSource, transitionSource } from "../adapters/state/admin";
import type { PrepareMode, Source } from "../core/schemas/source";
import { attachToAppliance, detachFromAppliance } from "./appliance";
import { landingZone, loadBlueprint, sourceDisks, stagingDiskOf } from "./blueprints";
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
  const enabled: Source[] = [];
  for (const d of disks) {
    const existing = await ctx.store.get(d.sourceDiskId);
    if (existing && existing.source.state !== "disabled") {
      enabled.push(existing.source);
      continue;
    }
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
      },
      ctx.now(),
    );
    ctx.logger.info({ sourceDiskId: d.sourceDiskId, stagingDiskId: staging, lun, prepare }, "DR enabled");
    enabled.push(stored.source);
  }
  return enabled;
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
