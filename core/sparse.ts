import { execFile } from "node:child_process";

/**
 * Where a sparse file holds data. Shared by the emulator (snapshots of disk files) and the sync
 * (verifying a file-backed staging device): reading a mostly empty 1 GiB file costs seconds the
 * first time, because every hole page is materialised; asking the file system costs milliseconds.
 */

/** Byte ranges [start, end) of a file that hold data; everything else is a hole and reads as zeros. */
export type Extent = [number, number];

// Node's fs has no lseek; SEEK_DATA/SEEK_HOLE come through python3, which this platform ships.
const SCRIPT = `
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
off = 0
out = []
while off < size:
    try:
        start = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    end = os.lseek(fd, start, os.SEEK_HOLE)
    out.append("%d %d" % (start, end))
    off = end
print("\\n".join(out))
`;

let unavailable = false;

/**
 * The data extents of a sparse file, so that reading a large, mostly empty disk does not read its
 * holes. Undefined when the platform cannot tell (then callers read the whole file).
 */
export function dataExtents(path: string): Promise<Extent[] | undefined> {
  if (unavailable) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    execFile("python3", ["-c", SCRIPT, path], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") unavailable = true;
        resolve(undefined);
        return;
      }
      const extents: Extent[] = [];
      for (const line of stdout.split("\n")) {
        if (!line) continue;
        const [a, b] = line.split(" ").map(Number);
        extents.push([a!, b!]);
      }
      resolve(extents);
    });
  });
}

/** Extents widened to whole `unit`-sized blocks, merged, clipped to `size`. */
export function alignExtents(extents: Extent[], unit: number, size: number): Extent[] {
  const out: Extent[] = [];
  for (const [s, e] of extents) {
    const start = Math.floor(s / unit) * unit;
    const end = Math.min(size, Math.ceil(e / unit) * unit);
    const last = out[out.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else if (end > start) out.push([start, end]);
  }
  return out;
}
