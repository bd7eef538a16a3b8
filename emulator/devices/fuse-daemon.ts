// The device daemon: a child process of the emulator that mounts the guests' device file system and
// serves it (the request loop runs in a worker thread, `fuse-server.ts`), and reads captures of
// disks in step with that loop. A process of its own, because a process must never serve a FUSE
// file system it also uses: were it killed, closing its own device files would wait forever for
// the answer of its own dead server.
//
// Run by Node's own TypeScript support (type stripping): erasable syntax only, Node's modules only.
// It never touches the mount it serves. It unmounts and exits when the emulator disconnects.
import { execFileSync } from "node:child_process";
import { existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import { alignExtents, dataExtents } from "@ferry/sparse";
import {
  CHUNK,
  CONTROL_INTS,
  EXTENTS_ANSWERED,
  lock,
  MAX_CAPTURES,
  SLOT_INTS,
  SLOTS,
  unlock,
  type ExtentsAnswer,
  type ExtentsQuestion,
  type FuseWorkerData,
  type PreservedChunk,
} from "./fuse-server.ts";

/** Messages from the emulator. */
export type DaemonRequest =
  /** Start a capture of a disk (the instant it is taken in). */
  | { kind: "capture"; id: number; diskSlot: number; file: string; sizeBytes: number }
  /** The next chunks of a capture. */
  | { kind: "more"; id: number }
  /** The emulator no longer wants a capture. */
  | { kind: "cancel"; id: number }
  | { kind: "close" };

/** Messages to the emulator. */
export type DaemonReply =
  | { kind: "ready" }
  | { kind: "failed"; reason: string }
  /** A capture has begun: it holds the disk as it was at `takenAt` (epoch milliseconds). */
  | { kind: "captureStarted"; id: number; takenAt: number }
  /** The next chunks of a capture, ascending; `done` after the last. */
  | { kind: "chunks"; id: number; offsets: number[]; data: Buffer[]; done: boolean }
  | { kind: "captureFailed"; id: number; message: string };

const FUSECTL = "/sys/fs/fuse/connections";
const BLOCK = 16 * CHUNK;
/** Chunks per answer to "more": a round trip per MiB keeps memory small and costs little. */
const BATCH = 64;

function send(reply: DaemonReply): void {
  process.send?.(reply);
}

const ZERO = Buffer.alloc(CHUNK);

function isZero(chunk: Buffer): boolean {
  return chunk.equals(ZERO.subarray(0, chunk.length));
}

/** The fusectl name of the connection mounted at `root` (the kernel's device number). */
function connectionOf(root: string): string | undefined {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f[4] !== root || !f.includes("fuse")) continue;
    const [major, minor] = f[2]!.split(":").map(Number);
    return String(major! * 2 ** 20 + minor!);
  }
  return undefined;
}

/** Ends the connection (every waiting and later request fails at once), then detaches the mount. */
function forceUnmount(root: string, connection: string | undefined): void {
  const mounted = connectionOf(root) !== undefined;
  if (connection !== undefined && (mounted || existsSync(join(FUSECTL, connection)))) {
    try {
      if (!existsSync(join(FUSECTL, connection)))
        execFileSync("mount", ["-t", "fusectl", "fusectl", FUSECTL], { stdio: "ignore" });
      writeFileSync(join(FUSECTL, connection, "abort"), "1");
    } catch {
      // no fusectl: the lazy unmount still detaches it
    }
  }
  if (!mounted) return;
  try {
    execFileSync("umount", ["-l", root], { stdio: "ignore" });
  } catch {
    // gone meanwhile
  }
}

class Daemon {
  readonly root: string;
  readonly tablePath: string;
  readonly #control = new Int32Array(new SharedArrayBuffer(CONTROL_INTS * 4));
  /** Preserved chunks come in on port2; the server thread posts them on port1. */
  readonly #channel = new MessageChannel();
  /** The server thread's questions about data extents (port2 here, port1 there). */
  readonly #extents = new MessageChannel();
  /** Running captures: their chunks, and the control-block slot each holds until it ends. */
  readonly #captures = new Map<number, { chunks: AsyncGenerator<{ offset: number; chunk: Buffer }>; at: number }>();
  readonly #preserved = new Map<number, Map<number, Buffer>>();
  #connection: string | undefined;
  #worker: Worker | undefined;
  #exiting = false;

