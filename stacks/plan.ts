import { sameResourceId } from "../core/resource-id";
import { UserError } from "../core/errors";
import { recoverySetFingerprint } from "../core/recovery-set";
import {
  rowNics,
  type Blueprint,
  type BlueprintRow,
  type RowNic,
  type DiskStrategy,
  type HyperVGeneration,
  type OsType,
  type UefiSettings,
  type Zone,
} from "../core/schemas/blueprint";
import type { LandingZoneOutputs } from "../core/schemas/landing-zone";
import type { BlueprintMode } from "../core/schemas/blueprint-state";
import type { RecoveryPoint } from "../core/schemas/recovery-point";

/**
 * What a blueprint stack declares, as data: the pure planner the Pulumi program turns into
 * resources (STYLE 1). Modes: `standby` (staging disks only), `failover` (plus the recovered VMs,
 * per row strategy), `test` (a drill: every disk from a snapshot, in the isolated test subnet,
 * the staging disks untouched), `failback` (as failover: the recovered VMs stay while data flows
 * home; nothing is added).
 */
export { blueprintModes, type BlueprintMode } from "../core/schemas/blueprint-state";

/** Tag keys ferry puts on what it creates (policy `ferry-required-tags` checks them). */
export const TAGS = {
  blueprint: "ferry-blueprint",
  row: "ferry-row",
  role: "ferry-role",
  sourceDisk: "ferry-source-disk",
  sourceSizeGiB: "ferry-source-size-gib",
  recoveryPoint: "ferry-recovery-point",
  /** The fingerprint of every recovery point of the blueprint (core/recovery-set.ts). */
  recoverySet: "ferry-recovery-set",
  operation: "ferry-operation",
  mode: "ferry-mode",
  osStrategy: "ferry-os-strategy",
  dataStrategy: "ferry-data-strategy",
} as const;

export interface StagingDiskPlan {
  /** Pulumi resource name. */
  logicalName: string;
  /** Azure disk name. */
  diskName: string;
  row: string;
  role: "os" | "data";
  lun?: number;
  sourceDiskId: string;
  sizeGiB: number;
  sku: string;
  osType?: OsType;
  /** OS disk whose row states a generation: the disk is created with it. */
  hyperVGeneration?: HyperVGeneration;
  /**
   * OS disk of a Trusted Launch row: created `UploadPreparedSecure` (Azure makes no Trusted Launch disk `Empty`), and
   * sealed by `ferry sources enable` before the appliance attaches it.
   */
  securityType?: "TrustedLaunch";
  tags: Record<string, string>;
}

export interface RecoveredDiskPlan {
  role: "os" | "data";
  lun?: number;
  strategy: DiskStrategy;
  sourceDiskId: string;
  /** Size of the source disk, in GiB: a disk made from its snapshot is at least this large. */
  sizeGiB: number;
  /** The staging disk it comes from. */
  staging: string;
  recoveryPoint: RecoveryPoint;
  /**
   * fromSnapshot without a DR-side point: a snapshot of the staging disk, taken at failover time (its sync paused
   * at the point); the disk is created from it.
   */
  snapshot?: { logicalName: string; name: string };
  /** fromSnapshot: the disk created from {@link snapshot}, or straight from the DR-side point when there is one. */
  disk?: { logicalName: string; name: string; sizeGiB: number; sku: string; zone?: Zone };
  /**
   * failover and failback: an incremental snapshot of the disk the VM gets, taken before the VM
   * starts. It opens that disk's own snapshot family, so a failback can diff what the DR VM wrote
   * (Get Page Ranges diffs only snapshots of the same disk). An attach-as-is disk whose point has a
   * DR-side snapshot has one already (`existingId`, a snapshot of that very staging disk): nothing is
   * taken before its VM.
   */
  failbackBase?: { logicalName: string; name: string; existingId?: string };
}

export interface RecoveredRowPlan {
  row: string;
  vmName: string;
  vmSize: string;
  osType: OsType;
  /**
   * The generation the row states: a from-snapshot OS disk is created with it. Absent: the disk takes its
   * snapshot's, which is the staging disk's.
   */
  hyperVGeneration?: HyperVGeneration;
  /** The zone the VM lands in (its from-snapshot disks too, unless zone-redundant). */
  zone?: Zone;
  /** Trusted Launch rows: the VM's security profile (its OS disk is Trusted Launch by creation or copy). */
  trustedLaunch?: UefiSettings;
  /** The source VM's licence (Azure Hybrid Benefit), as the row carries it: the VM is billed as the source is. */
  licenseType?: string;
  /** The row's NICs, in the row's order. */
  nics: RecoveredNicPlan[];
  /** The primary one of `nics`: the VM's default route and the address its readiness probes. */
  nic: RecoveredNicPlan;
  osDisk: RecoveredDiskPlan;
  dataDisks: RecoveredDiskPlan[];
  tags: Record<string, string>;
}

