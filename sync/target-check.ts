import { readFile, realpath } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { FerryError, UserError, isFerryError } from "../core/errors";
import { openDevice } from "./device";
import type { Device, DeviceKind } from "./device";
import { detectSignatures } from "./signatures";
import type { Signature } from "./signatures";

// The checks before a staging disk is first written ("enable"). Read-only by construction: the
// device is opened without write access, so a refused check cannot have changed a byte.

/** How a staging disk that may hold data is prepared before backfill. */
export type TargetPrepare = "wipe" | "keep" | "empty";

/** What {@link checkTarget} checks. */
export interface TargetCheckInput {
  /** The staging disk's device path on the appliance, e.g. `/dev/disk/azure/scsi1/lun3`. */
  devicePath: string;
  /** Size of the source disk, in bytes. The staging disk must be at least as large. */
  sourceSizeBytes: number;
  /**
   * `wipe`: signatures will be erased; `keep`: continue without wiping (backfill zeroes everything
   * outside the source's data); `empty`: the operator expects a blank disk, so any signature refuses it.
   */
  prepare: TargetPrepare;
  /** ARM id of the staging disk. */
  stagingDiskId: string;
  /** ARM id of the source disk it is for. */
  sourceDiskId: string;
}

/** The outside world {@link checkTarget} looks at. */
export interface TargetCheckContext {
  /** The mount table, in `/proc/mounts` format. Default: reads `/proc/self/mounts`. */
  readMounts?: () => Promise<string>;
  /**
   * The source disk id that already uses this staging disk, if any (ARM ids, compared without
   * case). Default: none, the check is skipped (no state store to ask).
   */
  assignedTo?: (stagingDiskId: string) => Promise<string | undefined>;
  /** Root of sysfs, where a block device's size is read. Default: "/sys". */
  sysfsRoot?: string;
}

/** What the accepted staging disk is. */
export interface TargetCheckResult {
  sizeBytes: number;
  /** Signatures found; empty unless `prepare` is "wipe" or "keep". */
  signatures: Signature[];
  kind: DeviceKind;
}

/** A mount of the device or of one of its partitions. */
interface MountHit {
  source: string;
  mountPoint: string;
}

const GiB = 1024 ** 3;

/**
 * Checks a staging disk before it is first written. Throws a UserError with code "TargetRejected",
 * listing every problem and what to do about it, when the device is missing, smaller than the
 * source, mounted (itself or a partition) or held by the kernel, already assigned to another
 * source, or holds a signature while `prepare` is "empty". Never writes to the device.
 */
