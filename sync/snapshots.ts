import type { Logger } from "pino";
import { isNotFound } from "../core/errors";
import { randomBytes } from "node:crypto";
import type { AzureClients } from "../adapters/azure/clients";
import { parseResourceId, sameResourceId } from "../core/resource-id";
import type { RecoveryPoint } from "../core/schemas/recovery-point";
import type { Source } from "../core/schemas/source";

export interface SnapshotServiceOptions {
  /**
   * Polling interval of long-running operations, in milliseconds. Default 2000 (Azure); the emulator takes far less.
   */
  pollIntervalInMs?: number;
  /** Lifetime of a read SAS, in seconds. Default 3600. */
  sasDurationInSeconds?: number;
  /** Tag value naming the appliance that took a snapshot. */
  applianceId: string;
  now?: () => Date;
}

/** Tags ferry puts on the snapshots the sync takes, to find (and clean up) its own. */
export const TAG_SOURCE = "ferry-source";
export const TAG_ROLE = "ferry-role";
export const TAG_APPLIANCE = "ferry-appliance";

export interface SnapshotFacts {
  id: string;
  familyId?: string;
  sizeBytes: number;
  createdAt: string;
}

/** Options of {@link SnapshotService.listOwn}. */
export interface ListOwnOptions {
  /** Only snapshots created strictly before this time (ISO 8601). Default: all. */
  createdBefore?: string;
}

/** The Azure side of the sync: incremental snapshots of source disks and their SAS. */
export class SnapshotService {
  private readonly poll: { updateIntervalInMs: number };
  private readonly sasSeconds: number;
  private readonly now: () => Date;

  constructor(
    private readonly azure: AzureClients,
    private readonly options: SnapshotServiceOptions,
  ) {
    this.poll = { updateIntervalInMs: options.pollIntervalInMs ?? 2000 };
    this.sasSeconds = options.sasDurationInSeconds ?? 3600;
    this.now = options.now ?? (() => new Date());
  }

  /** The source disk's size in bytes and region, as Azure reports them now. */
  async sourceDisk(source: Pick<Source, "sourceDiskId">): Promise<{ id: string; location: string; sizeBytes: number }> {
    const d = parseResourceId(source.sourceDiskId);
    const disk = await this.azure.compute.disks.get(d.resourceGroup, d.name);
    return {
      id: disk.id!,
      location: disk.location,
      sizeBytes: disk.diskSizeBytes ?? (disk.diskSizeGB ?? 0) * 1024 ** 3,
    };
  }

  /** Takes an incremental snapshot of the source disk: the next recovery point. */
  async take(source: Pick<Source, "sourceDiskId" | "snapshotResourceGroup">): Promise<RecoveryPoint & SnapshotFacts> {
    const disk = await this.sourceDisk(source);
    const d = parseResourceId(source.sourceDiskId);
    const group = source.snapshotResourceGroup ?? d.resourceGroup;
    const name = snapshotName(d.name, this.now());
    const snap = await this.azure.compute.snapshots.createOrUpdate(
      group,
      name,
      {
        location: disk.location,
        incremental: true,
        creationData: { createOption: "Copy", sourceResourceId: disk.id },
        tags: {
          [TAG_SOURCE]: source.sourceDiskId.toLowerCase(),
          [TAG_ROLE]: "sync",
          [TAG_APPLIANCE]: this.options.applianceId.toLowerCase(),
        },
      },
      this.poll,
    );
    return {
      snapshotId: snap.id!,
      sourceDiskId: source.sourceDiskId,
      createdAt: (snap.timeCreated ?? this.now()).toISOString(),
      id: snap.id!,
      ...(snap.incrementalSnapshotFamilyId ? { familyId: snap.incrementalSnapshotFamilyId } : {}),
      sizeBytes: snap.diskSizeBytes ?? (snap.diskSizeGB ?? 0) * 1024 ** 3,
    };
  }

  /** The snapshot's facts, or undefined when it no longer exists. */
  async get(snapshotId: string): Promise<SnapshotFacts | undefined> {
    const s = parseResourceId(snapshotId);
    try {
      const snap = await this.azure.compute.snapshots.get(s.resourceGroup, s.name);
      return {
        id: snap.id!,
        ...(snap.incrementalSnapshotFamilyId ? { familyId: snap.incrementalSnapshotFamilyId } : {}),
        sizeBytes: snap.diskSizeBytes ?? (snap.diskSizeGB ?? 0) * 1024 ** 3,
        createdAt: (snap.timeCreated ?? this.now()).toISOString(),
      };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** A read SAS on the snapshot. */
  async grantRead(snapshotId: string): Promise<string> {
    const s = parseResourceId(snapshotId);
    const access = await this.azure.compute.snapshots.grantAccess(
      s.resourceGroup,
      s.name,
      { access: "Read", durationInSeconds: this.sasSeconds },
      this.poll,
    );
    if (!access.accessSAS) throw new Error(`grant access on ${snapshotId} returned no SAS`);
    return access.accessSAS;
  }

  /** Ends every SAS on the snapshot; a snapshot that is gone has none. */
  async revoke(snapshotId: string): Promise<void> {
    const s = parseResourceId(snapshotId);
    try {
      await this.azure.compute.snapshots.revokeAccess(s.resourceGroup, s.name, this.poll);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Revokes and deletes a snapshot; one that is already gone is fine. */
  async delete(snapshotId: string): Promise<void> {
    await this.revoke(snapshotId);
    const s = parseResourceId(snapshotId);
    try {
      await this.azure.compute.snapshots.delete(s.resourceGroup, s.name, this.poll);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Snapshots the sync took of this source (by tag), newest last. */
  async listOwn(
    source: Pick<Source, "sourceDiskId" | "snapshotResourceGroup">,
    options: ListOwnOptions = {},
  ): Promise<string[]> {
    const before = options.createdBefore === undefined ? Infinity : Date.parse(options.createdBefore);
    const d = parseResourceId(source.sourceDiskId);
    const group = source.snapshotResourceGroup ?? d.resourceGroup;
    const out: { id: string; at: number }[] = [];
    for await (const s of this.azure.compute.snapshots.listByResourceGroup(group)) {
      const tag = s.tags?.[TAG_SOURCE];
      if (s.tags?.[TAG_ROLE] === "sync" && tag !== undefined && sameResourceId(tag, source.sourceDiskId)) {
        const at = s.timeCreated?.getTime() ?? 0;
        if (at < before) out.push({ id: s.id!, at });
      }
    }
    return out.sort((a, b) => a.at - b.at).map((s) => s.id);
  }
}

/** Ends the SAS of each snapshot; a failure is logged, not thrown (a SAS expires on its own). */
export async function revokeQuietly(
  snapshots: Pick<SnapshotService, "revoke">,
  log: Pick<Logger, "warn"> | undefined,
  ...snapshotIds: (string | undefined)[]
): Promise<void> {
  for (const id of snapshotIds) {
    if (!id) continue;
    await snapshots
      .revoke(id)
      .catch((e: unknown) =>
        log?.warn({ err: e, snapshotId: id }, "revoking access failed; the SAS expires on its own"),
      );
  }
}

/** `ferry-<disk>-<UTC time>-<4 hex>`, within Azure's 80 characters. */
export function snapshotName(diskName: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `ferry-${diskName.slice(0, 48)}-${stamp}-${randomBytes(2).toString("hex")}`;
}
