import { describe, expect, it } from "vitest";
import { isFerryError } from "../../../core/errors";
import type { Device } from "../../../sync/device";
import type { Range } from "../../../sync/ranges";
import { SIGNATURE_AREAS, detectSignatures, wipeSignatures } from "../../../sync/signatures";
import type { Signature } from "../../../sync/signatures";
import { pattern } from "../../helpers/bytes";

const KiB = 1024;
const MiB = 1024 * KiB;
// Not a multiple of 64 KiB nor of 4 KiB, so the md 1.0 and 0.90 offsets need their rounding.
const SIZE = 16 * MiB + 5 * 4096 + 1536;

/** Reads from an in-memory image; a read past its end fails the test (small disks must be skipped). */
function reader(image: Buffer, log?: Range[]) {
  return async (offset: number, length: number): Promise<Buffer> => {
    if (offset < 0 || length < 0 || offset + length > image.length)
      throw new Error(`read [${offset}, ${offset + length}) past the end of ${image.length}`);
    log?.push({ start: offset, end: offset + length });
    return image.subarray(offset, offset + length);
  };
}

const detect = (image: Buffer, log?: Range[]) => detectSignatures(reader(image, log), image.length);

function put(image: Buffer, offset: number, magic: string | number[]): Buffer {
  (typeof magic === "string" ? Buffer.from(magic, "latin1") : Buffer.from(magic)).copy(image, offset);
  return image;
}

const MD_LE = [0xfc, 0x4e, 0x2b, 0xa9];

/**
 * Each signature at its place on an empty image, and what must be found. `alone`: it shares its
 * bytes with another case (sector 0), so {@link everything} leaves it out.
 */
