import { FerryError } from "../core/errors";
import type { Device } from "./device";
import type { Range } from "./ranges";

// What wipefs/blkid would find on a staging disk before it is first written: partition tables,
// filesystems, volume-manager and RAID members, swap, encryption headers. Pure probing over a
// read function, so unit tests run it on in-memory images.

/** A signature found on a device: its blkid type and the byte offset of its magic (as wipefs prints). */
export interface Signature {
  /**
   * blkid's name: "dos", "PMBR", "gpt", "ext2", "ext3", "ext4", "jbd", "xfs", "btrfs", "LVM2_member",
   * "linux_raid_member", "swap", "ntfs", "exfat", "vfat", "crypto_LUKS", "iso9660".
   */
  kind: string;
  offset: number;
}

/** Reads exactly `length` bytes at `offset`. */
export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

const KiB = 1024;
const MiB = 1024 * KiB;
// LUKS2 keeps a second header at one of these offsets, the last one at 4 MiB: a wipe of the first
// MiB alone would leave the volume recognisable.
const LUKS2_SECONDARY = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096].map((k) => k * KiB);
const HEAD_AREA = 8 * MiB;
// GPT's backup header (last sector) and its entries (16 KiB before it), md 1.0 (within the last
// 12 KiB) and md 0.90 (within the last 128 KiB).
const TAIL_AREA = 1 * MiB;
// Everything below is probed from two reads: the first HEAD_READ and the last TAIL_READ bytes.
const HEAD_READ = 72 * KiB;
const TAIL_READ = 128 * KiB;
const SWAP_PAGE_SIZES = [4, 8, 16, 32, 64].map((k) => k * KiB);

const MD_MAGIC_LE = Buffer.from([0xfc, 0x4e, 0x2b, 0xa9]);
// md 0.90 stores its magic in the host's byte order.
const MD_MAGIC_BE = Buffer.from([0xa9, 0x2b, 0x4e, 0xfc]);
const EXT_MAGIC = Buffer.from([0x53, 0xef]);
const BOOT_MAGIC = Buffer.from([0x55, 0xaa]);

/**
 * The byte ranges a wipe must zero so that no signature {@link detectSignatures} knows is left: the
 * first 8 MiB (boot sectors, superblocks, LVM labels, LUKS2's secondary header up to 4 MiB) and the
 * last MiB (GPT backup, md 1.0 and 0.90 superblocks), clipped to the device and merged when they meet.
 */
export function SIGNATURE_AREAS(sizeBytes: number): Range[] {
  const head = Math.min(sizeBytes, HEAD_AREA);
  const tail = Math.max(head, sizeBytes - TAIL_AREA);
  if (head <= 0) return [];
  if (tail <= head) return [{ start: 0, end: sizeBytes }];
  return [
    { start: 0, end: head },
    { start: tail, end: sizeBytes },
  ];
}

/**
 * Every signature on a device of `sizeBytes`, sorted by offset. Offsets beyond a small device are
 * skipped, never read.
 */
export async function detectSignatures(read: ReadAt, sizeBytes: number): Promise<Signature[]> {
  const p = await Probe.load(read, sizeBytes);
  const found: Signature[] = [];
  const add = (kind: string, offset: number) => {
    if (!found.some((s) => s.kind === kind && s.offset === offset)) found.push({ kind, offset });
  };

  // Sector 0: FAT, NTFS and exFAT boot sectors end in 0x55AA as an MBR does; report them as their
  // filesystem, not as a partition table.
  const bootFilesystems: Signature[] = [];
  if (p.is(3, "NTFS    ")) bootFilesystems.push({ kind: "ntfs", offset: 3 });
  if (p.is(3, "EXFAT   ")) bootFilesystems.push({ kind: "exfat", offset: 3 });
  if (p.is(54, "FAT12   ") || p.is(54, "FAT16   ")) bootFilesystems.push({ kind: "vfat", offset: 54 });
  if (p.is(82, "FAT32   ")) bootFilesystems.push({ kind: "vfat", offset: 82 });
  for (const s of bootFilesystems) add(s.kind, s.offset);
  if (bootFilesystems.length === 0 && p.is(510, BOOT_MAGIC)) {
    const types = [0, 1, 2, 3].map((i) => p.byte(446 + 16 * i + 4));
    const flags = [0, 1, 2, 3].map((i) => p.byte(446 + 16 * i));
    if (types.includes(0xee)) add("PMBR", 510);
    // blkid's test: every entry's boot flag is 0x00 or 0x80; other bytes there are boot code.
    else if (flags.every((f) => f === 0x00 || f === 0x80)) add("dos", 510);
  }

  // GPT headers at LBA 1 and the last LBA, for 512-byte and 4 KiB logical sectors.
  for (const sector of [512, 4096]) {
    if (p.is(sector, "EFI PART")) add("gpt", sector);
    if (sizeBytes >= 2 * sector && p.is(sizeBytes - sector, "EFI PART")) add("gpt", sizeBytes - sector);
  }

  if (p.is(1080, EXT_MAGIC)) add(extKind(p), 1080);
  if (p.is(0, "XFSB")) add("xfs", 0);
  if (p.is(65536 + 64, "_BHRfS_M")) add("btrfs", 65536 + 64);
  for (let sector = 0; sector < 4; sector++) {
    const at = sector * 512;
    if (p.is(at, "LABELONE") && p.is(at + 24, "LVM2 001")) add("LVM2_member", at + 24);
  }

  // md superblocks: 1.1 at the start, 1.2 at 4 KiB, 1.0 8 KiB before the end (4 KiB aligned),
  // 0.90 in the last 64 KiB-aligned 64 KiB block.
  if (p.is(0, MD_MAGIC_LE)) add("linux_raid_member", 0);
  if (p.is(4096, MD_MAGIC_LE)) add("linux_raid_member", 4096);
  if (sizeBytes >= 8192) {
    const v10 = Math.floor((sizeBytes - 8192) / 4096) * 4096;
    if (p.is(v10, MD_MAGIC_LE)) add("linux_raid_member", v10);
  }
  if (sizeBytes >= 2 * 65536) {
    const v090 = (Math.floor(sizeBytes / 65536) - 1) * 65536;
    if (p.is(v090, MD_MAGIC_LE) || p.is(v090, MD_MAGIC_BE)) add("linux_raid_member", v090);
  }

  // Swap's signature ends its first page, whatever the page size of the kernel that made it.
  for (const page of SWAP_PAGE_SIZES) {
    if (p.is(page - 10, "SWAPSPACE2") || p.is(page - 10, "SWAP-SPACE")) add("swap", page - 10);
  }

  if (p.is(0, "LUKS\xba\xbe")) add("crypto_LUKS", 0);
  for (const at of LUKS2_SECONDARY) {
    if (await p.isAnywhere(at, "SKUL\xba\xbe")) add("crypto_LUKS", at);
  }
  if (p.is(32769, "CD001")) add("iso9660", 32769);

  return found.sort((a, b) => a.offset - b.offset || a.kind.localeCompare(b.kind));
}

