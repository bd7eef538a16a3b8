import { azureProblemOf, formatAzureProblem } from "../core/azure-error";
import { isNotFound, isUserError, unlessNotFound } from "../core/errors";
import { escapeHtml as esc } from "../core/html";
import type { VirtualMachine } from "@azure/arm-compute";
import { normalizeResourceId, parseResourceId, sameResourceId } from "../core/resource-id";
import type { Source } from "../core/schemas/source";
import type { StoredSource } from "../adapters/state/store";
import type { RecoveryPoint } from "../core/schemas/recovery-point";
import type { PrecheckFacts } from "../policies/facts";
import type { BlueprintStackConfig } from "../stacks/config";
import { planBlueprint, recoveredNicSubnetId, recoveredVmName, sameRegionProblems, TAGS } from "../stacks/plan";
import { diskLabel, diskRole, landingZone, loadBlueprint, sourceDisks, type LandingZoneFacts } from "./blueprints";
import type { RunbookContext } from "./context";
import { hostnameProblem, osDiskGeneration, rowNics } from "../core/schemas/blueprint";
import { networkChecks } from "./network";
import { coresQuota, offeredVmSizes, vmSizeSkus, type OfferedVmSize, type VmSizeSku } from "./targets";

export interface PrecheckCheck {
  name: string;
  ok: boolean;
  /**
   * Passes, but says what the recovery will not carry and what that means (e.g. a Trusted Launch row's vTPM
   * contents). Printed as WARN; never fails the precheck.
   */
  warning?: boolean;
  /**
   * Passed only because the operator accepted it (`--accept-older-point`): shown as WARN, recorded in the operation.
   */
  accepted?: boolean;
  /** What is wrong and what to do, or what was found. */
  message: string;
  row?: string;
  sourceDiskId?: string;
}

export interface PrecheckResult {
  blueprint: string;
  mode: "failover" | "test";
  passed: boolean;
  checkedAt: string;
  checks: PrecheckCheck[];
  /** What the policy pack is handed (policies/facts.ts); absent when the blueprint itself is unreadable. */
  facts?: PrecheckFacts;
  /** The applied recovery point of every source disk (by ARM id), recorded in the blueprint's mode record. */
  recoveryPoints: Record<string, RecoveryPoint>;
  /** Points older than the blueprint's RPO target that the operator accepted (`--accept-older-point`). */
  acceptedOlderPoints: AcceptedOlderPoint[];
}

/** A recovery point older than the RPO target, recovered anyway because the operator said so. */
export interface AcceptedOlderPoint {
  row: string;
  /** `os` or `lun-<n>`, as in the sync daemon's metrics. */
  disk: string;
  sourceDiskId: string;
  snapshotId: string;
  /** Age of the point when the precheck ran, in seconds. */
  ageSeconds: number;
  /** The blueprint's `rpoTargetSeconds`. */
  targetSeconds: number;
}

/** Options of {@link precheck}. */
export interface PrecheckOptions {
  /** What the failover would be: `failover` (planned or unplanned) or `test` (a drill). Default `failover`. */
  mode?: "failover" | "test";
  /** Binds the facts to this operation id. Default: none. */
  operation?: string;
  /**
   * Accept recovery points older than the blueprint's `rpoTargetSeconds`: their check is a WARN that says so,
   * not a FAIL. Default false.
   */
  acceptOlderPoint?: boolean;
  /**
   * The points the operation recovers, by source disk ARM id, chosen from the DR-side recovery points
   * (core/point-choice.ts). Default: each disk's applied point on its staging disk. A disk whose point has a
   * DR-side snapshot is recovered from it: its staging disk need not be at an apply boundary.
   */
  recoveryPoints?: Record<string, RecoveryPoint>;
  /**
   * The points were chosen by time or id (`--recovery-point`), not as the latest: their age is the operator's
   * choice and is reported, not judged; the RPO target is then judged on each staging disk's applied point
   * (is the sync keeping up). Default false.
   */
  deliberatePoint?: boolean;
}

/**
 * The strict checks before a failover or a drill: DR enabled for every disk of the blueprint, every
 * source healthy, nothing being applied and the applied point the desired one, every row complete,
 * its landing zone deployed (in ferry.json's subscription, another region than the rows'), and
 * target-side checks (subnet exists, in the landing zone's region, and takes each row's static IP: `network.ts`;
 * recovered VM names free, sizes and quota). It reads only the state store, the landing zone's outputs and the
 * DR region: it works while the primary region is down.
 */
