import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { constants } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isFerryError } from "../../core/errors";
import { createLogger } from "../../core/logger";
import { blockDeviceSizeBytes, execFileCommand, openDevice } from "../../sync/device";
import type { Device, RunCommand } from "../../sync/device";
import { checkTarget } from "../../sync/target-check";
import { pattern, readAt, writeAt } from "../helpers/bytes";

const MiB = 1024 * 1024;
const SIZE = 8 * MiB;

let root: string;
let seq = 0;
const open_: Device[] = [];

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), "ferry-device-")));
});
afterEach(async () => {
  for (const d of open_.splice(0)) await d.close();
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A sparse disk file and, as the emulator's device paths are, a `lunN` symlink to it. */
function sparseDisk(sizeBytes = SIZE): { file: string; link: string } {
  const n = seq++;
  const file = join(root, `disk${n}.img`);
  writeFileSync(file, "");
  truncateSync(file, sizeBytes);
  const link = join(root, `lun${n}`);
  symlinkSync(file, link);
  return { file, link };
}

async function track(device: Promise<Device>): Promise<Device> {
  const d = await device;
  open_.push(d);
  return d;
}

async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (e) {
    if (isFerryError(e)) return e.code;
    throw e;
  }
  throw new Error("expected the call to fail, and it succeeded");
}

/** A logger whose lines the test reads. */
function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: "debug",
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  return { logger, lines };
}

/** The real command runner, recording what it ran. */
function recordingRunner(): { run: RunCommand; calls: { file: string; args: readonly string[] }[] } {
  const calls: { file: string; args: readonly string[] }[] = [];
  return {
    calls,
    run: async (file, args) => {
      calls.push({ file, args });
      await execFileCommand(file, args);
    },
  };
}

const isZero = (b: Buffer) => b.every((x) => x === 0);
// helpers/bytes.ts's pattern() fills whole 32-bit words: ask it for a multiple of 4.
const bytes = (seed: number, length: number) => pattern(seed, Math.ceil(length / 4) * 4).subarray(0, length);

describe("openDevice on a file behind a symlink", () => {
  it("resolves the real path, the kind and the size", async () => {
    const { file, link } = sparseDisk();
    const d = await track(openDevice(link));
    expect({ path: d.path, realPath: d.realPath, kind: d.kind, sizeBytes: d.sizeBytes, writable: d.writable }).toEqual({
      path: link,
      realPath: file,
      kind: "file",
      sizeBytes: SIZE,
      writable: false,
    });
  });

  it("throws DeviceMissing naming the path, for a missing path and for a dangling symlink", async () => {
    const missing = join(root, "no-such-lun");
    const e = await openDevice(missing).catch((x: unknown) => x);
    expect(isFerryError(e) && e.code).toBe("DeviceMissing");
    expect((e as Error).message).toContain(missing);

    const dangling = join(root, `dangling${seq++}`);
    symlinkSync(join(root, "gone.img"), dangling);
    expect(await codeOf(openDevice(dangling))).toBe("DeviceMissing");
  });
});

describe("read and write", () => {
  it("round-trips data at unaligned offsets, across the end of the device too", async () => {
    const { file, link } = sparseDisk();
    const d = await track(openDevice(link, { write: true }));
    const a = bytes(1, 100_003);
    const b = bytes(2, 777);
    await d.write(12_345, a);
    await d.write(SIZE - b.length, b);
    await d.sync();
    expect((await d.read(12_345, a.length)).equals(a)).toBe(true);
    expect((await d.read(SIZE - b.length, b.length)).equals(b)).toBe(true);
    // Written at the same absolute offsets in the file, and the file did not grow.
    expect(readAt(file, 12_345, a.length).equals(a)).toBe(true);
    expect(statSync(file).size).toBe(SIZE);
    expect(isZero(await d.read(0, 12_345))).toBe(true);
  });

  it("refuses reads and writes past the end, and writes on a read-only device", async () => {
    const { link } = sparseDisk();
    const rw = await track(openDevice(link, { write: true }));
    expect(await codeOf(rw.read(SIZE - 10, 11))).toBe("OutOfRange");
    expect(await codeOf(rw.write(SIZE, Buffer.from([1])))).toBe("OutOfRange");
    expect(await codeOf(rw.write(-1, Buffer.from([1])))).toBe("OutOfRange");
    expect(await codeOf(rw.zero([{ start: 0, end: SIZE + 1 }]))).toBe("OutOfRange");

    const ro = await track(openDevice(link));
    expect(await codeOf(ro.write(0, Buffer.from([1])))).toBe("DeviceReadOnly");
    expect(await codeOf(ro.zero([{ start: 0, end: 512 }]))).toBe("DeviceReadOnly");
  });

  it("reports a short read when the device shrank under it", async () => {
    const { file, link } = sparseDisk();
    const d = await track(openDevice(link));
    truncateSync(file, SIZE / 2);
    expect(await codeOf(d.read(SIZE / 2 - 100, 200))).toBe("ShortRead");
  });
});

