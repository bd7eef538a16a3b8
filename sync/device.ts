// A staging disk as the appliance sees it: a block device on Azure (`/dev/disk/azure/scsi1/lunN`
// -> `/dev/sdX`), a sparse file behind a symlink in the local emulator. Positional I/O at absolute
// offsets; nothing here buffers, so `sync()` is the only durability point.
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { open, readFile, realpath, stat } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { dataExtents } from "@ferry/sparse";
import { FerryError } from "../core/errors";
import { createLogger } from "../core/logger";
import type { Logger } from "../core/logger";
import type { Range } from "./ranges";

/** What a device path resolves to. */
export type DeviceKind = "block" | "file";

/**
 * Runs a program without a shell. Rejects when the program cannot start (with `code: "ENOENT"`
 * when it is not installed) or exits non-zero.
 */
export type RunCommand = (file: string, args: readonly string[]) => Promise<void>;

/** Options of {@link openDevice}. */
export interface OpenDeviceOptions {
  /** Open for writing (`write`, `zero`, `sync`). Default: false, read-only. */
  write?: boolean;
  /**
   * Open a block device exclusively (`O_EXCL`): the open fails with code "DeviceBusy" while the
   * kernel holds the device (mounted, an LVM or RAID member, active swap) or another program opened
   * it exclusively. Ignored for files. Default: false.
   */
  exclusive?: boolean;
  /** Root of sysfs, where a block device's size is read. Default: "/sys". */
  sysfsRoot?: string;
  /** Runs `fallocate` and `blkdiscard`. Default: {@link execFileCommand}. */
  runCommand?: RunCommand;
  /**
   * Ranges shorter than this, in bytes, are zeroed by writing zeros instead of by a command: a
   * process spawn costs about as much as writing a MiB of zeros. Default: 1048576 (1 MiB).
   */
  offloadMinBytes?: number;
  /** Where a failed `fallocate`/`blkdiscard` is reported (warn). Default: a ferry-sync logger on stdout. */
  logger?: Logger;
}

/** An open staging device. Offsets and lengths are in bytes. */
export interface Device {
  /** The path it was opened by (often a symlink). */
  readonly path: string;
  /** `path` with every symlink resolved. */
  readonly realPath: string;
  readonly kind: DeviceKind;
  readonly sizeBytes: number;
  readonly writable: boolean;
  /** Exactly `length` bytes at `offset`; a read that comes up short (past the end) is an error. */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Fills `target` from `offset`, like `read`. Reusing one buffer matters on long scans: a fresh
   * multi-MiB buffer per read costs more in page faults than the read itself.
   */
  readInto(offset: number, target: Buffer): Promise<void>;
  /**
   * Where a file-backed device holds data (its holes read as zeros without being read), or
   * undefined when that cannot be told (block devices: every byte may hold data).
   */
  dataExtents(): Promise<Range[] | undefined>;
  /** All of `data` at `offset` (positional writes can be short: this loops until done). */
  write(offset: number, data: Buffer): Promise<void>;
  /**
   * Makes each range ([start, end), in bytes) read as zeros: a punched hole for a file,
   * `blkdiscard --zeroout` for a block device, zero writes when those are missing or fail.
   * Not atomic with writes to the same range in flight: callers order them.
   */
  zero(ranges: readonly Range[]): Promise<void>;
  /** fsync: everything written and zeroed so far is durable when this resolves. */
  sync(): Promise<void>;
  /** Closes the device; a second call does nothing. */
  close(): Promise<void>;
}

const SECTOR = 512;
const ZERO_PIECE = 4 * 1024 * 1024;
// Node refuses single reads and writes of 2 GiB and more.
const MAX_IO = 1024 * 1024 * 1024;
const DEFAULT_OFFLOAD_MIN = 1024 * 1024;

const execFileAsync = promisify(execFile);

/** Runs a program with `execFile` (no shell); its stderr is in the rejection's message. */
export const execFileCommand: RunCommand = async (file, args) => {
  await execFileAsync(file, [...args], { windowsHide: true });
};

let zeroPiece: Buffer | undefined;
// One shared, never-written buffer of zeros for every device: zero writes allocate nothing.
function zeros(length: number): Buffer {
  zeroPiece ??= Buffer.alloc(ZERO_PIECE);
  return zeroPiece.subarray(0, length);
}

