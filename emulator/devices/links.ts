import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { nonZeroChunks } from "../storage/files";
import type { Capture, CaptureSource, GuestDevices, GuestDisk } from "./types";

/**
 * The fallback where FUSE is not available: each device path is a symbolic link to the disk's file.
 * A stopped VM's links go, but a guest that already opened its device keeps writing through it, and
 * a capture reads the file while guests write it: a capture is exact for what it read, not a freeze.
 */
export class LinkDevices implements GuestDevices {
  readonly mode = "links" as const;

  constructor(
    private readonly root: string,
    readonly fallbackReason?: string,
  ) {
    rmSync(root, { recursive: true, force: true });
  }

  show(resourceGroup: string, vm: string, _boot: number, disks: GuestDisk[]): void {
    const dir = join(this.root, resourceGroup, vm);
    if (disks.length === 0) {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    const want = new Map(disks.map((d) => [d.name, d.file]));
    mkdirSync(dir, { recursive: true });
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      const target = want.get(entry);
      if (target === undefined || !lstatSync(path).isSymbolicLink() || readlinkSync(path) !== target) unlinkSync(path);
    }
    for (const [entry, target] of want) {
      const path = join(dir, entry);
      if (!existsSync(path)) symlinkSync(target, path);
    }
  }

  capture(source: CaptureSource): Promise<Capture> {
    return Promise.resolve({ takenAt: Date.now(), chunks: nonZeroChunks(source.file, source.sizeBytes) });
  }

  async close(): Promise<void> {
    // The links stay, as they always did: they point into the same data folder.
  }
}