export async function checkTarget(
  input: TargetCheckInput,
  context: TargetCheckContext = {},
): Promise<TargetCheckResult> {
  const { devicePath, stagingDiskId, sourceDiskId } = input;
  // A NaN or negative size would pass every comparison below: a bug of the caller, not the operator's.
  if (!Number.isSafeInteger(input.sourceSizeBytes) || input.sourceSizeBytes <= 0) {
    throw new FerryError(`sourceSizeBytes must be a positive integer, got ${input.sourceSizeBytes}.`, {
      code: "InvalidArgument",
    });
  }
  const reject = (problems: { reason: string; text: string }[], cause?: unknown, realPath?: string): UserError => {
    const head = `The staging disk ${stagingDiskId} (${devicePath}) cannot be used for source ${sourceDiskId}`;
    const message =
      problems.length === 1
        ? `${head}: ${problems[0]!.text}`
        : `${head}:\n${problems.map((p) => `- ${p.text}`).join("\n")}`;
    return new UserError(message, {
      code: "TargetRejected",
      cause,
      details: { devicePath, realPath, stagingDiskId, sourceDiskId, reasons: problems.map((p) => p.reason) },
    });
  };

  // Exclusive: for a block device the kernel itself says whether anything holds it, including
  // mounts this process cannot see in /proc/self/mounts (another mount namespace).
  let device: Device;
  let busy = false;
  try {
    device = await openDevice(devicePath, { exclusive: true, sysfsRoot: context.sysfsRoot });
  } catch (e) {
    if (isFerryError(e) && e.code === "DeviceMissing") {
      throw reject(
        [
          {
            reason: "Missing",
            text: `${devicePath} does not exist. Attach the staging disk to the sync appliance and check the LUN in the device path.`,
          },
        ],
        e,
      );
    }
    if (!isFerryError(e) || e.code !== "DeviceBusy") throw e;
    busy = true;
    device = await openDevice(devicePath, { sysfsRoot: context.sysfsRoot });
  }

  const problems: { reason: string; text: string }[] = [];
  let signatures: Signature[];
  try {
    if (device.sizeBytes < input.sourceSizeBytes) {
      problems.push({
        reason: "TooSmall",
        text:
          `it holds ${formatSize(device.sizeBytes)}, less than the source's ${formatSize(input.sourceSizeBytes)}. ` +
          `Resize the staging disk to at least ${formatSize(input.sourceSizeBytes)} (it can grow while detached ` +
          `or while the appliance is deallocated), or choose a larger one.`,
      });
    }

    const mounts = await findMounts(device.realPath, await (context.readMounts ?? readProcMounts)());
    if (mounts.length > 0) {
      const where = mounts.map((m) => `${m.mountPoint} (as ${m.source})`).join(", ");
      problems.push({
        reason: "Mounted",
        text: `it is mounted at ${where}. Unmount it, and make sure it is not the appliance's own disk (check the LUN).`,
      });
    } else if (busy) {
      problems.push({
        reason: "InUse",
        text:
          `the system holds ${device.realPath} (mounted in another namespace, an LVM or RAID member, active swap, ` +
          `or opened exclusively by another program). Release it, and make sure it is not the appliance's own disk.`,
      });
    }

    const owner = await context.assignedTo?.(stagingDiskId);
    if (owner !== undefined && owner.toLowerCase() !== sourceDiskId.toLowerCase()) {
      problems.push({
        reason: "Assigned",
        text: `it is already the staging disk of source ${owner}. Disable DR for that source first, or choose another staging disk.`,
      });
    }

    signatures = await detectSignatures((offset, length) => device.read(offset, length), device.sizeBytes);
    if (signatures.length > 0 && input.prepare === "empty") {
      const list = signatures.map((s) => `${s.kind} at offset ${s.offset}`).join(", ");
      problems.push({
        reason: "NotEmpty",
        text:
          `it is not empty: ${list}. Choose prepare "wipe" to erase it, or "keep" to continue without wiping ` +
          `(backfill then zeroes everything outside the source's data).`,
      });
    }
  } finally {
    await device.close();
  }

  if (problems.length > 0) throw reject(problems, undefined, device.realPath);
  return { sizeBytes: device.sizeBytes, signatures, kind: device.kind };
}

/**
 * The mounts of a device or of its partitions in a mount table (`/proc/mounts` format). Sources are
 * compared by real path, so a table that names the device by a `/dev/disk/...` symlink matches.
 */
export async function findMounts(deviceRealPath: string, mountsTable: string): Promise<MountHit[]> {
  const entries = parseMounts(mountsTable).filter((m) => m.source.startsWith("/"));
  const resolved = await Promise.all(
    // A source that does not resolve (`/dev/root`, a vanished device) is compared as written.
    entries.map(async (m) => ({ ...m, real: await realpath(m.source).catch(() => m.source) })),
  );
  return resolved
    .filter((m) => m.real === deviceRealPath || isPartitionOf(m.real, deviceRealPath))
    .map(({ source, mountPoint }) => ({ source, mountPoint }));
}

/**
 * True when `candidate` names a partition of `device` as the kernel names them: `sdc1` (or `sdcp1`)
 * of `sdc`; `nvme0n1p1` of `nvme0n1` — a name ending in a digit takes a "p", so `nvme0n11` is
 * another namespace, not a partition.
 */
export function isPartitionOf(candidate: string, device: string): boolean {
  if (dirname(candidate) !== dirname(device)) return false;
  const name = basename(device);
  const part = basename(candidate);
  if (!part.startsWith(name)) return false;
  const rest = part.slice(name.length);
  return /\d$/.test(name) ? /^p\d+$/.test(rest) : /^p?\d+$/.test(rest);
}

function parseMounts(table: string): { source: string; mountPoint: string }[] {
  const out: { source: string; mountPoint: string }[] = [];
  for (const line of table.split("\n")) {
    const [source, mountPoint] = line.trim().split(/\s+/);
    if (source && mountPoint)
      out.push({ source: unescapeMountField(source), mountPoint: unescapeMountField(mountPoint) });
  }
  return out;
}

// The kernel writes space, tab, newline and backslash in mount fields as octal escapes (\040).
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function readProcMounts(): Promise<string> {
  return readFile("/proc/self/mounts", "utf8");
}

function formatSize(bytes: number): string {
  const gib = bytes / GiB;
  const text = gib >= 1 ? String(Number(gib.toFixed(2))) : String(Number(gib.toPrecision(3)));
  return `${text} GiB (${bytes} bytes)`;
}
