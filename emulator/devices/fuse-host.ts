import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { alignExtents, dataExtents } from "@ferry/sparse";
import { isZero } from "../storage/files";
import type { DaemonReply, DaemonRequest } from "./fuse-daemon";
import { CHUNK, CONTROL_NAME, MAX_CAPTURES, type DeviceEntry, type DeviceTable } from "./fuse-server";
import type { Capture, CaptureSource, CapturedChunk, GuestDevices, GuestDisk } from "./types";

/** Thrown when FUSE cannot serve the devices here; the message says why. */
export class FuseUnavailable extends Error {}

const FUSECTL = "/sys/fs/fuse/connections";
/** Bytes read per step of a capture: one round trip to the daemon each. */
const BLOCK = 64 * CHUNK;

/**
 * The guests' device paths as a FUSE file system mounted at `<data>/vms`, served by the device
 * daemon, a child process (`fuse-daemon.ts`). Every guest read and write reaches it, so:
 * - a device that is no longer shown (VM stopped, deallocated, deleted, its region down; disk
 *   detached) fails every read and write with EIO at once, even through a descriptor opened before;
 * - a capture is a point in time: from the instant it starts, the daemon keeps the old bytes of
 *   every chunk a guest overwrites before the capture has read it (copy-before-write), so the guest
 *   waits at most for one 64 KiB copy per chunk it writes first, never for the whole read; this
 *   process reads the disk file itself and takes the kept chunks from the daemon as it goes.
 * The daemon is a process of its own so that this one may die at any time, even holding devices
 * open, and the daemon then unmounts and exits.
 */
export class FuseDevices implements GuestDevices {
  readonly mode = "fuse" as const;
  readonly #root: string;
  readonly #tablePath: string;
  readonly #daemon: ChildProcess;
  readonly #exited: Promise<void>;
  readonly #table: DeviceTable = { vms: {} };
  readonly #diskSlots = new Map<string, number>();
  /** Whoever waits for the next answer about each capture. */
  readonly #waiting = new Map<number, (reply: DaemonReply) => void>();
  #nextCapture = 1;
  #running = 0;
  #closed = false;