/** Zeroes {@link SIGNATURE_AREAS} of a writable device, fsyncs it, and checks that nothing is left. */
export async function wipeSignatures(device: Device): Promise<void> {
  await device.zero(SIGNATURE_AREAS(device.sizeBytes));
  await device.sync();
  // Cheap, and it catches a zeroing that did not take (a command that lied, a wrong device).
  const left = await detectSignatures((offset, length) => device.read(offset, length), device.sizeBytes);
  if (left.length > 0) {
    throw new FerryError(
      `Signatures are still on ${device.path} after wiping: ${left.map((s) => `${s.kind} at ${s.offset}`).join(", ")}.`,
      {
        code: "WipeFailed",
        details: { path: device.path, signatures: left },
      },
    );
  }
}

// ext2/3/4 share a magic; the feature flags tell them apart (as blkid does, simplified).
function extKind(p: Probe): string {
  const sb = 1024;
  const compat = p.u32(sb + 0x5c);
  const incompat = p.u32(sb + 0x60);
  const roCompat = p.u32(sb + 0x64);
  if ((incompat & 0x8) !== 0) return "jbd"; // an external ext3/4 journal
  // incompat beyond filetype|recover|journal_dev|meta_bg, ro_compat beyond sparse_super|large_file|btree_dir.
  if ((incompat & ~0x1e) !== 0 || (roCompat & ~0x7) !== 0) return "ext4";
  if ((compat & 0x4) !== 0) return "ext3";
  return "ext2";
}

/** The first and last bytes of a device, read once; other offsets are read on demand. */
class Probe {
  private constructor(
    private readonly read: ReadAt,
    private readonly size: number,
    private readonly head: Buffer,
    private readonly tailStart: number,
    private readonly tail: Buffer,
  ) {}

  static async load(read: ReadAt, size: number): Promise<Probe> {
    const headLength = Math.min(size, HEAD_READ);
    const tailStart = Math.max(headLength, size - TAIL_READ);
    const head = headLength > 0 ? await read(0, headLength) : Buffer.alloc(0);
    const tail = size > tailStart ? await read(tailStart, size - tailStart) : Buffer.alloc(0);
    return new Probe(read, size, head, tailStart, tail);
  }

  /** The bytes at [offset, offset + length) when both reads hold them, else undefined. */
  private slice(offset: number, length: number): Buffer | undefined {
    if (offset < 0 || offset + length > this.size) return undefined;
    if (offset + length <= this.head.length) return this.head.subarray(offset, offset + length);
    if (offset >= this.tailStart) return this.tail.subarray(offset - this.tailStart, offset - this.tailStart + length);
    return undefined;
  }

  is(offset: number, magic: string | Buffer): boolean {
    const m = typeof magic === "string" ? Buffer.from(magic, "latin1") : magic;
    const bytes = this.slice(offset, m.length);
    return bytes !== undefined && bytes.equals(m);
  }

  /** Like {@link is}, reading the bytes when neither the head nor the tail holds them. */
  async isAnywhere(offset: number, magic: string): Promise<boolean> {
    const m = Buffer.from(magic, "latin1");
    if (offset + m.length > this.size) return false;
    const bytes = this.slice(offset, m.length) ?? (await this.read(offset, m.length));
    return bytes.equals(m);
  }

  byte(offset: number): number {
    return this.slice(offset, 1)?.[0] ?? 0;
  }

  u32(offset: number): number {
    return this.slice(offset, 4)?.readUInt32LE(0) ?? 0;
  }
}