  constructor(root: string, tablePath: string) {
    this.root = root;
    this.tablePath = tablePath;
    for (let k = 0; k < MAX_CAPTURES; k++) this.#control[SLOTS + k * SLOT_INTS] = -1;
  }

  async start(): Promise<void> {
    const fd = openSync("/dev/fuse", "r+");
    const ready = new MessageChannel();
    const data: FuseWorkerData = {
      kind: "ferry-fuse",
      fuseFd: fd,
      control: this.#control.buffer as SharedArrayBuffer,
      tablePath: this.tablePath,
      capturePort: this.#channel.port1,
      extentsPort: this.#extents.port1,
      readyPort: ready.port2,
    };
    const worker = new Worker(new URL("./fuse-server.ts", import.meta.url), {
      workerData: data,
      transferList: [this.#channel.port1, this.#extents.port1, ready.port2],
    });
    // The server thread waits for the answer; this thread never waits for the server.
    this.#extents.port2.on("message", (q: ExtentsQuestion) => {
      void dataExtents(q.file).then((extents) => {
        const answer: ExtentsAnswer = { id: q.id, extents: extents ?? null };
        this.#extents.port2.postMessage(answer);
        Atomics.store(this.#control, EXTENTS_ANSWERED, 1);
        Atomics.notify(this.#control, EXTENTS_ANSWERED);
      });
    });
    this.#worker = worker;
    await new Promise<void>((resolve, reject) => {
      ready.port1.once("message", () => resolve());
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`the server thread exited with code ${code}`)));
    });
    ready.port1.close();
    execFileSync(
      "mount",
      ["-i", "-t", "fuse", "-o", "fd=3,rootmode=40000,user_id=0,group_id=0,allow_other", "ferry-emulator", this.root],
      { stdio: ["ignore", "ignore", "pipe", fd] },
    );
    this.#connection = connectionOf(this.root);
    // A server thread that dies (a bug) must fail the guests' I/O, never leave it waiting.
    worker.once("exit", () => void this.#exit(1));
  }

  handle(m: DaemonRequest): void {
    switch (m.kind) {
      case "capture": {
        let at: number;
        try {
          at = this.#claim(m.id, m.diskSlot);
        } catch (e) {
          return send({ kind: "captureFailed", id: m.id, message: (e as Error).message });
        }
        // The instant the slot was taken: every write acknowledged before is in the capture.
        const takenAt = Date.now();
        this.#captures.set(m.id, { chunks: this.#capture(m.id, at, m.file, m.sizeBytes), at });
        return send({ kind: "captureStarted", id: m.id, takenAt });
      }
      case "more":
        void this.#more(m.id);
        return;
      case "cancel": {
        const capture = this.#captures.get(m.id);
        this.#captures.delete(m.id);
        // A capture never read from runs no finally: its slot is released here (twice is harmless).
        if (capture) void capture.chunks.return(undefined).finally(() => this.#release(capture.at, m.id));
        return;
      }
      case "close":
        this.#close();
        return;
    }
  }

  async #more(id: number): Promise<void> {
    const capture = this.#captures.get(id)?.chunks;
    if (!capture) return send({ kind: "captureFailed", id, message: "no such capture" });
    const offsets: number[] = [];
    const data: Buffer[] = [];
    try {
      let done = false;
      while (offsets.length < BATCH) {
        const next = await capture.next();
        if (next.done) {
          done = true;
          break;
        }
        offsets.push(next.value.offset);
        data.push(Buffer.from(next.value.chunk));
      }
      if (done) this.#captures.delete(id);
      send({ kind: "chunks", id, offsets, data, done });
    } catch (e) {
      this.#captures.delete(id);
      send({ kind: "captureFailed", id, message: (e as Error).message });
    }
  }

  /**
   * A disk's non-zero chunks as they were when the capture took its slot (`at`): from then on, the
   * server hands over the old bytes of every chunk a guest overwrites before this has read it.
   */
  async *#capture(id: number, at: number, file: string, sizeBytes: number) {
    const preserved = new Map<number, Buffer>();
    this.#preserved.set(id, preserved);
    let fh: FileHandle | undefined;
    try {
      fh = await open(file, "r");
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
      this.#release(at, id);
      yield* takeBelow(preserved, Number.POSITIVE_INFINITY);
    } finally {
      this.#release(at, id);
      this.#preserved.delete(id);
      await fh?.close();
    }
  }

  /** Takes a capture slot (cursor 0: no chunk read yet). The emulator runs at most MAX_CAPTURES at once. */
  #claim(id: number, diskSlot: number): number {
    lock(this.#control);
    try {
      for (let k = 0; k < MAX_CAPTURES; k++) {
        const at = SLOTS + k * SLOT_INTS;
        if (this.#control[at] !== -1) continue;
        this.#control[at] = diskSlot;
        this.#control[at + 1] = id;
        this.#control[at + 2] = 0;
        return at;
      }
    } finally {
      unlock(this.#control);
    }
    throw new Error(`more than ${MAX_CAPTURES} captures at once`);
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

  /** Frees capture `id`'s slot (a slot another capture holds by now is left alone). */
  #release(at: number, id: number): void {
    lock(this.#control);
    try {
      this.#drain();
      if (this.#control[at] !== -1 && this.#control[at + 1] === id) this.#control[at] = -1;
    } finally {
      unlock(this.#control);
    }
  }

  /** Files the chunks the server preserved under the captures they belong to. */
  #drain(): void {
    for (;;) {
      const m = receiveMessageOnPort(this.#channel.port2);
      if (!m) return;
      const p = m.message as PreservedChunk;
      this.#preserved.get(p.captureId)?.set(p.index, Buffer.from(p.data));
    }
  }

  #close(): void {
    try {
      execFileSync("umount", [this.root], { stdio: "ignore" });
    } catch {
      // Busy (a loop device or a process still holds a device): the exit cuts every guest off.
    }
    void this.#exit(0);
  }

  /**
   * Cuts every guest off (their I/O fails from now on) and exits. Node waits at exit for a worker
   * blocked in a read: the aborted connection ends that read; should it not, the process kills itself.
   */
  async #exit(code: number): Promise<void> {
    if (this.#exiting) return;
    this.#exiting = true;
    forceUnmount(this.root, this.#connection);
    const worker = this.#worker;
    if (worker) {
      const ended = new Promise((resolve) => worker.once("exit", resolve));
      const late = new Promise((resolve) => setTimeout(resolve, 3000, "late"));
      if ((await Promise.race([ended, late])) === "late") process.kill(process.pid, "SIGKILL");
    }
    process.exit(code);
  }

  /** The emulator is gone: no guest may wait for this server any more. */
  disconnected(): void {
    void this.#exit(0);
  }
}

/** Yields, in ascending order, and removes the preserved chunks below `index` that hold data. */
function* takeBelow(preserved: Map<number, Buffer>, index: number) {
  const below = [...preserved.keys()].filter((i) => i < index).sort((a, b) => a - b);
  for (const i of below) {
    const chunk = preserved.get(i)!;
    preserved.delete(i);
    if (!isZero(chunk)) yield { offset: i * CHUNK, chunk };
  }
}

async function main(): Promise<void> {
  const [root, tablePath] = process.argv.slice(2);
  const daemon = new Daemon(root!, tablePath!);
  process.on("disconnect", () => daemon.disconnected());
  process.on("message", (m) => daemon.handle(m as DaemonRequest));
  try {
    await daemon.start();
  } catch (e) {
    send({ kind: "failed", reason: (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message });
    process.exit(1);
  }
  send({ kind: "ready" });
}

if (process.env.FERRY_FUSE_DAEMON === "1" && process.send) void main();
