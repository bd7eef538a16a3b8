import { nameOf, parseResourceId, sameResourceId } from "../core/resource-id";
import { isNotFound, unlessNotFound, UserError } from "../core/errors";
import {
  enableSource,
  setDrSnapshotResourceGroup,
  setProtection,
  setSnapshotResourceGroup,
  transitionSource,
} from "../adapters/state/admin";
import {
  osDiskGeneration,
  osDiskSecurityType,
  type BlueprintRow,
  type HyperVGeneration,
} from "../core/schemas/blueprint";
import type { PrepareMode, Source, SourceProtection } from "../core/schemas/source";
import { attachToAppliance, detachFromAppliance } from "./appliance";
import { diskRole, landingZone, loadBlueprint, sourceDisks, stagingDiskOf, type LandingZoneFacts } from "./blueprints";
import type { RunbookContext } from "./context";
import type { DaemonHeartbeat } from "../core/schemas/heartbeat";
import { table } from "./commands/common";
import { nicDifferences, type SourceNic } from "./network";

export interface EnableOptions {
  /**
   * `wipe`: erase and zero the staging disk; `keep`: continue without wiping; `empty`: it is new. Asked on a terminal
   * when absent.
   */
  prepare?: PrepareMode;
  /** Only this source disk of the blueprint. Default: every one. */
  sourceDiskId?: string;
  /** Only these source disks of the blueprint (with `sourceDiskId`, the one both name). Default: every one. */
  sourceDiskIds?: readonly string[];
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
    (d) =>
      (!options.sourceDiskId || sameResourceId(d.sourceDiskId, options.sourceDiskId)) &&
      (!options.sourceDiskIds || options.sourceDiskIds.some((id) => sameResourceId(d.sourceDiskId, id))),
  );
  if (disks.length === 0)
    throw new UserError(
      `${options.sourceDiskId ?? options.sourceDiskIds?.join(", ")} is not a disk of blueprint ${stack}.`,
      { code: "UnknownDisk" },
    );
  const target = config.blueprint.rpoTargetSeconds;
  const retention = config.blueprint.retention;
  const protectionOf = (id: string): SourceProtection => {
    const d = disks.find((x) => sameResourceId(x.sourceDiskId, id))!;
    return {
      blueprint: config.blueprint.name,
      row: d.row,
      disk: diskRole(d),
      ...(target !== undefined ? { rpoTargetSeconds: target } : {}),
      ...(retention !== undefined ? { retention } : {}),
    };
  };
  const drGroup = drSnapshotGroupOf(zone);
  if (drGroup === undefined)
    ctx.logger.warn(
      { region: zone.location },
      `the landing zone has no snapshot group in the DR region, so no recovery points are kept there: set ` +
        `ferry:snapshotResourceGroups.${zone.location} in the landing zone's stack file, deploy it, and enable again`,
    );
  // Every disk's snapshot group is found before anything is attached: a refusal changes nothing.
  const todo: { sourceDiskId: string; snapshotResourceGroup: string }[] = [];
  const moved: { sourceDiskId: string; snapshotResourceGroup: string }[] = [];
  const enabled: Source[] = [];
  for (const d of disks) {
    const existing = (await ctx.store.get(d.sourceDiskId))?.source;
    const active = existing !== undefined && existing.state !== "disabled";
    if (active && existing.snapshotResourceGroup !== undefined) {
      // Enabled already: its labels, RPO target, retention and points' group follow the blueprint and zone as now.
      await setDrSnapshotResourceGroup(ctx.store, d.sourceDiskId, drGroup, ctx.now());
      enabled.push((await setProtection(ctx.store, d.sourceDiskId, protectionOf(d.sourceDiskId), ctx.now())).source);
    } else {
      const group = {
        sourceDiskId: d.sourceDiskId,
        snapshotResourceGroup: await snapshotGroupOf(ctx, zone, d.sourceDiskId),
      };
      if (!active && d.role === "os")
        await checkSourceVm(
          ctx,
          stack,
          config.blueprint.rows.find((r) => r.name === d.row)!,
        );
      (active ? moved : todo).push(group);
    }
  }
  // Enabled before snapshot groups: its snapshots go to ferry's group from the next cycle on.
  for (const d of moved) {
    await setSnapshotResourceGroup(ctx.store, d.sourceDiskId, d.snapshotResourceGroup, ctx.now());
    await setDrSnapshotResourceGroup(ctx.store, d.sourceDiskId, drGroup, ctx.now());
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
    await sealSecureUpload(ctx, staging);
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
        ...(drGroup !== undefined ? { drSnapshotResourceGroup: drGroup } : {}),
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
 * What enabling a row's OS disk checks of its source VM: its generation, security type and licence as the row states
 * them (a refusal is a UserError that names the fix), and its NICs against the row's (warnings only). Reads the
 * primary region only.
 */
export async function checkSourceVm(ctx: RunbookContext, stack: string, row: BlueprintRow): Promise<void> {
  await checkGeneration(ctx, stack, row.name, row.osDisk);
  await checkSecurityType(ctx, stack, row);
  await checkLicenseType(ctx, stack, row);
  await warnNicDifferences(ctx, stack, row);
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
 * Refuses to protect a row whose security type is not the source's: a Trusted Launch source recovered as Standard
 * would silently lose Secure Boot and its vTPM, and a Standard source recovered as Trusted Launch may not boot
 * (Secure Boot refuses an unsigned boot chain). The source VM's UEFI settings must be the row's too. Confidential
 * VMs are refused: their OS disk (or its guest state) is encrypted with keys held in the VM guest state, which a
 * block-by-block sync does not carry, so a recovered disk could not boot.
 */
async function checkSecurityType(ctx: RunbookContext, stack: string, row: BlueprintRow): Promise<void> {
  const p = parseResourceId(row.osDisk.sourceDiskId);
  const disk = await ctx.azure.compute.disks.get(p.resourceGroup, p.name);
  const v = parseResourceId(row.sourceVmId);
  const vm = await ctx.azure.compute.virtualMachines.get(v.resourceGroup, v.name).catch((e: unknown) => {
    if (isNotFound(e)) return undefined;
    throw e;
  });
  const diskType = disk.securityProfile?.securityType;
  const vmType = vm?.securityProfile?.securityType;
  const where = `row ${row.name} (${nameOf(row.osDisk.sourceDiskId)})`;
  if (diskType?.startsWith("ConfidentialVM") || vmType === "ConfidentialVM")
    throw new UserError(
      `The source of ${where} is a Confidential VM (${diskType ?? vmType}). ferry does not protect Confidential VMs: ` +
        "their disk or VM guest state is encrypted with keys kept in the guest state, which a block-by-block sync " +
        "does not carry, so the recovered disk would not boot. Remove the row from the blueprint and protect the VM " +
        "another way.",
      { code: "ConfidentialVmUnsupported" },
    );
  const source = diskType === "TrustedLaunch" || vmType === "TrustedLaunch" ? "TrustedLaunch" : "Standard";
  const stated = osDiskSecurityType(row.osDisk);
  const fix = `deploy it (pulumi up -s ${stack}), and enable again.`;
  if (source !== stated)
    throw new UserError(
      `The source of ${where} is ${source}, but the blueprint states ${stated}: ` +
        (source === "TrustedLaunch"
          ? "the recovered VM would be a Standard VM, without Secure Boot and vTPM. "
          : "a Trusted Launch VM on a disk that never booted with Secure Boot may not boot. ") +
        `Set rows[].osDisk.securityType: ${source}` +
        (source === "TrustedLaunch" ? " (and hyperVGeneration: V2)" : "") +
        ` for row ${row.name} in stack ${stack}, ${fix}`,
      { code: "SecurityTypeMismatch" },
    );
  if (source !== "TrustedLaunch" || !vm) return;
  const uefi = vm.securityProfile?.uefiSettings;
  const actual = { secureBootEnabled: uefi?.secureBootEnabled ?? false, vTpmEnabled: uefi?.vTpmEnabled ?? false };
  const wanted = row.osDisk.uefiSettings ?? { secureBootEnabled: true, vTpmEnabled: true };
  if (actual.secureBootEnabled === wanted.secureBootEnabled && actual.vTpmEnabled === wanted.vTpmEnabled) return;
  throw new UserError(
    `The source VM of ${where} runs with secureBootEnabled: ${actual.secureBootEnabled}, vTpmEnabled: ` +
      `${actual.vTpmEnabled}, but the blueprint states secureBootEnabled: ${wanted.secureBootEnabled}, vTpmEnabled: ` +
      `${wanted.vTpmEnabled}: the recovered VM would not be the source's. Set rows[].osDisk.uefiSettings to ` +
      `{ secureBootEnabled: ${actual.secureBootEnabled}, vTpmEnabled: ${actual.vTpmEnabled} } for row ${row.name} ` +
      `in stack ${stack}, ${fix}`,
    { code: "SecurityTypeMismatch" },
  );
}

/**
 * Refuses to protect a row whose licence type is not its source VM's: the recovered VM gets the row's, so it would be
 * billed otherwise than the source (paying again for a Windows licence the source brings, or claiming Azure Hybrid
 * Benefit the source does not). The row carries it because an unplanned failover reads nothing of the primary region.
 * A source VM that is gone is not judged (its disks may still be protected).
 */
async function checkLicenseType(ctx: RunbookContext, stack: string, row: BlueprintRow): Promise<void> {
  const v = parseResourceId(row.sourceVmId);
  const vm = await unlessNotFound(ctx.azure.compute.virtualMachines.get(v.resourceGroup, v.name));
  if (!vm) return;
  const source = vm.licenseType === undefined || vm.licenseType === "None" ? undefined : vm.licenseType;
  const stated = row.osDisk.licenseType;
  if (source === stated) return;
  const say = (t: string | undefined) => (t === undefined ? "none" : t);
  throw new UserError(
    `The source VM of row ${row.name} (${v.name}) has licenseType ${say(source)}, but the blueprint states ` +
      `${say(stated)}: the recovered VM would be billed otherwise than the source. ` +
      (source === undefined
        ? `Remove rows[].osDisk.licenseType for row ${row.name}`
        : `Set rows[].osDisk.licenseType: ${source} for row ${row.name}`) +
      ` in stack ${stack}, deploy it (pulumi up -s ${stack}), and enable again.`,
    { code: "LicenseTypeMismatch" },
  );
}

/**
 * Reads the source VM's NICs (count, order, primary, static addresses, accelerated networking) and warns where the
 * row differs: the row is the override, so nothing is refused, but a difference the operator did not mean shows
 * here, while the primary region can still be read (a failover never reads it). A NIC or VM that cannot be read
 * gives a warning that says so.
 */
async function warnNicDifferences(ctx: RunbookContext, stack: string, row: BlueprintRow): Promise<void> {
  const log = ctx.logger.child({ stack, row: row.name, sourceVmId: row.sourceVmId });
  let source: SourceNic[];
  try {
    const v = parseResourceId(row.sourceVmId);
    const vm = await ctx.azure.compute.virtualMachines.get(v.resourceGroup, v.name);
    const refs = vm.networkProfile?.networkInterfaces ?? [];
    source = await Promise.all(
      refs.map(async (ref, i): Promise<SourceNic> => {
        const n = parseResourceId(ref.id!);
        const nic = await ctx.azure.network.networkInterfaces.get(n.resourceGroup, n.name);
        const ip = nic.ipConfigurations?.find((c) => c.primary) ?? nic.ipConfigurations?.[0];
        return {
          name: n.name,
          primary: ref.primary ?? (refs.length === 1 || i === 0),
          ...(ip?.privateIPAllocationMethod === "Static" && ip.privateIPAddress
            ? { staticIp: ip.privateIPAddress }
            : {}),
          acceleratedNetworking: nic.enableAcceleratedNetworking ?? false,
        };
      }),
    );
  } catch (e) {
    log.warn({ err: e }, "cannot read the source VM's NICs to compare them with the row's; not compared");
    return;
  }
  for (const difference of nicDifferences(row, source))
    log.warn({ difference }, `row ${row.name}'s NICs differ from its source VM's: ${difference}`);
}

/**
 * Seals a staging disk made `UploadPreparedSecure` (a Trusted Launch row's OS disk): a write grant revoked at once
 * ends its upload state, uploading nothing, so the appliance can attach it. Its VM guest state is then the fresh
 * one Azure prepared, not the source's: the precheck warns what that means. A disk already sealed is left as it is.
 */
async function sealSecureUpload(ctx: RunbookContext, stagingDiskId: string): Promise<void> {
  const p = parseResourceId(stagingDiskId);
  const disk = await ctx.azure.compute.disks.get(p.resourceGroup, p.name);
  if (disk.diskState !== "ReadyToUpload" && disk.diskState !== "ActiveUpload") return;
  await ctx.azure.compute.disks.beginGrantAccessAndWait(
    p.resourceGroup,
    p.name,
    { access: "Write", durationInSeconds: 300 },
    ctx.poll,
  );
  await ctx.azure.compute.disks.beginRevokeAccessAndWait(p.resourceGroup, p.name, ctx.poll);
  ctx.logger.info(
    { stagingDiskId, securityType: disk.securityProfile?.securityType },
    "sealed the staging disk's upload; its VM guest state is a fresh one, not the source's",
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

/**
 * ferry's snapshot group of the DR region (the landing zone's `ferry:snapshotResourceGroups` entry for its own
 * region), where the daemon keeps the staging disks' recovery points; undefined when the zone has none there.
 */
export function drSnapshotGroupOf(
  zone: Pick<LandingZoneFacts, "location" | "snapshotResourceGroups">,
): string | undefined {
  const region = zone.location.toLowerCase().replace(/\s+/g, "");
  return Object.hasOwn(zone.snapshotResourceGroups, region) ? zone.snapshotResourceGroups[region] : undefined;
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

/** What `ferry sources list` shows of the sync daemon that keeps a source: when it last said it was alive. */
export interface DaemonSeen {
  instanceId: string;
  /** When its last heartbeat was written (ISO 8601). */
  lastSeenAt: string;
  /** How old that heartbeat is, in seconds. */
  ageSeconds: number;
  /** Set when the daemon stopped cleanly (ISO 8601). */
  stoppedAt?: string;
}

/** One line of `ferry sources list` (its `--json` is an array of these). */
export interface SourceLine {
  disk: string;
  sourceDiskId: string;
  /** The blueprint, row and role (`os`, `lun-<n>`) of the disk, when known. */
  blueprint?: string;
  row?: string;
  role?: string;
  stagingDisk: string;
  lun: number;
  /** The state the sync recorded. */
  state: Source["state"];
  /**
   * What to believe: the recorded state, or `stale` when no live sync daemon keeps the source (its heartbeat is
   * older than the threshold, says it stopped, or was never written), whatever the state says.
   */
  health: Source["state"] | "stale";
  paused: boolean;
  appliedAt?: string;
  /** Age of the applied recovery point, in seconds. */
  lagSeconds?: number;
  /** The blueprint's `rpoTargetSeconds`, when it sets one. */
  rpoTargetSeconds?: number;
  /** `over` when the lag (or, with nothing applied yet, the lack of any point) exceeds the target. */
  rpo?: "ok" | "over";
  applying?: string;
  bytesCopied: number;
  lastError?: string;
  /** Its recovery points in the DR region: how many, and the newest one's time and age (seconds). */
  points?: { count: number; newestPointTime?: string; newestAgeSeconds?: number };
  /** Why the daemon could not take the last recovery point (the sync went on). */
  pointError?: string;
  /** The sync daemon of the source's appliance, as last seen; null when none ever wrote a heartbeat. */
  daemon: DaemonSeen | null;
}

/** Options of {@link sourceLine}. */
export interface SourceLineOptions {
  now: Date;
  /** The daemons' last heartbeats. */
  heartbeats: DaemonHeartbeat[];
  /**
   * A heartbeat older than this makes the source `stale`, in seconds; at least three of the daemon's own heartbeat
   * intervals are allowed. Default 120.
   */
  staleDaemonSeconds?: number;
  /** The disk's place in its blueprint, as the blueprint is now. Default: the source's protection record. */
  blueprint?: { blueprint: string; row: string; role: string; rpoTargetSeconds?: number };
}

/** A source as `ferry sources list` shows it: its lag against the RPO target, and `stale` when its daemon is dead. */
export function sourceLine(s: Source, options: SourceLineOptions): SourceLine {
  const now = options.now.getTime();
  const where =
    options.blueprint ??
    (s.protection
      ? {
          blueprint: s.protection.blueprint,
          row: s.protection.row,
          role: s.protection.disk,
          ...(s.protection.rpoTargetSeconds !== undefined ? { rpoTargetSeconds: s.protection.rpoTargetSeconds } : {}),
        }
      : undefined);
  const lagSeconds = s.applied ? Math.max(0, Math.round((now - Date.parse(s.applied.createdAt)) / 1000)) : undefined;
  const target = where?.rpoTargetSeconds;
  const beat = options.heartbeats
    .filter((h) => sameResourceId(h.applianceId, s.applianceId))
    .sort((x, y) => Date.parse(y.at) - Date.parse(x.at))[0];
  const daemon: DaemonSeen | null = beat
    ? {
        instanceId: beat.instanceId,
        lastSeenAt: beat.at,
        ageSeconds: Math.max(0, Math.round((now - Date.parse(beat.at)) / 1000)),
        ...(beat.stoppedAt ? { stoppedAt: beat.stoppedAt } : {}),
      }
    : null;
  const threshold = beat
    ? Math.max(options.staleDaemonSeconds ?? 120, 3 * beat.intervalSeconds)
    : (options.staleDaemonSeconds ?? 120);
  const stale = !daemon || daemon.stoppedAt !== undefined || daemon.ageSeconds > threshold;
  return {
    disk: nameOf(s.sourceDiskId),
    sourceDiskId: s.sourceDiskId,
    ...(where ? { blueprint: where.blueprint, row: where.row, role: where.role } : {}),
    stagingDisk: nameOf(s.stagingDiskId),
    lun: s.applianceLun,
    state: s.state,
    // A disabled source has no daemon to be stale.
    health: stale && s.state !== "disabled" ? "stale" : s.state,
    paused: s.paused,
    ...(s.applied ? { appliedAt: s.applied.createdAt } : {}),
    ...(lagSeconds !== undefined ? { lagSeconds } : {}),
    ...(target !== undefined
      ? { rpoTargetSeconds: target, rpo: lagSeconds !== undefined && lagSeconds <= target ? "ok" : "over" }
      : {}),
    ...(s.applying ? { applying: s.applying.snapshotId } : {}),
    bytesCopied: s.bytesCopied,
    ...(s.lastError ? { lastError: `${s.lastError.code}: ${s.lastError.message}` } : {}),
    ...(s.pointError ? { pointError: `${s.pointError.code}: ${s.pointError.message}` } : {}),
    daemon,
  };
}

/**
 * The sources of a blueprint (or every source) as `ferry sources list` shows them. A blueprint's target and rows
 * are read from the blueprint as it is now; for every source, from what `ferry sources enable` recorded.
 */
export async function listSources(ctx: RunbookContext, stack?: string): Promise<SourceLine[]> {
  const [rows, heartbeats] = await Promise.all([ctx.store.list(), ctx.heartbeats.list()]);
  const base = { now: ctx.now(), heartbeats, staleDaemonSeconds: ctx.config.sources.staleDaemonSeconds };
  let lines: SourceLine[];
  if (stack) {
    const b = (await loadBlueprint(ctx, stack)).blueprint;
    const disks = sourceDisks(b);
    lines = rows.flatMap(({ source: s }) => {
      const d = disks.find((x) => sameResourceId(x.sourceDiskId, s.sourceDiskId));
      if (!d) return [];
      const target = b.rpoTargetSeconds;
      return [
        sourceLine(s, {
          ...base,
          blueprint: {
            blueprint: b.name,
            row: d.row,
            role: diskRole(d),
            ...(target !== undefined ? { rpoTargetSeconds: target } : {}),
          },
        }),
      ];
    });
  } else lines = rows.map(({ source: s }) => sourceLine(s, base));
  // One partition query per source: the recovery points of each disk.
  await Promise.all(
    lines.map(async (l) => {
      const points = await ctx.points.list(l.sourceDiskId);
      const newest = points.at(-1)?.point.pointTime;
      l.points = {
        count: points.length,
        ...(newest !== undefined
          ? {
              newestPointTime: newest,
              newestAgeSeconds: Math.max(0, Math.round((base.now.getTime() - Date.parse(newest)) / 1000)),
            }
          : {}),
      };
    }),
  );
  return lines.sort((x, y) => x.disk.localeCompare(y.disk));
}

/** `ferry sources list` for people: a table, and what to do about a stale daemon. */
export function formatSources(lines: SourceLine[]): string {
  if (lines.length === 0) return "No sources. Enable DR with `ferry sources enable <blueprint> --prepare empty`.";
  const lag = (l: SourceLine) =>
    l.lagSeconds === undefined
      ? l.rpoTargetSeconds !== undefined
        ? `— / ${l.rpoTargetSeconds} s target`
        : undefined
      : l.rpoTargetSeconds !== undefined
        ? `${l.lagSeconds} s / ${l.rpoTargetSeconds} s target`
        : `${l.lagSeconds} s`;
  const out = [
    table(
      ["DISK", "ROW", "ROLE", "HEALTH", "LUN", "LAG", "RPO", "APPLIED", "POINTS", "LAST ERROR"],
      lines.map((l) => [
        l.disk,
        l.row,
        l.role,
        [
          l.health,
          l.health === "stale" ? ` (was ${l.state})` : "",
          l.paused ? " (paused)" : "",
          l.applying ? " (applying)" : "",
        ].join(""),
        l.lun,
        lag(l),
        l.rpo,
        l.appliedAt,
        l.points === undefined
          ? undefined
          : `${l.points.count}${l.points.newestAgeSeconds !== undefined ? `, newest ${l.points.newestAgeSeconds} s` : ""}`,
        [l.lastError, l.pointError && `point: ${l.pointError}`].filter(Boolean).join("; ") || undefined,
      ]),
    ),
  ];
  const stale = lines.filter((l) => l.health === "stale");
  const daemons = new Map(stale.map((l) => [l.daemon?.instanceId ?? "", l.daemon]));
  for (const [, d] of daemons) {
    out.push(
      d === null
        ? "stale: no sync daemon of these sources' appliance has ever written a heartbeat. Start ferry-sync on the " +
            "appliance (systemctl enable --now ferry-sync)."
        : d.stoppedAt
          ? `stale: the sync daemon ${d.instanceId} stopped at ${d.stoppedAt}; nothing syncs. Start it on the ` +
            "appliance (systemctl start ferry-sync)."
          : `stale: the sync daemon ${d.instanceId} was last seen ${d.ageSeconds} s ago (${d.lastSeenAt}); nothing ` +
            "syncs. Check it on the appliance (systemctl status ferry-sync; journalctl -u ferry-sync).",
    );
  }
  return out.join("\n");
}
