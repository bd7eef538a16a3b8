import { randomBytes, randomUUID } from "node:crypto";
import { sendEmpty, sendJson, type Ctx } from "../context";
import { EmulatorError, conflict, invalidParameter, notAllowed } from "../errors";
import { transitional, type Emulator } from "../emulator";
import type { Router } from "../http/router";
import { operationDurationInMs } from "../latency";
import type { DiskRecord, PowerState, VmDiskRef, VmOsDiskRef, VmRecord } from "../model";
import { createSparse } from "../storage/files";
import {
  answerAccepted,
  answerPut,
  COMPUTE,
  envelope,
  findResource,
  nowIso,
  registerLists,
  requireLocation,
  requireResourceGroup,
  requireSameLocation,
  resourceId,
  requireResource,
  type ResourceKind,
} from "./common";
import { diskSizeGB, GiB, deleteDiskRecord } from "./disks";
import {
  get,
  invalid,
  missing,
  oneOf,
  optArray,
  optBoolean,
  optInteger,
  optObject,
  optString,
  optTags,
  reqString,
  type Json,
} from "./input";
import { validateName } from "./names";
import { checkCoresQuota } from "./quotas";
import { findVmSize, type HyperVGeneration, PREMIUM_SKUS, VM_SIZES, ZRS_SKUS, zonesOf } from "./vm-sizes";
import { checkVmSecurity, readVmSecurity, serializeVmSecurity } from "./security";
import { readGuestRecord } from "../guest-identity";
import { checkVmNics } from "./vm-nics";
import { bumpVmEtag, checkVmPreconditions, vmEtag } from "./vm-etag";

const VM =
  "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}";
const TYPE = "Microsoft.Compute/virtualMachines";

const DISPLAY: Record<PowerState, string> = {
  running: "VM running",
  starting: "VM starting",
  stopping: "VM stopping",
  stopped: "VM stopped",
  deallocating: "VM deallocating",
  deallocated: "VM deallocated",
};

function instanceView(emu: Emulator, vm: VmRecord) {
  const time = vm.timeCreated;
  const prov = vm.provisioningState.toLowerCase();
  const diskStatus = (name: string) => ({
    name,
    statuses: [{ code: "ProvisioningState/succeeded", level: "Info", displayStatus: "Provisioning succeeded", time }],
  });
  return {
    ...guestFacts(emu, vm),
    hyperVGeneration: vm.hyperVGeneration ?? "V1",
    disks: [diskStatus(vm.osDisk.name), ...vm.dataDisks.map((d) => diskStatus(d.name))],
    vmAgent: vmAgent(emu, vm),
    statuses: [
      {
        code: `ProvisioningState/${prov}`,
        level: prov === "failed" ? "Error" : "Info",
        displayStatus: `Provisioning ${prov}`,
        time: nowIsoOf(emu),
      },
      { code: `PowerState/${vm.power}`, level: "Info", displayStatus: DISPLAY[vm.power] },
    ],
  };
}

/**
 * What the guest agent reports of its guest once it is Ready: the computer name, OS name and version of the guest
 * record on the OS disk (see guest-identity.ts), the guest's own, whatever the VM is called. Without a record, the name
 * the VM's `osProfile` gave (a VM made from an image), and no OS facts.
 */
function guestFacts(emu: Emulator, vm: VmRecord): { computerName?: string; osName?: string; osVersion?: string } {
  const given = typeof vm.osProfile?.computerName === "string" ? { computerName: vm.osProfile.computerName } : {};
  if (!agentReady(emu, vm)) return given;
  const disk = emu.state.get(vm.osDisk.diskId, "disk");
  const guest = disk ? readGuestRecord(emu.diskPath(disk.file)) : undefined;
  return guest ?? given;
}

function agentReady(emu: Emulator, vm: VmRecord): boolean {
  const bootInMs = emu.profile.operationsInMs.GuestAgent_Ready ?? 0;
  return vm.power === "running" && vm.runningSince !== undefined && emu.now() - vm.runningSince >= bootInMs;
}

/** The guest agent: Ready once the VM has been running for the profile's `GuestAgent_Ready` (the guest OS booted). */
function vmAgent(emu: Emulator, vm: VmRecord) {
  const ready = agentReady(emu, vm);
  return {
    // The Windows guest agent and the Linux one (WALinuxAgent) number their versions apart.
    vmAgentVersion: ready ? (vm.osDisk.osType === "Windows" ? "2.7.41491.1102" : "2.12.0.2") : "Unknown",
    statuses: [
      ready
        ? {
            code: "ProvisioningState/succeeded",
            level: "Info",
            displayStatus: "Ready",
            message: "Guest Agent is running",
            time: nowIsoOf(emu),
          }
        : {
            code: "ProvisioningState/Unavailable",
            level: "Warning",
            displayStatus: "Not Ready",
            message: "VM status blob is found but not yet populated.",
            time: nowIsoOf(emu),
          },
    ],
  };
}

function nowIsoOf(emu: Emulator): string {
  return new Date(emu.now()).toISOString();
}