export interface RecoveredNicPlan {
  /** Pulumi resource name: `<row>-nic` for the first (the name a single-NIC row always had), `<row>-nic<n>` after. */
  logicalName: string;
  /** Azure name, after the recovered VM's. */
  name: string;
  subnetId: string;
  privateIpAddress?: string;
  primary: boolean;
  acceleratedNetworking: boolean;
}

export interface BlueprintPlan {
  blueprint: string;
  mode: BlueprintMode;
  location: string;
  resourceGroup: string;
  staging: StagingDiskPlan[];
  rows: RecoveredRowPlan[];
}

export interface PlanOptions {
  mode: BlueprintMode;
  /** The recovery point of each source disk (by its ARM id): required outside standby. */
  recoveryPoints?: Record<string, RecoveryPoint>;
  /** Id of the operation (failover, drill) that applies this plan; tagged on what it creates. */
  operationId?: string;
  /** SKU of the staging disks. Default Premium_LRS (same or better than the sources). */
  stagingSku?: string;
}

/** The zone-redundant SKU of a disk SKU: ZRS disks attach to a VM in any zone of the region, and to a regional one. */
export function zoneRedundantSku(sku: string): string {
  if (sku.endsWith("_ZRS")) return sku;
  const zrs = { Premium_LRS: "Premium_ZRS", StandardSSD_LRS: "StandardSSD_ZRS" }[sku];
  if (zrs) return zrs;
  throw new UserError(
    `A zonal row's staging disks are zone-redundant, so that the regional sync appliance can attach them and the ` +
      `recovered VM can use them in any zone, but ${sku} has no zone-redundant SKU. Set ferry:stagingSku to ` +
      "Premium_LRS, StandardSSD_LRS or their _ZRS SKU, or remove the rows' zone.",
    { code: "NoZoneRedundantSku" },
  );
}

function stagingName(row: string, role: "os" | "data", lun?: number): string {
  return role === "os" ? `${row}-os-staging` : `${row}-lun${lun}-staging`;
}

function pointFor(blueprint: Blueprint, options: PlanOptions, sourceDiskId: string): RecoveryPoint {
  const points = options.recoveryPoints ?? {};
  const key = Object.keys(points).find((k) => sameResourceId(k, sourceDiskId));
  const point = key === undefined ? undefined : points[key];
  if (!point) {
    throw new UserError(
      `Blueprint '${blueprint.name}' has no recovery point for ${sourceDiskId}. Run the precheck (ferry precheck ${blueprint.name}): it hands the applied recovery point of every disk to the stack.`,
      { code: "MissingRecoveryPoint" },
    );
  }
  return point;
}

/** The staging disks of every source disk of a blueprint (declared in every mode). */
export function planStaging(blueprint: Blueprint, options: Pick<PlanOptions, "stagingSku"> = {}): StagingDiskPlan[] {
  const sku = options.stagingSku ?? "Premium_LRS";
  const out: StagingDiskPlan[] = [];
  for (const row of blueprint.rows) {
    const disks: { role: "os" | "data"; lun?: number; sourceDiskId: string; sizeGiB: number }[] = [
      { role: "os", sourceDiskId: row.osDisk.sourceDiskId, sizeGiB: row.osDisk.sizeGiB },
      ...row.dataDisks.map((d) => ({
        role: "data" as const,
        lun: d.lun,
        sourceDiskId: d.sourceDiskId,
        sizeGiB: d.sizeGiB,
      })),
    ];
    for (const d of disks) {
      const name = stagingName(row.name, d.role, d.lun);
      out.push({
        logicalName: name,
        diskName: name,
        row: row.name,
        role: d.role,
        ...(d.lun !== undefined ? { lun: d.lun } : {}),
        sourceDiskId: d.sourceDiskId,
        sizeGiB: d.sizeGiB,
        // The appliance is regional: a zonal disk could not be attached to it.
        sku: row.zone ? zoneRedundantSku(sku) : sku,
        ...(d.role === "os" ? { osType: row.osDisk.osType } : {}),
        // Stated only when the row states it: adding it to a disk created without one would change a retained disk.
        ...(d.role === "os" && row.osDisk.hyperVGeneration ? { hyperVGeneration: row.osDisk.hyperVGeneration } : {}),
        ...(d.role === "os" && row.osDisk.securityType === "TrustedLaunch" ? { securityType: "TrustedLaunch" } : {}),
        tags: {
          [TAGS.blueprint]: blueprint.name,
          [TAGS.row]: row.name,
          [TAGS.role]: "staging",
          [TAGS.sourceDisk]: d.sourceDiskId.toLowerCase(),
          [TAGS.sourceSizeGiB]: String(d.sizeGiB),
        },
      });
    }
  }
  return out;
}

