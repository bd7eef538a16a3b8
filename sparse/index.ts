import { spawn, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import { createInterface } from "node:readline";

/**
 * Where a sparse file holds data. Shared by the emulator (snapshots of disk files) and the sync
 * (verifying a file-backed staging device): reading a mostly empty 1 GiB file costs seconds the
 * first time, because every hole page is materialised; asking the file system costs milliseconds.
 */

/** Byte ranges [start, end) of a file that hold data; everything else is a hole and reads as zeros. */
export type Extent = [number, number];

// Node's fs has no lseek; SEEK_DATA/SEEK_HOLE come through python3, which this platform ships.
// One long-lived helper answers every question (a path per line in, a JSON line out): starting a
// python per question cost 20-50 ms each, and a failover snapshots many disks at once.
const SCRIPT = `
import json, os, sys
for line in sys.stdin:
    try:
        fd = os.open(json.loads(line), os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            off = 0
            out = []
            while off < size:
                try:
                    start = os.lseek(fd, off, os.SEEK_DATA)
                except OSError:
                    break
                end = os.lseek(fd, start, os.SEEK_HOLE)
                out.append([start, end])
                off = end
        finally:
            os.close(fd)
        sys.stdout.write(json.dumps(out) + "\\n")
    except Exception as e:
        sys.stdout.write(json.dumps({"error": str(e)}) + "\\n")
    sys.stdout.flush()
`;

let unavailable = false;
let helper: { child: ChildProcess; waiting: ((extents: Extent[] | undefined) => void)[] } | undefined;

function startHelper(): NonNullable<typeof helper> {
  const child = spawn("python3", ["-c", SCRIPT], { stdio: ["pipe", "pipe", "ignore"] });
  const h = { child, waiting: [] as ((extents: Extent[] | undefined) => void)[] };
  const lines = createInterface({ input: child.stdout! });
  lines.on("line", (line) => {
    const answer = JSON.parse(line) as Extent[] | { error: string };
    h.waiting.shift()?.(Array.isArray(answer) ? answer : undefined);
    if (h.waiting.length === 0) hold(h, false);
  });
  const stop = (err?: NodeJS.ErrnoException) => {
    if (err?.code === "ENOENT") unavailable = true;
    if (helper === h) helper = undefined;
    for (const w of h.waiting.splice(0)) w(undefined);
  };
  child.on("error", stop);
  child.on("exit", () => stop());
  child.stdin!.on("error", () => undefined);
  (child.stdin as unknown as Socket).unref?.();
  hold(h, false);
  return h;
}

/** The helper keeps the process alive only while a question is waiting for its answer. */
function hold(h: NonNullable<typeof helper>, waiting: boolean): void {
  const out = h.child.stdout as unknown as Socket;
  if (waiting) {
    h.child.ref();
    out.ref?.();
  } else {
    h.child.unref();
    out.unref?.();
  }
}

/**
 * The data extents of a sparse file, so that reading a large, mostly empty disk does not read its
 * holes. Undefined when the platform cannot tell (then callers read the whole file).
 */
export function dataExtents(path: string): Promise<Extent[] | undefined> {
  if (unavailable) return Promise.resolve(undefined);
  helper ??= startHelper();
  const h = helper;
  return new Promise((resolve) => {
    h.waiting.push(resolve);
    hold(h, true);
    h.child.stdin!.write(`${JSON.stringify(path)}\n`);
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
