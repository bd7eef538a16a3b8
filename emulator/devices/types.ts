/** A disk a running VM's guest sees, by device name (`os`, `lun<N>`). */
export interface GuestDisk {
  /** `os` or `lun<N>`. */
  name: string;
  diskId: string;
  /** The disk's backing file (absolute). */
  file: string;
  sizeBytes: number;
}

/** The disk a capture reads: its id (captures of one disk coordinate by it), backing file and size. */
export interface CaptureSource {
  diskId: string;
  file: string;
  sizeBytes: number;
}

/** One 64 KiB chunk (or the short last one) that holds anything but zeros, at its byte offset. */
export interface CapturedChunk {
  offset: number;
  chunk: Buffer;
}

/** A capture that has begun: the instant it holds the disk at, and the disk's chunks as they were then. */
export interface Capture {
  /** When the capture began (epoch milliseconds): it holds every write acknowledged before. */
  takenAt: number;
  /**
   * The disk's non-zero chunks in ascending order. Read it to its end (or `return()` it): the
   * capture holds resources until then. The chunk buffer is reused: use it before the next.
   */
  chunks: AsyncGenerator<CapturedChunk>;
}

/** How the guests reach their disks, and what that proves. */
export type GuestDeviceMode =
  /**
   * A FUSE file system served by the emulator: every guest read and write goes through it, so a
   * stopped VM's writes fail and captures are points in time (copy-before-write).
   */
  | "fuse"
  /**
   * Symbolic links to the disks' files: a guest that holds a device open keeps writing after its VM
   * stops, and a capture reads a disk while it changes.
   */
  | "links";

/** What a VM's guest sees of its disks, and point-in-time reads of a disk. */
export interface GuestDevices {
  readonly mode: GuestDeviceMode;
  /** Why the mode is `links` when `fuse` was not chosen on purpose (not root, no /dev/fuse, …). */
  readonly fallbackReason?: string;
  /**
   * Makes a VM's guest see exactly these disks (none: the VM is not running). When this returns,
   * a guest write to a device no longer listed can no longer land.
   *
   * @param boot - Counts the VM's boots: devices of an earlier boot stay dead even after a start.
   */
  show(resourceGroup: string, vm: string, boot: number, disks: GuestDisk[]): void;
  /**
   * Begins a capture of a disk: its chunks as they all were at one instant (`takenAt`) with `fuse`;
   * with `links`, as they are when each is read.
   */
  capture(source: CaptureSource): Promise<Capture>;
  /** Removes every device (the emulator stops). */
  close(): Promise<void>;
}