function recoveredDisk(
  blueprint: Blueprint,
  row: BlueprintRow,
  options: PlanOptions,
  strategy: DiskStrategy,
  role: "os" | "data",
  sourceDiskId: string,
  sizeGiB: number,
  suffix: string,
  lun?: number,
): RecoveredDiskPlan {
  const staging = stagingName(row.name, role, lun);
  const base = `${row.name}${suffix}-${role === "os" ? "os" : `lun${lun}`}`;
  const point = pointFor(blueprint, options, sourceDiskId);
  const returns = options.mode === "failover" || options.mode === "failback";
  const sku = options.stagingSku ?? "Premium_LRS";
  return {
    role,
    ...(lun !== undefined ? { lun } : {}),
    strategy,
    sourceDiskId,
    sizeGiB,
    staging,
    recoveryPoint: point,
    ...(strategy === "fromSnapshot"
      ? {
          // A DR-side point is a snapshot already: the disk is copied from it, nothing is taken now.
          ...(point.drSnapshotId ? {} : { snapshot: { logicalName: `${base}-snapshot`, name: `${base}-snapshot` } }),
          disk: {
            logicalName: `${base}-disk`,
            name: `${base}-disk`,
            sizeGiB,
            sku,
            // A zone-redundant disk has no zone; any other lands in the VM's.
            ...(row.zone && !sku.endsWith("_ZRS") ? { zone: row.zone } : {}),
          },
        }
      : {}),
    ...(returns
      ? {
          failbackBase: {
            logicalName: failbackBaseName(row.name, role, lun),
            name: failbackBaseName(row.name, role, lun),
            // The DR-side point is a snapshot of this staging disk at the point it holds: the base already.
            ...(strategy === "attachAsIs" && point.drSnapshotId && !point.older
              ? { existingId: point.drSnapshotId }
              : {}),
          },
        }
      : {}),
  };
}

/** The name of the failback base snapshot a failover takes of a recovered disk. */
export function failbackBaseName(row: string, role: "os" | "data", lun?: number): string {
  return `${row}-${role === "os" ? "os" : `lun${lun}`}-failback-base`;
}

/** Where a blueprint fails over: its landing zone (the outputs of the stack ferry:landingZoneStack names). */
export type DrSite = Pick<LandingZoneOutputs, "location" | "resourceGroupName" | "targetSubnetId" | "testSubnetId">;

/**
 * The rows of a blueprint that would fail over into the region they run in, as problems: a
 * regional outage would take both.
 */
export function sameRegionProblems(blueprint: Blueprint, drRegion: string): string[] {
  return blueprint.rows
    .map((row, i) => ({ row, i }))
    .filter(({ row }) => row.sourceRegion.toLowerCase() === drRegion.toLowerCase())
    .map(
      ({ row, i }) =>
        `rows[${i}] (${row.name}) runs in ${row.sourceRegion}, the region of its landing zone. Disaster recovery ` +
        "into the source region does not survive a regional outage: name a landing zone of another region " +
        "(ferry:landingZoneStack)",
    );
}

