// The device daemon: a child process of the emulator that mounts the guests' device file system and
// serves it (the request loop runs in a worker thread, `fuse-server.ts`), and keeps, for each
// capture the emulator is reading, the old bytes of the chunks guests overwrite before it has read
// them. A process of its own, because a process must never serve a FUSE file system it also uses:
// were it killed, closing its own device files would wait forever for its own dead server.
//
// Run by Node's own TypeScript support (type stripping): erasable syntax only, Node's modules only.
// It never touches the mount it serves. It unmounts and exits when the emulator disconnects.
import { execFileSync } from "node:child_process";
import { existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import { dataExtents } from "@ferry/sparse";
import {
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
  /** Begin a capture of a disk: from now on, guest writes to it keep the old bytes of chunks not yet read. */
  | { kind: "capture"; id: number; diskSlot: number }
  /**
   * The capture has read every chunk below `cursor` (a chunk index) from the disk file: the old
   * bytes kept of those chunks are wanted now, and none need be kept any more. `Infinity` ends it.
   */
  | { kind: "advance"; id: number; cursor: number }
  | { kind: "close" };

/** Messages to the emulator. */
export type DaemonReply =
  | { kind: "ready" }
  | { kind: "failed"; reason: string }
  /** A capture has begun: it holds the disk as it was at `takenAt` (epoch milliseconds). */
  | { kind: "captureStarted"; id: number; takenAt: number }
  /** The chunks kept for a capture below its new cursor: their bytes as they were when it began. */
  | { kind: "preserved"; id: number; indices: number[]; data: Buffer[] }
  | { kind: "captureFailed"; id: number; message: string };

const FUSECTL = "/sys/fs/fuse/connections";

function send(reply: DaemonReply): void {
  process.send?.(reply);
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
  /** Running captures: the control-block slot each holds, and the chunks kept for it. */
  readonly #captures = new Map<number, { at: number; preserved: Map<number, Buffer> }>();
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
      root: this.root,
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
        this.#captures.set(m.id, { at, preserved: new Map() });
        return send({ kind: "captureStarted", id: m.id, takenAt: Date.now() });
      }
      case "advance": {
        const capture = this.#captures.get(m.id);
        if (!capture) return send({ kind: "captureFailed", id: m.id, message: "no such capture" });
        lock(this.#control);
        try {
          this.#drain();
          if (m.cursor === Number.POSITIVE_INFINITY) {
            if (this.#control[capture.at + 1] === m.id) this.#control[capture.at] = -1;
            this.#captures.delete(m.id);
          } else {
            this.#control[capture.at + 2] = m.cursor;
          }
        } finally {
          unlock(this.#control);
        }
        const indices = [...capture.preserved.keys()].filter((i) => i < m.cursor).sort((x, y) => x - y);
        const data = indices.map((i) => capture.preserved.get(i)!);
        for (const i of indices) capture.preserved.delete(i);
        return send({ kind: "preserved", id: m.id, indices, data });
      }
      case "close":
        this.#close();
        return;
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

  /** Files the chunks the server preserved under the captures they belong to. */
  #drain(): void {
    for (;;) {
      const m = receiveMessageOnPort(this.#channel.port2);
      if (!m) return;
      const p = m.message as PreservedChunk;
      this.#captures.get(p.captureId)?.preserved.set(p.index, Buffer.from(p.data));
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

async function main(): Promise<void> {
  const [root, tablePath] = process.argv.slice(2);
  const daemon = new Daemon(root!, tablePath!);
  process.on("disconnect", () => daemon.disconnected());
  process.on("message", (m) => daemon.handle(m as DaemonRequest));
  // A Ctrl-C in a terminal reaches every process of the foreground group, this one too: it goes
  // with its emulator (the disconnect above), never before it, so the emulator's captures and its
  // guests' I/O do not fail while the emulator closes.
  process.on("SIGINT", () => undefined);
  try {
    await daemon.start();
  } catch (e) {
    send({ kind: "failed", reason: (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message });
    process.exit(1);
  }
  send({ kind: "ready" });
}

if (process.env.FERRY_FUSE_DAEMON === "1" && process.send) void main();