export function serializeVm(emu: Emulator, vm: VmRecord, withInstanceView = false) {
  const disk = (id: string) => emu.state.get(id, "disk");
  const osDisk = disk(vm.osDisk.diskId);
  const { adminPassword: _secret, ...osProfile } = (vm.osProfile ?? {}) as Json;
  return {
    ...envelope(vm, TYPE),
    etag: vmEtag(vm),
    ...(vm.zones.length ? { zones: vm.zones } : {}),
    ...(vm.identity ? { identity: vm.identity } : {}),
    properties: {
      vmId: vm.vmId,
      hardwareProfile: { vmSize: vm.vmSize },
      ...(vm.licenseType ? { licenseType: vm.licenseType } : {}),
      ...(vm.securityProfile ? { securityProfile: serializeVmSecurity(vm.securityProfile) } : {}),
      storageProfile: {
        ...(vm.imageReference ? { imageReference: vm.imageReference } : {}),
        osDisk: {
          osType: vm.osDisk.osType,
          name: vm.osDisk.name,
          createOption: vm.osDisk.createOption,
          caching: vm.osDisk.caching,
          managedDisk: { id: vm.osDisk.diskId, ...(osDisk ? { storageAccountType: osDisk.sku } : {}) },
          ...(osDisk ? { diskSizeGB: diskSizeGB(osDisk) } : {}),
          deleteOption: vm.osDisk.deleteOption,
        },
        dataDisks: vm.dataDisks.map((d) => {
          const rec = disk(d.diskId);
          return {
            lun: d.lun,
            name: d.name,
            createOption: d.createOption,
            caching: d.caching,
            managedDisk: { id: d.diskId, ...(rec ? { storageAccountType: rec.sku } : {}) },
            ...(rec ? { diskSizeGB: diskSizeGB(rec) } : {}),
            deleteOption: d.deleteOption,
            toBeDetached: false,
            writeAcceleratorEnabled: d.writeAcceleratorEnabled ?? false,
          };
        }),
      },
      ...(vm.osProfile ? { osProfile } : {}),
      networkProfile: {
        networkInterfaces: vm.nics.map((n) => ({
          id: n.id,
          properties: { primary: n.primary ?? vm.nics.length === 1, deleteOption: n.deleteOption },
        })),
      },
      provisioningState: vm.provisioningState,
      timeCreated: vm.timeCreated,
      ...(withInstanceView ? { instanceView: instanceView(emu, vm) } : {}),
    },
  };
}

interface DataDiskSpec {
  lun: number;
  createOption: "Attach" | "Empty";
  diskId?: string;
  name?: string;
  sizeGB?: number;
  sku?: string;
  caching: string;
  deleteOption: "Delete" | "Detach";
  writeAcceleratorEnabled?: boolean;
}

function readDataDisks(body: unknown): DataDiskSpec[] {
  const raw = optArray(body, "properties.storageProfile.dataDisks") ?? [];
  const out: DataDiskSpec[] = [];
  const luns = new Set<number>();
  raw.forEach((d, i) => {
    const path = `storageProfile.dataDisks[${i}]`;
    if (optBoolean(d, "toBeDetached") === true) return;
    const lun = optInteger(d, "lun");
    if (lun === undefined) throw missing(`${path}.lun`);
    if (lun < 0 || lun > 63) throw invalid(`${path}.lun`, "LUNs are from 0 to 63.");
    if (luns.has(lun)) throw invalidParameter(`A disk at LUN ${lun} already exists.`);
    luns.add(lun);
    const createOption = oneOf(optString(d, "createOption"), `${path}.createOption`, [
      "Attach",
      "Empty",
      "FromImage",
      "Copy",
      "Restore",
    ] as const);
    if (!createOption) throw missing(`${path}.createOption`);
    if (createOption !== "Attach" && createOption !== "Empty") {
      throw invalid(
        `${path}.createOption`,
        `The ferry emulator attaches data disks with Attach or Empty, not ${createOption}.`,
      );
    }
    const diskId = optString(d, "managedDisk.id");
    if (createOption === "Attach" && !diskId) throw missing(`${path}.managedDisk.id`);
    // Empty with a managedDisk.id is what a GET answers for a disk made Empty: resolveDataDisks accepts it for the disk
    // already at that LUN.
    const sizeGB = optInteger(d, "diskSizeGB");
    if (createOption === "Empty" && sizeGB === undefined) throw missing(`${path}.diskSizeGB`);
    const name = optString(d, "name");
    const sku = optString(d, "managedDisk.storageAccountType");
    const wa = optBoolean(d, "writeAcceleratorEnabled");
    out.push({
      lun,
      createOption,
      caching: optString(d, "caching") ?? "None",
      deleteOption:
        oneOf(optString(d, "deleteOption"), `${path}.deleteOption`, ["Delete", "Detach"] as const) ??
        (createOption === "Empty" ? "Delete" : "Detach"),
      ...(diskId ? { diskId } : {}),
      ...(name ? { name } : {}),
      ...(sizeGB !== undefined ? { sizeGB } : {}),
      ...(sku ? { sku } : {}),
      ...(wa !== undefined ? { writeAcceleratorEnabled: wa } : {}),
    });
  });
  return out;
}

