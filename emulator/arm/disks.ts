import { randomUUID } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { sendEmpty, sendJson, type Ctx } from "../context";
import { EmulatorError, badRequest, conflict, notAllowed } from "../errors";
import type { Router } from "../http/router";
import type { DiskCreateOption, DiskRecord } from "../model";
import type { Emulator } from "../emulator";
import { createSparse, growSparse, writeChunks } from "../storage/files";
import { Manifest } from "../storage/manifest";
import { diskState, grantAccess, revokeAccess, revokeAll } from "./access";
import {
  answerAccepted,
  answerCreateAccepted,
  answerPut,
  COMPUTE,
  envelope,
  findResource,
  nowIso,
  registerLists,
  parseId,
  requireLocation,
  requireResourceGroup,
  requireSameLocation,
  resourceId,
  requireResource,
  type ResourceKind,
} from "./common";
import { get, invalid, missing, oneOf, optArray, optInteger, optString, optTags, reqString } from "./input";
import { validateName } from "./names";
import { diskSecurityOnCreate } from "./security";
import { DISK_SKUS, ZRS_SKUS } from "./vm-sizes";

export const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const TiB4 = 4 * 1024;
const MAX_DISK_GB = 32_767;
const MIN_UPLOAD = 20 * MiB + 512;
const MAX_UPLOAD = 32 * 1024 * GiB + 512;

const DISK =
  "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/disks/{diskName}";
const TYPE = "Microsoft.Compute/disks";

export function diskSizeGB(d: { sizeBytes: number; upload?: unknown; uploadSizeBytes?: number }): number {
  // Until it is sealed an upload disk's blob holds the VHD footer too; the disk's size never counts it.
  const bytes = d.upload === "ready" && d.uploadSizeBytes !== undefined ? d.uploadSizeBytes - 512 : d.sizeBytes;
  return Math.ceil(bytes / GiB);
}

export function serializeDisk(emu: Emulator, d: DiskRecord) {
  return {
    ...envelope(d, TYPE),
    sku: { name: d.sku, tier: d.sku.startsWith("Premium") ? "Premium" : "Standard" },
    ...(d.zones.length ? { zones: d.zones } : {}),
    ...(d.managedBy.length ? { managedBy: d.managedBy[0] } : {}),
    ...(d.maxShares > 1 ? { managedByExtended: d.managedBy } : {}),
    properties: {
      ...(d.osType ? { osType: d.osType } : {}),
      ...(d.hyperVGeneration ? { hyperVGeneration: d.hyperVGeneration } : {}),
      ...(d.securityType ? { securityProfile: { securityType: d.securityType } } : {}),
      creationData: {
        createOption: d.createOption,
        ...(d.sourceResourceId ? { sourceResourceId: d.sourceResourceId } : {}),
        ...(d.sourceUniqueId ? { sourceUniqueId: d.sourceUniqueId } : {}),
        ...(d.uploadSizeBytes !== undefined ? { uploadSizeBytes: d.uploadSizeBytes } : {}),
      },
      diskSizeGB: diskSizeGB(d),
      diskSizeBytes: d.upload === "ready" && d.uploadSizeBytes !== undefined ? d.uploadSizeBytes : d.sizeBytes,
      uniqueId: d.uniqueId,
      timeCreated: d.timeCreated,
      provisioningState: d.provisioningState,
      diskState: diskState(emu, d),
      ...(d.maxShares > 1 ? { maxShares: d.maxShares } : {}),
      encryption: { type: "EncryptionAtRestWithPlatformKey" },
      networkAccessPolicy: "AllowAll",
      publicNetworkAccess: "Enabled",
    },
  };
}

function readSku(body: unknown): string | undefined {
  return oneOf(optString(body, "sku.name"), "sku.name", DISK_SKUS);
}

function readZones(body: unknown, sku: string): string[] {
  const zones = optArray(body, "zones") ?? [];
  if (zones.length > 1 || zones.some((z) => typeof z !== "string" || !["1", "2", "3"].includes(z))) {
    throw invalid("zones", 'A disk lives in at most one zone: "1", "2" or "3".');
  }
  if (zones.length && ZRS_SKUS.has(sku)) throw invalid("zones", `A ${sku} disk is zone-redundant and takes no zone.`);
  return zones as string[];
}