/** The whole plan of a blueprint stack in a mode, failing over into `site`. */
export function planBlueprint(blueprint: Blueprint, site: DrSite, options: PlanOptions): BlueprintPlan {
  const problems = sameRegionProblems(blueprint, site.location);
  if (problems.length) {
    throw new UserError(
      `Blueprint '${blueprint.name}' cannot fail over into ${site.location}:\n  ${problems.join("\n  ")}.`,
      {
        code: "SameRegion",
      },
    );
  }
  const staging = planStaging(blueprint, options);
  const plan: BlueprintPlan = {
    blueprint: blueprint.name,
    mode: options.mode,
    location: site.location,
    resourceGroup: site.resourceGroupName,
    staging,
    rows: [],
  };
  if (options.mode === "standby") return plan;
  const test = options.mode === "test";
  // A drill never touches the staging disks: every disk comes from a snapshot, in the test network.
  const suffix = test ? "-test" : "";
  const recoverySet = recoverySetFingerprint(
    Object.fromEntries(
      blueprint.rows
        .flatMap((r) => [r.osDisk.sourceDiskId, ...r.dataDisks.map((d) => d.sourceDiskId)])
        .map((disk) => [disk, pointFor(blueprint, options, disk).snapshotId]),
    ),
  );
  for (const row of blueprint.rows) {
    // A row recovered at a point older than its staging disks hold comes from its DR-side snapshots.
    const older = rowDiskIds(row).some((id) => pointFor(blueprint, options, id).older === true);
    const osStrategy: DiskStrategy = test || older ? "fromSnapshot" : row.osStrategy;
    const dataStrategy: DiskStrategy = test || older ? "fromSnapshot" : row.dataStrategy;
    const vmName = recoveredVmName(row, options.mode);
    const nics = rowNics(row).map((n): RecoveredNicPlan => ({
      logicalName: `${row.name}${suffix}-nic${nicSuffix(n.index)}`,
      name: recoveredNicName(row, options.mode, n.index),
      subnetId: recoveredNicSubnetId(n, site, options.mode),
      // A drill's isolated network need not share the production range: its own address, or what it gets.
      ...(recoveredNicIp(n, options.mode) ? { privateIpAddress: recoveredNicIp(n, options.mode)! } : {}),
      primary: n.primary,
      acceleratedNetworking: n.acceleratedNetworking,
    }));
    const osPoint = pointFor(blueprint, options, row.osDisk.sourceDiskId);
    plan.rows.push({
      row: row.name,
      vmName,
      vmSize: row.vmSize,
      osType: row.osDisk.osType,
      ...(row.osDisk.hyperVGeneration ? { hyperVGeneration: row.osDisk.hyperVGeneration } : {}),
      ...(row.zone ? { zone: row.zone } : {}),
      ...(row.osDisk.securityType === "TrustedLaunch"
        ? { trustedLaunch: row.osDisk.uefiSettings ?? { secureBootEnabled: true, vTpmEnabled: true } }
        : {}),
      ...(row.osDisk.licenseType ? { licenseType: row.osDisk.licenseType } : {}),
      nics,
      nic: nics.find((n) => n.primary)!,
      osDisk: recoveredDisk(
        blueprint,
        row,
        options,
        osStrategy,
        "os",
        row.osDisk.sourceDiskId,
        row.osDisk.sizeGiB,
        suffix,
      ),
      dataDisks: row.dataDisks.map((d) =>
        recoveredDisk(blueprint, row, options, dataStrategy, "data", d.sourceDiskId, d.sizeGiB, suffix, d.lun),
      ),
      tags: {
        [TAGS.blueprint]: blueprint.name,
        [TAGS.row]: row.name,
        [TAGS.role]: test ? "test" : "recovered",
        [TAGS.mode]: options.mode,
        [TAGS.recoveryPoint]: osPoint.snapshotId,
        [TAGS.recoverySet]: recoverySet,
        [TAGS.operation]: options.operationId ?? "unspecified",
        [TAGS.osStrategy]: osStrategy,
        [TAGS.dataStrategy]: dataStrategy,
      },
    });
  }
  return plan;
}

/** The source disk ids of a row, OS disk first. */
export function rowDiskIds(row: Pick<BlueprintRow, "osDisk" | "dataDisks">): string[] {
  return [row.osDisk.sourceDiskId, ...row.dataDisks.map((d) => d.sourceDiskId)];
}

/** The name of a row's recovered VM: its hostname (or row name), with `-test` in a drill. */
export function recoveredVmName(row: Pick<BlueprintRow, "name" | "hostname">, mode: string): string {
  return `${row.hostname ?? row.name}${mode === "test" ? "-test" : ""}`;
}

/** The name of a row's recovered NIC in a mode (in the DR resource group): `<vm>-nic`, `<vm>-nic2`, … */
export function recoveredNicName(row: Pick<BlueprintRow, "name" | "hostname">, mode: string, index = 0): string {
  return `${recoveredVmName(row, mode)}-nic${nicSuffix(index)}`;
}

/** The first NIC has no number: its names are those a row had before rows had several NICs. */
function nicSuffix(index: number): string {
  return index === 0 ? "" : String(index + 1);
}

/** The static private IP a row's NIC gets in a mode, or undefined for a dynamic one. */
export function recoveredNicIp(
  nic: Pick<RowNic, "privateIpAddress" | "testPrivateIpAddress">,
  mode: string,
): string | undefined {
  return mode === "test" ? nic.testPrivateIpAddress : nic.privateIpAddress;
}

/**
 * The subnet a row's NIC joins in a mode: the subnet it names, in the virtual network of the landing zone's target
 * (or test) subnet, else that subnet itself.
 */
export function recoveredNicSubnetId(
  nic: Pick<RowNic, "subnet" | "testSubnet">,
  site: Pick<DrSite, "targetSubnetId" | "testSubnetId">,
  mode: string,
): string {
  const test = mode === "test";
  const base = test ? site.testSubnetId : site.targetSubnetId;
  const name = test ? nic.testSubnet : nic.subnet;
  return name ? `${base.replace(/\/subnets\/[^/]+$/i, "")}/subnets/${name}` : base;
}