function readNics(ctx: Ctx, body: unknown, location: string): VmRecord["nics"] {
  const raw = optArray(body, "properties.networkProfile.networkInterfaces");
  if (!raw || raw.length === 0) throw missing("networkProfile.networkInterfaces");
  const nics = raw.map((n, i) => {
    const id = optString(n, "id");
    if (!id) throw missing(`networkProfile.networkInterfaces[${i}].id`);
    const nic = ctx.emu.state.get(id, "nic");
    if (!nic) throw new EmulatorError(404, "NotFound", `Network interface '${id}' was not found.`);
    ctx.touchRegion(nic.location);
    if (nic.location !== location) {
      throw invalidParameter(
        `Network interface '${nic.name}' is in location '${nic.location}'; a VM in '${location}' needs a network interface in its own location.`,
      );
    }
    const primary = optBoolean(n, "properties.primary");
    const deleteOption =
      oneOf(optString(n, "properties.deleteOption"), `networkProfile.networkInterfaces[${i}].properties.deleteOption`, [
        "Delete",
        "Detach",
      ] as const) ?? "Detach";
    return { id: nic.id, deleteOption, ...(primary !== undefined ? { primary } : {}) };
  });
  return nics;
}

/** Checks a VM's NICs against each other and its size (vm-nics.ts). */
function checkNicsOf(ctx: Ctx, vm: { id: string; name: string; vmSize: string }, nics: VmRecord["nics"]): void {
  checkVmNics(
    vm,
    nics.map((n) => ({
      record: ctx.emu.state.get(n.id, "nic")!,
      ...(n.primary !== undefined ? { primary: n.primary } : {}),
    })),
  );
}

/** Checks that a disk can be attached to a VM, as Azure checks it. */
export function checkAttachable(
  ctx: Ctx,
  disk: DiskRecord | undefined,
  diskId: string,
  vm: { id: string; name: string; location: string; zones: string[]; vmSize: string },
): DiskRecord {
  if (!disk) throw new EmulatorError(404, "NotFound", `Disk '${diskId}' was not found.`);
  ctx.touchRegion(disk.location);
  if (disk.location !== vm.location) {
    throw invalidParameter(
      `Disk '${disk.name}' is in location '${disk.location}'; VM '${vm.name}' in '${vm.location}' can only attach disks of its own location.`,
    );
  }
  // A ZRS disk has no zone and attaches anywhere in its region; any other disk only to a VM of its zone, a regional
  // (zoneless) one only to a regional VM.
  if (!ZRS_SKUS.has(disk.sku) && (disk.zones[0] ?? "") !== (vm.zones[0] ?? "")) {
    throw new EmulatorError(
      400,
      "BadRequest",
      `Disk ${disk.id} cannot be attached to the VM because it is not in the same zone as the VM. ` +
        `VM zone: '${vm.zones[0] ?? ""}'. Disk zone: '${disk.zones[0] ?? ""}'.`,
    );
  }
  if (disk.upload === "ready")
    throw notAllowed(
      `Disk '${disk.name}' is waiting for an upload (ReadyToUpload/ActiveUpload) and cannot be attached.`,
    );
  if (ctx.emu.state.activeGrants(disk.id, ctx.emu.now()).length) {
    throw notAllowed(`Disk '${disk.name}' has an active SAS (ActiveSAS). Revoke access before attaching it.`);
  }
  const others = disk.managedBy.filter((id) => id.toLowerCase() !== vm.id.toLowerCase());
  if (others.length >= disk.maxShares) {
    throw conflict(
      "ConflictingUserInput",
      `Disk '${disk.id}' cannot be attached as the disk is already owned by VM '${others[0]}'.`,
    );
  }
  const size = VM_SIZES[vm.vmSize];
  if (PREMIUM_SKUS.has(disk.sku) && size && !size.premiumIO) {
    throw notAllowed(
      `Disk '${disk.name}' is ${disk.sku}, which VM size '${vm.vmSize}' does not support. Use a size with premium storage (an 's' size) or another disk SKU.`,
    );
  }
  return disk;
}

function osTypeFromImage(image: Json): "Linux" | "Windows" {
  const text = `${get(image, "publisher") ?? ""} ${get(image, "offer") ?? ""}`;
  return /windows/i.test(text) ? "Windows" : "Linux";
}

