import type { RunningEmulator } from "../../index";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm } from "../../testing";
import type { EmulatorClients } from "./clients";

const POLL = { updateIntervalInMs: 10 };

/** A running VM with one data disk at LUN 0, in a resource group of its own: a guest and its device. */
export async function vmWithDataDisk(
  az: EmulatorClients,
  emu: RunningEmulator,
  rg: string,
  location: string,
  dataSizeGB: number,
): Promise<{ diskId: string; device: string; diskFile: string }> {
  await createGroup(az, rg, location);
  const nicId = await createNic(az, rg, location, "nic", await createSubnet(az, rg, location));
  const osDiskId = await createEmptyDisk(az, rg, location, "os", 1, { osType: "Linux" });
  const diskId = await createEmptyDisk(az, rg, location, "data", dataSizeGB);
  await createVm(az, rg, location, "vm", { osDiskId, nicId, dataDisks: [{ lun: 0, diskId }] });
  return { diskId, device: emu.devicePath(rg, "vm", 0), diskFile: emu.diskFile(diskId)! };
}

/** Starts, powers off or deallocates a VM, and waits for it. */
export async function power(
  az: EmulatorClients,
  rg: string,
  vm: string,
  action: "start" | "powerOff" | "deallocate",
): Promise<void> {
  const vms = az.compute.virtualMachines;
  if (action === "start") await vms.start(rg, vm, POLL);
  else if (action === "powerOff") await vms.powerOff(rg, vm, POLL);
  else await vms.deallocate(rg, vm, POLL);
}

/** An incremental snapshot of a disk; returns its `timeCreated`. */
export async function snapshotOf(
  az: EmulatorClients,
  rg: string,
  location: string,
  name: string,
  diskId: string,
): Promise<Date> {
  const snap = await az.compute.snapshots.createOrUpdate(
    rg,
    name,
    { location, incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } },
    POLL,
  );
  return snap.timeCreated!;
}

/** Bytes of a snapshot at the given ranges, through a read SAS granted and revoked around the reads. */
export async function readSnapshot(
  az: EmulatorClients,
  rg: string,
  name: string,
  ranges: { offset: number; length: number }[],
): Promise<Buffer[]> {
  const { accessSAS } = await az.compute.snapshots.grantAccess(
    rg,
    name,
    { access: "Read", durationInSeconds: 600 },
    POLL,
  );
  try {
    const blob = az.pageBlob(accessSAS!);
    return await Promise.all(ranges.map((r) => blob.downloadToBuffer(r.offset, r.length)));
  } finally {
    await az.compute.snapshots.revokeAccess(rg, name, POLL);
  }
}
