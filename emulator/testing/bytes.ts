import { closeSync, openSync, readSync, writeSync } from "node:fs";

/** Deterministic pseudo-random bytes (xorshift32), so a test can write and later expect the same data. */
export function pattern(seed: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil(length / 4) * 4);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < out.length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  return out.subarray(0, length);
}

/** Positional write into a file or device path. */
export function writeAt(path: string, offset: number, data: Buffer): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** Positional read from a file or device path. */
export function readAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}