let fallbackLogger: Logger | undefined;
function defaultLogger(): Logger {
  fallbackLogger ??= createLogger({ name: "ferry-sync" }).child({ component: "device" });
  return fallbackLogger;
}

/**
 * Opens a staging device by path (a symlink such as `/dev/disk/azure/scsi1/lun3`, a block device
 * or a regular file). A path that does not exist, or a device node whose disk is gone, throws a
 * FerryError with code "DeviceMissing" (the daemon marks the source degraded on it).
 */
export async function openDevice(path: string, options: OpenDeviceOptions = {}): Promise<Device> {
  const write = options.write ?? false;
  let realPath: string;
  try {
    realPath = await realpath(path);
  } catch (e) {
    throw openError(path, e);
  }
  let flags = write ? constants.O_RDWR : constants.O_RDONLY;
  // O_EXCL without O_CREAT means "exclusive" for block devices only; decide before opening.
  if (options.exclusive) {
    const st = await stat(realPath).catch((e: unknown) => {
      throw openError(path, e);
    });
    if (st.isBlockDevice()) flags |= constants.O_EXCL;
  }
  let fh: FileHandle;
  try {
    // The resolved path, so kind and size describe what we opened even if the link changes.
    fh = await open(realPath, flags);
  } catch (e) {
    throw openError(path, e);
  }
  try {
    const st = await fh.stat();
    const kind: DeviceKind = st.isBlockDevice() ? "block" : "file";
    const sizeBytes = kind === "block" ? await blockDeviceSizeBytes(realPath, options.sysfsRoot) : st.size;
    return new OpenDevice(fh, { path, realPath, kind, sizeBytes, writable: write }, options);
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/**
 * A block device's size in bytes: `<sysfsRoot>/class/block/<name>/size` counts 512-byte sectors
 * whatever the device's logical sector size. `realPath` must have its symlinks resolved
 * (`/dev/sdc`, not `/dev/disk/azure/scsi1/lun3`).
 */
export async function blockDeviceSizeBytes(realPath: string, sysfsRoot = "/sys"): Promise<number> {
  const file = join(sysfsRoot, "class", "block", basename(realPath), "size");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new FerryError(`Cannot tell the size of block device ${realPath}: ${file} is unreadable.`, {
      code: "DeviceSizeUnknown",
      cause: e,
      details: { realPath, file },
    });
  }
  const sectors = Number(text.trim());
  if (!Number.isSafeInteger(sectors) || sectors < 0) {
    throw new FerryError(`Cannot tell the size of block device ${realPath}: ${file} holds "${text.trim()}".`, {
      code: "DeviceSizeUnknown",
      details: { realPath, file },
    });
  }
  return sectors * SECTOR;
}

function openError(path: string, e: unknown): FerryError {
  const code = (e as NodeJS.ErrnoException).code;
  // ENXIO/ENODEV: a device node left behind by a disk that was detached.
  if (code === "ENOENT" || code === "ENOTDIR" || code === "ENXIO" || code === "ENODEV") {
    return new FerryError(`Device ${path} does not exist.`, { code: "DeviceMissing", cause: e, details: { path } });
  }
  if (code === "EBUSY") {
    return new FerryError(
      `Device ${path} is in use by the system (mounted, or held by LVM, RAID, swap or another program).`,
      {
        code: "DeviceBusy",
        cause: e,
        details: { path },
      },
    );
  }
  return new FerryError(`Cannot open device ${path}: ${(e as Error).message}`, {
    code: "DeviceOpenFailed",
    cause: e,
    details: { path },
  });
}

interface DeviceFacts {
  path: string;
  realPath: string;
  kind: DeviceKind;
  sizeBytes: number;
  writable: boolean;
}

class OpenDevice implements Device {
  readonly path: string;
  readonly realPath: string;
  readonly kind: DeviceKind;
  readonly sizeBytes: number;
  readonly writable: boolean;
  readonly #fh: FileHandle;
  readonly #runCommand: RunCommand;
  readonly #offloadMinBytes: number;
  readonly #logger: Logger | undefined;
  // Once the command is missing or has failed, every later range is written: a command that
  // failed once (no punch-hole support, 4 KiB sectors) fails again, and each try costs a spawn.
  #offload = true;
  #closed = false;

  constructor(fh: FileHandle, facts: DeviceFacts, options: OpenDeviceOptions) {
    this.#fh = fh;
    this.path = facts.path;
    this.realPath = facts.realPath;
    this.kind = facts.kind;
    this.sizeBytes = facts.sizeBytes;
    this.writable = facts.writable;
    this.#runCommand = options.runCommand ?? execFileCommand;
    this.#offloadMinBytes = Math.max(1, options.offloadMinBytes ?? DEFAULT_OFFLOAD_MIN);
    this.#logger = options.logger;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    await this.readInto(offset, buf);
    return buf;
  }

  async dataExtents(): Promise<Range[] | undefined> {
    if (this.kind !== "file") return undefined;
    const extents = await dataExtents(this.realPath);
    return extents?.map(([start, end]) => ({ start, end }));
  }

  async readInto(offset: number, buf: Buffer): Promise<void> {
    const length = buf.length;
    this.#checkRange("read", offset, offset + length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.#fh.read(buf, done, Math.min(length - done, MAX_IO), offset + done);
      if (bytesRead === 0) {
        throw new FerryError(
          `Read of ${length} bytes at offset ${offset} of ${this.path} ended after ${done} bytes: the device is shorter than ${this.sizeBytes} bytes.`,
          { code: "ShortRead", details: { path: this.path, offset, length, bytesRead: done } },
        );
      }
      done += bytesRead;
    }
  }

  async write(offset: number, data: Buffer): Promise<void> {
    this.#checkWritable();
    this.#checkRange("write", offset, offset + data.length);
    await this.#writeAll(offset, data);
  }

  async zero(ranges: readonly Range[]): Promise<void> {
    this.#checkWritable();
    for (const r of ranges) this.#checkRange("zero", r.start, r.end);
    for (const r of ranges) {
      if (r.end <= r.start) continue;
      // Block devices take only whole sectors; the unaligned edges are written.
      const align = this.kind === "block" ? SECTOR : 1;
      const start = Math.ceil(r.start / align) * align;
      const end = Math.floor(r.end / align) * align;
      if (end - start >= this.#offloadMinBytes && (await this.#offloadZero(start, end))) {
        await this.#writeZeros(r.start, start);
        await this.#writeZeros(end, r.end);
      } else {
        await this.#writeZeros(r.start, r.end);
      }
    }
  }

  async sync(): Promise<void> {
    await this.#fh.sync();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#fh.close();
  }

  /** True when the command zeroed [start, end); false when the caller must write zeros. */
  async #offloadZero(start: number, end: number): Promise<boolean> {
    if (!this.#offload) return false;
    const range = ["--offset", String(start), "--length", String(end - start), this.realPath];
    const [file, args] =
      this.kind === "file"
        ? ["fallocate", ["--punch-hole", "--keep-size", ...range]]
        : ["blkdiscard", ["--zeroout", ...range]];
    try {
      await this.#runCommand(file, args);
      return true;
    } catch (e) {
      this.#offload = false;
      // A missing tool is an expected setup (a slim image); any other failure deserves a look.
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
        (this.#logger ?? defaultLogger()).warn(
          { err: e, path: this.path, realPath: this.realPath, command: file, start, end },
          `${file} failed; zeroing ${this.path} by writing zeros from now on`,
        );
      }
      return false;
    }
  }

  async #writeZeros(start: number, end: number): Promise<void> {
    for (let pos = start; pos < end; pos += ZERO_PIECE) {
      await this.#writeAll(pos, zeros(Math.min(ZERO_PIECE, end - pos)));
    }
  }

  async #writeAll(offset: number, data: Buffer): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.#fh.write(data, done, Math.min(data.length - done, MAX_IO), offset + done);
      if (bytesWritten === 0) {
        throw new FerryError(`Write at offset ${offset + done} of ${this.path} wrote nothing.`, {
          code: "ShortWrite",
          details: { path: this.path, offset: offset + done },
        });
      }
      done += bytesWritten;
    }
  }

  #checkWritable(): void {
    if (!this.writable) {
      throw new FerryError(`Device ${this.path} is open read-only.`, {
        code: "DeviceReadOnly",
        details: { path: this.path },
      });
    }
  }

  // A write past the end would silently grow a file (the emulator's disks): refuse it up front.
  #checkRange(op: string, start: number, end: number): void {
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      start < 0 ||
      end < start ||
      end > this.sizeBytes
    ) {
      throw new FerryError(`Cannot ${op} [${start}, ${end}) of ${this.path}: it holds ${this.sizeBytes} bytes.`, {
        code: "OutOfRange",
        details: { path: this.path, start, end, sizeBytes: this.sizeBytes },
      });
    }
  }
}