describe("zero on a file", () => {
  it("punches holes for large ranges, writes zeros at small ones, keeps the size and the bytes around", async () => {
    const { file, link } = sparseDisk();
    const data = pattern(3, SIZE);
    writeAt(file, 0, data);
    const { run, calls } = recordingRunner();
    const d = await track(openDevice(link, { write: true, runCommand: run }));
    await d.sync();
    const blocksBefore = statSync(file).blocks;

    const big = { start: 1000, end: 3 * MiB + 7 };
    const small = { start: 5 * MiB + 3, end: 5 * MiB + 4099 };
    await d.zero([big, small, { start: 42, end: 42 }]);
    await d.sync();

    expect(calls).toEqual([
      {
        file: "fallocate",
        args: ["--punch-hole", "--keep-size", "--offset", "1000", "--length", String(big.end - big.start), file],
      },
    ]);
    const after = readFileSync(file);
    expect(after.length).toBe(SIZE);
    expect(isZero(after.subarray(big.start, big.end))).toBe(true);
    expect(isZero(after.subarray(small.start, small.end))).toBe(true);
    expect(after.subarray(0, big.start).equals(data.subarray(0, big.start))).toBe(true);
    expect(after.subarray(big.end, small.start).equals(data.subarray(big.end, small.start))).toBe(true);
    expect(after.subarray(small.end).equals(data.subarray(small.end))).toBe(true);
    // A hole, not written zeros: the file gave back about 3 MiB of blocks (512-byte units).
    expect(blocksBefore - statSync(file).blocks).toBeGreaterThan((2.5 * MiB) / 512);
  });

  it("writes zeros, silently, when fallocate is not installed — and stops trying it", async () => {
    const { file, link } = sparseDisk();
    writeAt(file, 0, pattern(4, SIZE));
    const { logger, lines } = captureLogger();
    const calls: string[] = [];
    // The real runner on a path that does not exist: Node's own ENOENT.
    const runCommand: RunCommand = (f, args) => {
      calls.push(f);
      return execFileCommand(join(root, "missing-bin", f), args);
    };
    const d = await track(openDevice(link, { write: true, runCommand, logger }));
    await d.zero([{ start: 0, end: 2 * MiB }]);
    await d.zero([{ start: 4 * MiB + 1, end: 7 * MiB }]);
    await d.sync();
    expect(calls).toEqual(["fallocate"]);
    expect(lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
    const after = readFileSync(file);
    expect(isZero(after.subarray(0, 2 * MiB))).toBe(true);
    expect(isZero(after.subarray(4 * MiB + 1, 7 * MiB))).toBe(true);
    expect(after.subarray(2 * MiB, 4 * MiB + 1).equals(pattern(4, SIZE).subarray(2 * MiB, 4 * MiB + 1))).toBe(true);
    expect(after.length).toBe(SIZE);
  });

  it("writes zeros and logs a warning when the command fails", async () => {
    const { file, link } = sparseDisk();
    writeAt(file, 0, pattern(5, SIZE));
    const { logger, lines } = captureLogger();
    // The real fallocate, refused: a negative length makes it exit non-zero.
    const runCommand: RunCommand = (f, args) =>
      execFileCommand(
        f,
        args.map((a) => (a === String(3 * MiB) ? "-1" : a)),
      );
    const d = await track(openDevice(link, { write: true, runCommand, logger }));
    await d.zero([{ start: MiB, end: 4 * MiB }]);
    expect(isZero(readFileSync(file).subarray(MiB, 4 * MiB))).toBe(true);
    const warns = lines.filter((l) => l.level === 40);
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ command: "fallocate", path: link, start: MiB, end: 4 * MiB });
    expect(JSON.stringify(warns[0]!.err)).toContain("fallocate");
  });

  it("fails when writing zeros fails", async () => {
    const { link } = sparseDisk();
    const d = await openDevice(link, {
      write: true,
      runCommand: () => Promise.reject(Object.assign(new Error("x"), { code: "ENOENT" })),
    });
    await d.close();
    await expect(d.zero([{ start: 0, end: 4096 }])).rejects.toThrow();
  });
});

