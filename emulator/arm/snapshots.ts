import { randomUUID } from "node:crypto";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { sendEmpty, sendJson, type Ctx } from "../context";
import { EmulatorError, badRequest, notAllowed } from "../errors";
import type { Emulator } from "../emulator";
import type { Router } from "../http/router";
import type { DiskRecord, SnapshotRecord } from "../model";
import { diffManifests, Manifest } from "../storage/manifest";
import { grantAccess, revokeAccess, revokeAll } from "./access";
import {
  answerAccepted,
  answerCreateAccepted,
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
import { copySource, GiB } from "./disks";
import { get, invalid, missing, oneOf, optBoolean, optString, optTags, reqString } from "./input";
import { validateName } from "./names";

const SNAPSHOT =
  "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/snapshots/{snapshotName}";
const TYPE = "Microsoft.Compute/snapshots";
/** Azure keeps at most 500 incremental snapshots per disk. */
export const MAX_INCREMENTAL_PER_DISK = 500;
/** Azure allows 7 incremental snapshots per disk per 5 minutes. */
export const SNAPSHOTS_PER_WINDOW = 7;
export const SNAPSHOT_WINDOW_MS = 5 * 60_000;
/** Azure runs at most 100 cross-region copies per subscription and region at once. */
export const MAX_PARALLEL_COPIES = 100;

/** The manifest of a snapshot (immutable, so kept in a small cache: every data-plane read needs it). */
export function loadManifest(emu: Emulator, s: SnapshotRecord): Manifest {
  const cached = emu.manifests.get(s.manifest);
  if (cached) return cached;
  const m = Manifest.parse(readFileSync(emu.diskPath(s.manifest)));
  emu.manifests.set(s.manifest, m);
  if (emu.manifests.size > 64) emu.manifests.delete(emu.manifests.keys().next().value!);
  return m;
}

/** Brings a cross-region copy's `completionPercent` up to date. */
export function copyProgress(emu: Emulator, s: SnapshotRecord): number {
  if (
    s.completionPercent >= 100 ||
    s.copyCompletionError ||
    s.copyReadyAt === undefined ||
    s.copyStartedAt === undefined
  ) {
    return s.completionPercent;
  }
  const now = emu.now();
  if (now >= s.copyReadyAt) s.completionPercent = 100;
  else
    s.completionPercent = Math.min(
      99.9,
      ((now - s.copyStartedAt) / Math.max(1, s.copyReadyAt - s.copyStartedAt)) * 100,
    );
  return s.completionPercent;
}

export function serializeSnapshot(emu: Emulator, s: SnapshotRecord) {
  copyProgress(emu, s);
  const sas = emu.state.activeGrants(s.id, emu.now()).length > 0;
  return {
    ...envelope(s, TYPE),
    sku: { name: s.sku, tier: "Standard" },
    properties: {
      ...(s.osType ? { osType: s.osType } : {}),
      ...(s.hyperVGeneration ? { hyperVGeneration: s.hyperVGeneration } : {}),
      ...(s.securityType ? { securityProfile: { securityType: s.securityType } } : {}),
      creationData: {
        createOption: s.createOption,
        sourceResourceId: s.sourceResourceId,
        sourceUniqueId: s.sourceUniqueId,
      },
      diskSizeGB: Math.ceil(s.sizeBytes / GiB),
      diskSizeBytes: s.sizeBytes,
      uniqueId: s.uniqueId,
      timeCreated: s.timeCreated,
      provisioningState: s.provisioningState,
      incremental: s.incremental,
      ...(s.familyId && s.incremental ? { incrementalSnapshotFamilyId: s.familyId } : {}),
      completionPercent: s.completionPercent,
      ...(s.copyCompletionError ? { copyCompletionError: s.copyCompletionError } : {}),
      diskState: sas ? "ActiveSAS" : "Unattached",
      encryption: { type: "EncryptionAtRestWithPlatformKey" },
      networkAccessPolicy: "AllowAll",
      publicNetworkAccess: "Enabled",
    },
  };
}

/**
 * Captures a disk's content as a manifest, at one instant (`takenAt`) whatever its guests write
 * meanwhile (with FUSE guest devices; see `GuestDevices.capture`). A disk whose file has not changed
 * since the last snapshot taken of it reuses that snapshot's manifest instead of reading the file
 * again; the reuse is only trusted when the file was already quiet before that read began, because
 * file modification times are coarse.
 */
async function captureDisk(
  emu: Emulator,
  disk: DiskRecord,
  snapshotId: string,
): Promise<{ manifest: Manifest; takenAt: number }> {
  const path = emu.diskPath(disk.file);
  const checkedAt = emu.now();
  const before = statSync(path, { bigint: true });
  const key = disk.id.toLowerCase();
  const cached = emu.ingestCache.get(key);
  if (
    cached &&
    cached.mtimeNs === before.mtimeNs &&
    cached.sizeBytes === disk.sizeBytes &&
    Number(before.mtimeNs / 1_000_000n) < cached.readStartedAt - 100
  ) {
    const snap = emu.state.get(cached.snapshotId, "snapshot");
    if (snap && snap.sizeBytes === disk.sizeBytes) {
      const m = loadManifest(emu, snap);
      emu.chunks.refAll(m);
      return { manifest: m, takenAt: checkedAt };
    }
  }
  const readStartedAt = Date.now();
  const capture = await emu.guest.capture(disk);
  const manifest = await emu.chunks.ingest(capture.chunks, disk.sizeBytes);
  emu.ingestCache.set(key, { snapshotId, mtimeNs: before.mtimeNs, sizeBytes: disk.sizeBytes, readStartedAt });
  return { manifest, takenAt: capture.takenAt };
}

function enforceSnapshotLimits(ctx: Ctx, disk: DiskRecord): void {
  const emu = ctx.emu;
  const family = emu.state
    .list("snapshot")
    .filter((s) => s.incremental && s.familyId === disk.familyId && s.location === disk.location);
  if (family.length >= MAX_INCREMENTAL_PER_DISK) {
    throw notAllowed(
      `Disk '${disk.name}' already has ${MAX_INCREMENTAL_PER_DISK} incremental snapshots, the most Azure keeps. Delete older snapshots first.`,
    );
  }
  if (!emu.profile.enforceSnapshotRate) return;
  const now = emu.now();
  const windowMs = emu.snapshotWindowInMs;
  const times = (emu.state.snapshotTimes.get(disk.familyId) ?? []).filter((t) => t > now - windowMs);
  if (times.length >= SNAPSHOTS_PER_WINDOW) {
    const waitS = Math.ceil((times[0]! + windowMs - now) / 1000);
    throw notAllowed(
      `At most ${SNAPSHOTS_PER_WINDOW} incremental snapshots of one disk can be created in 5 minutes; disk '${disk.name}' reached that. Retry in ${waitS} s or snapshot less often.`,
    );
  }
  times.push(now);
  emu.state.snapshotTimes.set(disk.familyId, times);
}

async function createSnapshot(ctx: Ctx, rgName: string, name: string, id: string): Promise<SnapshotRecord> {
  const body = ctx.body;
  const emu = ctx.emu;
  validateName("snapshot", name);
  const location = requireLocation(body, TYPE);
  ctx.touchRegion(location);
  const createOption = oneOf(
    optString(body, "properties.creationData.createOption"),
    "properties.creationData.createOption",
    ["Copy", "CopyStart", "Empty", "Import", "Upload", "FromImage", "Restore", "CopyFromSanSnapshot"] as const,
  );
  if (!createOption) throw missing("properties.creationData.createOption");
  if (createOption !== "Copy" && createOption !== "CopyStart") {
    throw badRequest(
      "NotSupported",
      `createOption '${createOption}' for snapshots is not supported by the ferry emulator; use Copy or CopyStart.`,
    );
  }
  const incremental = optBoolean(body, "properties.incremental") ?? false;
  const sourceId = reqString(body, "properties.creationData.sourceResourceId");
  const source = copySource(ctx, sourceId);
  ctx.touchRegion(source.location);
  const uniqueId = randomUUID();
  const manifestFile = `snapshots/${uniqueId}.manifest`;
  const base = {
    kind: "snapshot" as const,
    id,
    name,
    resourceGroup: rgName,
    location,
    tags: optTags(body) ?? {},
    provisioningState: "Updating",
    sku:
      oneOf(optString(body, "sku.name"), "sku.name", ["Standard_LRS", "Premium_LRS", "Standard_ZRS"] as const) ??
      "Standard_LRS",
    uniqueId,
    timeCreated: nowIso(ctx),
    incremental,
    createOption,
    sourceResourceId: source.id,
    sourceUniqueId: source.kind === "disk" ? source.uniqueId : source.sourceUniqueId,
    completionPercent: 100,
    manifest: manifestFile,
    ...(source.osType ? { osType: source.osType } : {}),
    ...(source.hyperVGeneration ? { hyperVGeneration: source.hyperVGeneration } : {}),
    // A snapshot keeps its source's security type, and disks made from it get it back.
    ...(source.securityType ? { securityType: source.securityType } : {}),
  };
  let snap: SnapshotRecord;
  let manifest: Manifest;

  if (createOption === "Copy") {
    if (source.location !== location) {
      throw badRequest(
        "BadRequest",
        `Snapshot '${name}' must be in the region of its source ('${source.location}'); use createOption CopyStart to copy a snapshot to another region.`,
      );
    }
    if (source.kind === "disk") {
      if (source.upload === "ready")
        throw notAllowed(`Disk '${source.name}' is waiting for an upload and cannot be snapshotted yet.`);
      if (incremental) enforceSnapshotLimits(ctx, source);
      const captured = await captureDisk(emu, source, id);
      manifest = captured.manifest;
      // The snapshot's time is the instant it holds the disk at.
      snap = {
        ...base,
        timeCreated: new Date(captured.takenAt).toISOString(),
        sizeBytes: source.sizeBytes,
        ...(incremental ? { familyId: source.familyId } : {}),
      };
    } else {
      if (incremental)
        throw invalid(
          "properties.incremental",
          "An incremental snapshot is taken of a disk, not of another snapshot (or copied to another region with CopyStart).",
        );
      if (copyProgress(emu, source) < 100) throw notAllowed(`Snapshot '${source.name}' is still being copied.`);
      manifest = loadManifest(emu, source);
      emu.chunks.refAll(manifest);
      snap = { ...base, sizeBytes: source.sizeBytes };
    }
    writeFileSync(emu.diskPath(manifestFile), manifest.serialize());
    return snap;
  }

  // CopyStart: an incremental snapshot copied to another region; only the delta since the last copy moves.
  if (source.kind !== "snapshot" || !source.incremental || !source.familyId) {
    throw invalid(
      "properties.creationData.sourceResourceId",
      "CopyStart copies an incremental snapshot; the source must be one.",
    );
  }
  if (!incremental)
    throw invalid(
      "properties.incremental",
      "A CopyStart copy is itself incremental: set properties.incremental to true.",
    );
  if (source.location === location)
    throw badRequest(
      "BadRequest",
      `CopyStart copies to another region; the source is already in '${location}'. Use createOption Copy.`,
    );
  if (copyProgress(emu, source) < 100) throw notAllowed(`Snapshot '${source.name}' is itself still being copied.`);
  const copies = emu.state.list("snapshot").filter((s) => s.createOption === "CopyStart" && s.location === location);
  const inFlight = copies.filter((s) => copyProgress(emu, s) < 100 && !s.copyCompletionError);
  if (inFlight.length >= MAX_PARALLEL_COPIES) {
    throw notAllowed(
      `At most ${MAX_PARALLEL_COPIES} snapshot copies into region '${location}' can run at once. Retry when one completes.`,
    );
  }
  const sameFamily = inFlight.find((s) => s.familyId === source.familyId);
  if (sameFamily) {
    throw notAllowed(
      `Snapshot copy '${sameFamily.name}' of the same disk is still in progress; copies of one disk run one at a time, in creation order.`,
    );
  }
  manifest = loadManifest(emu, source);
  emu.chunks.refAll(manifest);
  // Bytes to move: the delta against the newest completed copy of this family in the target region.
  const previous = copies
    .filter((s) => s.familyId === source.familyId && s.completionPercent >= 100)
    .sort((a, b) => a.timeCreated.localeCompare(b.timeCreated))
    .pop();
  let bytes = manifest.usedBytes;
  if (previous) {
    const d = diffManifests(loadManifest(emu, previous), manifest);
    bytes = d.changed.reduce((n, r) => n + (r.end - r.start + 1), 0);
  }
  const now = emu.now();
  const durationMs = (bytes / (1024 * 1024) / emu.profile.copyStartMiBPerSecond) * 1000;
  snap = {
    ...base,
    sizeBytes: source.sizeBytes,
    familyId: source.familyId,
    completionPercent: durationMs > 0 ? 0 : 100,
    copyStartedAt: now,
    copyReadyAt: now + durationMs,
  };
  writeFileSync(emu.diskPath(manifestFile), manifest.serialize());
  return snap;
}

/** Removes a snapshot, its manifest and its chunk references; copies still reading from it fail. */
export function deleteSnapshotRecord(ctx: Ctx, s: SnapshotRecord): void {
  const emu = ctx.emu;
  revokeAll(emu, s);
  for (const copy of emu.state.list("snapshot")) {
    if (
      copy.createOption === "CopyStart" &&
      copy.sourceResourceId.toLowerCase() === s.id.toLowerCase() &&
      copyProgress(emu, copy) < 100
    ) {
      copy.copyCompletionError = {
        errorCode: "CopySourceNotFound",
        errorMessage: `The source snapshot '${s.id}' was deleted while it was being copied. Delete this copy and start it again.`,
      };
    }
  }
  try {
    emu.chunks.unrefAll(loadManifest(emu, s));
  } catch {
    // A manifest that never got written holds no references.
  }
  rmSync(emu.diskPath(s.manifest), { force: true });
  emu.manifests.delete(s.manifest);
  emu.state.delete(s.id);
  ctx.mutated = true;
}

const SNAPSHOTS: ResourceKind<"snapshot"> = {
  provider: COMPUTE,
  type: "snapshots",
  kind: "snapshot",
  nameParam: "snapshotName",
};
const requireSnapshot = (ctx: Ctx, p: Record<string, string>) => requireResource(ctx, p, SNAPSHOTS);

function updateSnapshot(ctx: Ctx, s: SnapshotRecord, patch: boolean): void {
  const incremental = optBoolean(ctx.body, "properties.incremental");
  if (incremental !== undefined && incremental !== s.incremental) {
    throw new EmulatorError(409, "PropertyChangeNotAllowed", "Changing property 'incremental' is not allowed.");
  }
  const tags = optTags(ctx.body);
  if (tags) s.tags = tags;
  else if (!patch) s.tags = {};
  s.provisioningState = "Updating";
}

export function registerSnapshots(router: Router<Ctx>): void {
  router.add("PUT", SNAPSHOT, "Snapshots_CreateOrUpdate", async (ctx, p) => {
    const rg = requireResourceGroup(ctx, p.subscriptionId!, p.resourceGroupName!);
    const id = resourceId(ctx, rg.name, COMPUTE, "snapshots", p.snapshotName!);
    const existing = ctx.emu.state.get(id, "snapshot");
    if (existing) {
      ctx.touchRegion(existing.location);
      requireSameLocation(existing, ctx.body);
      updateSnapshot(ctx, existing, false);
      const op = ctx.emu.startOperation(ctx, {
        provider: COMPUTE,
        location: existing.location,
        completion: { kind: "provisioned", resourceId: id },
      });
      answerPut(ctx, op, false, serializeSnapshot(ctx.emu, existing));
      return;
    }
    const snap = await createSnapshot(ctx, rg.name, p.snapshotName!, id);
    ctx.emu.state.put(snap);
    const op = ctx.emu.startOperation(ctx, {
      provider: COMPUTE,
      location: snap.location,
      completion: { kind: "provisioned", resourceId: id },
    });
    answerCreateAccepted(ctx, op, serializeSnapshot(ctx.emu, snap));
  });

  router.add("PATCH", SNAPSHOT, "Snapshots_Update", (ctx, p) => {
    const s = requireSnapshot(ctx, p);
    if (get(ctx.body, "location") !== undefined) requireSameLocation(s, ctx.body);
    updateSnapshot(ctx, s, true);
    const op = ctx.emu.startOperation(ctx, {
      provider: COMPUTE,
      location: s.location,
      completion: { kind: "provisioned", resourceId: s.id },
    });
    answerPut(ctx, op, false, serializeSnapshot(ctx.emu, s));
  });

  router.add("GET", SNAPSHOT, "Snapshots_Get", (ctx, p) =>
    sendJson(ctx, 200, serializeSnapshot(ctx.emu, requireSnapshot(ctx, p))),
  );

  router.add("DELETE", SNAPSHOT, "Snapshots_Delete", (ctx, p) => {
    const s = findResource(ctx, p, SNAPSHOTS);
    if (!s) return sendEmpty(ctx, 204);
    if (ctx.emu.state.activeGrants(s.id, ctx.emu.now()).length) {
      throw notAllowed(`Snapshot ${s.name} has an active SAS. Revoke access before deleting it.`);
    }
    deleteSnapshotRecord(ctx, s);
    answerAccepted(
      ctx,
      ctx.emu.startOperation(ctx, { provider: COMPUTE, location: s.location, completion: { kind: "none" } }),
    );
  });

  router.add("POST", `${SNAPSHOT}/beginGetAccess`, "Snapshots_GrantAccess", (ctx, p) =>
    grantAccess(ctx, requireSnapshot(ctx, p)),
  );
  router.add("POST", `${SNAPSHOT}/endGetAccess`, "Snapshots_RevokeAccess", (ctx, p) =>
    revokeAccess(ctx, requireSnapshot(ctx, p)),
  );

  registerLists(router, {
    provider: COMPUTE,
    type: "snapshots",
    kind: "snapshot",
    byGroup: "Snapshots_ListByResourceGroup",
    bySubscription: "Snapshots_List",
    serialize: serializeSnapshot,
  });
}