function readSizeGB(body: unknown): number | undefined {
  const gb = optInteger(body, "properties.diskSizeGB");
  if (gb !== undefined && (gb < 1 || gb > MAX_DISK_GB)) {
    throw invalid("properties.diskSizeGB", `Disk sizes are whole GiB from 1 to ${MAX_DISK_GB}.`);
  }
  return gb;
}

/** Finds the source of a `Copy` (of a disk or a snapshot): a disk or a snapshot. */
export function copySource(ctx: Ctx, id: string) {
  const parsed = parseId(id);
  if (!parsed) throw invalid("properties.creationData.sourceResourceId", `'${id}' is not a resource id.`);
  const r = ctx.emu.state.resources.get(id.toLowerCase());
  if (!r || (r.kind !== "disk" && r.kind !== "snapshot")) {
    throw new EmulatorError(
      404,
      "NotFound",
      `Source resource '${id}' was not found: a disk or a snapshot is expected.`,
    );
  }
  return r;
}

async function createDisk(ctx: Ctx, rgName: string, name: string, id: string): Promise<DiskRecord> {
  const body = ctx.body;
  validateName("disk", name);
  const location = requireLocation(body, TYPE);
  ctx.touchRegion(location);
  const sku = readSku(body) ?? "Standard_LRS";
  const zones = readZones(body, sku);
  const createOption = oneOf(
    optString(body, "properties.creationData.createOption"),
    "properties.creationData.createOption",
    [
      "Empty",
      "Copy",
      "Upload",
      "UploadPreparedSecure",
      "FromImage",
      "Import",
      "ImportSecure",
      "Restore",
      "Attach",
      "CopyStart",
    ] as const,
  );
  if (!createOption) throw missing("properties.creationData.createOption");
  if (!["Empty", "Copy", "Upload", "UploadPreparedSecure"].includes(createOption)) {
    throw badRequest(
      "NotSupported",
      `createOption '${createOption}' for disks is not supported by the ferry emulator; use Empty, Copy, Upload or ` +
        "UploadPreparedSecure.",
    );
  }
  const osType = oneOf(optString(body, "properties.osType"), "properties.osType", ["Linux", "Windows"] as const);
  const hyperVGeneration = oneOf(optString(body, "properties.hyperVGeneration"), "properties.hyperVGeneration", [
    "V1",
    "V2",
  ] as const);
  const maxShares = optInteger(body, "properties.maxShares") ?? 1;
  if (maxShares < 1 || maxShares > 10) throw invalid("properties.maxShares", "maxShares is from 1 to 10.");
  const uniqueId = randomUUID();
  const file = `disks/${uniqueId}.img`;
  const path = ctx.emu.diskPath(file);
  const disk: DiskRecord = {
    kind: "disk",
    id,
    name,
    resourceGroup: rgName,
    location,
    tags: optTags(body) ?? {},
    provisioningState: "Updating",
    sku,
    zones,
    uniqueId,
    timeCreated: nowIso(ctx),
    sizeBytes: 0,
    createOption: createOption as DiskCreateOption,
    maxShares,
    managedBy: [],
    familyId: randomUUID(),
    file,
    ...(osType ? { osType } : {}),
    ...(hyperVGeneration ? { hyperVGeneration } : {}),
  };
  const sizeGB = readSizeGB(body);
  if (createOption === "Empty") {
    diskSecurityOnCreate(body, createOption, hyperVGeneration);
    if (sizeGB === undefined) throw missing("properties.diskSizeGB");
    disk.sizeBytes = sizeGB * GiB;
    await createSparse(path, disk.sizeBytes);
  } else if (createOption === "Upload" || createOption === "UploadPreparedSecure") {
    const securityType = diskSecurityOnCreate(body, createOption, hyperVGeneration);
    if (securityType) disk.securityType = securityType;
    const upload = optInteger(body, "properties.creationData.uploadSizeBytes");
    if (upload === undefined) throw missing("properties.creationData.uploadSizeBytes");
    if (upload < MIN_UPLOAD || upload > MAX_UPLOAD || upload % 512 !== 0) {
      throw invalid(
        "properties.creationData.uploadSizeBytes",
        `It must be a multiple of 512 from ${MIN_UPLOAD} (20 MiB + 512) to ${MAX_UPLOAD} (32 TiB + 512), the VHD footer included.`,
      );
    }
    disk.uploadSizeBytes = upload;
    disk.sizeBytes = upload;
    disk.upload = "ready";
    await createSparse(path, upload);
  } else {
    const sourceId = reqString(body, "properties.creationData.sourceResourceId");
    const source = copySource(ctx, sourceId);
    ctx.touchRegion(source.location);
    if (source.location !== location) {
      throw badRequest(
        "BadRequest",
        `The source '${source.name}' is in region '${source.location}' but the disk is created in '${location}'. Copy a snapshot to the target region first (snapshot createOption CopyStart).`,
      );
    }
    if (source.kind === "snapshot" && source.completionPercent < 100) {
      throw notAllowed(
        `Snapshot '${source.name}' is still being copied (completionPercent ${source.completionPercent.toFixed(1)}); create disks from it once the copy completes.`,
      );
    }
    if (source.kind === "disk" && source.upload === "ready") {
      throw notAllowed(`Disk '${source.name}' is waiting for an upload and cannot be copied yet.`);
    }
    disk.sourceResourceId = source.id;
    disk.sourceUniqueId = source.uniqueId;
    if (!disk.osType && source.osType) disk.osType = source.osType;
    if (!disk.hyperVGeneration && source.hyperVGeneration) disk.hyperVGeneration = source.hyperVGeneration;
    const securityType = diskSecurityOnCreate(body, "Copy", disk.hyperVGeneration, source);
    if (securityType) disk.securityType = securityType;
    const sourceBytes =
      source.kind === "disk" && source.uploadSizeBytes !== undefined ? source.uploadSizeBytes - 512 : source.sizeBytes;
    const minGB = Math.ceil(sourceBytes / GiB);
    if (sizeGB !== undefined && sizeGB < minGB) {
      throw invalid("properties.diskSizeGB", `The disk must be at least as large as its source (${minGB} GiB).`);
    }
    disk.sizeBytes = (sizeGB ?? minGB) * GiB;
    await createSparse(path, disk.sizeBytes);
    if (source.kind === "snapshot") {
      const manifest = Manifest.parse(readFileSync(ctx.emu.diskPath(source.manifest)));
      await ctx.emu.chunks.materialize(manifest, path);
    } else {
      // A point in time of the source, as a snapshot would be, even while its guest writes.
      const capture = await ctx.emu.guest.capture(source);
      await writeChunks(capture.chunks, path, Math.min(source.sizeBytes, disk.sizeBytes));
    }
  }
  return disk;
}

