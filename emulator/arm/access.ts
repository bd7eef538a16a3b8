import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { truncateSync } from "node:fs";
import type { Ctx } from "../context";
import { EmulatorError, notAllowed } from "../errors";
import type { DiskRecord, GrantRecord, SnapshotRecord } from "../model";
import type { Emulator } from "../emulator";
import { answerAccepted, COMPUTE } from "./common";
import { invalid, missing, oneOf, optInteger, optString } from "./input";

/** At most this many snapshots of one incremental family may hold an active SAS at once, as in Azure. */
export const MAX_SAS_PER_FAMILY = 5;
const SAS_VERSION = "2018-03-28";

/** The SAS URL of a grant: `https://127.0.0.1:<port>/md-<region>/<uniqueId>/abcd?…&sig=…`. */
export function sasUrl(emu: Emulator, resource: DiskRecord | SnapshotRecord, grant: GrantRecord): string {
  const container = resource.uniqueId.replace(/-/g, "");
  const sp = grant.access === "Write" ? "rw" : "r";
  const se = new Date(grant.expiresAt).toISOString();
  const sig = sign(emu, grant.id, container, sp, se);
  const q = new URLSearchParams({ sv: SAS_VERSION, sr: "b", si: grant.id, sp, se, sig });
  return `${emu.endpoint}/md-${resource.location}/${container}/abcd?${q.toString()}`;
}

function sign(emu: Emulator, si: string, container: string, sp: string, se: string): string {
  return createHmac("sha256", emu.state.sasSecret).update(`${si}\n${container}\n${sp}\n${se}`).digest("base64");
}

export type SasCheck =
  | { ok: true; grant: GrantRecord; resource: DiskRecord | SnapshotRecord }
  | { ok: false; status: number; code: string; message: string };

/** Verifies a data-plane request's SAS: signature, grant still active, not expired, permission. */
export function verifySas(emu: Emulator, container: string, query: URLSearchParams, needWrite: boolean): SasCheck {
  const si = query.get("si");
  const sig = query.get("sig");
  const sp = query.get("sp");
  const se = query.get("se");
  const deny = (message: string): SasCheck => ({ ok: false, status: 403, code: "AuthenticationFailed", message });
  if (!si || !sig || !sp || !se)
    return deny("Server failed to authenticate the request. A shared access signature (si, sp, se, sig) is required.");
  const expected = Buffer.from(sign(emu, si, container, sp, se));
  const given = Buffer.from(sig);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return deny(
      "Server failed to authenticate the request. Make sure the value of the Authorization header is formed correctly including the signature.",
    );
  }
  const grant = emu.state.grants.get(si);
  if (!grant) return deny("Server failed to authenticate the request. The access was revoked.");
  if (grant.expiresAt <= emu.now())
    return deny("Signed expiry time has to be after signed start: the signature has expired.");
  const resource = emu.state.resources.get(grant.resourceId.toLowerCase());
  if (!resource || (resource.kind !== "disk" && resource.kind !== "snapshot")) {
    return { ok: false, status: 404, code: "BlobNotFound", message: "The specified blob does not exist." };
  }
  if (needWrite && (grant.access !== "Write" || !sp.includes("w"))) {
    return {
      ok: false,
      status: 403,
      code: "AuthorizationPermissionMismatch",
      message: "This request is not authorized to perform this operation using this permission.",
    };
  }
  return { ok: true, grant, resource };
}

