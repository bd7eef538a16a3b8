// The appliance-local half of fencing (see "Fencing" in sync/README.md). A staging disk is attached
// to one VM, so every process that can write it runs on that VM's kernel; they share a folder
// (`runDir`) where each device has its fence: files `fence-<n>` (the newest token raised on this
// appliance is the largest n) and `writing-<n>-<pid>-<start>` (a process of token n is inside a
// write). A writer announces a write, then checks that its token is still the newest, then
// writes; a new owner raises the fence, then waits until no writer of an older token is inside a
// write. Either the writer's check sees the new token (and it never writes), or the new owner sees
// the writer's announcement (and waits for that one write to end): no write of an old token can
// land after the new owner's first write, however long either process is paused in between.
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, unlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Logger } from "pino";
import { FerryError } from "../core/errors";
import type { Range } from "./ranges";
import type { Device } from "./device";
import { currentProcess, identityName, isRunning, type ProcessIdentity } from "./process-identity";

/** Options of {@link DeviceFence.raise}. */
export interface RaiseFenceOptions {
  /** Folder shared by every ferry-sync process of this appliance (config `runDir`). */
  runDir: string;
  /** Longest wait for a writer of an older token to end the write it is in, in milliseconds. Default 10000. */
  waitInMs?: number;
  /** How often that writer is looked at while waiting, in milliseconds. Default 20. */
  pollInMs?: number;
  abortSignal?: AbortSignal;
  logger?: Pick<Logger, "warn" | "info">;
  /** Where processes are listed (a zeroing command a dead writer left running). Default "/proc". */
  procRoot?: string;
}

const FENCE = /^fence-(\d+)$/;
const WRITING = /^writing-(\d+)-(\d+)-(\d+)$/;

/** The folder of a device's fence: one per resolved device path (a link such as lun3 resolves to /dev/sdc). */
export function fenceDir(runDir: string, realPath: string): string {
  const hash = createHash("sha256").update(realPath).digest("hex").slice(0, 16);
  return join(runDir, `device-${basename(realPath).replace(/[^A-Za-z0-9_.-]/g, "_")}-${hash}`);
}

/** The fencing token `fence` of one writer on one device, from {@link DeviceFence.raise}. */
export class DeviceFence {
  #inside = 0;
  #markerOps: Promise<void> = Promise.resolve();
  #marker: Promise<void> = Promise.resolve();
  #fencedBy: number | undefined;

  private constructor(
    readonly devicePath: string,
    readonly dir: string,
    readonly fence: number,
    private readonly self: ProcessIdentity,
  ) {}