function validateOsProfile(profile: Json | undefined, osType: "Linux" | "Windows"): void {
  if (!profile) throw missing("osProfile");
  const computerName = reqString(profile, "computerName");
  if (
    osType === "Windows" &&
    (computerName.length > 15 || /^\d+$/.test(computerName) || /[\\/"[\]:|<>+=;,?*@&~!#$%^()_{}' .]/.test(computerName))
  ) {
    throw invalidParameter(
      "Windows computer name cannot be more than 15 characters long, be entirely numeric, or contain the following characters: ` ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \\ | ; : . ' \" , < > / ?.",
    );
  }
  if (osType === "Linux" && (computerName.length > 64 || !/^[a-zA-Z0-9-.]+$/.test(computerName))) {
    throw invalidParameter(
      "Linux host name cannot exceed 64 characters in length or contain the following characters: ` ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \\ | ; : ' \" , < > / ?.",
    );
  }
  reqString(profile, "adminUsername");
}

/**
 * `properties.licenseType`: the on-premises licence the OS runs under (Azure Hybrid Benefit), as given. Azure lists
 * Windows_Server and Windows_Client for Windows and the Linux subscriptions (RHEL_BYOS, SLES_BYOS, …), a list that
 * grows; it publishes no refusal of one on the other OS, so none is checked here.
 */
function readLicenseType(body: unknown): string | undefined {
  const value = optString(body, "properties.licenseType");
  if (value === "") throw invalid("licenseType", "Name a licence type, or None.");
  return value;
}

function readVmSize(body: unknown): string {
  const name = reqString(body, "properties.hardwareProfile.vmSize");
  const found = findVmSize(name);
  if (!found) {
    throw invalidParameter(
      `The requested VM size ${name} is not available in the current region. The sizes available in the current region are: ${Object.keys(VM_SIZES).join(", ")}.`,
    );
  }
  return found[0];
}

/**
 * Refuses a size the VM's zone does not offer (Resource SKUs `Zone` restriction), with the code and message Azure
 * answers (see the README).
 */
function checkZoneOffer(ctx: Ctx, vm: { id: string; location: string; zones: string[] }, vmSize: string): void {
  const zone = vm.zones[0];
  if (zone === undefined || (zonesOf(VM_SIZES[vmSize]!) as readonly string[]).includes(zone)) return;
  throw new EmulatorError(
    409,
    "SkuNotAvailable",
    `The requested size for resource '${vm.id}' is currently not available in location '${vm.location}' zones ` +
      `'${zone}' for subscription '${ctx.emu.subscriptionId}'. Please try another size or deploy to a different ` +
      "location or zones. See https://aka.ms/azureskunotavailable for details.",
  );
}

/**
 * Refuses a size that cannot boot the OS disk's Hyper-V generation, with the code and message Azure answers
 * (see the README: a Gen2 disk on a Gen1-only size such as Standard_D2_v3).
 */
function checkGeneration(vmSize: string, generation: HyperVGeneration): void {
  if (VM_SIZES[vmSize]!.hyperVGenerations.includes(generation)) return;
  const g = generation.slice(1);
  throw new EmulatorError(
    400,
    "BadRequest",
    `The selected VM size '${vmSize}' cannot boot Hypervisor Generation '${g}'. If this was a Create operation ` +
      "please check that the Hypervisor Generation of the Image matches the Hypervisor Generation of the selected " +
      `VM Size. If this was an Update operation please select a Hypervisor Generation '${g}' VM Size. ` +
      "For more information, see https://aka.ms/azuregen2vm",
  );
}

export function checkDataDiskCount(vmSize: string, count: number): void {
  const max = VM_SIZES[vmSize]!.maxDataDisks;
  if (count > max)
    throw notAllowed(`The maximum number of data disks allowed to be attached to a VM of this size is ${max}.`);
}

/** Disks a VM create or update made so far, removed again when the request is refused part-way. */
const madeByRequest = new WeakMap<Ctx, DiskRecord[]>();

/** Runs a VM create or update; a refusal leaves no disks behind, as a refused request changes nothing in Azure. */
async function undoDisksOnError<T>(ctx: Ctx, work: () => Promise<T>): Promise<T> {
  const made: DiskRecord[] = [];
  madeByRequest.set(ctx, made);
  try {
    return await work();
  } catch (e) {
    for (const disk of made) deleteDiskRecord(ctx, disk);
    throw e;
  } finally {
    madeByRequest.delete(ctx);
  }
}

async function newManagedDisk(
  ctx: Ctx,
  vm: { resourceGroup: string; location: string; zones: string[] },
  name: string,
  sizeGB: number,
  sku: string,
  osType?: "Linux" | "Windows",
): Promise<DiskRecord> {
  const id = resourceId(ctx, vm.resourceGroup, COMPUTE, "disks", name);
  if (ctx.emu.state.get(id, "disk")) throw invalidParameter(`A disk named '${name}' already exists.`);
  const uniqueId = randomUUID();
  const disk: DiskRecord = {
    kind: "disk",
    id,
    name,
    resourceGroup: vm.resourceGroup,
    location: vm.location,
    tags: {},
    provisioningState: "Succeeded",
    sku,
    zones: vm.zones,
    uniqueId,
    timeCreated: nowIso(ctx),
    sizeBytes: sizeGB * GiB,
    createOption: osType ? "FromImage" : "Empty",
    maxShares: 1,
    managedBy: [],
    familyId: randomUUID(),
    file: `disks/${uniqueId}.img`,
    ...(osType ? { osType } : {}),
  };
  await createSparse(ctx.emu.diskPath(disk.file), disk.sizeBytes);
  ctx.emu.state.put(disk);
  madeByRequest.get(ctx)?.push(disk);
  return disk;
}

export function attach(disk: DiskRecord, vmId: string): void {
  if (!disk.managedBy.some((id) => id.toLowerCase() === vmId.toLowerCase())) disk.managedBy.push(vmId);
}

export function detach(ctx: Ctx, diskId: string, vmId: string): DiskRecord | undefined {
  const disk = ctx.emu.state.get(diskId, "disk");
  if (disk) disk.managedBy = disk.managedBy.filter((id) => id.toLowerCase() !== vmId.toLowerCase());
  return disk;
}

/** Resolves the data-disk list of a create or update into attachments, creating `Empty` disks. */
async function resolveDataDisks(ctx: Ctx, vm: VmRecord, specs: DataDiskSpec[]): Promise<VmDiskRef[]> {
  const refs: VmDiskRef[] = [];
  const seen = new Set<string>([vm.osDisk.diskId.toLowerCase()]);
  for (const spec of specs) {
    const current = vm.dataDisks.find((d) => d.lun === spec.lun);
    if (spec.createOption === "Empty") {
      if (current && (!spec.diskId || spec.diskId.toLowerCase() === current.diskId.toLowerCase())) {
        // An Empty entry already created on an earlier PUT (or read back by a GET) refers to the disk it made.
        if (seen.has(current.diskId.toLowerCase()))
          throw invalidParameter(`Disk '${current.diskId}' is attached to this VM more than once.`);
        seen.add(current.diskId.toLowerCase());
        refs.push(current);
        continue;
      }
      if (spec.diskId) {
        throw new EmulatorError(
          400,
          "InvalidParameterConflictingProperties",
          "The property 'dataDisk.createOption' cannot have the value 'Empty' when property 'dataDisk.managedDisk.id' is set.",
        );
      }
      const sku = spec.sku ?? (VM_SIZES[vm.vmSize]!.premiumIO ? "Premium_LRS" : "Standard_LRS");
      const name = spec.name ?? `${vm.name}_lun_${spec.lun}_${randomBytes(16).toString("hex")}`;
      const disk = await newManagedDisk(ctx, vm, name, spec.sizeGB!, sku);
      attach(disk, vm.id);
      refs.push({
        lun: spec.lun,
        name: disk.name,
        diskId: disk.id,
        caching: spec.caching,
        createOption: "Empty",
        deleteOption: spec.deleteOption,
      });
      continue;
    }
    const disk = ctx.emu.state.get(spec.diskId!, "disk");
    if (seen.has(spec.diskId!.toLowerCase()))
      throw invalidParameter(`Disk '${spec.diskId}' is attached to this VM more than once.`);
    seen.add(spec.diskId!.toLowerCase());
    if (!current || current.diskId.toLowerCase() !== spec.diskId!.toLowerCase())
      checkAttachable(ctx, disk, spec.diskId!, vm);
    refs.push({
      lun: spec.lun,
      name: disk!.name,
      diskId: disk!.id,
      caching: spec.caching,
      createOption: "Attach",
      deleteOption: spec.deleteOption,
      ...(spec.writeAcceleratorEnabled !== undefined ? { writeAcceleratorEnabled: spec.writeAcceleratorEnabled } : {}),
    });
  }
  return refs;
}

async function createVm(ctx: Ctx, rgName: string, name: string, id: string): Promise<VmRecord> {
  const body = ctx.body;
  validateName("virtualMachine", name);
  const location = requireLocation(body, TYPE);
  ctx.touchRegion(location);
  const vmSize = readVmSize(body);
  checkCoresQuota(ctx, location, vmSize);
  const zones = (optArray(body, "zones") ?? []) as string[];
  if (zones.length > 1 || zones.some((z) => !["1", "2", "3"].includes(z)))
    throw invalid("zones", 'A VM lives in at most one zone: "1", "2" or "3".');
  checkZoneOffer(ctx, { id, location, zones }, vmSize);
  const security = readVmSecurity(body);
  const osDiskBody = optObject(body, "properties.storageProfile.osDisk");
  if (!osDiskBody) throw missing("storageProfile.osDisk");
  const createOption = oneOf(optString(osDiskBody, "createOption"), "storageProfile.osDisk.createOption", [
    "Attach",
    "FromImage",
    "Empty",
  ] as const);
  if (!createOption) throw missing("storageProfile.osDisk.createOption");
  const imageReference = optObject(body, "properties.storageProfile.imageReference");
  const osProfile = optObject(body, "properties.osProfile");
  const vm: VmRecord = {
    kind: "vm",
    id,
    name,
    resourceGroup: rgName,
    location,
    tags: optTags(body) ?? {},
    provisioningState: "Creating",
    etag: 1,
    vmId: randomUUID(),
    zones,
    vmSize,
    osDisk: undefined as unknown as VmOsDiskRef,
    dataDisks: [],
    nics: readNics(ctx, body, location),
    power: "starting",
    timeCreated: nowIso(ctx),
    ...(optObject(body, "identity") ? { identity: optObject(body, "identity")! } : {}),
    ...(security ? { securityProfile: security } : {}),
  };
  const licenseType = readLicenseType(body);
  if (licenseType !== undefined && licenseType !== "None") vm.licenseType = licenseType;
  const dataSpecs = readDataDisks(body);
  checkDataDiskCount(vmSize, dataSpecs.length);
  checkNicsOf(ctx, vm, vm.nics);
  for (const nic of vm.nics) {
    const rec = ctx.emu.state.get(nic.id, "nic")!;
    if (rec.virtualMachineId && rec.virtualMachineId.toLowerCase() !== id.toLowerCase()) {
      throw new EmulatorError(
        400,
        "NicInUse",
        `Network Interface ${rec.id} is used by existing resource ${rec.virtualMachineId}. In order to use this network interface, you must first delete or detach it from that resource.`,
      );
    }
  }
  const deleteOption =
    oneOf(optString(osDiskBody, "deleteOption"), "storageProfile.osDisk.deleteOption", ["Delete", "Detach"] as const) ??
    "Detach";
  const caching = optString(osDiskBody, "caching") ?? "ReadWrite";
  let osDisk: DiskRecord;
  if (createOption === "Attach") {
    const osType = oneOf(optString(osDiskBody, "osType"), "storageProfile.osDisk.osType", [
      "Linux",
      "Windows",
    ] as const);
    if (!osType) throw missing("osDisk.osType");
    if (imageReference)
      throw invalidParameter("Cannot attach an existing OS disk if the VM is created from a platform or user image.");
    // Azure's words (see the README, "Windows and specialized OS disks"): the VM keeps its disk's guest identity.
    if (osProfile) throw invalidParameter("Parameter 'osProfile' is not allowed.");
    const diskId = optString(osDiskBody, "managedDisk.id");
    if (!diskId) throw missing("osDisk.managedDisk.id");
    osDisk = checkAttachable(ctx, ctx.emu.state.get(diskId, "disk"), diskId, vm);
    if (osDisk.osType && osDisk.osType !== osType) {
      throw invalidParameter(
        `Disk '${osDisk.name}' holds a ${osDisk.osType} OS; it cannot be attached as the OS disk of a ${osType} VM.`,
      );
    }
    vm.hyperVGeneration = osDisk.hyperVGeneration ?? "V1";
    checkGeneration(vmSize, vm.hyperVGeneration);
    checkVmSecurity(vm.securityProfile, vmSize, osDisk);
    vm.osDisk = { name: osDisk.name, diskId: osDisk.id, osType, caching, createOption: "Attach", deleteOption };
  } else if (createOption === "FromImage") {
    if (!imageReference) throw missing("storageProfile.imageReference");
    const osType = osTypeFromImage(imageReference);
    validateOsProfile(osProfile, osType);
    const sizeGB = optInteger(osDiskBody, "diskSizeGB") ?? (osType === "Windows" ? 127 : 30);
    const sku =
      optString(osDiskBody, "managedDisk.storageAccountType") ??
      (VM_SIZES[vmSize]!.premiumIO ? "Premium_LRS" : "Standard_LRS");
    const diskName = optString(osDiskBody, "name") ?? `${name}_OsDisk_1_${randomBytes(16).toString("hex")}`;
    if (security)
      throw invalidParameter(
        "The ferry emulator has no Trusted Launch or Confidential images: a VM with a securityProfile is created on " +
          "an attached OS disk of its security type.",
      );
    osDisk = await newManagedDisk(ctx, vm, diskName, sizeGB, sku, osType);
    // Images are not modelled by generation: one made from an image boots Gen1, which every size offers.
    vm.hyperVGeneration = "V1";
    vm.osDisk = { name: osDisk.name, diskId: osDisk.id, osType, caching, createOption: "FromImage", deleteOption };
    vm.imageReference = imageReference;
    vm.osProfile = osProfile!;
  } else {
    throw invalid("storageProfile.osDisk.createOption", "An OS disk is created FromImage or attached (Attach).");
  }
  vm.dataDisks = await resolveDataDisks(ctx, vm, dataSpecs);
  attach(osDisk, id);
  for (const d of vm.dataDisks) attach(ctx.emu.state.get(d.diskId, "disk")!, id);
  for (const nic of vm.nics) ctx.emu.state.get(nic.id, "nic")!.virtualMachineId = id;
  return vm;
}

/** A PUT on an existing VM or a PATCH: disk attach/detach, OS-disk swap, size, NICs, tags. */
async function updateVm(ctx: Ctx, vm: VmRecord, patch: boolean): Promise<void> {
  const body = ctx.body;
  const emu = ctx.emu;
  const sizeGiven = optString(body, "properties.hardwareProfile.vmSize");
  const vmSize = sizeGiven ? readVmSize(body) : vm.vmSize;
  const storage = optObject(body, "properties.storageProfile");
  if (!patch && !storage) throw missing("storageProfile");
  const next: VmRecord = { ...vm, vmSize };
  // OS disk: a swap needs a deallocated VM; removing it is never allowed.
  const osDiskBody = optObject(body, "properties.storageProfile.osDisk");
  if (storage && !osDiskBody && !patch) throw notAllowed("The OS disk of a VM cannot be detached or removed.");
  let swapTo: DiskRecord | undefined;
  if (osDiskBody) {
    const newId = optString(osDiskBody, "managedDisk.id");
    if (newId && newId.toLowerCase() !== vm.osDisk.diskId.toLowerCase()) {
      if (vm.power !== "deallocated") {
        throw notAllowed(
          `Operation 'Swap OS disk' is not allowed on VM '${vm.name}' since the VM is not deallocated. Deallocate the VM first.`,
        );
      }
      const osType =
        oneOf(optString(osDiskBody, "osType"), "storageProfile.osDisk.osType", ["Linux", "Windows"] as const) ??
        vm.osDisk.osType;
      if (osType !== vm.osDisk.osType)
        throw invalidParameter(`The OS type of VM '${vm.name}' cannot change from ${vm.osDisk.osType} to ${osType}.`);
      swapTo = checkAttachable(ctx, emu.state.get(newId, "disk"), newId, next);
      next.hyperVGeneration = swapTo.hyperVGeneration ?? "V1";
      if (swapTo.osType && swapTo.osType !== vm.osDisk.osType) {
        throw invalidParameter(
          `Disk '${swapTo.name}' holds a ${swapTo.osType} OS; VM '${vm.name}' runs ${vm.osDisk.osType}.`,
        );
      }
    }
  }
  checkGeneration(vmSize, next.hyperVGeneration ?? "V1");
  if (sizeGiven) checkZoneOffer(ctx, vm, vmSize);
  const osNow = swapTo ?? emu.state.get(vm.osDisk.diskId, "disk");
  if (osNow && (swapTo || sizeGiven)) checkVmSecurity(vm.securityProfile, vmSize, osNow);
  const dataGiven = get(body, "properties.storageProfile.dataDisks") !== undefined || !patch;
  if (dataGiven) {
    const specs = readDataDisks(body);
    checkDataDiskCount(vmSize, specs.length);
    if (swapTo) next.osDisk = { ...vm.osDisk, diskId: swapTo.id, name: swapTo.name, createOption: "Attach" };
    next.dataDisks = await resolveDataDisks(ctx, next, specs);
  } else {
    checkDataDiskCount(vmSize, vm.dataDisks.length);
  }
  if (get(body, "properties.networkProfile") !== undefined) {
    const nics = readNics(ctx, body, vm.location);
    const same =
      nics.length === vm.nics.length &&
      nics.every((n) => vm.nics.some((m) => m.id.toLowerCase() === n.id.toLowerCase()));
    if (!same && vm.power !== "deallocated") {
      throw notAllowed(`Network interfaces of VM '${vm.name}' can only be added or removed while it is deallocated.`);
    }
    next.nics = nics;
  }
  // A resize is checked against the NICs the VM keeps, new NICs against the size it gets.
  if (sizeGiven || get(body, "properties.networkProfile") !== undefined) checkNicsOf(ctx, next, next.nics);
  // Apply: detach what left, attach what came, swap the OS disk.
  for (const old of vm.dataDisks) {
    if (!next.dataDisks.some((d) => d.diskId.toLowerCase() === old.diskId.toLowerCase()))
      detach(ctx, old.diskId, vm.id);
  }
  for (const d of next.dataDisks) attach(emu.state.get(d.diskId, "disk")!, vm.id);
  if (swapTo) {
    detach(ctx, vm.osDisk.diskId, vm.id);
    attach(swapTo, vm.id);
    next.osDisk = { ...vm.osDisk, diskId: swapTo.id, name: swapTo.name, createOption: "Attach" };
  }
  for (const n of vm.nics)
    if (!next.nics.some((m) => m.id.toLowerCase() === n.id.toLowerCase())) {
      const rec = emu.state.get(n.id, "nic");
      if (rec) delete rec.virtualMachineId;
    }
  for (const n of next.nics) emu.state.get(n.id, "nic")!.virtualMachineId = vm.id;
  // The licence may change on a running VM (Azure Hybrid Benefit turned on or off); "None" removes it, and a request
  // that names none keeps it.
  const licenseType = readLicenseType(body);
  if (licenseType === "None") delete next.licenseType;
  else if (licenseType !== undefined) next.licenseType = licenseType;
  const tags = optTags(body);
  Object.assign(vm, next, { tags: tags ?? (patch ? vm.tags : {}), provisioningState: "Updating" });
  if (licenseType === "None") delete vm.licenseType;
  emu.guest.sync(vm);
}

/** Deletes a VM: disks and NICs are deleted or detached per their deleteOption. */
export function deleteVmRecord(ctx: Ctx, vm: VmRecord, options: { forceDeleteDisks: boolean }): void {
  const emu = ctx.emu;
  emu.guest.remove(vm);
  const refs: { diskId: string; deleteOption: string }[] = [vm.osDisk, ...vm.dataDisks];
  for (const ref of refs) {
    const disk = detach(ctx, ref.diskId, vm.id);
    if (disk && (ref.deleteOption === "Delete" || options.forceDeleteDisks) && disk.managedBy.length === 0)
      deleteDiskRecord(ctx, disk);
  }
  for (const n of vm.nics) {
    const nic = emu.state.get(n.id, "nic");
    if (!nic) continue;
    delete nic.virtualMachineId;
    if (n.deleteOption === "Delete") emu.state.delete(nic.id);
  }
  emu.state.delete(vm.id);
  ctx.mutated = true;
}

const VMS: ResourceKind<"vm"> = { provider: COMPUTE, type: "virtualMachines", kind: "vm", nameParam: "vmName" };
export const requireVm = (ctx: Ctx, p: Record<string, string>) => requireResource(ctx, p, VMS);

const BUSY: ReadonlySet<PowerState> = new Set<PowerState>(["starting", "stopping", "deallocating"]);

function powerAction(ctx: Ctx, vm: VmRecord, to: PowerState, action: string): void {
  const emu = ctx.emu;
  if (BUSY.has(vm.power) && vm.power !== transitional(to)) {
    throw notAllowed(`Operation '${action}' is not allowed on VM '${vm.name}' since another operation is in progress.`);
  }
  if (to === "running") {
    const sas = [vm.osDisk, ...vm.dataDisks].find((d) => emu.state.activeGrants(d.diskId, emu.now()).length > 0);
    if (sas)
      throw notAllowed(
        `VM '${vm.name}' cannot start while its disk '${sas.name}' has an active SAS. Revoke access first.`,
      );
  }
  const from = vm.power;
  if (from === to || from === transitional(to)) {
    answerAccepted(
      ctx,
      emu.startOperation(ctx, { provider: COMPUTE, location: vm.location, completion: { kind: "none" } }),
    );
    return;
  }
  if (to === "stopped" && from === "deallocated") {
    answerAccepted(
      ctx,
      emu.startOperation(ctx, { provider: COMPUTE, location: vm.location, completion: { kind: "none" } }),
    );
    return;
  }
  if (!ctx.lroFault) {
    // Power-off and deallocate shut the guest OS down gracefully unless forced (`skipShutdown=true` on
    // VirtualMachines_PowerOff, `forceDeallocate=true` on VirtualMachines_Deallocate): a guest that was running goes
    // on writing its disks until the operation ends. Forced, it loses its devices at once.
    const forced = ["skipShutdown", "forceDeallocate"].some(
      (q) => ctx.url.searchParams.get(q)?.toLowerCase() === "true",
    );
    vm.power = transitional(to);
    delete vm.runningSince;
    // A start never gets here from "running" (answered above), so only a stop or deallocate shuts a guest down.
    if (from === "running" && !forced) vm.shuttingDown = true;
    emu.guest.sync(vm);
  }
  ctx.mutated = true;
  const op = emu.startOperation(ctx, {
    provider: COMPUTE,
    location: vm.location,
    completion: ctx.lroFault ? { kind: "none" } : { kind: "power", vmId: vm.id, from, to },
  });
  answerAccepted(ctx, op);
}

export function registerVms(router: Router<Ctx>): void {
  router.add("PUT", VM, "VirtualMachines_CreateOrUpdate", async (ctx, p) => {
    const rg = requireResourceGroup(ctx, p.subscriptionId!, p.resourceGroupName!);
    const id = resourceId(ctx, rg.name, COMPUTE, "virtualMachines", p.vmName!);
    const existing = ctx.emu.state.get(id, "vm");
    if (existing) ctx.touchRegion(existing.location);
    checkVmPreconditions(ctx, existing, p.vmName!);
    if (existing) {
      requireSameLocation(existing, ctx.body);
      await undoDisksOnError(ctx, () => updateVm(ctx, existing, false));
      bumpVmEtag(existing);
      if (existing.neverBooted && existing.power === "stopped") existing.power = "starting";
      const op = ctx.emu.startOperation(ctx, {
        provider: COMPUTE,
        location: existing.location,
        durationInMs: operationDurationInMs(ctx.emu.profile, "VirtualMachines_Update"),
        completion: { kind: "provisioned", resourceId: id },
      });
      answerPut(ctx, op, false, serializeVm(ctx.emu, existing));
      return;
    }
    const vm = await undoDisksOnError(ctx, () => createVm(ctx, rg.name, p.vmName!, id));
    ctx.emu.state.put(vm);
    const op = ctx.emu.startOperation(ctx, {
      provider: COMPUTE,
      location: vm.location,
      completion: { kind: "provisioned", resourceId: id },
    });
    answerPut(ctx, op, true, serializeVm(ctx.emu, vm));
  });

  router.add("PATCH", VM, "VirtualMachines_Update", async (ctx, p) => {
    const vm = requireVm(ctx, p);
    checkVmPreconditions(ctx, vm, vm.name);
    if (get(ctx.body, "location") !== undefined) requireSameLocation(vm, ctx.body);
    await undoDisksOnError(ctx, () => updateVm(ctx, vm, true));
    bumpVmEtag(vm);
    const op = ctx.emu.startOperation(ctx, {
      provider: COMPUTE,
      location: vm.location,
      completion: { kind: "provisioned", resourceId: vm.id },
    });
    answerPut(ctx, op, false, serializeVm(ctx.emu, vm));
  });

  router.add("GET", VM, "VirtualMachines_Get", (ctx, p) => {
    const vm = requireVm(ctx, p);
    const expand = ctx.url.searchParams.get("$expand");
    sendJson(ctx, 200, serializeVm(ctx.emu, vm, expand?.toLowerCase() === "instanceview"));
  });

  router.add("GET", `${VM}/instanceView`, "VirtualMachines_InstanceView", (ctx, p) => {
    sendJson(ctx, 200, instanceView(ctx.emu, requireVm(ctx, p)));
  });

  router.add("DELETE", VM, "VirtualMachines_Delete", (ctx, p) => {
    const vm = findResource(ctx, p, VMS);
    if (!vm) return sendEmpty(ctx, 204);
    deleteVmRecord(ctx, vm, { forceDeleteDisks: false });
    answerAccepted(
      ctx,
      ctx.emu.startOperation(ctx, { provider: COMPUTE, location: vm.location, completion: { kind: "none" } }),
    );
  });

  router.add("POST", `${VM}/start`, "VirtualMachines_Start", (ctx, p) =>
    powerAction(ctx, requireVm(ctx, p), "running", "Start"),
  );
  router.add("POST", `${VM}/powerOff`, "VirtualMachines_PowerOff", (ctx, p) =>
    powerAction(ctx, requireVm(ctx, p), "stopped", "Power off"),
  );
  router.add("POST", `${VM}/deallocate`, "VirtualMachines_Deallocate", (ctx, p) =>
    powerAction(ctx, requireVm(ctx, p), "deallocated", "Deallocate"),
  );
  router.add("POST", `${VM}/restart`, "VirtualMachines_Restart", (ctx, p) => {
    const vm = requireVm(ctx, p);
    if (vm.power !== "running") {
      throw notAllowed(
        `Operation 'Restart' is not allowed on VM '${vm.name}': the operation requires the VM to be running (it is ${vm.power}).`,
      );
    }
    answerAccepted(
      ctx,
      ctx.emu.startOperation(ctx, { provider: COMPUTE, location: vm.location, completion: { kind: "none" } }),
    );
  });

  registerLists(router, {
    provider: COMPUTE,
    type: "virtualMachines",
    kind: "vm",
    byGroup: "VirtualMachines_List",
    bySubscription: "VirtualMachines_ListAll",
    serialize: (emu, vm) => serializeVm(emu, vm),
  });
}
