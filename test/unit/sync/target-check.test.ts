import { createHash } from "node:crypto";
import {
  createReadStream,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFerryError, isUserError } from "../../../core/errors";
import { checkTarget, findMounts, isPartitionOf } from "../../../sync/target-check";
import type { TargetCheckContext, TargetCheckInput } from "../../../sync/target-check";
import { writeAt } from "../../helpers/bytes";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const SOURCE = "/subscriptions/s/resourceGroups/prod/providers/Microsoft.Compute/disks/app-data";
const OTHER_SOURCE = "/subscriptions/s/resourceGroups/prod/providers/Microsoft.Compute/disks/db-data";
const STAGING = "/subscriptions/s/resourceGroups/dr/providers/Microsoft.Compute/disks/app-data-staging";

// What /proc/self/mounts looks like on an appliance: its own OS disk and a few pseudo filesystems.
const BASE_MOUNTS = [
  "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0",
  "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0",
  "/dev/sda1 / ext4 rw,relatime,discard 0 0",
  "/dev/sda15 /boot/efi vfat rw,relatime 0 0",
  "/dev/sdb1 /mnt ext4 rw,relatime 0 0",
  "tmpfs /run tmpfs rw,nosuid,nodev,size=1637904k,mode=755 0 0",
].join("\n");

let root: string;
let seq = 0;

