import { z } from "zod";
import { RetentionSchema } from "./retention";
import { normalizeResourceId } from "../resource-id";
import { formatIssuePath } from "../validate";
import { azureRegion, resourceName, vmSizeName } from "./fields";
import { diskId, virtualMachineId } from "./ids";
import { evenWithFieldIssues, isRecord } from "./refine";
import { lun } from "./source";
import { TargetSchema } from "./target";

/**
 * How a recovered VM gets a disk: "attachAsIs" attaches the staging disk itself (fastest; that
 * disk stops syncing), "fromSnapshot" creates a new disk from a snapshot of it (staging keeps syncing).
 */
export const diskStrategies = ["attachAsIs", "fromSnapshot"] as const;
export type DiskStrategy = (typeof diskStrategies)[number];
export const DiskStrategySchema = z.enum(diskStrategies);

export const osTypes = ["Linux", "Windows"] as const;
export type OsType = (typeof osTypes)[number];
export const OsTypeSchema = z.enum(osTypes);

/** The generation a row's OS disk boots: the one the blueprint states, V1 where it states none. */
export function osDiskGeneration(osDisk: { hyperVGeneration?: HyperVGeneration | undefined }): HyperVGeneration {
  return osDisk.hyperVGeneration ?? "V1";
}

/** Largest hostname per OS: NetBIOS limits Windows computer names to 15 characters. */
export const maxHostnameLength: Record<OsType, number> = { Windows: 15, Linux: 64 };

/**
 * Names Windows reserves, which a computer name cannot be: the one-word entries of the "Table of reserved words" in
 * Microsoft's "Naming conventions in Active Directory for computers, domains, sites, and OUs" (KB 909264); the others
 * hold a space, which a hostname never does.
 */
export const windowsReservedNames = [
  "ANONYMOUS",
  "BATCH",
  "BUILTIN",
  "DIALUP",
  "INTERACTIVE",
  "INTERNET",
  "LOCAL",
  "NETWORK",
  "NULL",
  "PROXY",
  "RESTRICTED",
  "SELF",
  "SERVER",
  "SERVICE",
  "SYSTEM",
  "USERS",
  "WORLD",
] as const;

/**
 * Hyper-V generation of a VM's OS disk: V1 boots BIOS, V2 UEFI. A VM size boots only the generations it offers
 * (Resource SKUs capability `HyperVGenerations`), and a disk of the wrong one does not boot.
 */
export const hyperVGenerations = ["V1", "V2"] as const;
export type HyperVGeneration = (typeof hyperVGenerations)[number];
export const HyperVGenerationSchema = z.enum(hyperVGenerations);

/**
 * Security type of a VM and its OS disk: Standard, or Trusted Launch (Secure Boot and a vTPM, Gen2 only). Azure keeps
 * it on the OS disk (a copy of the disk keeps it, and a VM must match its OS disk), so the blueprint states it there.
 * Confidential VMs are not protected: `ferry sources enable` refuses them (see runbooks/README.md).
 */
export const securityTypes = ["Standard", "TrustedLaunch"] as const;
export type SecurityType = (typeof securityTypes)[number];

/** A Trusted Launch VM's UEFI settings, as Azure's `securityProfile.uefiSettings`. */
export const UefiSettingsSchema = z.strictObject({
  /** Secure Boot: the firmware boots only a signed boot chain. Default true. */
  secureBootEnabled: z.boolean().default(true),
  /** A virtual TPM. Default true. */
  vTpmEnabled: z.boolean().default(true),
});
export type UefiSettings = z.output<typeof UefiSettingsSchema>;

/** The security type a row's OS disk and VM have: the one the blueprint states, Standard where it states none. */
export function osDiskSecurityType(osDisk: { securityType?: SecurityType | undefined }): SecurityType {
  return osDisk.securityType ?? "Standard";
}

/** Availability zones a row may name. */
export const zones = ["1", "2", "3"] as const;
export type Zone = (typeof zones)[number];