export async function precheck(
  ctx: RunbookContext,
  stack: string,
  options: PrecheckOptions = {},
): Promise<PrecheckResult> {
  const mode = options.mode ?? "failover";
  const checks: PrecheckCheck[] = [];
  const checkedAt = ctx.now().toISOString();
  let config: BlueprintStackConfig;
  let zone: LandingZoneFacts;
  // The three reads of the store and the stacks start together (each judged below in its turn): a precheck is on
  // every failover's critical path, and a plan runs ten at once, where each round trip waits longer.
  const zoneRead = landingZone(ctx);
  zoneRead.catch(() => undefined);
  let sourcesRead: Promise<Map<string, StoredSource>>;
  try {
    config = await loadBlueprint(ctx, stack);
    // The blueprint's own sources, not every source of the store.
    sourcesRead = ctx.store.getMany(sourceDisks(config.blueprint).map((d) => d.sourceDiskId));
    sourcesRead.catch(() => undefined);
    checks.push({
      name: "blueprint configuration",
      ok: true,
      message: "every row is complete (VM size, both disk strategies)",
    });
  } catch (e) {
    // A name that is no blueprint is bad input (exit 2, like every command), not a check that failed.
    if (isUserError(e) && e.code === "UnknownBlueprint") throw e;
    checks.push({ name: "blueprint configuration", ok: false, message: unreadable(e) });
    return { blueprint: stack, mode, passed: false, checkedAt, checks, recoveryPoints: {}, acceptedOlderPoints: [] };
  }
  const b = config.blueprint;
  try {
    zone = await zoneRead;
    const problems = sameRegionProblems(b, zone.location);
    if (problems.length) throw new Error(`${problems.join(". ")}.`);
    checks.push({
      name: "landing zone",
      ok: true,
      message: `${config.landingZoneStack}: ${zone.location}, resource group ${zone.resourceGroupName}`,
    });
  } catch (e) {
    checks.push({ name: "landing zone", ok: false, message: unreadable(e) });
    return { blueprint: stack, mode, passed: false, checkedAt, checks, recoveryPoints: {}, acceptedOlderPoints: [] };
  }
  let rows: Map<string, StoredSource>;
  try {
    rows = await sourcesRead;
  } catch (e) {
    checks.push({
      name: "state store",
      ok: false,
      message: `Cannot read the sources: ${unreadable(e, "the state store")}`,
    });
    return { blueprint: b.name, mode, passed: false, checkedAt, checks, recoveryPoints: {}, acceptedOlderPoints: [] };
  }
  const recoveryPoints: Record<string, RecoveryPoint> = {};
  const acceptedOlderPoints: AcceptedOlderPoint[] = [];
  for (const d of sourceDisks(b)) {
    const name = `${d.row} ${diskLabel(d)}`;
    const row = rows.get(normalizeResourceId(d.sourceDiskId))?.source;
    const chosen = Object.entries(options.recoveryPoints ?? {}).find(([k]) => sameResourceId(k, d.sourceDiskId))?.[1];
    checks.push(...sourceChecks(name, d.row, d.sourceDiskId, row, stack, chosen));
    const point = chosen ?? row?.applied;
    if (point) recoveryPoints[d.sourceDiskId] = point;
    if (chosen && options.deliberatePoint) {
      const ageSeconds = Math.max(0, Math.round((ctx.now().getTime() - Date.parse(chosen.createdAt)) / 1000));
      checks.push({
        name: `${name}: recovery point chosen`,
        ok: true,
        row: d.row,
        sourceDiskId: d.sourceDiskId,
        message: `${chosen.createdAt} (${ageSeconds} s old, chosen with --recovery-point; not an RPO failure)`,
      });
    }
    // The point judged against the RPO target: the one recovered (an unplanned failover takes it as it is), or,
    // when the operator chose an older one on purpose, the staging disk's applied point (is the sync keeping up).
    const judged = options.deliberatePoint ? row?.applied : point;
    if (judged && b.rpoTargetSeconds !== undefined) {
      const rpo = rpoCheck({
        name,
        row: d.row,
        disk: diskRole(d),
        sourceDiskId: d.sourceDiskId,
        point: judged,
        targetSeconds: b.rpoTargetSeconds,
        now: ctx.now(),
        stack,
        acceptOlderPoint: options.acceptOlderPoint ?? false,
      });
      checks.push(rpo.check);
      if (rpo.accepted) acceptedOlderPoints.push(rpo.accepted);
    }
  }

  checks.push(...b.rows.flatMap((r) => windowsChecks(r, mode, stack)));

  const test = mode === "test";
  const wantedSubnet = parseResourceId(test ? zone.testSubnetId : zone.targetSubnetId);
  const vnet = wantedSubnet.parent!.name;
  const subnetCheck = `${test ? "test " : ""}subnet exists`;
  // Every check of Azure below starts now, side by side (the subnet's read, the network's, the recovered VM names',
  // sizes' and quota's); their lines are added in this order. Each Azure error is its own FAIL line, never the end
  // of the precheck.
  const network = networkChecks(ctx, b.rows, zone, { mode, landingZoneStack: config.landingZoneStack });
  network.catch(() => undefined);
  // Recovered VM names must be free in the DR group, or belong to this blueprint already (a re-run). Each
  // recovered VM is read once, for its name and for the quota it already takes.
  const recoveredVms = new Map<string, Promise<VirtualMachine | undefined>>();
  const recoveredVm = (name: string) => {
    let vm = recoveredVms.get(name);
    if (!vm) {
      vm = unlessNotFound(ctx.azure.compute.virtualMachines.get(zone.resourceGroupName, name));
      recoveredVms.set(name, vm);
    }
    return vm;
  };
  const capacity = capacityChecks(ctx, b, zone.location, mode, recoveredVm).catch((e: unknown) => [
    { name: "VM sizes and vCPU quota", ok: false, message: `Cannot read them in ${zone.location}: ${unreadable(e)}` },
  ]);
  const names =
    Object.keys(recoveryPoints).length === sourceDisks(b).length
      ? Promise.all(
          planBlueprint(b, zone, {
            mode,
            recoveryPoints,
            ...(options.operation ? { operationId: options.operation } : {}),
          }).rows.map(async (r): Promise<PrecheckCheck> => {
            let existing: VirtualMachine | undefined;
            try {
              existing = await recoveredVm(r.vmName);
            } catch (e) {
              return {
                name: `VM name ${r.vmName} free`,
                ok: false,
                row: r.row,
                message: `Cannot read VM ${r.vmName} in ${zone.resourceGroupName}: ${unreadable(e)}`,
              };
            }
            if (!existing) return { name: `VM name ${r.vmName} free`, ok: true, row: r.row, message: "free" };
            const ours = existing.tags?.[TAGS.blueprint] === b.name;
            return {
              name: `VM name ${r.vmName} free`,
              ok: ours,
              row: r.row,
              message: ours
                ? "held by this blueprint already (a re-run continues it)"
                : `A VM named ${r.vmName} already exists in ${zone.resourceGroupName} and is not this blueprint's. ` +
                  "Rename the row (hostname) or remove that VM.",
            };
          }),
        )
      : Promise.resolve([]);
  let subnetId = "";
  try {
    const subnet = await ctx.azure.network.subnets.get(wantedSubnet.resourceGroup, vnet, wantedSubnet.name);
    subnetId = subnet.id!;
    checks.push({
      name: subnetCheck,
      ok: true,
      message: `${vnet}/${wantedSubnet.name} (${subnet.addressPrefix ?? "?"})`,
    });
  } catch (e) {
    const missing = isNotFound(e);
    checks.push({
      name: subnetCheck,
      ok: false,
      message: missing
        ? `Subnet ${vnet}/${wantedSubnet.name} of the landing zone ${config.landingZoneStack} does not exist in ` +
          `${wantedSubnet.resourceGroup}. Create it, or deploy the landing zone again (pulumi up -s ${config.landingZoneStack}).`
        : `Cannot read subnet ${vnet}/${wantedSubnet.name}: ${unreadable(e)}`,
    });
  }

  checks.push(...(await network));
  checks.push(...(await names));
  checks.push(...(await capacity));

  const passed = checks.every((c) => c.ok);
  const facts: PrecheckFacts = {
    blueprint: b.name,
    passed,
    checkedAt,
    mode,
    ...(options.operation ? { operation: options.operation } : {}),
    targetRegion: zone.location,
    sourceRegions: [...new Set(b.rows.map((r) => r.sourceRegion))],
    // The landing zone's subnet as Azure spells its id, and the other subnets of the rows' NICs (checked above).
    allowedSubnetIds: subnetId
      ? [
          ...new Set([
            subnetId,
            ...b.rows
              .flatMap((r) => rowNics(r).map((n) => recoveredNicSubnetId(n, zone, mode)))
              .filter((id) => !sameResourceId(id, subnetId)),
          ]),
        ]
      : [],
    recoveryPoints: Object.fromEntries(Object.entries(recoveryPoints).map(([disk, p]) => [disk, p.snapshotId])),
    sourceSizesGiB: Object.fromEntries(sourceDisks(b).map((d) => [d.sourceDiskId, d.sizeGiB])),
    ...(passed ? {} : { problems: checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.message}`) }),
  };
  return { blueprint: b.name, mode, passed, checkedAt, checks, facts, recoveryPoints, acceptedOlderPoints };
}

/** What {@link rpoCheck} judges: one disk's recovery point against its blueprint's RPO target. */
export interface RpoCheckInput {
  /** How the disk is named in check names: `<row> OS disk`, `<row> data disk LUN <n>`. */
  name: string;
  row: string;
  /** `os` or `lun-<n>`. */
  disk: string;
  sourceDiskId: string;
  /** The point a failover would recover: the applied one. */
  point: RecoveryPoint;
  /** The blueprint's `rpoTargetSeconds`. */
  targetSeconds: number;
  now: Date;
  /** The blueprint stack, for the command the message suggests. */
  stack: string;
  /** The operator accepts an older point (`--accept-older-point`). */
  acceptOlderPoint: boolean;
}

/**
 * A disk's recovery point against the RPO target: ok within it; older, a FAIL that names the age, the target and
 * both ways on, or (accepted by the operator) a WARN that says it was accepted.
 */
export function rpoCheck(input: RpoCheckInput): { check: PrecheckCheck; accepted?: AcceptedOlderPoint } {
  const ageSeconds = Math.max(0, Math.round((input.now.getTime() - Date.parse(input.point.createdAt)) / 1000));
  const base = { name: `${input.name}: within the RPO target`, row: input.row, sourceDiskId: input.sourceDiskId };
  const age = `${ageSeconds} s old`;
  const target = `the blueprint's RPO target of ${input.targetSeconds} s`;
  if (ageSeconds <= input.targetSeconds) return { check: { ...base, ok: true, message: `${age}, within ${target}` } };
  if (input.acceptOlderPoint) {
    return {
      check: {
        ...base,
        ok: true,
        accepted: true,
        message: `The recovery point is ${age}, older than ${target}: accepted with --accept-older-point.`,
      },
      accepted: {
        row: input.row,
        disk: input.disk,
        sourceDiskId: input.sourceDiskId,
        snapshotId: input.point.snapshotId,
        ageSeconds,
        targetSeconds: input.targetSeconds,
      },
    };
  }
  return {
    check: {
      ...base,
      ok: false,
      message:
        `The recovery point of ${input.name} is ${age}, older than ${target}. Find why the sync lags ` +
        `(\`ferry sources list ${input.stack}\`), or recover this point anyway with --accept-older-point.`,
    },
  };
}

/**
 * Quota-like limits of the DR region: each row's VM size is offered there and takes its data disks,
 * and the regional vCPU quota has room for the VMs this failover creates (a re-run's are there already).
 */
async function capacityChecks(
  ctx: RunbookContext,
  b: BlueprintStackConfig["blueprint"],
  region: string,
  mode: "failover" | "test",
  recoveredVm: (name: string) => Promise<VirtualMachine | undefined>,
): Promise<PrecheckCheck[]> {
  const checks: PrecheckCheck[] = [];
  const [sizes, cores, skus] = await Promise.all([
    offeredVmSizes(ctx, region),
    coresQuota(ctx, region),
    vmSizeSkus(ctx, region),
  ]);
  const generations = new Map([...skus].map(([k, v]) => [k, v.generations as string[]]));
  let needed = 0;
  for (const r of b.rows) {
    const size = sizes.get(r.vmSize.toLowerCase());
    const name = `${r.name}: VM size ${r.vmSize}`;
    if (!size) {
      checks.push({
        name,
        ok: false,
        row: r.name,
        message: `${r.vmSize} is not offered in ${region}. Pick a size the region offers (az vm list-sizes -l ${region}) for rows[].vmSize.`,
      });
      continue;
    }
    const fits = r.dataDisks.length <= size.maxDataDisks;
    checks.push({
      name,
      ok: fits,
      row: r.name,
      message: fits
        ? `${size.cores} vCPUs, up to ${size.maxDataDisks} data disks`
        : `${r.vmSize} takes ${size.maxDataDisks} data disks; the row has ${r.dataDisks.length}. Pick a larger size.`,
    });
    checks.push(generationCheck(r, size, sizes, generations));
    if (r.zone) checks.push(zoneCheck(r, r.zone, region, skus));
    if (r.osDisk.securityType === "TrustedLaunch") checks.push(...trustedLaunchChecks(r, size, sizes, skus));
    checks.push(...nicChecks(r, size, sizes, skus));
    if (!(await recoveredVm(recoveredVmName(r, mode)))) needed += size.cores;
  }
  if (cores) {
    const free = cores.limit - cores.currentValue;
    checks.push({
      name: "regional vCPU quota",
      ok: needed <= free,
      message:
        needed <= free
          ? `${needed} vCPUs needed, ${free} free (limit ${cores.limit}, in use ${cores.currentValue})`
          : `The recovered VMs need ${needed} vCPUs in ${region}; the quota leaves ${free} (limit ${cores.limit}, in use ${cores.currentValue}). Request a quota increase for ${region}, or free vCPUs there.`,
    });
  }
  return checks;
}

/** How many sizes a refused generation check names; the rest are counted. */
const SIZES_NAMED = 8;

/**
 * What a refusal of a row's size tells to pick instead: the region's sizes that `fit` (by lowercase name) and take
 * the row's data disks, nearest in vCPUs to the row's size first, the first {@link SIZES_NAMED} by name.
 * `does` completes "a size that …" (e.g. "boots V2").
 */
function sizesThatWork(
  r: Row,
  size: OfferedVmSize,
  sizes: Map<string, OfferedVmSize>,
  fits: (key: string) => boolean,
  does: string,
): string {
  const working = [...sizes.entries()]
    .filter(([key, s]) => fits(key) && s.maxDataDisks >= r.dataDisks.length)
    .map(([, s]) => s)
    .sort((x, y) => Math.abs(x.cores - size.cores) - Math.abs(y.cores - size.cores) || x.name.localeCompare(y.name))
    .map((s) => s.name);
  const more = working.length > SIZES_NAMED ? ` and ${working.length - SIZES_NAMED} more` : "";
  return working.length > 0
    ? `Pick a size that ${does} for rows[].vmSize: ${working.slice(0, SIZES_NAMED).join(", ")}${more}.`
    : `No size offered in this region ${does} with ${r.dataDisks.length} data disks.`;
}

/**
 * A row's VM size boots its OS disk's Hyper-V generation: Azure refuses the VM otherwise (400 BadRequest,
 * "cannot boot Hypervisor Generation"). A refusal names the region's sizes that boot it and take the row's data
 * disks, nearest in vCPUs first. A size the SKU list does not name passes: the VM create is then the judge.
 */
function generationCheck(
  r: BlueprintStackConfig["blueprint"]["rows"][number],
  size: OfferedVmSize,
  sizes: Map<string, OfferedVmSize>,
  generations: Map<string, string[]>,
): PrecheckCheck {
  const gen = osDiskGeneration(r.osDisk);
  const name = `${r.name}: Hyper-V generation ${gen}`;
  const offered = generations.get(r.vmSize.toLowerCase());
  if (!offered) return { name, ok: true, row: r.name, message: `${r.vmSize} is not in the SKU list; not checked` };
  if (offered.includes(gen)) return { name, ok: true, row: r.name, message: `${r.vmSize} boots ${gen}` };
  return {
    name,
    ok: false,
    row: r.name,
    message:
      `${r.vmSize} cannot boot Hyper-V generation ${gen} (it boots ${offered.join(", ") || "none"}), and the ` +
      `row's OS disk is ${gen}: the recovered VM would be refused. ` +
      sizesThatWork(r, size, sizes, (key) => generations.get(key)?.includes(gen) === true, `boots ${gen}`),
  };
}

type Row = BlueprintStackConfig["blueprint"]["rows"][number];

/**
 * A zonal row's VM size is offered in its zone (Resource SKUs: the zones of `locationInfo` less a `Zone`
 * restriction): Azure refuses the VM otherwise (409 SkuNotAvailable). A refusal names the zones that offer it.
 */
function zoneCheck(r: Row, zone: string, region: string, skus: Map<string, VmSizeSku>): PrecheckCheck {
  const name = `${r.name}: zone ${zone}`;
  const sku = skus.get(r.vmSize.toLowerCase());
  if (!sku) return { name, ok: true, row: r.name, message: `${r.vmSize} is not in the SKU list; not checked` };
  if (sku.zones.includes(zone))
    return { name, ok: true, row: r.name, message: `${r.vmSize} is offered in zone ${zone}` };
  return {
    name,
    ok: false,
    row: r.name,
    message:
      `${r.vmSize} is not offered in zone ${zone} of ${region}: the recovered VM would be refused ` +
      `(SkuNotAvailable). ` +
      (sku.zones.length
        ? `Set rows[].zone to a zone that offers it (${sku.zones.join(", ")}), or pick another size for rows[].vmSize.`
        : `No zone of ${region} offers it: pick another size for rows[].vmSize, or remove rows[].zone.`),
  };
}

/**
 * A Trusted Launch row: its size takes Trusted Launch (Azure refuses the VM otherwise, 400 BadRequest), naming the
 * sizes that do; and a warning of what the recovery does not carry, the source's VM guest state.
 */
function trustedLaunchChecks(
  r: Row,
  size: OfferedVmSize,
  sizes: Map<string, OfferedVmSize>,
  skus: Map<string, VmSizeSku>,
): PrecheckCheck[] {
  const name = `${r.name}: Trusted Launch`;
  const sku = skus.get(r.vmSize.toLowerCase());
  let sizeCheck: PrecheckCheck;
  if (!sku) sizeCheck = { name, ok: true, row: r.name, message: `${r.vmSize} is not in the SKU list; not checked` };
  else if (sku.trustedLaunch) sizeCheck = { name, ok: true, row: r.name, message: `${r.vmSize} takes Trusted Launch` };
  else {
    sizeCheck = {
      name,
      ok: false,
      row: r.name,
      message:
        `${r.vmSize} does not take Trusted Launch (Resource SKUs: TrustedLaunchDisabled, or no Gen2), and the row is ` +
        "Trusted Launch: the recovered VM would be refused. " +
        sizesThatWork(r, size, sizes, (key) => skus.get(key)?.trustedLaunch === true, "takes it"),
    };
  }
  const vTpm = r.osDisk.uefiSettings?.vTpmEnabled ?? true;
  return [
    sizeCheck,
    {
      name: `${r.name}: VM guest state`,
      ok: true,
      warning: true,
      row: r.name,
      message:
        "The recovered VM boots with Trusted Launch but a new VM guest state: the source's UEFI variables " +
        `${vTpm ? "and vTPM contents are" : "are"} not in the disk's pages, and ferry does not copy them. ` +
        (vTpm
          ? "Keys sealed to the vTPM do not unseal: Windows asks for the BitLocker recovery key (have it at hand), " +
            "Linux disks unlocked by the TPM (LUKS, systemd-cryptenroll) ask for their passphrase, and attestation " +
            "(Guest Attestation, Defender for Cloud) sees a new vTPM. "
          : "") +
        "Boot entries the guest added to UEFI are lost: the firmware boots the disk's fallback loader " +
        "(\\EFI\\BOOT\\BOOTX64.EFI).",
    },
  ];
}

/**
 * A Windows row: its recovered VM's name is a valid Windows computer name (15 characters, letters, digits and hyphens,
 * not all digits, not a reserved word), and an OS disk attached as-is is named with the advice of the policy
 * `ferry-windows-os-from-snapshot` (a WARN: the pack only advises). The guest keeps the computer name on its disk
 * either way: the recovered VM is made on a specialized disk, without `osProfile`. A drill's VM (`-test`) is checked
 * by its row's name, which is the one that counts after a failover.
 */
export function windowsChecks(r: Row, mode: "failover" | "test", stack: string): PrecheckCheck[] {
  if (r.osDisk.osType !== "Windows") return [];
  const vmName = r.hostname ?? r.name;
  const problem = hostnameProblem(vmName, "Windows");
  const checks: PrecheckCheck[] = [
    problem === undefined
      ? {
          name: `${r.name}: Windows computer name`,
          ok: true,
          row: r.name,
          message: `VM ${vmName}; its guest keeps the computer name on its disk`,
        }
      : {
          name: `${r.name}: Windows computer name`,
          ok: false,
          row: r.name,
          message:
            `The recovered VM's name ${vmName} ${problem}: a Windows VM's name must be a valid Windows computer ` +
            `name. Set rows[].hostname for row ${r.name} in stack ${stack} to one (the guest keeps the computer ` +
            "name on its disk whatever the VM is called).",
        },
  ];
  // A drill makes every disk from a snapshot: the advice is for a real failover.
  if (mode !== "test" && r.osStrategy === "attachAsIs")
    checks.push({
      name: `${r.name}: Windows OS disk from a snapshot`,
      ok: true,
      warning: true,
      row: r.name,
      message:
        "The recovered VM boots Windows from its staging disk attached as-is (osStrategy attachAsIs). Prefer " +
        `osStrategy fromSnapshot for row ${r.name} (policy ferry-windows-os-from-snapshot advises it): the staging ` +
        "disk then keeps syncing, and a Windows boot that fails in the DR region leaves it untouched for another try.",
    });
  return checks;
}

/**
 * A row's NICs fit its size: as many as the size takes (Resource SKUs `MaxNetworkInterfaces`; Azure refuses the VM
 * otherwise, NetworkInterfaceCountExceeded), and accelerated networking only on a size that has it
 * (`AcceleratedNetworkingEnabled`; else VMSizeIsNotPermittedToEnableAcceleratedNetworking). A refusal names the
 * region's sizes that would do, nearest in vCPUs first. A single NIC without accelerated networking has no line:
 * every size takes it.
 */
function nicChecks(
  r: Row,
  size: OfferedVmSize,
  sizes: Map<string, OfferedVmSize>,
  skus: Map<string, VmSizeSku>,
): PrecheckCheck[] {
  const nics = rowNics(r);
  const accelerated = nics.filter((n) => n.acceleratedNetworking).map((n) => n.index + 1);
  const sku = skus.get(r.vmSize.toLowerCase());
  const checks: PrecheckCheck[] = [];
  const fits = (s: VmSizeSku | undefined) =>
    (s?.maxNics ?? 1) >= nics.length && (accelerated.length === 0 || s?.acceleratedNetworking === true);
  const what = `${nics.length} NIC${nics.length > 1 ? "s" : ""}${accelerated.length ? " with accelerated networking" : ""}`;
  const working = () => sizesThatWork(r, size, sizes, (key) => fits(skus.get(key)), `takes ${what}`);
  if (nics.length > 1) {
    const name = `${r.name}: ${nics.length} NICs`;
    if (!sku || sku.maxNics === undefined)
      checks.push({
        name,
        ok: true,
        row: r.name,
        message: `${r.vmSize} does not say how many NICs it takes; not checked`,
      });
    else if (sku.maxNics >= nics.length)
      checks.push({ name, ok: true, row: r.name, message: `${r.vmSize} takes up to ${sku.maxNics}` });
    else
      checks.push({
        name,
        ok: false,
        row: r.name,
        message:
          `${r.vmSize} takes ${sku.maxNics} NIC${sku.maxNics === 1 ? "" : "s"}, and the row has ${nics.length} ` +
          `(rows[].nics): the recovered VM would be refused (NetworkInterfaceCountExceeded). ${working()}`,
      });
  }
  if (accelerated.length > 0) {
    const name = `${r.name}: accelerated networking`;
    if (!sku) checks.push({ name, ok: true, row: r.name, message: `${r.vmSize} is not in the SKU list; not checked` });
    else if (sku.acceleratedNetworking) checks.push({ name, ok: true, row: r.name, message: `${r.vmSize} takes it` });
    else
      checks.push({
        name,
        ok: false,
        row: r.name,
        message:
          `${r.vmSize} does not take accelerated networking (Resource SKUs: AcceleratedNetworkingEnabled False), and ` +
          `NIC${accelerated.length > 1 ? "s" : ""} ${accelerated.join(", ")} of the row ` +
          `ask${accelerated.length > 1 ? "" : "s"} for it (rows[].nics[].acceleratedNetworking): the recovered VM ` +
          `would be refused (VMSizeIsNotPermittedToEnableAcceleratedNetworking). ${working()}`,
      });
  }
  return checks;
}

function sourceChecks(
  name: string,
  row: string,
  sourceDiskId: string,
  s: Source | undefined,
  stack: string,
  chosen?: RecoveryPoint,
): PrecheckCheck[] {
  const base = { row, sourceDiskId };
  if (!s || s.state === "disabled") {
    return [
      {
        ...base,
        name: `${name}: DR enabled`,
        ok: false,
        message: `DR is not enabled for ${sourceDiskId}. Run \`ferry sources enable ${stack}\`.`,
      },
    ];
  }
  const out: PrecheckCheck[] = [
    {
      ...base,
      name: `${name}: DR enabled`,
      ok: true,
      message: `staging disk ${parseResourceId(s.stagingDiskId).name}`,
    },
  ];
  out.push(
    s.state === "healthy"
      ? { ...base, name: `${name}: healthy`, ok: true, message: "healthy" }
      : {
          ...base,
          name: `${name}: healthy`,
          ok: false,
          message: `The source is ${s.state}${s.lastError ? ` (${s.lastError.code}: ${s.lastError.message})` : ""}. Wait for the sync${s.state === "degraded" ? ", or fix the cause and run `ferry sources retry-backfill`" : ""}.`,
        },
  );
  if (chosen?.drSnapshotId) {
    // Recovered from its DR-side point, a whole snapshot: what the sync does to the staging disk now is no matter.
    out.push({
      ...base,
      name: `${name}: at a recovery point`,
      ok: true,
      message: `DR-side point ${parseResourceId(chosen.drSnapshotId).name} (${chosen.snapshotId} of ${chosen.createdAt})`,
    });
  } else if (s.applying) {
    out.push({
      ...base,
      name: `${name}: at a recovery point`,
      ok: false,
      message: `Recovery point ${s.applying.snapshotId} is being applied: the staging disk is torn until it ends. Wait and run the precheck again.`,
    });
  } else if (!s.applied) {
    out.push({
      ...base,
      name: `${name}: at a recovery point`,
      ok: false,
      message: "Nothing has been applied yet: wait for the backfill.",
    });
  } else if (s.desired && s.desired.snapshotId.toLowerCase() !== s.applied.snapshotId.toLowerCase()) {
    out.push({
      ...base,
      name: `${name}: at a recovery point`,
      ok: false,
      message: `Applied ${s.applied.snapshotId} is not the desired ${s.desired.snapshotId}. Wait for the sync.`,
    });
  } else {
    out.push({
      ...base,
      name: `${name}: at a recovery point`,
      ok: true,
      message: `${s.applied.snapshotId} of ${s.applied.createdAt}`,
    });
  }
  return out;
}

/** Why something could not be read, and what to do: Azure's answer and its fix, or the error's message. */
function unreadable(e: unknown, where?: string): string {
  const problem = azureProblemOf(e, where);
  return problem ? formatAzureProblem(problem) : (e as Error).message;
}

/** The precheck for people: one line per check. */
export function formatPrecheck(r: PrecheckResult): string {
  const width = Math.max(...r.checks.map((c) => c.name.length));
  const lines = r.checks.map(
    (c) => `${c.ok ? (c.warning || c.accepted ? "WARN" : "ok  ") : "FAIL"}  ${c.name.padEnd(width)}  ${c.message}`,
  );
  return [`precheck of ${r.blueprint} for ${r.mode}: ${r.passed ? "PASSED" : "FAILED"}`, ...lines].join("\n");
}

/** The precheck as a JUnit report, for the pipeline's test tab. */
export function precheckJunit(r: PrecheckResult): string {
  const failures = r.checks.filter((c) => !c.ok).length;
  // An accepted check passes; its warning goes to the test's output, where the pipeline's test tab shows it.
  const body = (c: PrecheckCheck) =>
    !c.ok
      ? `<failure message="${esc(c.message)}"/>`
      : c.accepted
        ? `<system-out>WARN: ${esc(c.message)}</system-out>`
        : "";
  const cases = r.checks.map(
    (c) => `  <testcase classname="ferry.precheck.${esc(r.blueprint)}" name="${esc(c.name)}">${body(c)}</testcase>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="ferry precheck ${esc(r.blueprint)} (${r.mode})" tests="${r.checks.length}" failures="${failures}" timestamp="${r.checkedAt}">\n${cases.join("\n")}\n</testsuite>\n`;
}
