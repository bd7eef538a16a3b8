import type { Ctx } from "../context";
import { invalidParameter } from "../errors";
import type { Router } from "../http/router";
import type { VmDiskRef, VmRecord } from "../model";
import { answerAccepted, COMPUTE } from "./common";
import { invalid, missing, oneOf, optArray, optBoolean, optInteger, optString } from "./input";
import { bumpVmEtag } from "./vm-etag";
import { attach, checkAttachable, checkDataDiskCount, detach, requireVm, serializeVm } from "./vms";

const PATH =
  "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/" +
  "{vmName}/attachDetachDataDisks";

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

interface ToAttach {
  diskId: string;
  lun?: number;
  caching?: string;
  deleteOption?: "Delete" | "Detach";
  writeAcceleratorEnabled?: boolean;
}

function readToAttach(body: unknown): ToAttach[] {
  return (optArray(body, "dataDisksToAttach") ?? []).map((d, i) => {
    const path = `dataDisksToAttach[${i}]`;
    const diskId = optString(d, "diskId");
    if (!diskId) throw missing(`${path}.diskId`);
    const lun = optInteger(d, "lun");
    if (lun !== undefined && (lun < 0 || lun > 63)) throw invalid(`${path}.lun`, "LUNs are from 0 to 63.");
    const caching = oneOf(optString(d, "caching"), `${path}.caching`, ["None", "ReadOnly", "ReadWrite"] as const);
    const deleteOption = oneOf(optString(d, "deleteOption"), `${path}.deleteOption`, ["Delete", "Detach"] as const);
    const wa = optBoolean(d, "writeAcceleratorEnabled");
    return {
      diskId,
      ...(lun !== undefined ? { lun } : {}),
      ...(caching ? { caching } : {}),
      ...(deleteOption ? { deleteOption } : {}),
      ...(wa !== undefined ? { writeAcceleratorEnabled: wa } : {}),
    };
  });
}

function readToDetach(body: unknown): string[] {
  return (optArray(body, "dataDisksToDetach") ?? []).map((d, i) => {
    const path = `dataDisksToDetach[${i}]`;
    const diskId = optString(d, "diskId");
    if (!diskId) throw missing(`${path}.diskId`);
    // ForceDetach is the only option Azure documents (DiskDetachOptionTypes); the emulator detaches at once either way.
    oneOf(optString(d, "detachOption"), `${path}.detachOption`, ["ForceDetach"] as const);
    return diskId;
  });
}

/**
 * `VirtualMachines_AttachDetachDataDisks` (ComputeRP 2024-03-01 and later): attaches and detaches the named data
 * disks and leaves every other disk of the VM as it is, so two callers that each name their own disks never undo
 * each other's change, as two read-modify-write PUTs of the whole list would. Detaches first, then attaches; a disk
 * named without a LUN gets the lowest LUN free after the request's own (the specification: "If not specified, lun
 * would be auto assigned"). The whole request is refused when one disk of it cannot be attached or detached; what
 * Azure answers for a disk already attached, or one to detach that is not, was not found published: the emulator
 * refuses both with 400 `InvalidParameter` (see the README).
 */
function attachDetach(ctx: Ctx, vm: VmRecord): VmDiskRef[] {
  const toAttach = readToAttach(ctx.body);
  const toDetach = readToDetach(ctx.body);
  if (toAttach.length === 0 && toDetach.length === 0)
    throw invalidParameter("Name at least one disk in dataDisksToAttach or dataDisksToDetach.");
  const named = [...toAttach.map((d) => d.diskId), ...toDetach];
  const twice = named.find((id, i) => named.findIndex((other) => same(other, id)) !== i);
  if (twice) throw invalidParameter(`Disk '${twice}' is named more than once in the request.`);
  for (const id of toDetach) {
    if (!vm.dataDisks.some((d) => same(d.diskId, id)))
      throw invalidParameter(`Disk '${id}' is not attached to VM '${vm.name}' as a data disk: it cannot be detached.`);
  }
  const kept = vm.dataDisks.filter((d) => !toDetach.some((id) => same(id, d.diskId)));
  const used = new Set(kept.map((d) => d.lun));
  for (const d of toAttach) {
    if (same(d.diskId, vm.osDisk.diskId) || kept.some((k) => same(k.diskId, d.diskId)))
      throw invalidParameter(`Disk '${d.diskId}' is already attached to VM '${vm.name}'.`);
    if (d.lun === undefined) continue;
    // Azure's words for a LUN in use (Azure/azure-sdk-for-go#678).
    if (used.has(d.lun)) throw invalidParameter(`A disk at LUN ${d.lun} already exists.`);
    used.add(d.lun);
  }
  checkDataDiskCount(vm.vmSize, kept.length + toAttach.length);
  const added: VmDiskRef[] = toAttach.map((d) => {
    const disk = checkAttachable(ctx, ctx.emu.state.get(d.diskId, "disk"), d.diskId, vm);
    let lun = d.lun;
    if (lun === undefined) {
      for (lun = 0; used.has(lun); lun++);
      used.add(lun);
    }
    return {
      lun,
      name: disk.name,
      diskId: disk.id,
      caching: d.caching ?? "None",
      createOption: "Attach",
      deleteOption: d.deleteOption ?? "Detach",
      ...(d.writeAcceleratorEnabled !== undefined ? { writeAcceleratorEnabled: d.writeAcceleratorEnabled } : {}),
    };
  });
  return [...kept, ...added].sort((a, b) => a.lun - b.lun);
}

export function registerVmAttachDetach(router: Router<Ctx>): void {
  router.add("POST", PATH, "VirtualMachines_AttachDetachDataDisks", (ctx, p) => {
    const vm = requireVm(ctx, p);
    const next = attachDetach(ctx, vm);
    for (const old of vm.dataDisks) if (!next.some((d) => same(d.diskId, old.diskId))) detach(ctx, old.diskId, vm.id);
    for (const d of next) attach(ctx.emu.state.get(d.diskId, "disk")!, vm.id);
    vm.dataDisks = next;
    vm.provisioningState = "Updating";
    bumpVmEtag(vm);
    ctx.emu.guest.sync(vm);
    ctx.mutated = true;
    // The result (the VM's storage profile) comes through the operation's Location, as the specification's
    // final-state-via "location" says; the 202 carries Location (and Retry-After for a long wait).
    const op = ctx.emu.startOperation(ctx, {
      provider: COMPUTE,
      location: vm.location,
      completion: { kind: "provisioned", resourceId: vm.id },
      output: serializeVm(ctx.emu, vm).properties.storageProfile,
    });
    answerAccepted(ctx, op);
  });
}