export const OsDiskSchema = z.strictObject({
  sourceDiskId: diskId,
  osType: OsTypeSchema,
  /** Size in GiB; OS disks are at most 4095 GiB. */
  sizeGiB: z.int().min(1).max(4095),
  /**
   * The source OS disk's generation; `ferry sources enable` refuses a source whose disk says otherwise. Default
   * V1 (what a blueprint written before generations were carried means, and what Azure boots a disk that names
   * none as). Stated, it is set on the staging disk and the disks recovered from it.
   */
  hyperVGeneration: HyperVGenerationSchema.optional(),
  /**
   * The source VM's and OS disk's security type; `ferry sources enable` refuses a source that says otherwise.
   * Default Standard. TrustedLaunch needs hyperVGeneration V2; its staging disk is created as a Trusted Launch disk
   * and the recovered VM gets Trusted Launch with `uefiSettings`.
   */
  securityType: z.enum(securityTypes).optional(),
  /** UEFI settings of a Trusted Launch row's recovered VM, as the source VM has them. Default both enabled. */
  uefiSettings: UefiSettingsSchema.optional(),
  /**
   * The on-premises licence the source VM's OS runs under (its `licenseType`: Azure Hybrid Benefit), given to the
   * recovered VM so that it is billed as the source is. `Windows_Server` or `Windows_Client` on a Windows row; a Linux
   * subscription (`RHEL_BYOS`, `SLES_BYOS`, …) on a Linux row. `ferry sources enable` refuses a row that says otherwise
   * than its source VM. Default: none (the source pays for its OS licence with the VM, and so does the recovered VM).
   */
  licenseType: z
    .string()
    .regex(/^[A-Za-z0-9_]+$/, "is not a licence type. Use Azure's name, e.g. Windows_Server or RHEL_BYOS")
    .optional(),
});

/** Licence types of a Windows OS (Azure Hybrid Benefit); every other one is a Linux subscription's. */
export const windowsLicenseTypes = ["Windows_Server", "Windows_Client"] as const;

/** Why a row's licence type does not fit its OS, or undefined when it does (or there is none). */
export function licenseTypeProblem(osType: OsType, licenseType: string | undefined): string | undefined {
  if (licenseType === undefined) return undefined;
  const windows = (windowsLicenseTypes as readonly string[]).includes(licenseType);
  if (licenseType === "None")
    return "None is no licence type. Remove osDisk.licenseType: the recovered VM then pays for its OS as the source does";
  if (osType === "Windows" && !windows)
    return `${licenseType} is not a Windows licence. Use Windows_Server or Windows_Client, as the source VM's licenseType says`;
  if (osType === "Linux" && windows)
    return `${licenseType} is a Windows licence and the row's OS is Linux. Use the source VM's licenseType (RHEL_BYOS, SLES_BYOS, …)`;
  return undefined;
}

export const DataDiskSchema = z.strictObject({
  lun,
  sourceDiskId: diskId,
  /** Size in GiB. */
  sizeGiB: z.int().min(1).max(65536),
});

const port = z.int().min(1).max(65535);

/**
 * When a recovered VM counts as ready, beyond created (each is a point of its RTO): the guest OS
 * booted (the VM agent reports Ready), and the application answers a probe made from where ferry
 * runs — a TCP connect or an HTTP GET answered 2xx/3xx — on the VM's private IP unless `host`
 * says otherwise (a load balancer, a DNS name).
 */
export const ReadinessSchema = z.strictObject({
  os: z.boolean().optional(),
  app: z
    .discriminatedUnion("kind", [
      z.strictObject({ kind: z.literal("tcp"), port, host: z.string().min(1).optional() }),
      z.strictObject({
        kind: z.literal("http"),
        port,
        path: z.string().startsWith("/", "must start with /").default("/"),
        host: z.string().min(1).optional(),
      }),
    ])
    .optional(),
  /** How long to wait for each, from the VM's creation. Default 900. */
  timeoutSeconds: z.int().min(1).max(7200).default(900),
});
export type Readiness = z.output<typeof ReadinessSchema>;

/** An Azure subnet name: 1-80 letters, digits, `_`, `.` and `-`, from a letter or digit, not ending in `.`/`-`. */
const subnetName = z
  .string()
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/,
    "is not a subnet name: 1-80 letters, digits, _, . and -, starting with a letter or digit and not ending in . or -",
  );

/**
 * One network interface of a recovered VM, as the source VM has it (the row's `nics` keep the source's order).
 * `ferry sources enable` warns where a row's NICs differ from its source VM's; the row's values win.
 */