describe("block devices", () => {
  it("reads the size from sysfs: 512-byte sectors, by the real path's name", async () => {
    const sys = join(root, `sys${seq++}`);
    mkdirSync(join(sys, "class", "block", "sdc"), { recursive: true });
    writeFileSync(join(sys, "class", "block", "sdc", "size"), "67108864\n");
    expect(await blockDeviceSizeBytes("/dev/sdc", sys)).toBe(32 * 1024 * MiB);
    const e = await blockDeviceSizeBytes("/dev/sdd", sys).catch((x: unknown) => x);
    expect(isFerryError(e) && e.code).toBe("DeviceSizeUnknown");
  });

  // A device node of our own (root only), behind a `lunN` symlink, sized through a fake sysfs.
  it("opens a block device node through a symlink and sizes it through an injected sysfs root", async (ctx) => {
    const dev = readLoopDev();
    const name = `sdz${seq++}`;
    const node = join(root, name);
    if (dev === undefined || !tryRun("mknod", [node, "b", dev.major, dev.minor]))
      return ctx.skip("needs root and a loop device to make a block device node (mknod)");
    const link = join(root, `lun${seq++}`);
    symlinkSync(node, link);
    const sys = join(root, `sys${seq++}`);
    mkdirSync(join(sys, "class", "block", name), { recursive: true });
    writeFileSync(join(sys, "class", "block", name, "size"), "4096\n");
    const d = await track(openDevice(link, { sysfsRoot: sys }));
    expect({ kind: d.kind, sizeBytes: d.sizeBytes, realPath: d.realPath }).toEqual({
      kind: "block",
      sizeBytes: 2 * MiB,
      realPath: node,
    });
  });

  describe("on a loop device", () => {
    let loop: string | undefined;
    let backing: string;
    beforeAll(() => {
      backing = sparseDisk(SIZE).file;
      try {
        loop = execFileSync("losetup", ["--find", "--show", backing], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
        }).trim();
      } catch {
        loop = undefined;
      }
    });
    afterAll(() => {
      if (loop) tryRun("losetup", ["--detach", loop]);
    });

    it("zeroes with blkdiscard --zeroout, writing the unaligned edges", async (ctx) => {
      if (!loop) return ctx.skip("needs root and losetup to attach a loop device");
      const { run, calls } = recordingRunner();
      const d = await track(openDevice(loop, { write: true, runCommand: run }));
      expect({ kind: d.kind, sizeBytes: d.sizeBytes }).toEqual({ kind: "block", sizeBytes: SIZE });
      const data = pattern(6, SIZE);
      await d.write(0, data);
      await d.sync();
      const r = { start: 1000, end: 3 * MiB + 7 };
      await d.zero([r]);
      await d.sync();
      expect(calls).toEqual([
        { file: "blkdiscard", args: ["--zeroout", "--offset", "1024", "--length", String(3 * MiB - 1024), d.realPath] },
      ]);
      const after = await d.read(0, SIZE);
      expect(isZero(after.subarray(r.start, r.end))).toBe(true);
      expect(after.subarray(0, r.start).equals(data.subarray(0, r.start))).toBe(true);
      expect(after.subarray(r.end).equals(data.subarray(r.end))).toBe(true);
    });

    it("is refused by checkTarget while another program holds it exclusively", async (ctx) => {
      if (!loop) return ctx.skip("needs root and losetup to attach a loop device");
      const holder = await open(loop, constants.O_RDONLY | constants.O_EXCL);
      try {
        const e = await checkTarget(
          {
            devicePath: loop,
            sourceSizeBytes: SIZE,
            prepare: "keep",
            stagingDiskId: "staging",
            sourceDiskId: "source",
          },
          { readMounts: async () => "" },
        ).catch((x: unknown) => x);
        expect(isFerryError(e) && e.code).toBe("TargetRejected");
        expect((e as Error).message).toMatch(/the system holds .*Release it/);
      } finally {
        await holder.close();
      }
      await expect(
        checkTarget(
          {
            devicePath: loop,
            sourceSizeBytes: SIZE,
            prepare: "keep",
            stagingDiskId: "staging",
            sourceDiskId: "source",
          },
          { readMounts: async () => "" },
        ),
      ).resolves.toMatchObject({ kind: "block", sizeBytes: SIZE });
    });
  });
});

function readLoopDev(): { major: string; minor: string } | undefined {
  const file = "/sys/class/block/loop0/dev";
  if (!existsSync(file)) return undefined;
  const [major, minor] = readFileSync(file, "utf8").trim().split(":");
  return major && minor ? { major, minor } : undefined;
}

function tryRun(file: string, args: string[]): boolean {
  try {
    execFileSync(file, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