/** Changes a PUT or PATCH may make to an existing disk. */
async function updateDisk(ctx: Ctx, disk: DiskRecord, patch: boolean): Promise<void> {
  const body = ctx.body;
  const emu = ctx.emu;
  const createOption = optString(body, "properties.creationData.createOption");
  if (!patch && createOption !== undefined && createOption.toLowerCase() !== disk.createOption.toLowerCase()) {
    throw new EmulatorError(
      409,
      "PropertyChangeNotAllowed",
      "Changing property 'creationData.createOption' is not allowed.",
    );
  }
  const running = disk.managedBy.some((id) => emu.state.get(id, "vm")?.power !== "deallocated");
  const sizeGB = readSizeGB(body);
  if (sizeGB !== undefined && sizeGB !== diskSizeGB(disk)) {
    if (disk.upload !== undefined)
      throw notAllowed(`Disk '${disk.name}' was created for upload; its size cannot be changed.`);
    if (sizeGB < diskSizeGB(disk)) {
      throw badRequest(
        "BadRequest",
        `Disk '${disk.name}' cannot shrink from ${diskSizeGB(disk)} GB to ${sizeGB} GB: disks only grow.`,
      );
    }
    if (running)
      throw conflict("Conflict", "Disk resizing is allowed only when creating a VM or when the VM is deallocated.");
    const before = diskSizeGB(disk);
    disk.sizeBytes = sizeGB * GiB;
    await growSparse(emu.diskPath(disk.file), disk.sizeBytes);
    // Azure cannot diff across a resize that crosses 4 TiB: the incremental family starts over.
    if (before <= TiB4 && sizeGB > TiB4) disk.familyId = randomUUID();
  }
  const sku = readSku(body);
  if (sku && sku !== disk.sku) {
    if (running)
      throw notAllowed(
        `The SKU of disk '${disk.name}' can only change while it is unattached or its VM is deallocated.`,
      );
    disk.sku = sku;
  }
  const osType = oneOf(optString(body, "properties.osType"), "properties.osType", ["Linux", "Windows"] as const);
  if (osType) disk.osType = osType;
  const maxShares = optInteger(body, "properties.maxShares");
  if (maxShares !== undefined && maxShares !== disk.maxShares) {
    if (disk.managedBy.length)
      throw notAllowed(`maxShares of disk '${disk.name}' can only change while it is unattached.`);
    disk.maxShares = maxShares;
  }
  const tags = optTags(body);
  if (tags) disk.tags = tags;
  else if (!patch) disk.tags = {};
  disk.provisioningState = "Updating";
}