export const NicSchema = z.strictObject({
  /**
   * Subnet of the NIC, by name, in the virtual network of the landing zone's target subnet (every NIC of a VM is in
   * one virtual network). Default: the landing zone's target subnet.
   */
  subnet: subnetName.optional(),
  /** Subnet of the NIC a test failover (drill) makes, by name, in the test subnet's network. Default: that subnet. */
  testSubnet: subnetName.optional(),
  /** Static private IP in the NIC's subnet, checked by the precheck as a row's `privateIpAddress`. Default: dynamic. */
  privateIpAddress: z.ipv4().optional(),
  /** Static private IP of the NIC a drill makes, in its test subnet. Default: dynamic. */
  testPrivateIpAddress: z.ipv4().optional(),
  /** Accelerated networking (SR-IOV); the VM size must take it (the precheck checks). Default false. */
  acceleratedNetworking: z.boolean().optional(),
  /** The VM's primary NIC (its default route and primary address). Default: the first NIC. At most one. */
  primary: z.boolean().optional(),
});
export type Nic = z.infer<typeof NicSchema>;

/** One VM of a blueprint: where it comes from and how it is recovered. */
export const BlueprintRowSchema = z
  .strictObject({
    /** Row name; the recovered VM and its NIC are named after it. */
    name: resourceName,
    sourceVmId: virtualMachineId,
    sourceRegion: azureRegion,
    osDisk: OsDiskSchema,
    dataDisks: z.array(DataDiskSchema),
    vmSize: vmSizeName,
    /**
     * Availability zone of the recovered VM and of the disks made for it; the VM size must be offered there (the
     * precheck checks). Its staging disks are zone-redundant (ZRS) so that the regional appliance can sync them.
     * Default: no zone (a regional VM).
     */
    zone: z.enum(zones).optional(),
    /**
     * Name of the recovered VM (and of its NIC). Its guest keeps the computer name on its disk (an attached OS disk is
     * specialized); on a Windows row it must still be a valid Windows computer name. Default: the row's name.
     */
    hostname: z.string().optional(),
    /**
     * Static private IP of the recovered NIC, in the landing zone's target subnet (the precheck checks it is
     * inside that subnet, not one of the five addresses Azure reserves there, and free). Default: dynamic.
     */
    privateIpAddress: z.ipv4().optional(),
    /**
     * Static private IP of the NIC a test failover (drill) makes, in the landing zone's isolated test subnet,
     * checked as `privateIpAddress` is. Default: dynamic (the test network need not share the target's range).
     */
    testPrivateIpAddress: z.ipv4().optional(),
    /**
     * The recovered VM's network interfaces, in the source VM's order; the VM size must take that many (the precheck
     * checks). Default: one NIC on the target subnet with the row's `privateIpAddress` (a row without `nics` keeps
     * the NIC it always had). A row with `nics` gives each NIC its own addresses: it has no row-level ones.
     */
    nics: z.array(NicSchema).min(1, "needs at least one NIC. Remove nics for the default one").optional(),
    osStrategy: DiskStrategySchema,
    dataStrategy: DiskStrategySchema,
    /** Checks that extend the row's RTO past "VM created": OS ready, app ready. */
    readiness: ReadinessSchema.optional(),
  })
  .superRefine((row, ctx) => {
    if (isRecord(row.osDisk) && row.osDisk.securityType === "TrustedLaunch" && row.osDisk.hyperVGeneration !== "V2")
      ctx.addIssue({
        code: "custom",
        path: ["osDisk", "securityType"],
        message: "TrustedLaunch boots Hyper-V generation V2 only. Set osDisk.hyperVGeneration: V2",
      });
    if (isRecord(row.osDisk) && row.osDisk.uefiSettings !== undefined && row.osDisk.securityType !== "TrustedLaunch")
      ctx.addIssue({
        code: "custom",
        path: ["osDisk", "uefiSettings"],
        message: "applies to a Trusted Launch VM only. Remove it, or set osDisk.securityType: TrustedLaunch",
      });
    if (isRecord(row.osDisk) && typeof row.osDisk.licenseType === "string") {
      const osType = row.osDisk.osType;
      const problem =
        osType === "Windows" || osType === "Linux" ? licenseTypeProblem(osType, row.osDisk.licenseType) : undefined;
      if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["osDisk", "licenseType"], message: problem });
    }
    if (Array.isArray(row.nics)) nicIssues(row.nics, row, ctx);
    if (typeof row.hostname === "string") {
      const osType = isRecord(row.osDisk) ? row.osDisk.osType : undefined;
      const problem = hostnameProblem(row.hostname, osType === "Windows" || osType === "Linux" ? osType : undefined);
      if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["hostname"], message: problem });
    }
    if (Array.isArray(row.dataDisks)) {
      const firstByLun = new Map<number, number>();
      row.dataDisks.forEach((disk: unknown, index) => {
        const diskLun = isRecord(disk) ? disk.lun : undefined;
        if (typeof diskLun !== "number") return;
        const first = firstByLun.get(diskLun);
        if (first === undefined) {
          firstByLun.set(diskLun, index);
        } else {
          ctx.addIssue({
            code: "custom",
            path: ["dataDisks", index, "lun"],
            message: `LUN ${diskLun} is already used by dataDisks[${first}]. Give each data disk its own LUN (0-63)`,
          });
        }
      });
    }
  }, evenWithFieldIssues);
