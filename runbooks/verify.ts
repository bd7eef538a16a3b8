import { FerryError } from "../core/errors";
import { openDevice } from "../sync/device";
import { validRanges } from "../sync/page-ranges";
import { sasRangeSource } from "../sync/sas-reader";
import { SnapshotService } from "../sync/snapshots";
import { verifyDevice } from "../sync/verify";
import type { RunbookContext } from "./context";

/** What is compared with a recovery point: a disk as a VM's guest sees it, or a snapshot (through its SAS). */
export type VerifyTarget = { devicePath: string } | { snapshotId: string };

export interface VerifyOutcome {
  ok: boolean;
  /** Bytes of the recovery point compared (its whole size when ok). */
  bytesCompared: number;
  sizeBytes: number;
  firstDifferenceAt?: number;
}

/**
 * Compares a recovered disk with the recovery point it was made from, byte for byte: the point's
 * data ranges read through a SAS, zeros elsewhere. The target is read the same way when it is a
 * snapshot (what a test disk was created from), or directly when the guest's device is at hand.
 */
export async function verifyAgainstPoint(
  ctx: RunbookContext,
  target: VerifyTarget,
  pointSnapshotId: string,
  abortSignal?: AbortSignal,
): Promise<VerifyOutcome> {
  // Revoking access to a snapshot ends every SAS on it, the one granted here included: the sync
  // does so at the end of each cycle that read the same point. Such a read is refused (403), and
  // the comparison starts again with a fresh grant.
  for (let attempt = 1; ; attempt++) {
    try {
      return await compareOnce(ctx, target, pointSnapshotId, abortSignal);
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 403 || attempt >= 4) throw e;
      ctx.logger.debug({ pointSnapshotId, attempt }, "a SAS was revoked during the comparison: starting again");
    }
  }
}

async function compareOnce(
  ctx: RunbookContext,
  target: VerifyTarget,
  pointSnapshotId: string,
  abortSignal?: AbortSignal,
): Promise<VerifyOutcome> {
  const snapshots = new SnapshotService(ctx.azure, { applianceId: "", pollIntervalInMs: ctx.poll.updateIntervalInMs });
  const point = await snapshots.get(pointSnapshotId);
  if (!point)
    throw new FerryError(`Recovery point ${pointSnapshotId} no longer exists: nothing to verify against.`, {
      code: "SnapshotGone",
    });
  const granted: string[] = [];
  const sasSource = async (snapshotId: string) => {
    let sas = await snapshots.grantRead(snapshotId);
    granted.push(snapshotId);
    return {
      sas: () => sas,
      source: sasRangeSource({
        pageBlob: ctx.azure.pageBlob,
        sasUrl: async () => sas,
        regrant: async () => (sas = await snapshots.grantRead(snapshotId)),
      }),
    };
  };
  try {
    const expected = await sasSource(pointSnapshotId);
    const ranges = await validRanges(ctx.azure.pageBlob(expected.sas()), point.sizeBytes, undefined, abortSignal);
    if ("devicePath" in target) {
      const device = await openDevice(target.devicePath, { write: false });
      try {
        const extents = await device.dataExtents();
        const r = await verifyDevice({
          device,
          source: expected.source,
          dataRanges: ranges,
          sizeBytes: point.sizeBytes,
          ...(extents ? { deviceExtents: extents } : {}),
          ...(abortSignal ? { abortSignal } : {}),
        });
        return { ...r, sizeBytes: point.sizeBytes };
      } finally {
        await device.close();
      }
    }
    const actual = await sasSource(target.snapshotId);
    const actualRanges = await validRanges(ctx.azure.pageBlob(actual.sas()), point.sizeBytes, undefined, abortSignal);
    const device = {
      readInto: async (offset: number, buf: Buffer) =>
        void (await actual.source.read({ start: offset, end: offset + buf.length }, abortSignal, buf)),
    };
    const r = await verifyDevice({
      device,
      source: expected.source,
      dataRanges: ranges,
      sizeBytes: point.sizeBytes,
      deviceExtents: actualRanges,
      ...(abortSignal ? { abortSignal } : {}),
    });
    return { ...r, sizeBytes: point.sizeBytes };
  } finally {
    for (const id of granted) await snapshots.revoke(id).catch(() => undefined);
  }
}
