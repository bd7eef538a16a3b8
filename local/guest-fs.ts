import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A guest's file system on one of its devices, mounted the way a guest OS mounts its disk: ext4 on
 * a loop device over the device path. Every write the kernel makes reaches the emulator's device
 * (with its FUSE devices), so a power-off or a region outage cuts the file system off as it would
 * cut off a VM's, and a snapshot holds the file system as it stood on the disk at that instant.
 */
export interface GuestMount {
  /** Where the file system is mounted. */
  readonly dir: string;
  /** The loop device over the guest's device path. */
  readonly loop: string;
  /** Unmounts and detaches the loop device; a file system whose disk went away is detached lazily. */
  unmount(): void;
}

/** Options of {@link mountGuestFs}. */
export interface MountGuestFsOptions {
  /** Make a new ext4 file system on the device first. Default false. */
  format?: boolean;
  /** Where to mount it. Default: a new temporary folder, removed at unmount. */
  dir?: string;
  /** Mount read-only (no journal replay either: `ro,noload`). Default false. */
  readOnly?: boolean;
}

const mounted = new Set<GuestMount>();

/**
 * Why a guest file system cannot be mounted here (loop devices and mounts need root, and the
 * e2fsprogs and util-linux tools), or undefined when it can.
 */
export function guestFsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "mounting a file system through a loop device needs root";
  for (const tool of ["losetup", "mkfs.ext4", "mount", "umount"]) {
    try {
      execFileSync("which", [tool], { stdio: "ignore" });
    } catch {
      return `${tool} is not installed (Debian: apt-get install util-linux e2fsprogs mount)`;
    }
  }
  if (!existsSync("/dev/loop-control")) return "there is no /dev/loop-control (the kernel's loop module)";
  return undefined;
}

/** Mounts (after making, with `format`) an ext4 file system on a guest's device path. */
export function mountGuestFs(device: string, options: MountGuestFsOptions = {}): GuestMount {
  if (options.format)
    execFileSync("mkfs.ext4", ["-F", "-q", "-E", "lazy_itable_init=0,lazy_journal_init=0", device], {
      stdio: "pipe",
    });
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "ferry-guest-fs-"));
  const loop = execFileSync("losetup", ["--find", "--show", device], { encoding: "utf8" }).trim();
  try {
    execFileSync("mount", [...(options.readOnly ? ["-o", "ro,noload"] : []), loop, dir], { stdio: "pipe" });
  } catch (e) {
    execFileSync("losetup", ["-d", loop]);
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let done = false;
  const m: GuestMount = {
    dir,
    loop,
    unmount() {
      if (done) return;
      done = true;
      mounted.delete(m);
      try {
        execFileSync("umount", [dir], { stdio: "pipe" });
      } catch {
        // Busy, or its disk is gone: detach it now, the kernel lets go once nothing holds it.
        execFileSync("umount", ["-l", dir], { stdio: "pipe" });
      }
      try {
        execFileSync("losetup", ["-d", loop], { stdio: "pipe" });
      } catch {
        // Still held by the lazily detached file system: it goes with it (autoclear).
      }
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  mounted.add(m);
  return m;
}

/** Unmounts every guest file system this process mounted (at the end of a run, or when interrupted). */
export function unmountAllGuestFs(): void {
  for (const m of [...mounted]) {
    try {
      m.unmount();
    } catch {
      // best effort: the next one may still go
    }
  }
}