  /**
   * Makes `fence` the newest token of the device at `realPath` on this appliance, and resolves once
   * no writer of an older token is inside a write (a dead one's announcement is removed). Throws
   * {@link FerryError} "Fenced" when a newer token was raised already, and "DeviceHeld" when an
   * older writer stays inside a write for `waitInMs` (a stopped process: the caller tries again later).
   */
  static async raise(realPath: string, fence: number, options: RaiseFenceOptions): Promise<DeviceFence> {
    const dir = fenceDir(options.runDir, realPath);
    const self = currentProcess();
    await mkdir(dir, { recursive: true, mode: 0o750 });
    const own = JSON.stringify(self);
    try {
      await writeFile(join(dir, `fence-${fence}`), own, { flag: "wx", mode: 0o640 });
    } catch (e) {
      // The same cycle opening its device a second time raises the same token again.
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = await readFile(join(dir, `fence-${fence}`), "utf8").catch(() => "");
      if (holder !== own) throw fenced(realPath, fence, fence, "another process raised the same token");
    }
    const result = new DeviceFence(realPath, dir, fence, self);
    const waitInMs = options.waitInMs ?? 10_000;
    const until = Date.now() + waitInMs;
    let warned = false;
    for (;;) {
      options.abortSignal?.throwIfAborted();
      const { newest, writing } = await result.#look();
      if (newest > fence) throw fenced(realPath, fence, newest, "a newer writer took the device over");
      const older = writing.filter((w) => w.fence < fence);
      const live: { process: ProcessIdentity }[] = [];
      for (const w of older) {
        if (isRunning(w.process)) live.push(w);
        // A writer that died (kill -9) writes nothing more: its announcement goes.
        else await unlink(join(dir, w.name)).catch(() => undefined);
      }
      // ... except through a zeroing command it had started, which outlives it: waited for too.
      for (const pid of await zeroingCommands(realPath, options.procRoot ?? "/proc"))
        live.push({ process: { pid, startTime: "", bootId: "" } });
      if (live.length === 0) break;
      if (!warned) {
        warned = true;
        options.logger?.warn(
          { devicePath: realPath, pids: live.map((w) => w.process.pid), fence },
          "waiting for an earlier writer of this staging disk to end the write it is in",
        );
      }
      if (Date.now() >= until) {
        throw new FerryError(
          `Process ${live.map((w) => w.process.pid).join(", ")} has been inside a write of ${realPath} for more than ` +
            `${waitInMs} ms under an older fencing token (stopped, or its disk I/O hangs). Nothing was written; ` +
            "the sync tries again at the next tick.",
          { code: "DeviceHeld", details: { devicePath: realPath, pids: live.map((w) => w.process.pid) } },
        );
      }
      await new Promise((r) => setTimeout(r, options.pollInMs ?? 20));
    }
    // Older tokens are history now; the newest stays whatever is removed.
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const m = FENCE.exec(name);
      if (m && Number(m[1]) < fence) await unlink(join(dir, name)).catch(() => undefined);
    }
    return result;
  }

  /**
   * Runs `write` (a write or a zeroing of the device) if this token is still the newest, announced
   * for the whole time it runs. Throws {@link FerryError} "Fenced" (and never runs `write`) once a
   * newer token was raised; every later call throws it too.
   */
  async guard<T>(write: () => Promise<T>): Promise<T> {
    if (this.#fencedBy !== undefined) throw fenced(this.devicePath, this.fence, this.#fencedBy);
    await this.#enter();
    try {
      // The announcement is on disk before this look: a new owner raising its token after this
      // look sees the announcement and waits for this write to end.
      const { newest } = await this.#look();
      if (newest !== this.fence) {
        this.#fencedBy = newest;
        throw fenced(this.devicePath, this.fence, newest, "a newer writer took the device over");
      }
      return await write();
    } finally {
      this.#exit();
    }
  }

  /** True once a guarded write found a newer token. */
  get fenced(): boolean {
    return this.#fencedBy !== undefined;
  }

  /** Resolves when this writer's announcement is gone (after its last write ended). */
  async close(): Promise<void> {
    await this.#markerOps;
  }

  get #markerName(): string {
    return `writing-${this.fence}-${identityName(this.self)}`;
  }

  async #enter(): Promise<void> {
    // Concurrent writes of one process share one announcement, created by the first and removed
    // by the last; creations and removals run one after the other, in order.
    if (++this.#inside === 1) {
      this.#marker = this.#markerOps.then(() =>
        writeFile(join(this.dir, this.#markerName), JSON.stringify(this.self), { mode: 0o640 }),
      );
      this.#markerOps = this.#marker.catch(() => undefined);
    }
    try {
      await this.#marker;
    } catch (e) {
      this.#exit();
      throw e;
    }
  }

  #exit(): void {
    if (--this.#inside === 0) {
      const name = join(this.dir, this.#markerName);
      this.#markerOps = this.#markerOps.then(() => unlink(name).catch(() => undefined));
    }
  }

  async #look(): Promise<{
    newest: number;
    writing: { name: string; fence: number; process: ProcessIdentity }[];
  }> {
    let newest = 0;
    const writing: { name: string; fence: number; process: ProcessIdentity }[] = [];
    for (const name of await readdir(this.dir)) {
      const f = FENCE.exec(name);
      if (f) newest = Math.max(newest, Number(f[1]));
      const w = WRITING.exec(name);
      if (w) {
        const raw = await readFile(join(this.dir, name), "utf8").catch(() => undefined);
        if (raw === undefined) continue;
        let process: ProcessIdentity;
        try {
          process = JSON.parse(raw) as ProcessIdentity;
        } catch {
          // Being written right now (an announcement is a few bytes): its writer is alive.
          process = { ...this.self, pid: Number(w[2]), startTime: w[3] === "0" ? "" : w[3]! };
        }
        writing.push({ name, fence: Number(w[1]), process });
      }
    }
    return { newest, writing };
  }
}

/**
 * Pids of the `fallocate` and `blkdiscard` processes (sync/device.ts zeroes with them) running on
 * `realPath`. A writer's announcement covers such a command while the writer lives; one that
 * died (kill -9) may leave it running, still zeroing.
 */
export async function zeroingCommands(realPath: string, procRoot = "/proc"): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir(procRoot).catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const argv = (await readFile(join(procRoot, name, "cmdline"), "utf8").catch(() => "")).split("\0");
    const program = basename(argv[0] ?? "");
    if ((program === "fallocate" || program === "blkdiscard") && argv.includes(realPath)) pids.push(Number(name));
  }
  return pids;
}

function fenced(path: string, mine: number, newest: number, why?: string): FerryError {
  return new FerryError(
    `Fenced: stopped writing ${path}; this writer's fencing token ${mine} is no longer the newest (${newest} is)` +
      `${why ? `: ${why}` : ""}. Nothing more is written by this cycle.`,
    { code: "Fenced", details: { devicePath: path, fence: mine, newest } },
  );
}

/** Options of {@link fencedDevice}. */
export interface FencedDeviceOptions {
  /**
   * Runs before each guarded write, outside the announcement: the cycle renews its lease there
   * when a renewal is overdue (a paused process learns it lost the row before writing). Default: none.
   */
  beforeWrite?: () => Promise<void>;
}

/** `device` with every write and zeroing run under `fence`'s guard; closing it ends the fence too. */
export function fencedDevice(device: Device, fence: DeviceFence, options: FencedDeviceOptions = {}): Device {
  const guarded = async <T>(op: () => Promise<T>): Promise<T> => {
    await options.beforeWrite?.();
    return fence.guard(op);
  };
  return {
    path: device.path,
    realPath: device.realPath,
    kind: device.kind,
    sizeBytes: device.sizeBytes,
    writable: device.writable,
    read: (offset, length) => device.read(offset, length),
    readInto: (offset, target) => device.readInto(offset, target),
    dataExtents: () => device.dataExtents(),
    write: (offset: number, data: Buffer) => guarded(() => device.write(offset, data)),
    zero: (ranges: readonly Range[]) => guarded(() => device.zero(ranges)),
    sync: () => device.sync(),
    close: async () => {
      await fence.close();
      await device.close();
    },
  };
}