/** Removes a disk record and its file, and ends its grants. */
export function deleteDiskRecord(ctx: Ctx, disk: DiskRecord): void {
  revokeAll(ctx.emu, disk);
  ctx.emu.state.delete(disk.id);
  rmSync(ctx.emu.diskPath(disk.file), { force: true });
  ctx.mutated = true;
}

const DISKS: ResourceKind<"disk"> = { provider: COMPUTE, type: "disks", kind: "disk", nameParam: "diskName" };
const requireDisk = (ctx: Ctx, p: Record<string, string>) => requireResource(ctx, p, DISKS);

export function registerDisks(router: Router<Ctx>): void {
  router.add("PUT", DISK, "Disks_CreateOrUpdate", async (ctx, p) => {
    const rg = requireResourceGroup(ctx, p.subscriptionId!, p.resourceGroupName!);
    const id = resourceId(ctx, rg.name, COMPUTE, "disks", p.diskName!);
    const existing = ctx.emu.state.get(id, "disk");
    if (existing) {
      ctx.touchRegion(existing.location);
      requireSameLocation(existing, ctx.body);
      await updateDisk(ctx, existing, false);
      const op = ctx.emu.startOperation(ctx, {
        provider: COMPUTE,
        location: existing.location,
        completion: { kind: "provisioned", resourceId: id },
      });
      answerPut(ctx, op, false, serializeDisk(ctx.emu, existing));
      return;
    }
    const disk = await createDisk(ctx, rg.name, p.diskName!, id);
    ctx.emu.state.put(disk);
    const op = ctx.emu.startOperation(ctx, {
      provider: COMPUTE,
      location: disk.location,
      variant: disk.createOption,
      completion: { kind: "provisioned", resourceId: id },
    });
    answerCreateAccepted(ctx, op, serializeDisk(ctx.emu, disk));
  });

  router.add("PATCH", DISK, "Disks_Update", async (ctx, p) => {
    const disk = requireDisk(ctx, p);
    if (get(ctx.body, "location") !== undefined) requireSameLocation(disk, ctx.body);
    await updateDisk(ctx, disk, true);
    const op = ctx.emu.startOperation(ctx, {
      provider: COMPUTE,
      location: disk.location,
      completion: { kind: "provisioned", resourceId: disk.id },
    });
    answerPut(ctx, op, false, serializeDisk(ctx.emu, disk));
  });

  router.add("GET", DISK, "Disks_Get", (ctx, p) => {
    sendJson(ctx, 200, serializeDisk(ctx.emu, requireDisk(ctx, p)));
  });

  router.add("DELETE", DISK, "Disks_Delete", (ctx, p) => {
    const disk = findResource(ctx, p, DISKS);
    if (!disk) return sendEmpty(ctx, 204);
    if (disk.managedBy.length) {
      throw notAllowed(`Disk ${disk.name} is attached to VM ${disk.managedBy[0]}. Detach it before deleting it.`);
    }
    if (ctx.emu.state.activeGrants(disk.id, ctx.emu.now()).length) {
      throw notAllowed(`Disk ${disk.name} has an active SAS. Revoke access before deleting it.`);
    }
    deleteDiskRecord(ctx, disk);
    answerAccepted(
      ctx,
      ctx.emu.startOperation(ctx, { provider: COMPUTE, location: disk.location, completion: { kind: "none" } }),
    );
  });

  router.add("POST", `${DISK}/beginGetAccess`, "Disks_GrantAccess", (ctx, p) => grantAccess(ctx, requireDisk(ctx, p)));
  router.add("POST", `${DISK}/endGetAccess`, "Disks_RevokeAccess", (ctx, p) => revokeAccess(ctx, requireDisk(ctx, p)));

  registerLists(router, {
    provider: COMPUTE,
    type: "disks",
    kind: "disk",
    byGroup: "Disks_ListByResourceGroup",
    bySubscription: "Disks_List",
    serialize: serializeDisk,
  });
}
