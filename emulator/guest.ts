import { join } from "node:path";
import { normalizeRegion } from "./faults";
import type { Capture, GuestDevices, GuestDisk } from "./devices/types";
import type { DiskRecord, VmRecord } from "./model";
import type { State } from "./state";

/**
 * What a VM's guest sees: while the VM runs and its region is up, each attached disk appears as a
 * device path, `<data>/vms/<resourceGroup>/<vm>/lun<N>` for data disks and `.../os` for the OS disk,
 * as `/dev/disk/azure/scsi1/lun<N>` does inside an Azure VM. A stopped VM, or one whose region is
 * down, shows no devices, and (with FUSE devices) its guest's reads and writes fail: a dead machine
 * writes nothing. Its disks keep what the guest had written when it went down.
 */
export class Guest {
  /** Per VM (lower-case id): its boot count, and whether its guest is up now. */
  private readonly boots = new Map<string, { boot: number; up: boolean }>();

  constructor(
    private readonly state: State,
    readonly devices: GuestDevices,
    private readonly isRegionDown: (region: string) => boolean = () => false,
  ) {}

  /** The device folder of a VM (exists only while its guest runs). */
  deviceDir(resourceGroup: string, vmName: string): string {
    return join(this.state.dataDir, "vms", resourceGroup.toLowerCase(), vmName.toLowerCase());
  }

  /** The device path of a VM's disk: `"os"` or a data-disk LUN. */
  devicePath(resourceGroup: string, vmName: string, lun: number | "os"): string {
    return join(this.deviceDir(resourceGroup, vmName), lun === "os" ? "os" : `lun${lun}`);
  }

  /** Makes the VM's devices match its disks, its power state and its region. */
  sync(vm: VmRecord): void {
    const up = (vm.power === "running" || vm.shuttingDown === true) && !this.isRegionDown(vm.location);
    const key = vm.id.toLowerCase();
    const was = this.boots.get(key) ?? { boot: 0, up: false };
    const now = { boot: up && !was.up ? was.boot + 1 : was.boot, up };
    this.boots.set(key, now);
    const disks: GuestDisk[] = [];
    if (up) {
      const add = (name: string, disk: DiskRecord | undefined) => {
        if (disk)
          disks.push({ name, diskId: disk.id, file: join(this.state.dataDir, disk.file), sizeBytes: disk.sizeBytes });
      };
      add("os", this.state.get(vm.osDisk.diskId, "disk"));
      for (const d of vm.dataDisks) add(`lun${d.lun}`, this.state.get(d.diskId, "disk"));
    }
    this.devices.show(vm.resourceGroup.toLowerCase(), vm.name.toLowerCase(), now.boot, disks);
  }

  remove(vm: VmRecord): void {
    this.boots.delete(vm.id.toLowerCase());
    this.devices.show(vm.resourceGroup.toLowerCase(), vm.name.toLowerCase(), 0, []);
  }

  /** Brings every VM of a region down, or back up, as its outage starts or ends. */
  syncRegion(region: string): void {
    const key = normalizeRegion(region);
    for (const vm of this.state.list("vm")) if (normalizeRegion(vm.location) === key) this.sync(vm);
  }

  /** Shows every VM's devices (at start). */
  syncAll(): void {
    for (const vm of this.state.list("vm")) this.sync(vm);
  }

  /**
   * Begins a capture of a disk: its non-zero chunks as they all were at one instant, whatever its
   * guests write meanwhile (with FUSE devices; see {@link GuestDevices.capture}).
   */
  capture(disk: DiskRecord): Promise<Capture> {
    return this.devices.capture({
      diskId: disk.id,
      file: join(this.state.dataDir, disk.file),
      sizeBytes: disk.sizeBytes,
    });
  }
}
