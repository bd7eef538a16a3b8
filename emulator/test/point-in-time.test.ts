import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, writeSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { useEmulator } from "./helpers/emulator";
import { readSnapshot, snapshotOf, vmWithDataDisk } from "./helpers/guest";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const RG = "pit";
const LOC = "eastus";
/** Block A near the start of the disk, block B two GiB further on. */
const A = 4096;
const B = A + 2 * GiB;

// Where FUSE can be mounted (root, /dev/fuse) the emulator must serve it; elsewhere these tests
// cannot run, and say so.
const fuseHere = process.getuid?.() === 0 && existsSync("/dev/fuse");
if (!fuseHere)
  console.log(
    "point-in-time capture tests skipped: they need root and /dev/fuse (the emulator then falls back to links)",
  );

/**
 * A guest process that writes an increasing counter into block A and then into block B, each write
 * through the device path, so that on the device A = B or A = B + 1 at every instant. It reports how
 * many pairs it wrote and its longest wait for one pair when its standard input closes.
 */
function startOrderedWriter(device: string) {
  const script = `
    const fs = require("node:fs");
    const fd = fs.openSync(${JSON.stringify(device)}, "r+");
    const buf = Buffer.alloc(512);
    let n = 0, maxGap = 0, last = performance.now(), stop = false;
    process.stdin.on("end", () => { stop = true; });
    process.stdin.resume();
    const loop = () => {
      for (let i = 0; i < 200 && !stop; i++) {
        n++;
        buf.writeBigUInt64LE(BigInt(n));
        fs.writeSync(fd, buf, 0, 512, ${A});
        fs.writeSync(fd, buf, 0, 512, ${B});
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
      }
      if (stop) process.stdout.write(JSON.stringify({ pairs: n, maxGapMs: maxGap }) + "\\n");
      else setImmediate(loop);
    };
    loop();`;
  const child: ChildProcess = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  return {
    async stop(): Promise<{ pairs: number; maxGapMs: number }> {
      const exited = new Promise((r) => child.once("exit", r));
      child.stdin!.end();
      await exited;
      return JSON.parse(out) as { pairs: number; maxGapMs: number };
    },
  };
}

/** Fills [offset, offset + bytes) of a device with non-zero data, so that a capture has to read it. */
function fill(device: string, offset: number, bytes: number): void {
  const fd = openSync(device, "r+");
  try {
    const block = Buffer.alloc(4 * MiB, 0x5a);
    for (let pos = 0; pos < bytes; pos += block.length) writeSync(fd, block, 0, block.length, offset + pos);
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(!fuseHere)("snapshots of a disk its guest writes are points in time", () => {
  const f = useEmulator();
  let diskId: string;
  let device: string;

  beforeAll(async () => {
    ({ diskId, device } = await vmWithDataDisk(f.azure, f.emu, RG, LOC, 4));
  });

  it("serves the guests' devices through FUSE where root and /dev/fuse are there", () => {
    expect(f.emu.guestDevices, f.emu.guestDevicesFallback).toBe("fuse");
  });

  it("never holds block B newer than block A over 120 captures while the guest writes A then B", async () => {
    // 64 MiB of data between A and B: each capture reads for a while after A and before B.
    fill(device, GiB, 64 * MiB);
    const writer = startOrderedWriter(device);
    const seen: { a: bigint; b: bigint }[] = [];
    try {
      for (let i = 0; i < 120; i++) {
        await snapshotOf(f.azure, RG, LOC, `s${i}`, diskId);
        const [a, b] = await readSnapshot(f.azure, RG, `s${i}`, [
          { offset: A, length: 8 },
          { offset: B, length: 8 },
        ]);
        seen.push({ a: a!.readBigUInt64LE(), b: b!.readBigUInt64LE() });
        await f.azure.compute.snapshots.delete(RG, `s${i}`);
      }
    } finally {
      await writer.stop();
    }
    const torn = seen.filter(({ a, b }) => b > a || a - b > 1n);
    const shown = torn.slice(0, 5).map(({ a, b }) => `A=${a} B=${b}`);
    expect(torn.length, `captures whose A and B are from different instants, e.g. ${shown.join(", ")}`).toBe(0);
    // The guest wrote on all along: the captures saw the counter move.
    const distinct = new Set(seen.map((s) => s.a)).size;
    expect(distinct).toBeGreaterThan(100);
  }, 240_000);

  it("does not stall the guest for the length of a capture of a 4 GiB disk with 1 GiB of data", async () => {
    fill(device, GiB, GiB);
    const writer = startOrderedWriter(device);
    const durations: number[] = [];
    let result: { pairs: number; maxGapMs: number };
    try {
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        await snapshotOf(f.azure, RG, LOC, `big${i}`, diskId);
        durations.push(performance.now() - started);
        await f.azure.compute.snapshots.delete(RG, `big${i}`);
      }
    } finally {
      result = await writer.stop();
    }
    const shortest = Math.min(...durations);
    // Each capture read a GiB; the guest never waited for a whole one, only ever for a few chunk copies.
    expect(shortest).toBeGreaterThan(200);
    expect(result.maxGapMs, `captures took ${durations.map((d) => d.toFixed(0)).join(", ")} ms`).toBeLessThan(
      shortest / 2,
    );
    expect(result.pairs).toBeGreaterThan(100);
  }, 240_000);
});