const cases: { name: string; build: (img: Buffer) => void; expected: Signature[]; alone?: true }[] = [
  {
    name: "an MBR (DOS) partition table",
    alone: true,
    build: (img) => {
      put(img, 446, [0x80, 0, 0, 0, 0x83]);
      put(img, 510, [0x55, 0xaa]);
    },
    expected: [{ kind: "dos", offset: 510 }],
  },
  {
    name: "a GPT with its protective MBR and backup header",
    build: (img) => {
      put(img, 446 + 4, [0xee]);
      put(img, 510, [0x55, 0xaa]);
      put(img, 512, "EFI PART");
      put(img, img.length - 512, "EFI PART");
    },
    expected: [
      { kind: "PMBR", offset: 510 },
      { kind: "gpt", offset: 512 },
      { kind: "gpt", offset: SIZE - 512 },
    ],
  },
  {
    name: "a GPT whose primary header was lost (backup only)",
    build: (img) => put(img, img.length - 512, "EFI PART"),
    expected: [{ kind: "gpt", offset: SIZE - 512 }],
  },
  { name: "ext2", build: (img) => put(img, 1080, [0x53, 0xef]), expected: [{ kind: "ext2", offset: 1080 }] },
  {
    name: "ext3 (has_journal)",
    build: (img) => put(put(img, 1080, [0x53, 0xef]), 1024 + 0x5c, [0x04, 0, 0, 0]),
    expected: [{ kind: "ext3", offset: 1080 }],
  },
  {
    name: "ext4 (extents)",
    build: (img) => put(put(put(img, 1080, [0x53, 0xef]), 1024 + 0x5c, [0x04, 0, 0, 0]), 1024 + 0x60, [0x42, 0, 0, 0]),
    expected: [{ kind: "ext4", offset: 1080 }],
  },
  { name: "XFS", alone: true, build: (img) => put(img, 0, "XFSB"), expected: [{ kind: "xfs", offset: 0 }] },
  { name: "btrfs", build: (img) => put(img, 65536 + 64, "_BHRfS_M"), expected: [{ kind: "btrfs", offset: 65600 }] },
  ...[0, 1, 2, 3].map((sector) => ({
    name: `an LVM2 PV label in sector ${sector}`,
    build: (img: Buffer) => put(put(img, sector * 512, "LABELONE"), sector * 512 + 24, "LVM2 001"),
    expected: [{ kind: "LVM2_member", offset: sector * 512 + 24 }],
  })),
  {
    name: "LABELONE without the LVM2 type (not LVM)",
    build: (img) => put(img, 512, "LABELONE"),
    expected: [],
  },
  {
    name: "md RAID 1.2",
    build: (img) => put(img, 4096, MD_LE),
    expected: [{ kind: "linux_raid_member", offset: 4096 }],
  },
  {
    name: "md RAID 1.1",
    alone: true,
    build: (img) => put(img, 0, MD_LE),
    expected: [{ kind: "linux_raid_member", offset: 0 }],
  },
  {
    name: "md RAID 1.0 (8 KiB before the end, 4 KiB aligned)",
    build: (img) => put(img, Math.floor((img.length - 8192) / 4096) * 4096, MD_LE),
    expected: [{ kind: "linux_raid_member", offset: 16 * MiB + 3 * 4096 }],
  },
  {
    name: "md RAID 0.90 (last 64 KiB-aligned block)",
    build: (img) => put(img, (Math.floor(img.length / 65536) - 1) * 65536, MD_LE),
    expected: [{ kind: "linux_raid_member", offset: 16 * MiB - 65536 }],
  },
  {
    name: "md RAID 0.90 written by a big-endian host",
    build: (img) => put(img, (Math.floor(img.length / 65536) - 1) * 65536, [...MD_LE].reverse()),
    expected: [{ kind: "linux_raid_member", offset: 16 * MiB - 65536 }],
  },
  {
    name: "swap (SWAPSPACE2)",
    build: (img) => put(img, 4086, "SWAPSPACE2"),
    expected: [{ kind: "swap", offset: 4086 }],
  },
  {
    name: "old swap (SWAP-SPACE)",
    build: (img) => put(img, 4086, "SWAP-SPACE"),
    expected: [{ kind: "swap", offset: 4086 }],
  },
  {
    name: "swap made with 64 KiB pages",
    build: (img) => put(img, 65526, "SWAPSPACE2"),
    expected: [{ kind: "swap", offset: 65526 }],
  },
  {
    name: "an NTFS boot sector (its 0x55AA is not an MBR)",
    alone: true,
    build: (img) => put(put(img, 3, "NTFS    "), 510, [0x55, 0xaa]),
    expected: [{ kind: "ntfs", offset: 3 }],
  },
  {
    name: "a FAT16 boot sector (its 0x55AA is not an MBR)",
    alone: true,
    build: (img) => put(put(img, 54, "FAT16   "), 510, [0x55, 0xaa]),
    expected: [{ kind: "vfat", offset: 54 }],
  },
  { name: "FAT12", alone: true, build: (img) => put(img, 54, "FAT12   "), expected: [{ kind: "vfat", offset: 54 }] },
  {
    name: "a FAT32 boot sector",
    alone: true,
    build: (img) => put(put(img, 82, "FAT32   "), 510, [0x55, 0xaa]),
    expected: [{ kind: "vfat", offset: 82 }],
  },
  {
    name: "an exFAT boot sector",
    alone: true,
    build: (img) => put(put(img, 3, "EXFAT   "), 510, [0x55, 0xaa]),
    expected: [{ kind: "exfat", offset: 3 }],
  },
  { name: "LUKS", build: (img) => put(img, 0, "LUKS\xba\xbe"), expected: [{ kind: "crypto_LUKS", offset: 0 }] },
  {
    name: "LUKS2's secondary header at 4 MiB (primary lost)",
    build: (img) => put(img, 4 * MiB, "SKUL\xba\xbe"),
    expected: [{ kind: "crypto_LUKS", offset: 4 * MiB }],
  },
  { name: "ISO9660", build: (img) => put(img, 32769, "CD001"), expected: [{ kind: "iso9660", offset: 32769 }] },
];

/** Every signature of the table on one image (those that can share it). */
function everything(size = SIZE): Buffer {
  const img = Buffer.alloc(size);
  for (const c of cases) if (!c.alone) c.build(img);
  return img;
}

