import { execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import { alignExtents, dataExtents } from "@ferry/sparse";
import { isZero } from "../storage/files";
import {
  CHUNK,
  CONTROL_INTS,
  CONTROL_NAME,
  lock,
  MAX_CAPTURES,
  SLOT_INTS,
  SLOTS,
  unlock,
  type ControlMessage,
  type DeviceEntry,
  type FuseWorkerData,
  type PreservedChunk,
} from "./fuse-server";
import type { CaptureSource, CapturedChunk, GuestDevices, GuestDisk } from "./types";

/** Thrown when FUSE cannot serve the devices here; the message says why. */
export class FuseUnavailable extends Error {}

const BLOCK = 16 * CHUNK;
const FUSECTL = "/sys/fs/fuse/connections";

/**
 * The guests' device paths as a FUSE file system mounted at `<data>/vms`, served by a worker thread
 * (`fuse-server.ts`). Every guest read and write reaches the server, so:
 * - a device that is no longer shown (VM stopped, deallocated, deleted, its region down; disk
 *   detached) fails every read and write with EIO at once, even through a descriptor opened before;
 * - a capture is a point in time: from the instant it starts, the server hands it the old bytes of
 *   every chunk a guest overwrites before the capture has read it (copy-before-write), so the guest
 *   waits at most for one 64 KiB copy per chunk it writes first, never for the whole read.
 */
export class FuseDevices implements GuestDevices {
  readonly mode = "fuse" as const;
  readonly #root: string;
  readonly #fd: number;
  readonly #worker: Worker;
  readonly #control: Int32Array;
  readonly #controlPort: MessagePort;
  readonly #capturePort: MessagePort;
  readonly #diskSlots = new Map<string, number>();
  /** Chunks kept for each running capture, by capture id. */
  readonly #preserved = new Map<number, Map<number, Buffer>>();
  readonly #onExit: () => void;
  /** The mount's fusectl connection. */
  readonly #connection: string | undefined;
  #nextCapture = 1;
  #closed = false;

  private constructor(root: string, fd: number, worker: Worker, control: Int32Array, ports: MessagePort[]) {
    this.#root = root;
    this.#fd = fd;
    this.#worker = worker;
    this.#control = control;
    this.#controlPort = ports[0]!;
    this.#capturePort = ports[1]!;
    // A process that ends without close() must not leave the worker blocked in its read (Node
    // waits for workers at exit) nor a dead mount behind: abort the connection, then unmount.
    this.#connection = connectionOf(root);
    this.#onExit = () => this.#forceUnmount();
    process.on("exit", this.#onExit);
  }

  /** Mounts the device file system at `root`; throws {@link FuseUnavailable} with the reason when it cannot. */
  static async start(root: string): Promise<FuseDevices> {
    if (process.getuid?.() !== 0)
      throw new FuseUnavailable("the emulator does not run as root (mounting a FUSE file system needs root)");
    if (!existsSync("/dev/fuse")) throw new FuseUnavailable("there is no /dev/fuse (the kernel's fuse module)");
    clearMount(root);
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    let fd: number;
    try {
      fd = openSync("/dev/fuse", "r+");
    } catch (e) {
      throw new FuseUnavailable(`/dev/fuse cannot be opened: ${(e as Error).message}`);
    }
    const control = new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4));
    for (let k = 0; k < MAX_CAPTURES; k++) control[SLOTS + k * SLOT_INTS] = -1;
    const controlChannel = new MessageChannel();
    const captureChannel = new MessageChannel();
    const readyChannel = new MessageChannel();
    const data: FuseWorkerData = {
      kind: "ferry-fuse",
      fuseFd: fd,
      control: control.buffer as SharedArrayBuffer,
      controlPort: controlChannel.port2,
      capturePort: captureChannel.port1,
      readyPort: readyChannel.port2,
    };
    let worker: Worker;
    try {
      worker = new Worker(new URL("./fuse-server.ts", import.meta.url), {
        workerData: data,
        transferList: [controlChannel.port2, captureChannel.port1, readyChannel.port2],
      });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("it did not start within 20 s")), 20_000);
        readyChannel.port1.once("message", () => (clearTimeout(timer), resolve()));
        worker.once("error", (e) => (clearTimeout(timer), reject(e)));
        worker.once("exit", (code) => (clearTimeout(timer), reject(new Error(`it exited with code ${code}`))));
      });
    } catch (e) {
      closeSync(fd);
      throw new FuseUnavailable(`the FUSE server thread failed: ${(e as Error).message}`);
    }
    readyChannel.port1.close();
    try {
      execFileSync(
        "mount",
        ["-i", "-t", "fuse", "-o", "fd=3,rootmode=40000,user_id=0,group_id=0,allow_other", "ferry-emulator", root],
        { stdio: ["ignore", "ignore", "pipe", fd] },
      );
      // The first look answers only once the server has taken the kernel's INIT; asked off this
      // thread, so a server that does not answer cannot hang the emulator.
      await Promise.race([
        stat(root),
        new Promise((_, reject) => setTimeout(() => reject(new Error("the server did not answer")), 20_000).unref()),
      ]);
    } catch (e) {
      const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
      abortConnection(root);
      clearMount(root);
      await worker.terminate();
      closeSync(fd);
      throw new FuseUnavailable(`mounting FUSE at ${root} failed: ${stderr || (e as Error).message}`);
    }
    worker.unref();
    captureChannel.port2.unref();
    const devices = new FuseDevices(root, fd, worker, control, [controlChannel.port1, captureChannel.port2]);
    // A server that ends before close() (a bug) fails the guests' I/O instead of hanging it.
    worker.once("exit", () => {
      if (!devices.#closed) devices.#forceUnmount();
    });
    return devices;
  }

  show(resourceGroup: string, vm: string, boot: number, disks: GuestDisk[]): void {
    if (this.#closed) return;
    const devices: DeviceEntry[] = disks.map((d) => ({
      name: d.name,
      handle: `${resourceGroup}/${vm}/${boot}/${d.name}/${d.diskId.toLowerCase()}`,
      diskSlot: this.#slotOf(d.diskId),
      backing: d.file,
      sizeBytes: d.sizeBytes,
    }));
    const message: ControlMessage = { kind: "vm", resourceGroup, vm, devices };
    this.#controlPort.postMessage(message);
    this.#kick();
  }

  async *capture(source: CaptureSource): AsyncGenerator<CapturedChunk> {
    const { file, sizeBytes } = source;
    const at = await this.#claim(this.#slotOf(source.diskId));
    const captureId = this.#control[at + 1]!;
    const preserved = new Map<number, Buffer>();
    this.#preserved.set(captureId, preserved);
    let released = false;
    const fh = await open(file, "r");
    try {
      // Asked after the capture began: a hole then may since hold data, whose chunks the server
      // preserved as zeros; a chunk with data then is in the answer or was preserved.
      const extents = alignExtents((await dataExtents(file)) ?? [[0, sizeBytes]], CHUNK, sizeBytes);
      const block = Buffer.allocUnsafe(BLOCK);
      for (const [start, end] of extents) {
        for (let pos = start; pos < end; pos += BLOCK) {
          const want = Math.min(BLOCK, end - pos);
          // Read while the cursor is still below the block: writes meanwhile are preserved first.
          const { bytesRead } = await fh.read(block, 0, want, pos);
          if (bytesRead < want) block.fill(0, bytesRead, want);
          this.#advance(at, (pos + want) / CHUNK);
          yield* takeBelow(preserved, pos / CHUNK);
          for (let off = 0; off < want; off += CHUNK) {
            const index = (pos + off) / CHUNK;
            const kept = preserved.get(index);
            preserved.delete(index);
            const chunk = kept ?? block.subarray(off, Math.min(want, off + CHUNK));
            if (!isZero(chunk)) yield { offset: pos + off, chunk };
          }
        }
      }
      this.#release(at);
      released = true;
      yield* takeBelow(preserved, Number.POSITIVE_INFINITY);
    } finally {
      if (!released) this.#release(at);
      this.#preserved.delete(captureId);
      await fh.close();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    process.off("exit", this.#onExit);
    const exited = new Promise<void>((resolve) => this.#worker.once("exit", () => resolve()));
    try {
      execFileSync("umount", [this.#root], { stdio: "ignore" });
    } catch {
      // Busy (a loop device or a process still holds a device): cut every guest off, then detach.
      this.#forceUnmount();
    }
    const timer = new Promise<void>((resolve) => setTimeout(resolve, 10_000).unref());
    await Promise.race([exited, timer]);
    closeSync(this.#fd);
    this.#controlPort.close();
    this.#capturePort.close();
  }

  #forceUnmount(): void {
    abortConnection(this.#root, this.#connection);
    try {
      execFileSync("umount", ["-l", this.#root], { stdio: "ignore" });
    } catch {
      // not mounted
    }
  }

  #slotOf(diskId: string): number {
    const key = diskId.toLowerCase();
    let slot = this.#diskSlots.get(key);
    if (slot === undefined) this.#diskSlots.set(key, (slot = this.#diskSlots.size));
    return slot;
  }

  /** Makes the server apply the messages sent so far before this returns (it looks up a name). */
  #kick(): void {
    try {
      statSync(join(this.#root, CONTROL_NAME));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }

  /** Takes a free capture slot for a disk (cursor 0: every chunk not yet read); waits while all are busy. */
  async #claim(diskSlot: number): Promise<number> {
    for (;;) {
      lock(this.#control);
      try {
        for (let k = 0; k < MAX_CAPTURES; k++) {
          const at = SLOTS + k * SLOT_INTS;
          if (this.#control[at] !== -1) continue;
          this.#control[at] = diskSlot;
          this.#control[at + 1] = this.#nextCapture++;
          this.#control[at + 2] = 0;
          return at;
        }
      } finally {
        unlock(this.#control);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  #advance(at: number, cursor: number): void {
    lock(this.#control);
    try {
      this.#drain();
      this.#control[at + 2] = cursor;
    } finally {
      unlock(this.#control);
    }
  }

  #release(at: number): void {
    lock(this.#control);
    try {
      this.#drain();
      this.#control[at] = -1;
    } finally {
      unlock(this.#control);
    }
  }

  /** Files the chunks the server preserved under the captures they belong to. */
  #drain(): void {
    for (;;) {
      const m = receiveMessageOnPort(this.#capturePort);
      if (!m) return;
      const p = m.message as PreservedChunk;
      this.#preserved.get(p.captureId)?.set(p.index, Buffer.from(p.data));
    }
  }
}

/** Yields, in ascending order, and removes the preserved chunks below `index` that hold data. */
function* takeBelow(preserved: Map<number, Buffer>, index: number): Generator<CapturedChunk> {
  const below = [...preserved.keys()].filter((i) => i < index).sort((a, b) => a - b);
  for (const i of below) {
    const chunk = preserved.get(i)!;
    preserved.delete(i);
    if (!isZero(chunk)) yield { offset: i * CHUNK, chunk };
  }
}

/**
 * Ends the FUSE connection mounted at `root` (through fusectl, mounted if need be): every request
 * waiting for the server, and every later one, fails at once, and the server's read returns.
 */
function abortConnection(root: string, connection = connectionOf(root)): void {
  if (connection === undefined) return;
  try {
    if (!existsSync(join(FUSECTL, connection)))
      execFileSync("mount", ["-t", "fusectl", "fusectl", FUSECTL], { stdio: "ignore" });
    writeFileSync(join(FUSECTL, connection, "abort"), "1");
  } catch {
    // Already gone, or no fusectl: a lazy unmount still detaches it.
  }
}

/**
 * The fusectl name of the FUSE connection mounted at `root` (the kernel's device number), read from
 * /proc/self/mountinfo: a stat of a mount whose server is gone could hang.
 */
function connectionOf(root: string): string | undefined {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f[4] !== root || !f.includes("fuse")) continue;
    const [major, minor] = f[2]!.split(":").map(Number);
    return String(major! * 2 ** 20 + minor!);
  }
  return undefined;
}

/** Detaches whatever is mounted at `root` (a mount left by an emulator that died). */
function clearMount(root: string): void {
  if (
    !readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .some((l) => l.split(" ")[4] === root)
  )
    return;
  abortConnection(root);
  try {
    execFileSync("umount", ["-l", root], { stdio: "ignore" });
  } catch {
    // nothing to detach
  }
}