beforeAll(() => {
  // Real path of the temp folder: mount sources are compared by real path.
  root = realpathSync(mkdtempSync(join(tmpdir(), "ferry-target-")));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

// Small, so that hashing the whole device before and after each check stays quick.
const DISK = 16 * MiB;

/** A sparse staging disk named like a kernel device, and a `lunN` symlink to it as the emulator makes. */
function stagingDisk(name = "sdc", sizeBytes = DISK): { file: string; link: string; dir: string } {
  const dir = join(root, `dev${seq++}`);
  mkdirSync(join(dir, "disk", "azure", "scsi1"), { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, "");
  truncateSync(file, sizeBytes);
  const link = join(dir, "disk", "azure", "scsi1", "lun3");
  symlinkSync(file, link);
  return { file, link, dir };
}

function input(devicePath: string, extra: Partial<TargetCheckInput> = {}): TargetCheckInput {
  return {
    devicePath,
    sourceSizeBytes: DISK,
    prepare: "empty",
    stagingDiskId: STAGING,
    sourceDiskId: SOURCE,
    ...extra,
  };
}

function context(extra: Partial<TargetCheckContext> = {}): TargetCheckContext {
  return { readMounts: async () => BASE_MOUNTS, assignedTo: async () => undefined, ...extra };
}

/** Everything a write could change: the bytes, the size and the times. */
async function fingerprint(file: string) {
  const st = statSync(file, { bigint: true });
  const hash = createHash("sha256");
  await pipeline(createReadStream(file, { highWaterMark: 4 * MiB }), hash);
  return {
    sha256: hash.digest("hex"),
    size: st.size,
    mtimeNs: st.mtimeNs,
    ctimeNs: st.ctimeNs,
  };
}

/** The refusal of a check, after asserting it is a TargetRejected UserError that changed nothing. */
async function rejection(
  file: string,
  i: TargetCheckInput,
  c: TargetCheckContext,
): Promise<{ message: string; reasons: unknown }> {
  const before = await fingerprint(file);
  let thrown: unknown;
  try {
    await checkTarget(i, c);
  } catch (e) {
    thrown = e;
  }
  expect(isUserError(thrown), String(thrown)).toBe(true);
  const e = thrown as Error & { code: string; details: Record<string, unknown> };
  expect(e.code).toBe("TargetRejected");
  expect(await fingerprint(file)).toEqual(before);
  return { message: e.message, reasons: e.details.reasons };
}

function ext4(file: string): void {
  writeAt(file, 1080, Buffer.from([0x53, 0xef]));
  writeAt(file, 1024 + 0x60, Buffer.from([0x42, 0, 0, 0]));
}

describe("checkTarget accepts", () => {
  it("an empty disk as large as the source, through its symlink", async () => {
    const { link } = stagingDisk();
    expect(await checkTarget(input(link), context())).toEqual({ sizeBytes: DISK, signatures: [], kind: "file" });
  });

  it("a larger disk, and no state store to ask", async () => {
    const { link } = stagingDisk("sdd", 2 * DISK);
    const result = await checkTarget(input(link), { readMounts: async () => BASE_MOUNTS });
    expect(result.sizeBytes).toBe(2 * DISK);
  });

  it("a disk already assigned to this same source (ids compared without case)", async () => {
    const { link } = stagingDisk();
    await expect(
      checkTarget(input(link), context({ assignedTo: async () => SOURCE.toUpperCase() })),
    ).resolves.toMatchObject({ kind: "file" });
  });

  it.each(["wipe", "keep"] as const)("a disk with a filesystem when prepare is %s, reporting it", async (prepare) => {
    const { file, link } = stagingDisk();
    ext4(file);
    const before = await fingerprint(file);
    expect(await checkTarget(input(link, { prepare }), context())).toEqual({
      sizeBytes: DISK,
      signatures: [{ kind: "ext4", offset: 1080 }],
      kind: "file",
    });
    expect(await fingerprint(file)).toEqual(before);
  });

  it("when another disk's namespace is mounted (nvme0n11 is not a partition of nvme0n1)", async () => {
    const { link, dir } = stagingDisk("nvme0n1");
    const mounts = `${BASE_MOUNTS}\n${join(dir, "nvme0n11")} /data ext4 rw 0 0\n${join(dir, "nvme0n1x")} /x ext4 rw 0 0`;
    await expect(checkTarget(input(link), context({ readMounts: async () => mounts }))).resolves.toMatchObject({
      kind: "file",
    });
  });
});

describe("checkTarget refuses", () => {
  it("a missing device, saying to attach it", async () => {
    const { file, dir } = stagingDisk();
    const missing = join(dir, "disk", "azure", "scsi1", "lun9");
    const { message, reasons } = await rejection(file, input(missing), context());
    expect(reasons).toEqual(["Missing"]);
    expect(message).toContain(STAGING);
    expect(message).toContain(`${missing} does not exist`);
    expect(message).toContain("Attach the staging disk to the sync appliance");
  });

  it("a disk smaller than the source, with both sizes in GiB and bytes", async () => {
    const { file, link } = stagingDisk();
    const { message, reasons } = await rejection(file, input(link, { sourceSizeBytes: 1.5 * GiB }), context());
    expect(reasons).toEqual(["TooSmall"]);
    expect(message).toContain(
      "it holds 0.0156 GiB (16777216 bytes), less than the source's 1.5 GiB (1610612736 bytes)",
    );
    expect(message).toContain("1.5 GiB (1610612736 bytes)");
    expect(message).toContain("Resize the staging disk to at least 1.5 GiB");
  });

  it("a mounted disk, naming the mount point", async () => {
    const { file, link } = stagingDisk();
    const mounts = `${BASE_MOUNTS}\n${file} /mnt/old\\040data ext4 rw,relatime 0 0`;
    const { message, reasons } = await rejection(file, input(link), context({ readMounts: async () => mounts }));
    expect(reasons).toEqual(["Mounted"]);
    expect(message).toContain("mounted at /mnt/old data");
    expect(message).toContain("Unmount it");
    expect(message).toContain("not the appliance's own disk");
  });

  it("a disk the mount table names by a /dev/disk/... symlink", async () => {
    const { file, link, dir } = stagingDisk();
    mkdirSync(join(dir, "disk", "by-uuid"));
    const byUuid = join(dir, "disk", "by-uuid", "0b6a4c5e");
    symlinkSync(file, byUuid);
    const mounts = `${BASE_MOUNTS}\n${byUuid} /srv ext4 rw 0 0`;
    const { message } = await rejection(file, input(link), context({ readMounts: async () => mounts }));
    expect(message).toContain(`mounted at /srv (as ${byUuid})`);
  });

  it.each([
    ["sdc", "sdc1"],
    ["sdc", "sdcp1"],
    ["sdc", "sdc15"],
    ["nvme0n1", "nvme0n1p1"],
    ["nvme0n1", "nvme0n1p12"],
  ])("a disk %s whose partition %s is mounted", async (name, partition) => {
    const { file, link, dir } = stagingDisk(name);
    const mounts = `${BASE_MOUNTS}\n${join(dir, partition)} /var/lib/app xfs rw 0 0`;
    const { message, reasons } = await rejection(file, input(link), context({ readMounts: async () => mounts }));
    expect(reasons).toEqual(["Mounted"]);
    expect(message).toContain(`mounted at /var/lib/app (as ${join(dir, partition)})`);
  });

  it("a partition mounted through a symlink to it", async () => {
    const { file, link, dir } = stagingDisk();
    const part = join(dir, "sdc1");
    writeFileSync(part, "");
    const partLink = join(dir, "disk", "azure", "scsi1", "lun3-part1");
    symlinkSync(part, partLink);
    const mounts = `${BASE_MOUNTS}\n${partLink} /data ext4 rw 0 0`;
    const { reasons } = await rejection(file, input(link), context({ readMounts: async () => mounts }));
    expect(reasons).toEqual(["Mounted"]);
  });

  it("a disk assigned to another source, naming it", async () => {
    const { file, link } = stagingDisk();
    const asked: string[] = [];
    const assignedTo = async (id: string) => (asked.push(id), OTHER_SOURCE);
    const { message, reasons } = await rejection(file, input(link), context({ assignedTo }));
    expect(asked).toEqual([STAGING]);
    expect(reasons).toEqual(["Assigned"]);
    expect(message).toContain(`already the staging disk of source ${OTHER_SOURCE}`);
    expect(message).toContain("Disable DR for that source first");
  });

  it("a disk holding a filesystem when prepare is empty, saying to choose wipe or keep", async () => {
    const { file, link } = stagingDisk();
    ext4(file);
    const { message, reasons } = await rejection(file, input(link, { prepare: "empty" }), context());
    expect(reasons).toEqual(["NotEmpty"]);
    expect(message).toContain("ext4 at offset 1080");
    expect(message).toContain('Choose prepare "wipe" to erase it, or "keep" to continue without wiping');
    expect(message).toContain("backfill then zeroes everything outside the source's data");
  });

  it("with every problem at once, one line each", async () => {
    const { file, link } = stagingDisk();
    ext4(file);
    const mounts = `${BASE_MOUNTS}\n${file} /mnt ext4 rw 0 0`;
    const { message, reasons } = await rejection(
      file,
      input(link, { sourceSizeBytes: 2 * DISK }),
      context({ readMounts: async () => mounts, assignedTo: async () => OTHER_SOURCE }),
    );
    expect(reasons).toEqual(["TooSmall", "Mounted", "Assigned", "NotEmpty"]);
    expect(message.split("\n")).toHaveLength(5);
  });
});

describe("checkTarget's arguments", () => {
  it("refuses a source size that is not a positive integer (a caller's bug)", async () => {
    const { link } = stagingDisk();
    const e = await checkTarget(input(link, { sourceSizeBytes: Number.NaN }), context()).catch((x: unknown) => x);
    expect(isUserError(e)).toBe(false);
    expect(isFerryError(e) && e.code).toBe("InvalidArgument");
  });
});

describe("partitions and mounts", () => {
  it("names partitions as the kernel does", () => {
    expect(isPartitionOf("/dev/sdc1", "/dev/sdc")).toBe(true);
    expect(isPartitionOf("/dev/sdcp1", "/dev/sdc")).toBe(true);
    expect(isPartitionOf("/dev/nvme0n1p1", "/dev/nvme0n1")).toBe(true);
    expect(isPartitionOf("/dev/nvme0n11", "/dev/nvme0n1")).toBe(false);
    expect(isPartitionOf("/dev/sdcc1", "/dev/sdc")).toBe(false);
    expect(isPartitionOf("/dev/sdc", "/dev/sdc")).toBe(false);
    expect(isPartitionOf("/dev/mapper/sdc1", "/dev/sdc")).toBe(false);
  });

  it("finds nothing of the device in an appliance's usual table", async () => {
    expect(await findMounts("/dev/sdc", BASE_MOUNTS)).toEqual([]);
    expect(await findMounts("/dev/sda", BASE_MOUNTS)).toEqual([
      { source: "/dev/sda1", mountPoint: "/" },
      { source: "/dev/sda15", mountPoint: "/boot/efi" },
    ]);
  });
});