describe("detectSignatures", () => {
  it.each(cases)("finds $name", async ({ build, expected }) => {
    const img = Buffer.alloc(SIZE);
    build(img);
    expect(await detect(img)).toEqual(expected);
  });

  it("finds nothing on an all-zero disk", async () => {
    expect(await detect(Buffer.alloc(SIZE))).toEqual([]);
  });

  it("finds nothing on random data", async () => {
    for (const seed of [1, 2, 3, 42, 1234]) {
      expect(await detect(pattern(seed, 8 * MiB)), `seed ${seed}`).toEqual([]);
    }
  });

  it("finds several at once, sorted by offset", async () => {
    const found = await detect(everything());
    expect(found.map((s) => s.offset)).toEqual([...found.map((s) => s.offset)].sort((a, b) => a - b));
    expect(new Set(found.map((s) => s.kind))).toEqual(
      new Set(["PMBR", "gpt", "ext4", "btrfs", "LVM2_member", "linux_raid_member", "swap", "crypto_LUKS", "iso9660"]),
    );
  });

  it("skips offsets beyond a small disk, without reading past its end", async () => {
    for (const size of [0, 1, 511, 512, 1081, 4096, 8192, 65536, 65600]) {
      const img = Buffer.alloc(size);
      if (size >= 1082) put(img, 1080, [0x53, 0xef]);
      const expected = size >= 1082 ? [{ kind: "ext2", offset: 1080 }] : [];
      expect(await detect(img), `size ${size}`).toEqual(expected);
    }
    const tiny = put(Buffer.alloc(4096), 0, "XFSB");
    expect(await detect(tiny)).toEqual([{ kind: "xfs", offset: 0 }]);
  });

  it("reads only inside SIGNATURE_AREAS", async () => {
    for (const size of [SIZE, 100 * MiB, 9 * MiB + 512, 3 * MiB]) {
      const log: Range[] = [];
      // A reader over a virtual zero image, so a 100 MiB disk costs nothing.
      const read = async (offset: number, length: number) => {
        log.push({ start: offset, end: offset + length });
        return Buffer.alloc(length);
      };
      await detectSignatures(read, size);
      const areas = SIGNATURE_AREAS(size);
      for (const r of log)
        expect(
          areas.some((a) => a.start <= r.start && r.end <= a.end),
          `[${r.start}, ${r.end}) of ${size}`,
        ).toBe(true);
    }
  });
});

describe("SIGNATURE_AREAS", () => {
  it("is the first 8 MiB and the last MiB, clipped and merged on small disks", () => {
    expect(SIGNATURE_AREAS(100 * MiB)).toEqual([
      { start: 0, end: 8 * MiB },
      { start: 99 * MiB, end: 100 * MiB },
    ]);
    expect(SIGNATURE_AREAS(9 * MiB)).toEqual([{ start: 0, end: 9 * MiB }]);
    expect(SIGNATURE_AREAS(4096)).toEqual([{ start: 0, end: 4096 }]);
    expect(SIGNATURE_AREAS(0)).toEqual([]);
  });

  it("leaves nothing to find once zeroed, even amid random data", async () => {
    for (const size of [SIZE, 9 * MiB + 512, 1 * MiB]) {
      const img = pattern(7, size);
      const all = everything(size);
      all.copy(img, 0, 0, 8 * MiB);
      all.copy(img, Math.max(0, size - MiB), Math.max(0, size - MiB));
      for (const a of SIGNATURE_AREAS(size)) img.fill(0, a.start, a.end);
      expect(await detect(img), `size ${size}`).toEqual([]);
    }
  });
});

/** A Device over an in-memory image, recording what was done to it. */
function memoryDevice(image: Buffer, options: { zeroTakes?: boolean } = {}): Device & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    path: "/dev/disk/azure/scsi1/lun3",
    realPath: "/dev/sdd",
    kind: "block",
    sizeBytes: image.length,
    writable: true,
    read: reader(image),
    readInto: async (offset, target) => void image.copy(target, 0, offset, offset + target.length),
    dataExtents: async () => undefined,
    write: async (offset, data) => void data.copy(image, offset),
    zero: async (ranges) => {
      calls.push(`zero ${ranges.map((r) => `[${r.start}, ${r.end})`).join(" ")}`);
      if (options.zeroTakes !== false) for (const r of ranges) image.fill(0, r.start, r.end);
    },
    sync: async () => void calls.push("sync"),
    close: async () => undefined,
  };
}

describe("wipeSignatures", () => {
  it("zeroes the signature areas, then fsyncs", async () => {
    const img = everything();
    const device = memoryDevice(img);
    await wipeSignatures(device);
    expect(device.calls).toEqual([`zero [0, ${8 * MiB}) [${SIZE - MiB}, ${SIZE})`, "sync"]);
    expect(await detect(img)).toEqual([]);
  });

  it("fails when signatures are still there afterwards", async () => {
    const device = memoryDevice(everything(), { zeroTakes: false });
    const e = await wipeSignatures(device).catch((x: unknown) => x);
    expect(isFerryError(e) && e.code).toBe("WipeFailed");
    expect((e as Error).message).toContain("/dev/disk/azure/scsi1/lun3");
  });
});