export type BlueprintRow = z.infer<typeof BlueprintRowSchema>;

/** What is wrong with a row's `nics` as a whole: addresses beside them, two primaries, an address twice. */
function nicIssues(nics: unknown[], row: Record<string, unknown>, ctx: z.core.$RefinementCtx): void {
  const records = nics.map((n) => (isRecord(n) ? n : {}));
  const primaryAt = Math.max(
    0,
    records.findIndex((n) => n.primary === true),
  );
  for (const field of ["privateIpAddress", "testPrivateIpAddress"] as const) {
    if (row[field] === undefined) continue;
    ctx.addIssue({
      code: "custom",
      path: [field],
      message:
        `is set beside nics, where each NIC has its own address. Move it to nics[${primaryAt}].${field} ` +
        `(the primary NIC), or remove it`,
    });
  }
  const firstPrimary = records.findIndex((n) => n.primary === true);
  records.forEach((n, i) => {
    if (n.primary === true && i !== firstPrimary)
      ctx.addIssue({
        code: "custom",
        path: ["nics", i, "primary"],
        message: `nics[${firstPrimary}] is the primary NIC already. Mark one NIC primary: true (default: the first)`,
      });
  });
  for (const field of ["privateIpAddress", "testPrivateIpAddress"] as const) {
    const firstWith = new Map<unknown, number>();
    records.forEach((n, i) => {
      if (typeof n[field] !== "string") return;
      const first = firstWith.get(n[field]);
      if (first === undefined) firstWith.set(n[field], i);
      else
        ctx.addIssue({
          code: "custom",
          path: ["nics", i, field],
          message: `is nics[${first}].${field} too. Give each NIC its own address, or remove it for a dynamic one`,
        });
    });
  }
}

/** A row's NIC as the plan and the checks read it: the row's `nics`, or the one NIC of a row without them. */
export interface RowNic {
  /** Its place in the row's NICs, from 0. */
  index: number;
  primary: boolean;
  subnet?: string;
  testSubnet?: string;
  privateIpAddress?: string;
  testPrivateIpAddress?: string;
  acceleratedNetworking: boolean;
  /** Where its addresses are in the row, for messages: `nics[1].` or `` (the row's own fields). */
  keyPrefix: string;
}

/**
 * A row's NICs: the `nics` it lists (the first is primary unless one says so), or one NIC with the row's own static
 * addresses.
 */
export function rowNics(row: Pick<BlueprintRow, "nics" | "privateIpAddress" | "testPrivateIpAddress">): RowNic[] {
  if (!row.nics) {
    return [
      {
        index: 0,
        primary: true,
        ...(row.privateIpAddress ? { privateIpAddress: row.privateIpAddress } : {}),
        ...(row.testPrivateIpAddress ? { testPrivateIpAddress: row.testPrivateIpAddress } : {}),
        acceleratedNetworking: false,
        keyPrefix: "",
      },
    ];
  }
  const primaryAt = Math.max(
    0,
    row.nics.findIndex((n) => n.primary === true),
  );
  return row.nics.map((n, index) => ({
    index,
    primary: index === primaryAt,
    ...(n.subnet ? { subnet: n.subnet } : {}),
    ...(n.testSubnet ? { testSubnet: n.testSubnet } : {}),
    ...(n.privateIpAddress ? { privateIpAddress: n.privateIpAddress } : {}),
    ...(n.testPrivateIpAddress ? { testPrivateIpAddress: n.testPrivateIpAddress } : {}),
    acceleratedNetworking: n.acceleratedNetworking ?? false,
    keyPrefix: `nics[${index}].`,
  }));
}

