// The guests' disks as a FUSE file system: the request loop, run by a worker thread of the device
// daemon (`fuse-daemon.ts`). Every read and write a guest makes to a device path reaches this code,
// so the emulator decides whether it lands (a powered-off VM's writes fail) and what a snapshot
// taken meanwhile sees (copy-before-write).
//
// It runs under Node's own TypeScript support (type stripping): erasable syntax only, and nothing
// imported but Node's modules. It makes synchronous calls only, and never touches the mount it serves.
import { execFileSync } from "node:child_process";
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import { isMainThread, receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";

/** Bytes of one chunk: the unit of copy-before-write, as of the emulator's snapshots. */
export const CHUNK = 64 * 1024;
/** Captures that can run at once (one slot each in the shared control block). */
export const MAX_CAPTURES = 64;
/** The name the emulator looks up to make the server apply the device table before it goes on. */
export const CONTROL_NAME = ".ferry-control";
/**
 * The folder of the device files themselves, one per attachment in one boot (`<id>`): a VM's
 * `lun<N>` and `os` are symbolic links to them, as `/dev/disk/azure/scsi1/lun<N>` links to a
 * `/dev/sdX` on Azure. So what a device path resolves to names one attachment, never another disk
 * attached later at the same LUN.
 */
export const DISKS_DIR = ".disks";
/** Largest read or write the kernel sends in one request (FUSE_MAX_PAGES × 4 KiB). */
const MAX_IO = 1024 * 1024;

// The shared control block (Int32Array over a SharedArrayBuffer): a mutex, then one capture slot of
// three ints each — the disk it captures (-1: free), its id, and its cursor: the first chunk the
// capture has not yet read. A guest write to a chunk at or above the cursor first hands the chunk's
// old bytes to the capture.
export const MUTEX = 0;
/** Never written: the server naps on it while the file system is not mounted yet. */
const NAP = 1;
/** Set to 1 by the daemon's main thread when it has answered an extents question. */
export const EXTENTS_ANSWERED = 2;
export const SLOTS = 4;
export const SLOT_INTS = 3;
export const CONTROL_INTS = SLOTS + MAX_CAPTURES * SLOT_INTS;

/** Takes the control block's mutex (a futex-style lock that both threads may wait on). */
export function lock(control: Int32Array): void {
  let c = Atomics.compareExchange(control, MUTEX, 0, 1);
  if (c === 0) return;
  do {
    if (c === 2 || Atomics.compareExchange(control, MUTEX, 1, 2) !== 0) Atomics.wait(control, MUTEX, 2);
    c = Atomics.compareExchange(control, MUTEX, 0, 2);
  } while (c !== 0);
}

export function unlock(control: Int32Array): void {
  if (Atomics.sub(control, MUTEX, 1) !== 1) {
    Atomics.store(control, MUTEX, 0);
    Atomics.notify(control, MUTEX, 1);
  }
}

/** One device a running VM's guest sees. */
export interface DeviceEntry {
  /** `os` or `lun<N>`. */
  name: string;
  /** Identifies this attachment in this boot: a new one (a start, a re-attach) is a new file. */
  handle: string;
  /** The emulator's number for the disk (captures name disks by it). */
  diskSlot: number;
  /** The disk's backing file. */
  backing: string;
  sizeBytes: number;
}

/** The device table the emulator writes (JSON, replaced atomically): every running VM's devices by "<rg>/<vm>". */
export interface DeviceTable {
  vms: Record<string, DeviceEntry[]>;
}

/** A chunk's bytes as they were when a capture began, kept from a guest write that overwrote them. */
export interface PreservedChunk {
  captureId: number;
  index: number;
  data: ArrayBuffer;
}

export interface FuseWorkerData {
  kind: "ferry-fuse";
  fuseFd: number;
  /** Where the file system is mounted (symbolic links point into it). */
  root: string;
  control: SharedArrayBuffer;
  /** The device table's file. */
  tablePath: string;
  capturePort: MessagePort;
  /** Questions about a backing file's data extents go out here, answers come back. */
  extentsPort: MessagePort;
  readyPort: MessagePort;
}

/** A question to the daemon's main thread: where does this file hold data? */
export interface ExtentsQuestion {
  id: number;
  file: string;
}

/** Its answer: [start, end) byte ranges, or null when that cannot be told. */
export interface ExtentsAnswer {
  id: number;
  extents: [number, number][] | null;
}

// FUSE opcodes (linux/fuse.h).
const LOOKUP = 1;
const FORGET = 2;
const GETATTR = 3;
const SETATTR = 4;
const READLINK = 5;
const OPEN = 14;
const READ = 15;
const WRITE = 16;
const STATFS = 17;
const RELEASE = 18;
const FSYNC = 20;
const FLUSH = 25;
const INIT = 26;
const OPENDIR = 27;
const READDIR = 28;
const RELEASEDIR = 29;
const FSYNCDIR = 30;
const ACCESS = 34;
const INTERRUPT = 36;
const DESTROY = 38;
const BATCH_FORGET = 42;
const FALLOCATE = 43;
const LSEEK = 46;

const ENOENT = 2;
const EIO = 5;
const ENXIO = 6;
const EPERM = 1;
const ENOTDIR = 20;
const EISDIR = 21;
const ENOSPC = 28;
const ENOSYS = 38;
const EOPNOTSUPP = 95;
const EINVAL = 22;

const IN_HEADER = 40;
const FOPEN_DIRECT_IO = 1;
const FUSE_BIG_WRITES = 1 << 5;
const FUSE_MAX_PAGES = 1 << 22;
const FATTR_SIZE = 1 << 3;
const FALLOC_FL_KEEP_SIZE = 1;
const FALLOC_FL_PUNCH_HOLE = 2;
const FALLOC_FL_ZERO_RANGE = 0x10;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const DT_DIR = 4;
const DT_REG = 8;
const DT_LNK = 10;

interface DirNode {
  kind: "dir";
  id: number;
  /** "" (root), "<rg>" or "<rg>/<vm>". */
  path: string;
}

interface FileNode {
  kind: "file";
  id: number;
  entry: DeviceEntry;
  /** False once the device is gone (VM stopped, disk detached): its I/O fails from then on. */
  live: boolean;
  /** The VM's `lun<N>`/`os` that links to it. */
  link: LinkNode;
}

interface LinkNode {
  kind: "link";
  id: number;
  file: FileNode;
}

type Node = DirNode | FileNode | LinkNode;

interface Backing {
  fd: number;
  /** Files that use it (shared disks have several). */
  users: number;
  /** Bumped by every write: the data-extents answer is cached per generation. */
  generation: number;
  extents?: { generation: number; list: [number, number][] };
}

/** The server: the device tree, the open backing files, and the request loop. */
class FuseServer {
  readonly #d: FuseWorkerData;
  readonly #control: Int32Array;
  readonly #buf = Buffer.alloc(MAX_IO + 64 * 1024);
  readonly #nodes = new Map<number, Node>();
  readonly #dirs = new Map<string, DirNode>();
  readonly #files = new Map<string, FileNode>();
  /** Per VM ("<rg>/<vm>"): its devices by name. */
  readonly #vms = new Map<string, Map<string, FileNode>>();
  readonly #backings = new Map<number, Backing>();
  /** Chunks already handed over, per capture id. */
  readonly #preserved = new Map<number, Set<number>>();
  #nextId = 2;
  #nextQuestion = 1;

  constructor(d: FuseWorkerData) {
    this.#d = d;
    this.#control = new Int32Array(d.control);
    const root: DirNode = { kind: "dir", id: 1, path: "" };
    this.#nodes.set(1, root);
    this.#dirs.set("", root);
  }

  run(): void {
    this.#d.readyPort.postMessage("ready");
    for (;;) {
      let length: number;
      try {
        length = readSync(this.#d.fuseFd, this.#buf, 0, this.#buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EINTR" || code === "EAGAIN" || code === "ENOENT") continue;
        // EPERM: the file system is not mounted yet (the emulator mounts it once this thread runs).
        if (code === "EPERM") {
          Atomics.wait(this.#control, NAP, 0, 2);
          continue;
        }
        return; // ENODEV: unmounted (or the connection was aborted)
      }
      this.#handle(this.#buf.subarray(0, length));
    }
  }

  /** Applies the device table the emulator wrote last. */
  #loadTable(): void {
    let table: DeviceTable;
    try {
      table = JSON.parse(readFileSync(this.#d.tablePath, "utf8")) as DeviceTable;
    } catch {
      return; // none written yet
    }
    for (const key of new Set([...this.#vms.keys(), ...Object.keys(table.vms)])) this.#setVm(key, table.vms[key] ?? []);
  }

  #setVm(key: string, devices: DeviceEntry[]): void {
    const rg = key.split("/")[0]!;
    const before = this.#vms.get(key) ?? new Map<string, FileNode>();
    const after = new Map<string, FileNode>();
    for (const entry of devices) {
      let node = this.#files.get(entry.handle);
      if (!node) {
        const file: FileNode = { kind: "file", id: this.#nextId++, entry, live: true, link: undefined! };
        file.link = { kind: "link", id: this.#nextId++, file };
        this.#files.set(entry.handle, file);
        this.#nodes.set(file.id, file);
        this.#nodes.set(file.link.id, file.link);
        this.#useBacking(entry);
        node = file;
      }
      after.set(entry.name, node);
    }
    for (const node of before.values()) {
      if (after.get(node.entry.name) === node) continue;
      node.live = false;
      this.#files.delete(node.entry.handle);
      this.#releaseBacking(node.entry.diskSlot);
    }
    if (after.size) this.#vms.set(key, after);
    else this.#vms.delete(key);
    for (const path of [rg, key]) if (!this.#dirs.has(path)) this.#dir(path);
  }

  /** The kernel no longer knows a node (no descriptor holds it): a device that is gone is dropped. */
  #forget(nodeId: number): void {
    const node = this.#nodes.get(nodeId);
    if ((node?.kind === "file" && !node.live) || (node?.kind === "link" && !node.file.live)) this.#nodes.delete(nodeId);
  }

  #dir(path: string): DirNode {
    let d = this.#dirs.get(path);
    if (!d) {
      d = { kind: "dir", id: this.#nextId++, path };
      this.#dirs.set(path, d);
      this.#nodes.set(d.id, d);
    }
    return d;
  }

  #useBacking(entry: DeviceEntry): void {
    const b = this.#backings.get(entry.diskSlot);
    if (b) b.users++;
    else this.#backings.set(entry.diskSlot, { fd: openSync(entry.backing, "r+"), users: 1, generation: 0 });
  }

  #releaseBacking(slot: number): void {
    const b = this.#backings.get(slot);
    if (!b || --b.users > 0) return;
    closeSync(b.fd);
    this.#backings.delete(slot);
  }

  /**
   * The children of a directory that exist now: resource groups, their VM folders with devices (links),
   * and the device files (in the hidden folder of device files).
   */
  #children(dir: DirNode): { name: string; node: Node }[] {
    const out: { name: string; node: Node }[] = [];
    if (dir.path === "") {
      const groups = new Set([...this.#vms.keys()].map((k) => k.split("/")[0]!));
      for (const g of groups) out.push({ name: g, node: this.#dir(g) });
    } else if (dir.path === DISKS_DIR) {
      for (const devices of this.#vms.values())
        for (const f of devices.values()) out.push({ name: String(f.id), node: f });
    } else if (!dir.path.includes("/")) {
      for (const k of this.#vms.keys())
        if (k.startsWith(`${dir.path}/`)) out.push({ name: k.slice(dir.path.length + 1), node: this.#dir(k) });
    } else {
      for (const [name, node] of this.#vms.get(dir.path) ?? []) out.push({ name, node: node.link });
    }
    return out;
  }

  #handle(req: Buffer): void {
    const opcode = req.readUInt32LE(4);
    const unique = req.readBigUInt64LE(8);
    const nodeId = Number(req.readBigUInt64LE(16));
    const body = req.subarray(IN_HEADER);
    try {
      switch (opcode) {
        case INIT:
          return this.#reply(unique, 0, this.#init(body));
        case LOOKUP:
          return this.#lookup(unique, nodeId, body);
        case GETATTR:
        case SETATTR:
          return this.#getattr(unique, nodeId, opcode === SETATTR ? body : undefined);
        case READLINK: {
          const node = this.#nodes.get(nodeId);
          if (node?.kind !== "link" || !node.file.live) return this.#reply(unique, -ENOENT);
          return this.#reply(unique, 0, Buffer.from(this.#target(node)));
        }
        case OPEN:
        case OPENDIR:
          return this.#open(unique, nodeId, opcode === OPENDIR);
        case READDIR:
          return this.#readdir(unique, nodeId, body);
        case READ:
          return this.#read(unique, nodeId, body);
        case WRITE:
          return this.#write(unique, nodeId, body);
        case FALLOCATE:
          return this.#fallocate(unique, nodeId, body);
        case LSEEK:
          return this.#lseek(unique, nodeId, body);
        case STATFS:
          return this.#reply(unique, 0, statfs());
        case RELEASE:
        case RELEASEDIR:
        case FLUSH:
        case FSYNC:
        case FSYNCDIR:
        case ACCESS:
        case DESTROY:
          // The backing file's page cache is the disk: it outlives this process, so a flush has
          // nothing to make durable that a snapshot would not already see.
          return this.#reply(unique, 0);
        case FORGET:
          return this.#forget(nodeId);
        case BATCH_FORGET:
          for (let i = 0, n = body.readUInt32LE(0); i < n; i++) this.#forget(Number(body.readBigUInt64LE(8 + 16 * i)));
          return;
        case INTERRUPT:
          return; // no answer expected
        default:
          return this.#reply(unique, -ENOSYS);
      }
    } catch (e) {
      // A failed read or write of a backing file is a failed I/O for the guest, never a dead server.
      this.#reply(unique, -(errnoOf(e) ?? EIO));
    }
  }

  #reply(unique: bigint, error: number, payload?: Buffer): void {
    const out = Buffer.allocUnsafe(16 + (payload?.length ?? 0));
    out.writeUInt32LE(out.length, 0);
    out.writeInt32LE(error, 4);
    out.writeBigUInt64LE(unique, 8);
    payload?.copy(out, 16);
    try {
      writeSync(this.#d.fuseFd, out);
    } catch {
      // ENOENT: the request was interrupted and nobody waits for the answer any more.
    }
  }

  #init(body: Buffer): Buffer {
    const minor = body.readUInt32LE(4);
    const flags = body.readUInt32LE(12);
    const out = Buffer.alloc(64);
    out.writeUInt32LE(7, 0);
    out.writeUInt32LE(Math.min(minor, 31), 4);
    out.writeUInt32LE(MAX_IO, 8); // max_readahead
    out.writeUInt32LE(flags & (FUSE_BIG_WRITES | FUSE_MAX_PAGES), 12);
    out.writeUInt16LE(16, 16); // max_background
    out.writeUInt16LE(12, 18); // congestion_threshold
    out.writeUInt32LE(MAX_IO, 20); // max_write
    out.writeUInt32LE(1, 24); // time_gran
    out.writeUInt16LE(MAX_IO / 4096, 28); // max_pages
    return out;
  }

  #lookup(unique: bigint, parentId: number, body: Buffer): void {
    const name = body.subarray(0, body.indexOf(0)).toString();
    const parent = this.#nodes.get(parentId);
    if (!parent || parent.kind !== "dir") return this.#reply(unique, -ENOTDIR);
    // The control name answers "absent" once the table is applied: the emulator's look returns after.
    if (parentId === 1 && name === CONTROL_NAME) {
      this.#loadTable();
      return this.#reply(unique, -ENOENT);
    }
    const child =
      parentId === 1 && name === DISKS_DIR
        ? { name, node: this.#dir(DISKS_DIR) }
        : this.#children(parent).find((c) => c.name === name);
    if (!child) return this.#reply(unique, -ENOENT);
    const out = Buffer.alloc(128);
    out.writeBigUInt64LE(BigInt(child.node.id), 0);
    // entry_valid and attr_valid 0: the kernel asks again each time, so a device that goes is gone.
    this.#attr(child.node).copy(out, 40);
    this.#reply(unique, 0, out);
  }

  #getattr(unique: bigint, nodeId: number, setattr: Buffer | undefined): void {
    const node = this.#nodes.get(nodeId);
    if (!node || (node.kind === "file" && !node.live) || (node.kind === "link" && !node.file.live))
      return this.#reply(unique, -ENOENT);
    if (setattr && node.kind === "file") {
      const valid = setattr.readUInt32LE(0);
      // A disk's size is Azure's to change: a guest cannot truncate or grow its device.
      if (valid & FATTR_SIZE && Number(setattr.readBigUInt64LE(16)) !== node.entry.sizeBytes)
        return this.#reply(unique, -EPERM);
    }
    const out = Buffer.alloc(104);
    this.#attr(node).copy(out, 16);
    this.#reply(unique, 0, out);
  }

  /** Where a VM's device link points: its device file, by absolute path. */
  #target(link: LinkNode): string {
    return `${this.#d.root}/${DISKS_DIR}/${link.file.id}`;
  }

  #attr(node: Node): Buffer {
    const a = Buffer.alloc(88);
    a.writeBigUInt64LE(BigInt(node.id), 0);
    if (node.kind === "dir") {
      a.writeUInt32LE(0o40755, 60);
      a.writeUInt32LE(2, 64);
      return a;
    }
    if (node.kind === "link") {
      a.writeBigUInt64LE(BigInt(Buffer.byteLength(this.#target(node))), 8);
      a.writeUInt32LE(0o120777, 60);
      a.writeUInt32LE(1, 64);
      return a;
    }
    const b = this.#backings.get(node.entry.diskSlot);
    const st = b ? fstatSync(b.fd, { bigint: true }) : undefined;
    a.writeBigUInt64LE(BigInt(node.entry.sizeBytes), 8);
    a.writeBigUInt64LE(st?.blocks ?? 0n, 16);
    if (st) {
      const sec = (ns: bigint) => ns / 1_000_000_000n;
      a.writeBigUInt64LE(sec(st.atimeNs), 24);
      a.writeBigUInt64LE(sec(st.mtimeNs), 32);
      a.writeBigUInt64LE(sec(st.ctimeNs), 40);
      a.writeUInt32LE(Number(st.atimeNs % 1_000_000_000n), 48);
      a.writeUInt32LE(Number(st.mtimeNs % 1_000_000_000n), 52);
      a.writeUInt32LE(Number(st.ctimeNs % 1_000_000_000n), 56);
    }
    a.writeUInt32LE(0o100660, 60);
    a.writeUInt32LE(1, 64);
    a.writeUInt32LE(4096, 80);
    return a;
  }

  #open(unique: bigint, nodeId: number, dir: boolean): void {
    const node = this.#nodes.get(nodeId);
    if (!node) return this.#reply(unique, -ENOENT);
    if (dir !== (node.kind === "dir")) return this.#reply(unique, dir ? -ENOTDIR : -EISDIR);
    if (node.kind === "file" && !node.live) return this.#reply(unique, -EIO);
    const out = Buffer.alloc(16);
    // Direct I/O: no page cache between the guest and this server, so every write reaches it.
    if (!dir) out.writeUInt32LE(FOPEN_DIRECT_IO, 8);
    this.#reply(unique, 0, out);
  }

  #readdir(unique: bigint, nodeId: number, body: Buffer): void {
    const node = this.#nodes.get(nodeId);
    if (!node || node.kind !== "dir") return this.#reply(unique, -ENOTDIR);
    const offset = Number(body.readBigUInt64LE(8));
    const size = body.readUInt32LE(16);
    const entries = [{ name: ".", node: node as Node }, { name: "..", node: node as Node }, ...this.#children(node)];
    const parts: Buffer[] = [];
    let used = 0;
    for (let i = offset; i < entries.length; i++) {
      const e = entries[i]!;
      const name = Buffer.from(e.name);
      const d = Buffer.alloc((24 + name.length + 7) & ~7);
      if (used + d.length > size) break;
      d.writeBigUInt64LE(BigInt(e.node.id), 0);
      d.writeBigUInt64LE(BigInt(i + 1), 8);
      d.writeUInt32LE(name.length, 16);
      d.writeUInt32LE(e.node.kind === "dir" ? DT_DIR : e.node.kind === "link" ? DT_LNK : DT_REG, 20);
      name.copy(d, 24);
      parts.push(d);
      used += d.length;
    }
    this.#reply(unique, 0, Buffer.concat(parts));
  }

  /** The live device behind a node and its open backing file; undefined when the device is gone. */
  #device(nodeId: number): { node: FileNode; backing: Backing } | undefined {
    const node = this.#nodes.get(nodeId);
    if (!node || node.kind !== "file" || !node.live) return undefined;
    const backing = this.#backings.get(node.entry.diskSlot);
    return backing ? { node, backing } : undefined;
  }

  #read(unique: bigint, nodeId: number, body: Buffer): void {
    const dev = this.#device(nodeId);
    if (!dev) return this.#reply(unique, -EIO);
    const offset = Number(body.readBigUInt64LE(8));
    const size = Math.max(0, Math.min(body.readUInt32LE(16), dev.node.entry.sizeBytes - offset));
    const out = Buffer.allocUnsafe(16 + size);
    let done = 0;
    while (done < size) {
      const n = readSync(dev.backing.fd, out, 16 + done, size - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    out.fill(0, 16 + done);
    out.writeUInt32LE(out.length, 0);
    out.writeInt32LE(0, 4);
    out.writeBigUInt64LE(unique, 8);
    try {
      writeSync(this.#d.fuseFd, out);
    } catch {
      // interrupted
    }
  }

  #write(unique: bigint, nodeId: number, body: Buffer): void {
    const dev = this.#device(nodeId);
    if (!dev) return this.#reply(unique, -EIO);
    const offset = Number(body.readBigUInt64LE(8));
    const size = body.readUInt32LE(16);
    const sizeBytes = dev.node.entry.sizeBytes;
    if (offset >= sizeBytes && size > 0) return this.#reply(unique, -ENOSPC);
    const length = Math.min(size, sizeBytes - offset);
    const data = body.subarray(40, 40 + length);
    lock(this.#control);
    try {
      this.#preserve(dev.node.entry.diskSlot, dev.backing.fd, offset, length, sizeBytes);
      let done = 0;
      while (done < length) done += writeSync(dev.backing.fd, data, done, length - done, offset + done);
      dev.backing.generation++;
    } finally {
      unlock(this.#control);
    }
    const out = Buffer.alloc(8);
    out.writeUInt32LE(length, 0);
    this.#reply(unique, 0, out);
  }

  /**
   * Hands the old bytes of every chunk in [offset, offset+length) to each capture of the disk that
   * has not read that chunk yet (called with the mutex held, before the bytes change).
   */
  #preserve(diskSlot: number, fd: number, offset: number, length: number, sizeBytes: number): void {
    if (length <= 0) return;
    const c = this.#control;
    const first = Math.floor(offset / CHUNK);
    const last = Math.floor((offset + length - 1) / CHUNK);
    const live = new Set<number>();
    for (let k = 0; k < MAX_CAPTURES; k++) {
      const at = SLOTS + k * SLOT_INTS;
      if (c[at] === -1) continue;
      const captureId = c[at + 1]!;
      live.add(captureId);
      if (c[at] !== diskSlot) continue;
      const cursor = c[at + 2]!;
      let done = this.#preserved.get(captureId);
      if (!done) this.#preserved.set(captureId, (done = new Set()));
      for (let index = Math.max(first, cursor); index <= last; index++) {
        if (done.has(index)) continue;
        const len = Math.min(CHUNK, sizeBytes - index * CHUNK);
        const old = Buffer.alloc(len);
        readSync(fd, old, 0, len, index * CHUNK);
        done.add(index);
        const data = old.buffer as ArrayBuffer;
        const message: PreservedChunk = { captureId, index, data };
        this.#d.capturePort.postMessage(message, [data]);
      }
    }
    for (const id of this.#preserved.keys()) if (!live.has(id)) this.#preserved.delete(id);
  }

  #fallocate(unique: bigint, nodeId: number, body: Buffer): void {
    const dev = this.#device(nodeId);
    if (!dev) return this.#reply(unique, -EIO);
    const offset = Number(body.readBigUInt64LE(8));
    const sizeBytes = dev.node.entry.sizeBytes;
    const length = Math.min(Number(body.readBigUInt64LE(16)), sizeBytes - offset);
    const mode = body.readUInt32LE(24);
    // Reserving space changes no byte; punching a hole (or zeroing a range) of a disk makes it read
    // as zeros, which Node cannot do to a file without the fallocate tool.
    if ((mode & ~FALLOC_FL_KEEP_SIZE) === 0) return this.#reply(unique, 0);
    if (mode !== (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) && (mode & ~FALLOC_FL_KEEP_SIZE) !== FALLOC_FL_ZERO_RANGE)
      return this.#reply(unique, -EOPNOTSUPP);
    if (length <= 0) return this.#reply(unique, 0);
    lock(this.#control);
    try {
      this.#preserve(dev.node.entry.diskSlot, dev.backing.fd, offset, length, sizeBytes);
      execFileSync(
        "fallocate",
        ["--punch-hole", "--keep-size", "--offset", String(offset), "--length", String(length), dev.node.entry.backing],
        { stdio: "ignore" },
      );
      dev.backing.generation++;
    } catch {
      return this.#reply(unique, -EOPNOTSUPP);
    } finally {
      unlock(this.#control);
    }
    this.#reply(unique, 0);
  }

  /** SEEK_DATA / SEEK_HOLE, from the backing file's extents (asked once per generation of writes). */
  #lseek(unique: bigint, nodeId: number, body: Buffer): void {
    const dev = this.#device(nodeId);
    if (!dev) return this.#reply(unique, -EIO);
    const offset = Number(body.readBigUInt64LE(8));
    const whence = body.readUInt32LE(16);
    const size = dev.node.entry.sizeBytes;
    if (whence !== SEEK_DATA && whence !== SEEK_HOLE) return this.#reply(unique, -EINVAL);
    if (offset >= size) return this.#reply(unique, -ENXIO);
    // Not known: every byte is data, which is always a true answer (only a slower one to read).
    const list = this.#extents(dev.backing, dev.node.entry.backing) ?? [[0, size]];
    let answer: number | undefined;
    if (whence === SEEK_DATA) {
      const e = list.find(([, end]) => end > offset);
      answer = e && e[0] < size ? Math.max(e[0], offset) : undefined;
    } else {
      const e = list.find(([start, end]) => start <= offset && offset < end);
      answer = Math.min(size, e ? e[1] : offset);
    }
    if (answer === undefined) return this.#reply(unique, -ENXIO);
    const out = Buffer.alloc(8);
    out.writeBigUInt64LE(BigInt(answer), 0);
    this.#reply(unique, 0, out);
  }

  /**
   * A backing file's data extents, asked of the daemon's main thread (which asks the file system
   * through a long-lived helper) and kept until the next write. Undefined when that fails.
   */
  #extents(b: Backing, file: string): [number, number][] | undefined {
    if (b.extents?.generation === b.generation) return b.extents.list;
    const id = this.#nextQuestion++;
    const question: ExtentsQuestion = { id, file };
    Atomics.store(this.#control, EXTENTS_ANSWERED, 0);
    this.#d.extentsPort.postMessage(question);
    const deadline = Date.now() + 10_000;
    for (;;) {
      for (let m = receiveMessageOnPort(this.#d.extentsPort); m; m = receiveMessageOnPort(this.#d.extentsPort)) {
        const answer = m.message as ExtentsAnswer;
        if (answer.id !== id) continue; // an answer to a question that timed out
        if (!answer.extents) return undefined;
        b.extents = { generation: b.generation, list: answer.extents };
        return answer.extents;
      }
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      Atomics.wait(this.#control, EXTENTS_ANSWERED, 0, left);
      Atomics.store(this.#control, EXTENTS_ANSWERED, 0);
    }
  }
}

function statfs(): Buffer {
  const out = Buffer.alloc(80);
  out.writeUInt32LE(4096, 40); // bsize
  out.writeUInt32LE(255, 44); // namelen
  out.writeUInt32LE(4096, 48); // frsize
  return out;
}

const ERRNO: Record<string, number> = { ENOSPC, EIO, EPERM, ENOENT };
function errnoOf(e: unknown): number | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code ? ERRNO[code] : undefined;
}

const data = workerData as FuseWorkerData | undefined;
if (!isMainThread && data?.kind === "ferry-fuse") new FuseServer(data).run();
