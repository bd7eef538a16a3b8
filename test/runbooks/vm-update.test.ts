import type { VirtualMachine } from "@azure/arm-compute";
import { describe, expect, it } from "vitest";
import type { AzureClients } from "../../adapters/azure/clients";
import { isFerryError } from "../../core/errors";
import { updateVmIfUnchanged } from "../../runbooks/vm-update";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm } from "../helpers/azure-env";
import { useEmulator } from "../helpers/emulator";

// A VM written whole after it was read (failback's disk swap) is written with If-Match: when another host writes
// the VM between the read and the write, Azure refuses the write (412) and the update is built again from the VM
// as it is now, so the other host's change stays.

const f = useEmulator();
const REGION = "westeurope";
const poll = { updateIntervalInMs: 10 };
let counter = 0;

async function vmAndDisks(n: number): Promise<{ rg: string; disks: string[] }> {
  const rg = `vmupdate-${++counter}`;
  await createGroup(f.azure, rg, REGION);
  const subnet = await createSubnet(f.azure, rg, REGION, "vnet");
  const nicId = await createNic(f.azure, rg, REGION, "nic", subnet);
  const osDiskId = await createEmptyDisk(f.azure, rg, REGION, "os", 1, { osType: "Linux" });
  await createVm(f.azure, rg, REGION, "vm", { osDiskId, nicId, vmSize: "Standard_D4s_v5" });
  const disks: string[] = [];
  for (let i = 0; i < n; i++) disks.push(await createEmptyDisk(f.azure, rg, REGION, `other${i}`));
  return { rg, disks };
}

/**
 * The emulator's clients, except that the VM reads numbered in `interfereAfter` are each followed, before they
 * return, by another host attaching the next disk of `disks`: a write between this host's read and its write.
 */
function withAnotherHost(rg: string, disks: string[], interfereAfter: (read: number) => boolean) {
  const vms = f.azure.compute.virtualMachines;
  let reads = 0;
  let next = 0;
  const virtualMachines = {
    get: async (group: string, name: string): Promise<VirtualMachine> => {
      const vm = await vms.get(group, name);
      if (interfereAfter(++reads))
        await vms.attachDetachDataDisks(rg, "vm", { dataDisksToAttach: [{ diskId: disks[next++]! }] }, poll);
      return vm;
    },
    update: vms.update.bind(vms),
  };
  return { azure: { compute: { virtualMachines } } as unknown as AzureClients, poll };
}

/** The update failback's swap makes: the data disks read, plus a tag. */
const rewriteDisks = (current: VirtualMachine) => ({
  tags: { swapped: "yes" },
  storageProfile: {
    dataDisks: (current.storageProfile?.dataDisks ?? []).map((d) => ({
      lun: d.lun,
      createOption: "Attach" as const,
      managedDisk: { id: d.managedDisk!.id! },
    })),
  },
});

describe("updateVmIfUnchanged", () => {
  it("keeps a disk another host attached between the read and the write", async () => {
    const { rg, disks } = await vmAndDisks(1);
    const ctx = withAnotherHost(rg, disks, (read) => read === 1);
    const vm = await updateVmIfUnchanged(ctx, { resourceGroup: rg, name: "vm" }, rewriteDisks);
    expect(vm.tags).toEqual({ swapped: "yes" });
    expect(vm.storageProfile?.dataDisks?.map((d) => d.managedDisk?.id?.toLowerCase())).toEqual([
      disks[0]!.toLowerCase(),
    ]);
  });

  it("gives up with a FerryError when the VM changes under every attempt", async () => {
    const { rg, disks } = await vmAndDisks(2);
    const ctx = withAnotherHost(rg, disks, () => true);
    const thrown = await updateVmIfUnchanged(ctx, { resourceGroup: rg, name: "vm" }, rewriteDisks, {
      attempts: 2,
    }).catch((e: unknown) => e);
    expect(isFerryError(thrown) && thrown.code).toBe("VmKeptChanging");
    const vm = await f.azure.compute.virtualMachines.get(rg, "vm");
    expect(vm.tags ?? {}).toEqual({});
    expect(vm.storageProfile?.dataDisks).toHaveLength(2);
  });
});