  private constructor(root: string, tablePath: string, daemon: ChildProcess, exited: Promise<void>) {
    this.#root = root;
    this.#tablePath = tablePath;
    this.#daemon = daemon;
    this.#exited = exited;
    daemon.on("message", (m: DaemonReply) => {
      if (m.kind === "preserved" || m.kind === "captureFailed" || m.kind === "captureStarted") {
        const waiter = this.#waiting.get(m.id);
        this.#waiting.delete(m.id);
        waiter?.(m);
      }
    });
    // The daemon gone (killed, or a bug): every capture waiting for it fails.
    void exited.then(() => {
      for (const [id, waiter] of this.#waiting)
        waiter({ kind: "captureFailed", id, message: "the device daemon exited" });
      this.#waiting.clear();
    });
  }

  /** Mounts the device file system at `root`; throws {@link FuseUnavailable} with the reason when it cannot. */
  static async start(root: string): Promise<FuseDevices> {
    if (process.getuid?.() !== 0)
      throw new FuseUnavailable("the emulator does not run as root (mounting a FUSE file system needs root)");
    if (!existsSync("/dev/fuse")) throw new FuseUnavailable("there is no /dev/fuse (the kernel's fuse module)");
    clearMount(root);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    const tablePath = `${root}.devices.json`;
    writeFileSync(tablePath, JSON.stringify({ vms: {} }));
    const daemonPath = fileURLToPath(new URL("./fuse-daemon.ts", import.meta.url));
    // Plain Node (its own TypeScript support, on by default from 22.18), not the loader this
    // process may run under. A Node without it fails here, and the emulator falls back to links.
    const node = ["--experimental-strip-types", "--disable-warning=ExperimentalWarning"];
    const daemon = spawn(process.execPath, [...node, daemonPath, root, tablePath], {
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      serialization: "advanced",
      env: { ...process.env, FERRY_FUSE_DAEMON: "1", NODE_OPTIONS: "" },
    });
    let stderr = "";
    daemon.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const exited = new Promise<void>((resolve) => daemon.once("exit", () => resolve()));
    try {
      const first = await Promise.race([
        new Promise<DaemonReply>((resolve) => daemon.once("message", resolve)),
        exited.then((): DaemonReply => ({ kind: "failed", reason: `it exited: ${stderr.trim() || "no message"}` })),
        timeout(20_000, "it did not start within 20 s"),
      ]);
      if (first.kind !== "ready") throw new Error(first.kind === "failed" ? first.reason : "it answered nonsense");
      // The first look answers once the daemon has taken the kernel's INIT; asked off this thread,
      // so a daemon that does not answer cannot hang the emulator.
      await Promise.race([stat(root), timeout(20_000, "the mounted file system did not answer")]);
    } catch (e) {
      daemon.kill("SIGKILL");
      await exited;
      clearMount(root);
      throw new FuseUnavailable(`the device daemon failed: ${(e as Error).message}`);
    }
    daemon.unref();
    daemon.channel?.unref();
    (daemon.stderr as unknown as { unref?: () => void }).unref?.();
    return new FuseDevices(root, tablePath, daemon, exited);
  }

  show(resourceGroup: string, vm: string, boot: number, disks: GuestDisk[]): void {
    if (this.#closed) return;
    const key = `${resourceGroup}/${vm}`;
    const devices: DeviceEntry[] = disks.map((d) => ({
      name: d.name,
      handle: `${key}/${boot}/${d.name}/${d.diskId.toLowerCase()}`,
      diskSlot: this.#slotOf(d.diskId),
      backing: d.file,
      sizeBytes: d.sizeBytes,
    }));
    if (devices.length) this.#table.vms[key] = devices;
    else delete this.#table.vms[key];
    writeFileSync(`${this.#tablePath}.tmp`, JSON.stringify(this.#table));
    renameSync(`${this.#tablePath}.tmp`, this.#tablePath);
    // The daemon applies the table when it answers this look: once it returns, a device no longer
    // listed can no longer be written.
    try {
      statSync(join(this.#root, CONTROL_NAME));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }

  async capture(source: CaptureSource): Promise<Capture> {
    while (this.#running >= MAX_CAPTURES) await new Promise((r) => setTimeout(r, 5));
    this.#running++;
    const id = this.#nextCapture++;
    let started: DaemonReply;
    try {
      started = await this.#ask(id, { kind: "capture", id, diskSlot: this.#slotOf(source.diskId) });
    } catch (e) {
      this.#running--;
      throw e;
    }
    if (started.kind !== "captureStarted") {
      this.#running--;
      const why = started.kind === "captureFailed" ? started.message : started.kind;
      throw new Error(`capture of ${source.diskId} failed: ${why}`);
    }
    return { takenAt: started.takenAt, chunks: this.#chunks(id, source) };
  }

  /**
   * The disk file read block by block, each block's chunks replaced by the bytes the daemon kept of
   * those a guest overwrote since the capture began; then the kept chunks of holes, in order.
   */
  async *#chunks(id: number, source: CaptureSource): AsyncGenerator<CapturedChunk> {
    const { file, sizeBytes } = source;
    let ended = false;
    let fh: FileHandle | undefined;
    const advance = async (cursor: number) => {
      const reply = await this.#ask(id, { kind: "advance", id, cursor });
      if (reply.kind !== "preserved") {
        const why = reply.kind === "captureFailed" ? reply.message : reply.kind;
        throw new Error(`capture of ${source.diskId} failed: ${why}`);
      }
      return new Map(reply.indices.map((index, i) => [index, reply.data[i]!]));
    };
    try {
      fh = await open(file, "r");
      // Asked after the capture began: a hole then may since hold data, whose chunks the daemon
      // kept as zeros; a chunk with data then is in the answer, or was kept.
      const extents = alignExtents((await dataExtents(file)) ?? [[0, sizeBytes]], CHUNK, sizeBytes);
      const block = Buffer.allocUnsafe(BLOCK);
      for (const [start, end] of extents) {
        for (let pos = start; pos < end; pos += BLOCK) {
          const want = Math.min(BLOCK, end - pos);
          // Read while the daemon still keeps this block's chunks; then take what it kept.
          const { bytesRead } = await fh.read(block, 0, want, pos);
          if (bytesRead < want) block.fill(0, bytesRead, want);
          const kept = await advance((pos + want) / CHUNK);
          for (const [index, chunk] of kept) {
            if (index >= pos / CHUNK) continue;
            if (!isZero(chunk)) yield { offset: index * CHUNK, chunk }; // a hole that held data then
          }
          for (let off = 0; off < want; off += CHUNK) {
            const chunk = kept.get((pos + off) / CHUNK) ?? block.subarray(off, Math.min(want, off + CHUNK));
            if (!isZero(chunk)) yield { offset: pos + off, chunk };
          }
        }
      }
      const rest = await advance(Number.POSITIVE_INFINITY);
      ended = true;
      for (const [index, chunk] of rest) if (!isZero(chunk)) yield { offset: index * CHUNK, chunk };
    } finally {
      this.#running--;
      if (!ended) void this.#ask(id, { kind: "advance", id, cursor: Number.POSITIVE_INFINITY });
      await fh?.close();
    }
  }

  /** Sends a request about a capture and waits for the daemon's next answer about it. */
  #ask(id: number, request: DaemonRequest): Promise<DaemonReply> {
    return new Promise<DaemonReply>((resolve) => {
      this.#waiting.set(id, resolve);
      if (!this.#daemon.connected) resolve({ kind: "captureFailed", id, message: "the device daemon is gone" });
      else this.#daemon.send(request);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Held again while it stops, so that this process waits for it.
    this.#daemon.ref();
    this.#send({ kind: "close" });
    const late = await Promise.race([this.#exited.then(() => false), timeout(10_000, "").catch(() => true)]);
    if (late) {
      this.#daemon.kill("SIGKILL");
      await this.#exited;
    }
    clearMount(this.#root);
    rmSync(this.#tablePath, { force: true });
  }

  #send(m: DaemonRequest): void {
    if (this.#daemon.connected) this.#daemon.send(m);
  }

  #slotOf(diskId: string): number {
    const key = diskId.toLowerCase();
    let slot = this.#diskSlots.get(key);
    if (slot === undefined) this.#diskSlots.set(key, (slot = this.#diskSlots.size));
    return slot;
  }
}

function timeout(ms: number, message: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
}

/**
 * Detaches a FUSE mount left at `root` (by an emulator whose daemon died): its connection is ended
 * first, so nothing waits on it any more.
 */
function clearMount(root: string): void {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f[4] !== root) continue;
    const [major, minor] = f[2]!.split(":").map(Number);
    const connection = join(FUSECTL, String(major! * 2 ** 20 + minor!));
    try {
      if (!existsSync(connection)) execFileSync("mount", ["-t", "fusectl", "fusectl", FUSECTL], { stdio: "ignore" });
      writeFileSync(join(connection, "abort"), "1");
    } catch {
      // not a FUSE mount, or no fusectl
    }
    try {
      execFileSync("umount", ["-l", root], { stdio: "ignore" });
    } catch {
      // gone meanwhile
    }
  }
}
