import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { PowerState, VmRecord } from "./model";
import type { State } from "./state";

/** A guest runs, and sees its disks, only while its VM is running: stopping or starting VMs show none. */
const GUEST_UP: ReadonlySet<PowerState> = new Set<PowerState>(["running"]);

/**
 * What a VM's guest sees: while the VM runs, each attached disk appears as a device path,
 * `<data>/vms/<resourceGroup>/<vm>/lun<N>` for data disks and `.../os` for the OS disk, as
 * `/dev/disk/azure/scsi1/lun<N>` does inside an Azure VM. A stopped VM shows no devices.
 */
export class Guest {
  constructor(private readonly state: State) {}

  /** The device folder of a VM (exists only while its guest runs). */
  deviceDir(resourceGroup: string, vmName: string): string {
    return join(this.state.dataDir, "vms", resourceGroup.toLowerCase(), vmName.toLowerCase());
  }

  /** The device path of a VM's disk: `"os"` or a data-disk LUN. */
  devicePath(resourceGroup: string, vmName: string, lun: number | "os"): string {
    return join(this.deviceDir(resourceGroup, vmName), lun === "os" ? "os" : `lun${lun}`);
  }

  /** Makes the device folder match the VM's disks and power state. */
  sync(vm: VmRecord): void {
    const dir = this.deviceDir(vm.resourceGroup, vm.name);
    const want = new Map<string, string>();
    if (GUEST_UP.has(vm.power)) {
      const os = this.state.get(vm.osDisk.diskId, "disk");
      if (os) want.set("os", join(this.state.dataDir, os.file));
      for (const d of vm.dataDisks) {
        const disk = this.state.get(d.diskId, "disk");
        if (disk) want.set(`lun${d.lun}`, join(this.state.dataDir, disk.file));
      }
    }
    if (want.size === 0) {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
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

  remove(vm: VmRecord): void {
    rmSync(this.deviceDir(vm.resourceGroup, vm.name), { recursive: true, force: true });
  }

  /** Rebuilds every VM's device folder (after a restart). */
  syncAll(): void {
    rmSync(join(this.state.dataDir, "vms"), { recursive: true, force: true });
    for (const vm of this.state.list("vm")) this.sync(vm);
  }
}