/** Handles `beginGetAccess` on a disk or snapshot. */
export function grantAccess(ctx: Ctx, resource: DiskRecord | SnapshotRecord): void {
  const access = oneOf(optString(ctx.body, "access"), "access", ["None", "Read", "Write"] as const);
  if (!access) throw missing("access");
  if (access === "None") return revokeAccess(ctx, resource);
  const seconds = optInteger(ctx.body, "durationInSeconds");
  if (seconds === undefined) throw missing("durationInSeconds");
  if (seconds <= 0) throw invalid("durationInSeconds", "It must be a positive number of seconds.");
  const emu = ctx.emu;
  const now = emu.now();
  if (resource.kind === "disk") {
    const attachedRunning = resource.managedBy.find((vmId) => {
      const vm = emu.state.get(vmId, "vm");
      return vm && vm.power !== "deallocated";
    });
    if (attachedRunning) {
      throw new EmulatorError(
        409,
        "Conflict",
        `Access not permitted because disk ${resource.name} is currently attached to running VM ${attachedRunning}.`,
      );
    }
    if (access === "Write" && resource.upload !== "ready") {
      throw notAllowed(
        `Write access can only be granted on a disk created with createOption 'Upload' that has not been uploaded yet; disk '${resource.name}' cannot be written through SAS.`,
      );
    }
  } else {
    if (access === "Write") throw notAllowed(`Write access cannot be granted on snapshot '${resource.name}'.`);
    if (resource.completionPercent < 100) {
      throw notAllowed(
        `Snapshot '${resource.name}' is still being copied (completionPercent ${resource.completionPercent.toFixed(1)}); access can be granted once the copy completes.`,
      );
    }
    if (resource.incremental && resource.familyId) {
      const withSas = new Set<string>();
      for (const g of emu.state.grants.values()) {
        if (g.expiresAt <= now) continue;
        const s = emu.state.get(g.resourceId, "snapshot");
        if (s && s.familyId === resource.familyId && s.location === resource.location) withSas.add(s.id.toLowerCase());
      }
      if (!withSas.has(resource.id.toLowerCase()) && withSas.size >= MAX_SAS_PER_FAMILY) {
        throw notAllowed(
          `At most ${MAX_SAS_PER_FAMILY} incremental snapshots of the same disk can have an active SAS at the same time; revoke access on one of them before granting access on '${resource.name}'.`,
        );
      }
    }
  }
  if (ctx.lroFault) {
    // The operation will end Failed: no SAS is issued.
    answerAccepted(
      ctx,
      emu.startOperation(ctx, { provider: COMPUTE, location: resource.location, completion: { kind: "none" } }),
    );
    return;
  }
  const grant: GrantRecord = { id: randomUUID(), resourceId: resource.id, access, expiresAt: now + seconds * 1000 };
  emu.state.grants.set(grant.id, grant);
  const op = emu.startOperation(ctx, {
    provider: COMPUTE,
    location: resource.location,
    completion: { kind: "none" },
    output: { accessSAS: sasUrl(emu, resource, grant) },
  });
  answerAccepted(ctx, op);
}

/** Handles `endGetAccess`: every SAS on the resource stops working; an uploaded disk is sealed. */
export function revokeAccess(ctx: Ctx, resource: DiskRecord | SnapshotRecord): void {
  revokeAll(ctx.emu, resource);
  const op = ctx.emu.startOperation(ctx, {
    provider: COMPUTE,
    location: resource.location,
    completion: { kind: "none" },
  });
  answerAccepted(ctx, op);
}

export function revokeAll(emu: Emulator, resource: DiskRecord | SnapshotRecord): void {
  let hadWrite = false;
  for (const [id, g] of emu.state.grants) {
    if (g.resourceId.toLowerCase() !== resource.id.toLowerCase()) continue;
    if (g.access === "Write") hadWrite = true;
    emu.state.grants.delete(id);
  }
  if (resource.kind === "disk" && resource.upload === "ready" && hadWrite) {
    resource.upload = "sealed";
    // The VHD footer was the blob's, not the disk's: the sealed disk is its data, as Azure reports its size.
    if (resource.uploadSizeBytes !== undefined) {
      resource.sizeBytes = resource.uploadSizeBytes - 512;
      truncateSync(emu.diskPath(resource.file), resource.sizeBytes);
    }
  }
}

/** Azure's `diskState` of a disk, derived from its attachments, grants and upload state. */
export function diskState(emu: Emulator, disk: DiskRecord): string {
  const now = emu.now();
  const grants = emu.state.activeGrants(disk.id, now);
  if (disk.upload === "ready") return grants.some((g) => g.access === "Write") ? "ActiveUpload" : "ReadyToUpload";
  const vms = disk.managedBy.map((id) => emu.state.get(id, "vm")).filter((v) => v !== undefined);
  const reserved = vms.length > 0 && vms.every((v) => v.power === "deallocated");
  // ActiveSASFrozen is for hibernated VMs, which the emulator does not have.
  if (grants.length > 0) return "ActiveSAS";
  if (vms.length === 0) return "Unattached";
  return reserved ? "Reserved" : "Attached";
}