/** Why a hostname is unusable for this OS, or undefined when it is fine. */
export function hostnameProblem(hostname: string, osType: OsType | undefined): string | undefined {
  const max = osType === undefined ? maxHostnameLength.Linux : maxHostnameLength[osType];
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/.test(hostname)) {
    return "is not a valid hostname. Use letters, digits and hyphens, starting and ending with a letter or digit";
  }
  if (hostname.length > max) {
    return `is ${hostname.length} characters, longer than ${osType ?? "any OS"} allows (${max}). Shorten it to ${max} characters or fewer`;
  }
  if (osType === "Windows" && /^\d+$/.test(hostname)) {
    return "is all digits, which Windows refuses. Add at least one letter";
  }
  if (osType === "Windows" && (windowsReservedNames as readonly string[]).includes(hostname.toUpperCase())) {
    return "is a name Windows reserves (KB 909264). Pick another";
  }
  return undefined;
}

/**
 * A protected workload: VMs that fail over together. Where to is its landing zone's (the blueprint
 * stack's ferry:landingZoneStack); that no row fails over into its own region is checked against it
 * when the blueprint is planned.
 */
export const BlueprintSchema = z
  .strictObject({
    name: resourceName,
    target: TargetSchema,
    /**
     * Recovery point objective, in seconds: the oldest a recovery point may be when a failover starts. The
     * precheck fails a point older than this (unless the operator accepts an older one), `ferry sources list`
     * shows each disk's lag against it, and a drill fails on it. Unset: no target, nothing judged.
     */
    rpoTargetSeconds: z.int().min(1).optional(),
    /**
     * Recovery time objective, in seconds: from the failover's start to the last row's readiness (VM created,
     * OS ready or app ready, as each row's readiness says). A drill fails on it. Unset: no target.
     */
    rtoTargetSeconds: z.int().min(1).optional(),
    rows: z.array(BlueprintRowSchema).min(1),
    /**
     * How long the recovery points in the DR region are kept (core/schemas/retention.ts). Default: every point of
     * the last hour, one an hour for a day, one a day for a week. `ferry sources enable` carries it to the daemon.
     */
    retention: RetentionSchema.optional(),
  })
  .superRefine((blueprint, ctx) => {
    if (!Array.isArray(blueprint.rows)) return;
    const rows: unknown[] = blueprint.rows;
    const target: unknown = blueprint.target;
    const vmSizes =
      isRecord(target) && Array.isArray(target.vmSizes)
        ? target.vmSizes.filter((s) => typeof s === "string")
        : undefined;

    const rowByName = new Map<string, number>();
    const diskUse = new Map<string, string>();
    rows.forEach((row, i) => {
      if (!isRecord(row)) return;
      const here = (...path: (string | number)[]) => ["rows", i, ...path];

      if (typeof row.name === "string") {
        // Names become Azure resource names, which compare case-insensitively.
        const first = rowByName.get(row.name.toLowerCase());
        if (first === undefined) rowByName.set(row.name.toLowerCase(), i);
        else
          ctx.addIssue({
            code: "custom",
            path: here("name"),
            message: `"${row.name}" is already the name of rows[${first}]. Give each row a unique name`,
          });
      }

      const disks: { id: unknown; path: (string | number)[] }[] = [];
      if (isRecord(row.osDisk)) disks.push({ id: row.osDisk.sourceDiskId, path: ["osDisk", "sourceDiskId"] });
      if (Array.isArray(row.dataDisks)) {
        row.dataDisks.forEach((d: unknown, j) => {
          if (isRecord(d)) disks.push({ id: d.sourceDiskId, path: ["dataDisks", j, "sourceDiskId"] });
        });
      }
      for (const disk of disks) {
        if (typeof disk.id !== "string") continue;
        const key = normalizeResourceId(disk.id);
        const where = formatIssuePath(here(...disk.path));
        const first = diskUse.get(key);
        if (first === undefined) diskUse.set(key, where);
        else
          ctx.addIssue({
            code: "custom",
            path: here(...disk.path),
            message: `is already used by ${first}. A source disk belongs to one row only; remove the duplicate`,
          });
      }

      // A malformed size already has its own problem; "not in vmSizes" would only repeat it.
      const sizeIsWellFormed = vmSizeName.safeParse(row.vmSize).success;
      if (typeof row.vmSize === "string" && sizeIsWellFormed && vmSizes !== undefined && vmSizes.length > 0) {
        const wanted = row.vmSize.toLowerCase();
        if (!vmSizes.some((s) => s.toLowerCase() === wanted)) {
          ctx.addIssue({
            code: "custom",
            path: here("vmSize"),
            message: `"${row.vmSize}" is not in target.vmSizes. Use one of: ${vmSizes.join(", ")}, or add it to target.vmSizes`,
          });
        }
      }
    });
  }, evenWithFieldIssues);
export type Blueprint = z.infer<typeof BlueprintSchema>;
