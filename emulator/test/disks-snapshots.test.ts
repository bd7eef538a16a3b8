import { existsSync } from "node:fs";
import { describe, expect, it, beforeAll } from "vitest";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm, pattern, readAt, writeAt } from "../testing";
import { useEmulator } from "./helpers/emulator";
import { refusal } from "./helpers/errors";

const KiB = 1024;
const C = 64 * KiB;
const GiB = 1024 ** 3;
const RG = "primary";
const LOC = "eastus";

/** The error an SDK call throws, for asserting its code and status. */

describe("managed disks, incremental snapshots and the disk data plane", () => {
  const f = useEmulator();
  let diskId: string;
  let device: string;

  const snapshot = (name: string, sourceResourceId = diskId, extra: Record<string, unknown> = {}) =>
    f.azure.compute.snapshots.createOrUpdate(RG, name, {
      location: LOC,
      incremental: true,
      creationData: { createOption: "Copy", sourceResourceId },
      ...extra,
    });
  const grant = async (name: string, seconds = 600) =>
    (await f.azure.compute.snapshots.grantAccess(RG, name, { access: "Read", durationInSeconds: seconds })).accessSAS!;

  beforeAll(async () => {
    await createGroup(f.azure, RG, LOC);
    const subnet = await createSubnet(f.azure, RG, LOC);
    const nic = await createNic(f.azure, RG, LOC, "app-nic", subnet);
    const os = await createEmptyDisk(f.azure, RG, LOC, "app-os", 1, { osType: "Linux" });
    diskId = await createEmptyDisk(f.azure, RG, LOC, "app-data", 1);
    await createVm(f.azure, RG, LOC, "app", { osDiskId: os, nicId: nic, dataDisks: [{ lun: 0, diskId }] });
    device = f.emu.devicePath(RG, "app", 0);
  });

  it("shows the attached disk to the guest at its LUN path", () => {
    expect(existsSync(device)).toBe(true);
    expect(existsSync(f.emu.devicePath(RG, "app", "os"))).toBe(true);
  });

  it("diffs two incremental snapshots to exactly the ranges written between them, and the zeroed ones as cleared", async () => {
    writeAt(device, 0, pattern(1, 2 * C));
    writeAt(device, 10 * C, pattern(2, C));
    writeAt(device, 20 * C, pattern(3, 3 * C));
    const s1 = await snapshot("snap-1");
    expect(s1.incremental).toBe(true);
    expect(s1.incrementalSnapshotFamilyId).toBeTruthy();

    writeAt(device, C, pattern(4, C)); // rewrite the second chunk of the first extent
    writeAt(device, 12 * C, pattern(5, 2 * C)); // new data
    writeAt(device, 21 * C, Buffer.alloc(C)); // zero one chunk in the middle of an extent
    const s2 = await snapshot("snap-2");
    expect(s2.incrementalSnapshotFamilyId).toBe(s1.incrementalSnapshotFamilyId);

    const sas1 = await grant("snap-1");
    const sas2 = await grant("snap-2");
    const diff = await f.azure.pageBlob(sas2).getPageRangesDiffForManagedDisks(0, GiB, sas1);
    // The JS SDK reports { offset: Start, count: End - Start }: End is inclusive on the wire.
    expect(diff.pageRange).toEqual([
      { offset: C, count: C - 1 },
      { offset: 12 * C, count: 2 * C - 1 },
    ]);
    expect(diff.clearRange).toEqual([{ offset: 21 * C, count: C - 1 }]);

    const valid = await f.azure.pageBlob(sas1).getPageRanges(0, GiB);
    expect(valid.pageRange).toEqual([
      { offset: 0, count: 2 * C - 1 },
      { offset: 10 * C, count: C - 1 },
      { offset: 20 * C, count: 3 * C - 1 },
    ]);

    // The snapshot keeps its content after the disk changes again.
    writeAt(device, 0, pattern(99, 4 * C));
    const old = await f.azure.pageBlob(sas1).downloadToBuffer(0, 2 * C);
    expect(old.equals(pattern(1, 2 * C))).toBe(true);
    const newer = await f.azure.pageBlob(sas2).downloadToBuffer(C, C);
    expect(newer.equals(pattern(4, C))).toBe(true);
    const zeroed = await f.azure.pageBlob(sas2).downloadToBuffer(21 * C, C);
    expect(zeroed.equals(Buffer.alloc(C))).toBe(true);

    await f.azure.compute.snapshots.revokeAccess(RG, "snap-1");
    await f.azure.compute.snapshots.revokeAccess(RG, "snap-2");
  });

  it("keeps diffs and copies of a family working after a snapshot in its middle is deleted", async () => {
    // A running VM's attached disk: its incremental snapshots, as the DR-side recovery points of a staging disk.
    writeAt(device, 40 * C, pattern(41, 2 * C));
    await snapshot("mid-1");
    writeAt(device, 44 * C, pattern(42, C));
    await snapshot("mid-2");
    writeAt(device, 46 * C, pattern(43, C));
    writeAt(device, 40 * C, Buffer.alloc(C));
    await snapshot("mid-3");
    // Retention prunes the middle point: its changes live on in the newer snapshot.
    await f.azure.compute.snapshots.beginDeleteAndWait(RG, "mid-2", { updateIntervalInMs: 10 });
    const sas1 = await grant("mid-1");
    const sas3 = await grant("mid-3");
    const diff = await f.azure.pageBlob(sas3).getPageRangesDiffForManagedDisks(40 * C, 8 * C, sas1);
    expect(diff.pageRange).toEqual([
      { offset: 44 * C, count: C - 1 },
      { offset: 46 * C, count: C - 1 },
    ]);
    expect(diff.clearRange).toEqual([{ offset: 40 * C, count: C - 1 }]);
    expect((await f.azure.pageBlob(sas3).downloadToBuffer(44 * C, C)).equals(pattern(42, C))).toBe(true);
    await f.azure.compute.snapshots.revokeAccess(RG, "mid-1");
    await f.azure.compute.snapshots.revokeAccess(RG, "mid-3");
    // A disk made from the newest point holds every change of the family, the deleted snapshot's included.
    const copy = await f.azure.compute.disks.createOrUpdate(RG, "from-mid-3", {
      location: LOC,
      creationData: { createOption: "Copy", sourceResourceId: (await f.azure.compute.snapshots.get(RG, "mid-3")).id! },
    });
    const file = f.emu.diskFile(copy.id!)!;
    expect(readAt(file, 44 * C, C).equals(pattern(42, C))).toBe(true);
    expect(readAt(file, 41 * C, C).equals(pattern(41, 2 * C).subarray(C))).toBe(true);
    expect(readAt(file, 40 * C, C).equals(Buffer.alloc(C))).toBe(true);
  });

  it("reports a small unaligned write as the whole 64 KiB chunk around it (a superset, never a subset)", async () => {
    const a = await snapshot("unaligned-a");
    writeAt(device, 30 * C + 4096, pattern(6, 512));
    await snapshot("unaligned-b");
    void a;
    const sasA = await grant("unaligned-a");
    const sasB = await grant("unaligned-b");
    const diff = await f.azure.pageBlob(sasB).getPageRangesDiffForManagedDisks(0, GiB, sasA);
    expect(diff.pageRange).toEqual([{ offset: 30 * C, count: C - 1 }]);
    // A window query returns only what lies in the window, clipped to it.
    const windowed = await f.azure.pageBlob(sasB).getPageRangesDiffForManagedDisks(30 * C + 1000, 2000, sasA);
    expect(windowed.pageRange).toEqual([{ offset: 30 * C + 1000, count: 1999 }]);
    await f.azure.compute.snapshots.revokeAccess(RG, "unaligned-a");
    await f.azure.compute.snapshots.revokeAccess(RG, "unaligned-b");
  });

  it("refuses requests whose SAS is missing, tampered, revoked or expired with 403", async () => {
    const sas = await grant("snap-1");
    const blob = (url: string) => f.azure.pageBlob(url).downloadToBuffer(0, 512);
    expect((await blob(sas)).length).toBe(512);
    const noSig = sas.replace(/&sig=[^&]+/, "");
    expect((await refusal(blob(noSig))).statusCode).toBe(403);
    const tampered = sas.replace(/sp=r/, "sp=rw");
    expect((await refusal(blob(tampered))).statusCode).toBe(403);
    await f.azure.compute.snapshots.revokeAccess(RG, "snap-1");
    const revoked = await refusal(blob(sas));
    expect(revoked.statusCode).toBe(403);
    expect(revoked.code).toBe("AuthenticationFailed");

    const short = await grant("snap-1", 1);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await refusal(blob(short))).statusCode).toBe(403);
    await f.azure.compute.snapshots.revokeAccess(RG, "snap-1");
  });

  it("lets at most five snapshots of one family hold an active SAS at once", async () => {
    const names = ["fam-1", "fam-2", "fam-3", "fam-4", "fam-5", "fam-6"];
    for (const n of names) await snapshot(n);
    for (const n of names.slice(0, 5)) await grant(n);
    const sixth = await refusal(grant("fam-6"));
    expect(sixth.statusCode).toBe(409);
    expect(sixth.code).toBe("OperationNotAllowed");
    expect(sixth.message).toMatch(/At most 5/);
    await f.azure.compute.snapshots.revokeAccess(RG, "fam-1");
    expect(await grant("fam-6")).toMatch(/sig=/);
    for (const n of names.slice(1)) await f.azure.compute.snapshots.revokeAccess(RG, n);
    const snap = await f.azure.compute.snapshots.get(RG, "fam-6");
    expect(snap.diskState).toBe("Unattached");
    for (const n of names) await f.azure.compute.snapshots.delete(RG, n);
  });

  it("refuses a diff between snapshots of different disks, and against a full snapshot", async () => {
    const otherId = await createEmptyDisk(f.azure, RG, LOC, "other-disk", 1);
    await snapshot("other-1", otherId);
    await snapshot("full-1", diskId, { incremental: false });
    const mine = await grant("snap-2");
    const other = await grant("other-1");
    const full = await grant("full-1");
    const cross = await refusal(f.azure.pageBlob(mine).getPageRangesDiffForManagedDisks(0, GiB, other));
    expect(cross.statusCode).toBe(409);
    expect(cross.code).toBe("PreviousSnapshotOperationNotSupported");
    const againstFull = await refusal(f.azure.pageBlob(mine).getPageRangesDiffForManagedDisks(0, GiB, full));
    expect(againstFull.code).toBe("PreviousSnapshotOperationNotSupported");
    const backwards = await refusal(
      f.azure.pageBlob(await grant("snap-1")).getPageRangesDiffForManagedDisks(0, GiB, mine),
    );
    expect(backwards.code).toBe("PreviousSnapshotCannotBeNewer");
    for (const n of ["snap-1", "snap-2", "other-1", "full-1"]) await f.azure.compute.snapshots.revokeAccess(RG, n);
  });

  it("creates disks from a snapshot and from a disk with identical bytes", async () => {
    const fromSnap = await f.azure.compute.disks.createOrUpdate(RG, "restored", {
      location: LOC,
      creationData: { createOption: "Copy", sourceResourceId: (await f.azure.compute.snapshots.get(RG, "snap-2")).id! },
    });
    expect(fromSnap.diskSizeGB).toBe(1);
    expect(fromSnap.creationData?.sourceUniqueId).toBe((await f.azure.compute.snapshots.get(RG, "snap-2")).uniqueId);
    const sas = (await f.azure.compute.disks.grantAccess(RG, "restored", { access: "Read", durationInSeconds: 600 }))
      .accessSAS!;
    expect((await f.azure.compute.disks.get(RG, "restored")).diskState).toBe("ActiveSAS");
    const bytes = await f.azure.pageBlob(sas).downloadToBuffer(12 * C, 2 * C);
    expect(bytes.equals(pattern(5, 2 * C))).toBe(true);
    await f.azure.compute.disks.revokeAccess(RG, "restored");

    const bigger = await f.azure.compute.disks.createOrUpdate(RG, "restored-copy", {
      location: LOC,
      diskSizeGB: 2,
      creationData: { createOption: "Copy", sourceResourceId: fromSnap.id! },
    });
    expect(bigger.diskSizeGB).toBe(2);
    const sas2 = (
      await f.azure.compute.disks.grantAccess(RG, "restored-copy", { access: "Read", durationInSeconds: 600 })
    ).accessSAS!;
    const copied = await f.azure.pageBlob(sas2).downloadToBuffer(12 * C, 2 * C);
    expect(copied.equals(pattern(5, 2 * C))).toBe(true);
    const props = await f.azure.pageBlob(sas2).getProperties();
    expect(props.contentLength).toBe(2 * GiB);
    await f.azure.compute.disks.revokeAccess(RG, "restored-copy");

    const tooSmall = await refusal(
      f.azure.compute.disks.createOrUpdate(RG, "too-small", {
        location: LOC,
        diskSizeGB: 1,
        creationData: { createOption: "Copy", sourceResourceId: bigger.id! },
      }),
    );
    expect(tooSmall.code).toBe("InvalidParameter");
    const wrongRegion = await refusal(
      f.azure.compute.disks.createOrUpdate(RG, "elsewhere", {
        location: "westus",
        creationData: { createOption: "Copy", sourceResourceId: fromSnap.id! },
      }),
    );
    expect(wrongRegion.statusCode).toBe(400);
  });

  it("refuses SAS on a disk attached to a running VM, and resizes only unattached or deallocated disks, never shrinking", async () => {
    const attached = await refusal(
      f.azure.compute.disks.grantAccess(RG, "app-data", { access: "Read", durationInSeconds: 60 }),
    );
    expect(attached.statusCode).toBe(409);
    expect(attached.code).toBe("Conflict");
    const resizeAttached = await refusal(f.azure.compute.disks.update(RG, "app-data", { diskSizeGB: 2 }));
    expect(resizeAttached.statusCode).toBe(409);

    const grown = await f.azure.compute.disks.update(RG, "restored", { diskSizeGB: 3 });
    expect(grown.diskSizeGB).toBe(3);
    expect(grown.diskSizeBytes).toBe(3 * GiB);
    const shrink = await refusal(f.azure.compute.disks.update(RG, "restored", { diskSizeGB: 2 }));
    expect(shrink.statusCode).toBe(400);
  });

  it("starts a new snapshot family when a resize crosses 4 TiB", async () => {
    await createEmptyDisk(f.azure, RG, LOC, "huge", 4096);
    const before = await f.azure.compute.snapshots.createOrUpdate(RG, "huge-1", {
      location: LOC,
      incremental: true,
      creationData: { createOption: "Copy", sourceResourceId: (await f.azure.compute.disks.get(RG, "huge")).id! },
    });
    await f.azure.compute.disks.update(RG, "huge", { diskSizeGB: 4097 });
    const after = await f.azure.compute.snapshots.createOrUpdate(RG, "huge-2", {
      location: LOC,
      incremental: true,
      creationData: { createOption: "Copy", sourceResourceId: (await f.azure.compute.disks.get(RG, "huge")).id! },
    });
    expect(after.incrementalSnapshotFamilyId).not.toBe(before.incrementalSnapshotFamilyId);
    const a = await grant("huge-1");
    const b = await grant("huge-2");
    expect((await refusal(f.azure.pageBlob(b).getPageRangesDiffForManagedDisks(0, GiB, a))).code).toBe(
      "PreviousSnapshotOperationNotSupported",
    );
    await f.azure.compute.snapshots.revokeAccess(RG, "huge-1");
    await f.azure.compute.snapshots.revokeAccess(RG, "huge-2");
    await f.azure.compute.snapshots.delete(RG, "huge-1");
    await f.azure.compute.snapshots.delete(RG, "huge-2");
    await f.azure.compute.disks.delete(RG, "huge");
  });

  it("copies incremental snapshots to another region with CopyStart, diffable there", async () => {
    await createGroup(f.azure, "dr", "westus");
    const copy = (name: string, source: string) =>
      f.azure.compute.snapshots.createOrUpdate("dr", name, {
        location: "westus",
        incremental: true,
        creationData: { createOption: "CopyStart", sourceResourceId: source },
      });
    const src1 = (await f.azure.compute.snapshots.get(RG, "snap-1")).id!;
    const src2 = (await f.azure.compute.snapshots.get(RG, "snap-2")).id!;
    const c1 = await copy("snap-1-dr", src1);
    const c2 = await copy("snap-2-dr", src2);
    expect(c1.completionPercent).toBe(100);
    expect(c2.creationData?.createOption).toBe("CopyStart");
    expect(c2.location).toBe("westus");
    const d1 = (
      await f.azure.compute.snapshots.grantAccess("dr", "snap-1-dr", { access: "Read", durationInSeconds: 600 })
    ).accessSAS!;
    const d2 = (
      await f.azure.compute.snapshots.grantAccess("dr", "snap-2-dr", { access: "Read", durationInSeconds: 600 })
    ).accessSAS!;
    expect(d2).toContain("/md-westus/");
    const diff = await f.azure.pageBlob(d2).getPageRangesDiffForManagedDisks(0, GiB, d1);
    expect(diff.pageRange).toEqual([
      { offset: C, count: C - 1 },
      { offset: 12 * C, count: 2 * C - 1 },
    ]);
    await f.azure.compute.snapshots.revokeAccess("dr", "snap-1-dr");
    await f.azure.compute.snapshots.revokeAccess("dr", "snap-2-dr");

    const sameRegion = await refusal(copy("nope", (await f.azure.compute.snapshots.get("dr", "snap-2-dr")).id!));
    expect(sameRegion.statusCode).toBe(400);
    const plainCopyAcross = await refusal(
      f.azure.compute.snapshots.createOrUpdate("dr", "nope2", {
        location: "westus",
        incremental: true,
        creationData: { createOption: "Copy", sourceResourceId: src1 },
      }),
    );
    expect(plainCopyAcross.statusCode).toBe(400);
  });

  // Azure takes a disk's incremental snapshot into any resource group of the disk's subscription, in
  // the disk's region (Snapshots - Create Or Update names the group in its path and the disk in
  // creationData.sourceResourceId); ferry keeps its snapshots in a group of their own.
  it("takes a disk's incremental snapshot into another group of its region, in the disk's family", async () => {
    await createGroup(f.azure, "ferry-snapshots", LOC);
    writeAt(device, 40 * C, pattern(41, C));
    const own = await snapshot("own-group-1");
    writeAt(device, 42 * C, pattern(42, C));
    const other = await f.azure.compute.snapshots.createOrUpdate("ferry-snapshots", "other-group-2", {
      location: LOC,
      incremental: true,
      creationData: { createOption: "Copy", sourceResourceId: diskId },
    });
    expect(other.id).toMatch(
      /\/resourceGroups\/ferry-snapshots\/providers\/Microsoft\.Compute\/snapshots\/other-group-2$/,
    );
    expect(other.incrementalSnapshotFamilyId).toBe(own.incrementalSnapshotFamilyId);
    const sasOther = (
      await f.azure.compute.snapshots.grantAccess("ferry-snapshots", "other-group-2", {
        access: "Read",
        durationInSeconds: 600,
      })
    ).accessSAS!;
    const diff = await f.azure.pageBlob(sasOther).getPageRangesDiffForManagedDisks(0, GiB, await grant("own-group-1"));
    expect(diff.pageRange).toEqual([{ offset: 42 * C, count: C - 1 }]);
    await f.azure.compute.snapshots.revokeAccess("ferry-snapshots", "other-group-2");
    await f.azure.compute.snapshots.revokeAccess(RG, "own-group-1");
  });

  it("refuses a disk's snapshot (Copy) into a group of another region: only CopyStart crosses regions", async () => {
    await createGroup(f.azure, "ferry-snapshots-westus", "westus");
    const e = await refusal(
      f.azure.compute.snapshots.createOrUpdate("ferry-snapshots-westus", "across", {
        location: "westus",
        incremental: true,
        creationData: { createOption: "Copy", sourceResourceId: diskId },
      }),
    );
    expect(e.statusCode).toBe(400);
    expect(e.message).toContain(`must be in the region of its source ('${LOC}')`);
  });

  it("accepts Put Page only on an upload disk's write SAS, 512-aligned and at most 4 MiB, until revoked", async () => {
    const uploadSizeBytes = 32 * 1024 * 1024 + 512;
    const disk = await f.azure.compute.disks.createOrUpdate(RG, "upload", {
      location: LOC,
      creationData: { createOption: "Upload", uploadSizeBytes },
    });
    expect(disk.diskState).toBe("ReadyToUpload");
    const sas = (await f.azure.compute.disks.grantAccess(RG, "upload", { access: "Write", durationInSeconds: 600 }))
      .accessSAS!;
    expect((await f.azure.compute.disks.get(RG, "upload")).diskState).toBe("ActiveUpload");
    const blob = f.azure.pageBlob(sas);
    const data = pattern(7, 4 * 1024 * 1024);
    await blob.uploadPages(data, 0, data.length);
    await blob.uploadPages(pattern(8, 512), uploadSizeBytes - 512, 512);
    expect((await refusal(blob.uploadPages(pattern(9, 1000), 512, 1000))).statusCode).toBe(416);
    const tooBig = pattern(10, 4 * 1024 * 1024 + 512);
    expect((await refusal(blob.uploadPages(tooBig, 0, tooBig.length))).statusCode).toBe(413);
    expect((await blob.downloadToBuffer(0, data.length)).equals(data)).toBe(true);
    await f.azure.compute.disks.revokeAccess(RG, "upload");
    expect((await f.azure.compute.disks.get(RG, "upload")).diskState).toBe("Unattached");
    const again = await refusal(
      f.azure.compute.disks.grantAccess(RG, "upload", { access: "Write", durationInSeconds: 60 }),
    );
    expect(again.code).toBe("OperationNotAllowed");
    const read = (await f.azure.compute.disks.grantAccess(RG, "upload", { access: "Read", durationInSeconds: 60 }))
      .accessSAS!;
    expect((await refusal(f.azure.pageBlob(read).uploadPages(pattern(1, 512), 0, 512))).statusCode).toBe(403);
    await f.azure.compute.disks.revokeAccess(RG, "upload");
  });

  it("keeps at most 500 incremental snapshots per disk", async () => {
    const id = await createEmptyDisk(f.azure, RG, LOC, "many", 1);
    for (let i = 0; i < 500; i++) {
      await f.azure.compute.snapshots.createOrUpdate(RG, `many-${i}`, {
        location: LOC,
        incremental: true,
        creationData: { createOption: "Copy", sourceResourceId: id },
      });
    }
    const over = await refusal(
      f.azure.compute.snapshots.createOrUpdate(RG, "many-500", {
        location: LOC,
        incremental: true,
        creationData: { createOption: "Copy", sourceResourceId: id },
      }),
    );
    expect(over.code).toBe("OperationNotAllowed");
    expect(over.message).toMatch(/500/);
  });

  it("reads back the guest's bytes through the device path", () => {
    writeAt(device, 100 * C, pattern(11, C));
    expect(readAt(device, 100 * C, C).equals(pattern(11, C))).toBe(true);
  });
});
