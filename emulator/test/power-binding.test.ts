import { execFileSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useEmulator } from "./helpers/emulator";
import { readAt } from "../testing";
import { power as powerAction, vmWithDataDisk } from "./helpers/guest";

const LOC = "eastus";
const fuseHere = process.getuid?.() === 0 && existsSync("/dev/fuse");
if (!fuseHere)
  console.log("power-binding tests skipped: they need root and /dev/fuse (the emulator then falls back to links)");

/** The error code a call throws, or "none". */
function errorOf(fn: () => unknown): string {
  try {
    fn();
    return "none";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

describe.skipIf(!fuseHere)("a VM that is not running has a guest that cannot write", () => {
  const f = useEmulator();
  let n = 0;

  /** A running VM with one 1 GiB data disk at LUN 0, in a group of its own. */
  async function newVm(): Promise<{ rg: string; diskFile: string; device: string }> {
    const rg = `rg${++n}`;
    return { rg, ...(await vmWithDataDisk(f.azure, f.emu, rg, LOC, 1)) };
  }
  const power = (rg: string, action: "start" | "powerOff" | "deallocate") => powerAction(f.azure, rg, "vm", action);

  it("fails every write of a powered-off guest, even through a device it opened before, and keeps what it wrote", async () => {
    const { rg, diskFile, device } = await newVm();
    const fd = openSync(device, "r+");
    try {
      // Written, never flushed: the disk keeps it all the same, as Azure's would.
      writeSync(fd, Buffer.from("before the power-off"), 0, 20, 8192);
      await power(rg, "powerOff");
      expect(errorOf(() => writeSync(fd, Buffer.from("after"), 0, 5, 8192))).toBe("EIO");
      expect(errorOf(() => readSync(fd, Buffer.alloc(5), 0, 5, 8192))).toBe("EIO");
      expect(errorOf(() => openSync(device, "r+"))).toBe("ENOENT");
      expect(readAt(diskFile, 8192, 20).toString()).toBe("before the power-off");

      // Started again: a new boot opens its device anew; what the dead one held stays dead.
      await power(rg, "start");
      expect(errorOf(() => writeSync(fd, Buffer.from("stale"), 0, 5, 8192))).toBe("EIO");
      const again = openSync(device, "r+");
      try {
        writeSync(again, Buffer.from("after the start"), 0, 15, 16384);
      } finally {
        closeSync(again);
      }
      expect(readAt(diskFile, 16384, 15).toString()).toBe("after the start");
      expect(readAt(diskFile, 8192, 20).toString()).toBe("before the power-off");
    } finally {
      closeSync(fd);
    }
  });

  it("fails the writes of a deallocated VM's guest", async () => {
    const { rg, device } = await newVm();
    const fd = openSync(device, "r+");
    try {
      writeSync(fd, Buffer.from("x"), 0, 1, 0);
      await power(rg, "deallocate");
      expect(errorOf(() => writeSync(fd, Buffer.from("y"), 0, 1, 0))).toBe("EIO");
      expect(existsSync(device)).toBe(false);
    } finally {
      closeSync(fd);
    }
  });

  it("fails the writes of every guest in a region while it is down; they write again once it is back", async () => {
    const { device } = await newVm();
    const fd = openSync(device, "r+");
    try {
      f.emu.faults.setRegionOutage(LOC, true);
      expect(errorOf(() => writeSync(fd, Buffer.from("y"), 0, 1, 0))).toBe("EIO");
      expect(existsSync(device)).toBe(false);
      f.emu.faults.setRegionOutage(LOC, false);
      // The VMs come back as after any outage: rebooted, their guests open their devices again.
      expect(errorOf(() => writeSync(fd, Buffer.from("y"), 0, 1, 0))).toBe("EIO");
      const again = openSync(device, "r+");
      expect(errorOf(() => writeSync(again, Buffer.from("z"), 0, 1, 0))).toBe("none");
      closeSync(again);
    } finally {
      f.emu.faults.setRegionOutage(LOC, false);
      closeSync(fd);
    }
  });

  it("cuts off a kernel file system on a loop device over the device; its synced files survive the power-off", async () => {
    const { rg, device } = await newVm();
    execFileSync("mkfs.ext4", ["-q", "-F", device]);
    const mnt = mkdtempSync(join(tmpdir(), "ferry-power-mnt-"));
    const mount = () => {
      const loop = execFileSync("losetup", ["--find", "--show", device], { encoding: "utf8" }).trim();
      execFileSync("mount", [loop, mnt]);
      return loop;
    };
    const unmount = (loop: string) => {
      execFileSync("umount", [mnt]);
      execFileSync("losetup", ["-d", loop]);
    };
    let loop = mount();
    try {
      writeFileSync(join(mnt, "synced.txt"), "kept");
      const fd = openSync(join(mnt, "synced.txt"), "r+");
      fsyncSync(fd);
      closeSync(fd);
      await power(rg, "powerOff");
      // The file system's next write to the disk fails: the data never becomes durable.
      const late = openSync(join(mnt, "late.txt"), "w");
      writeSync(late, Buffer.alloc(1 << 20, 1));
      expect(errorOf(() => fsyncSync(late))).toBe("EIO");
      closeSync(late);
    } finally {
      unmount(loop);
    }
    await power(rg, "start");
    loop = mount();
    try {
      expect(readFileSync(join(mnt, "synced.txt"), "utf8")).toBe("kept");
      expect(existsSync(join(mnt, "late.txt"))).toBe(false);
    } finally {
      unmount(loop);
      rmSync(mnt, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!fuseHere)("a power-off shuts the guest down gracefully unless told to skip it", () => {
  // Azure's power-off takes its while (10 s in the azure profile, 0.5 s here): the guest is shut down, not cut off.
  const f = useEmulator({ latency: "azure", speedup: 20 });
  let n = 0;
  const newVm = async () => {
    const rg = `graceful${++n}`;
    return { rg, ...(await vmWithDataDisk(f.azure, f.emu, rg, LOC, 1)) };
  };

  it("lets the guest write until the operation ends, and keeps what it wrote then", async () => {
    const { rg, diskFile, device } = await newVm();
    const fd = openSync(device, "r+");
    try {
      const poller = await f.azure.compute.virtualMachines.beginPowerOff(rg, "vm", { updateIntervalInMs: 10 });
      const view = await f.azure.compute.virtualMachines.instanceView(rg, "vm");
      expect(view.statuses?.map((s) => s.code)).toContain("PowerState/stopping");
      expect(errorOf(() => writeSync(fd, Buffer.from("while shutting down"), 0, 19, 8192))).toBe("none");
      await poller.pollUntilDone();
      expect(errorOf(() => writeSync(fd, Buffer.from("after"), 0, 5, 8192))).toBe("EIO");
      expect(readAt(diskFile, 8192, 19).toString()).toBe("while shutting down");
    } finally {
      closeSync(fd);
    }
  });

  it("cuts the guest off at the answer with skipShutdown=true", async () => {
    const { rg, device } = await newVm();
    const fd = openSync(device, "r+");
    try {
      const poller = await f.azure.compute.virtualMachines.beginPowerOff(rg, "vm", {
        skipShutdown: true,
        updateIntervalInMs: 10,
      });
      expect(errorOf(() => writeSync(fd, Buffer.from("after"), 0, 5, 8192))).toBe("EIO");
      await poller.pollUntilDone();
    } finally {
      closeSync(fd);
    }
  });
});
