import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm } from "../testing";
import { useEmulator } from "./helpers/emulator";
import { expectRefused } from "./helpers/errors";

// VirtualMachines_AttachDetachDataDisks and a VM's etag with If-Match / If-None-Match, through the unmodified
// @azure/arm-compute client (api-version 2026-03-01).

const fx = useEmulator();
const REGION = "westeurope";
const POLL = { updateIntervalInMs: 10 };

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

/** A running VM with no data disk, and `disks` empty 1 GiB disks beside it. */
async function vmWithDisks(disks: number, vmSize = "Standard_D2s_v5") {
  const rg = unique("attach");
  await createGroup(fx.azure, rg, REGION);
  const subnet = await createSubnet(fx.azure, rg, REGION, "vnet");
  const nicId = await createNic(fx.azure, rg, REGION, "nic", subnet);
  const osDiskId = await createEmptyDisk(fx.azure, rg, REGION, "os", 1, { osType: "Linux" });
  await createVm(fx.azure, rg, REGION, "vm", { osDiskId, nicId, vmSize });
  const ids: string[] = [];
  for (let i = 0; i < disks; i++) ids.push(await createEmptyDisk(fx.azure, rg, REGION, `data${i}`));
  return { rg, ids };
}

const attachDetach = (rg: string, body: Parameters<typeof fx.azure.compute.virtualMachines.attachDetachDataDisks>[2]) =>
  fx.azure.compute.virtualMachines.attachDetachDataDisks(rg, "vm", body, POLL);

async function lunsOf(rg: string): Promise<Record<number, string>> {
  const vm = await fx.azure.compute.virtualMachines.get(rg, "vm");
  return Object.fromEntries((vm.storageProfile?.dataDisks ?? []).map((d) => [d.lun, d.managedDisk!.id!.toLowerCase()]));
}

describe("VirtualMachines_AttachDetachDataDisks", () => {
  it("attaches a disk at the lowest free LUN when none is given, and answers the storage profile", async () => {
    const { rg, ids } = await vmWithDisks(3);
    await attachDetach(rg, {
      dataDisksToAttach: [
        { diskId: ids[0]!, lun: 0 },
        { diskId: ids[1]!, lun: 2 },
      ],
    });
    const profile = await attachDetach(rg, { dataDisksToAttach: [{ diskId: ids[2]! }] });
    expect(profile.dataDisks?.find((d) => d.managedDisk?.id === ids[2])?.lun).toBe(1);
    expect(await lunsOf(rg)).toEqual({ 0: ids[0]!.toLowerCase(), 1: ids[2]!.toLowerCase(), 2: ids[1]!.toLowerCase() });
  });

  it("detaches only the named disks and keeps every other one", async () => {
    const { rg, ids } = await vmWithDisks(3);
    await attachDetach(rg, { dataDisksToAttach: ids.map((diskId) => ({ diskId })) });
    await attachDetach(rg, { dataDisksToDetach: [{ diskId: ids[1]! }] });
    expect(await lunsOf(rg)).toEqual({ 0: ids[0]!.toLowerCase(), 2: ids[2]!.toLowerCase() });
    const detached = await fx.azure.compute.disks.get(rg, "data1");
    expect(detached.diskState).toBe("Unattached");
  });

  it("detaches and attaches in one call, the freed LUN reused", async () => {
    const { rg, ids } = await vmWithDisks(2);
    await attachDetach(rg, { dataDisksToAttach: [{ diskId: ids[0]! }] });
    await attachDetach(rg, { dataDisksToDetach: [{ diskId: ids[0]! }], dataDisksToAttach: [{ diskId: ids[1]! }] });
    expect(await lunsOf(rg)).toEqual({ 0: ids[1]!.toLowerCase() });
  });

  it("two calls at once that name different disks both land", async () => {
    // Standard_D2s_v5 takes 4 data disks.
    const { rg, ids } = await vmWithDisks(4);
    await Promise.all(ids.map((diskId) => attachDetach(rg, { dataDisksToAttach: [{ diskId }] })));
    expect(Object.keys(await lunsOf(rg))).toHaveLength(4);
  });

  it("refuses a LUN in use with Azure's code and message", async () => {
    const { rg, ids } = await vmWithDisks(2);
    await attachDetach(rg, { dataDisksToAttach: [{ diskId: ids[0]!, lun: 3 }] });
    const message = await expectRefused(
      attachDetach(rg, { dataDisksToAttach: [{ diskId: ids[1]!, lun: 3 }] }),
      400,
      "InvalidParameter",
    );
    expect(message).toBe("A disk at LUN 3 already exists.");
  });

  it("refuses a disk that another VM holds", async () => {
    const first = await vmWithDisks(1);
    await attachDetach(first.rg, { dataDisksToAttach: [{ diskId: first.ids[0]! }] });
    const second = await vmWithDisks(0);
    await expectRefused(
      attachDetach(second.rg, { dataDisksToAttach: [{ diskId: first.ids[0]! }] }),
      409,
      "ConflictingUserInput",
    );
  });

  it("refuses to detach a disk that is not attached, and changes nothing", async () => {
    const { rg, ids } = await vmWithDisks(2);
    await attachDetach(rg, { dataDisksToAttach: [{ diskId: ids[0]! }] });
    await expectRefused(
      attachDetach(rg, { dataDisksToDetach: [{ diskId: ids[0]! }, { diskId: ids[1]! }] }),
      400,
      "InvalidParameter",
    );
    expect(await lunsOf(rg)).toEqual({ 0: ids[0]!.toLowerCase() });
  });

  it("refuses more disks than the size takes", async () => {
    // Standard_B1s takes 2 data disks.
    const { rg, ids } = await vmWithDisks(3, "Standard_B1s");
    await expectRefused(
      attachDetach(rg, { dataDisksToAttach: ids.map((diskId) => ({ diskId })) }),
      409,
      "OperationNotAllowed",
    );
    expect(await lunsOf(rg)).toEqual({});
  });

  it("shows an attached disk to the running guest at its LUN", async () => {
    const { rg, ids } = await vmWithDisks(1);
    await attachDetach(rg, { dataDisksToAttach: [{ diskId: ids[0]!, lun: 5 }] });
    expect(existsSync(fx.emu.devicePath(rg, "vm", 5))).toBe(true);
    await attachDetach(rg, { dataDisksToDetach: [{ diskId: ids[0]! }] });
    expect(existsSync(fx.emu.devicePath(rg, "vm", 5))).toBe(false);
  });
});

describe("a VM's etag", () => {
  it("changes on every write: PUT, PATCH, attach/detach", async () => {
    const { rg, ids } = await vmWithDisks(1);
    const c = fx.azure.compute.virtualMachines;
    const seen = [(await c.get(rg, "vm")).etag];
    await c.update(rg, "vm", { tags: { a: "1" } }, POLL);
    seen.push((await c.get(rg, "vm")).etag);
    await attachDetach(rg, { dataDisksToAttach: [{ diskId: ids[0]! }] });
    seen.push((await c.get(rg, "vm")).etag);
    const vm = await c.get(rg, "vm");
    await c.createOrUpdate(rg, "vm", { location: REGION, storageProfile: vm.storageProfile }, POLL);
    seen.push((await c.get(rg, "vm")).etag);
    expect(seen.every((e) => typeof e === "string")).toBe(true);
    expect(new Set(seen).size).toBe(4);
  });

  it("does not change on a power action", async () => {
    const { rg } = await vmWithDisks(0);
    const c = fx.azure.compute.virtualMachines;
    const before = (await c.get(rg, "vm")).etag;
    await c.powerOff(rg, "vm", POLL);
    expect((await c.get(rg, "vm")).etag).toBe(before);
  });

  it("is answered by the PUT or PATCH that changed it", async () => {
    const { rg } = await vmWithDisks(0);
    const c = fx.azure.compute.virtualMachines;
    const updated = await c.update(rg, "vm", { tags: { a: "1" } }, POLL);
    expect(updated.etag).toBe((await c.get(rg, "vm")).etag);
  });

  it("a PATCH with the etag last read succeeds", async () => {
    const { rg } = await vmWithDisks(0);
    const c = fx.azure.compute.virtualMachines;
    const { etag } = await c.get(rg, "vm");
    const updated = await c.update(rg, "vm", { tags: { a: "1" } }, { ...POLL, ifMatch: etag! });
    expect(updated.tags).toEqual({ a: "1" });
  });

  it("a PATCH with a stale etag is refused 412 PreconditionFailed and changes nothing", async () => {
    const { rg } = await vmWithDisks(0);
    const c = fx.azure.compute.virtualMachines;
    const { etag } = await c.get(rg, "vm");
    await c.update(rg, "vm", { tags: { by: "other" } }, POLL);
    const now = (await c.get(rg, "vm")).etag;
    const message = await expectRefused(
      c.update(rg, "vm", { tags: { by: "me" } }, { ...POLL, ifMatch: etag! }),
      412,
      "PreconditionFailed",
    );
    expect(message).toBe(`Etag provided in if-match header ${etag} does not match etag ${now} of resource.`);
    expect((await c.get(rg, "vm")).tags).toEqual({ by: "other" });
  });

  it("a PUT with a stale etag is refused 412 PreconditionFailed", async () => {
    const { rg, ids } = await vmWithDisks(1);
    const c = fx.azure.compute.virtualMachines;
    const vm = await c.get(rg, "vm");
    await attachDetach(rg, { dataDisksToAttach: [{ diskId: ids[0]! }] });
    await expectRefused(
      c.createOrUpdate(
        rg,
        "vm",
        { location: REGION, storageProfile: vm.storageProfile },
        { ...POLL, ifMatch: vm.etag! },
      ),
      412,
      "PreconditionFailed",
    );
    expect(Object.keys(await lunsOf(rg))).toHaveLength(1);
  });

  it("If-Match: * needs the VM to exist; If-None-Match: * needs it not to", async () => {
    const { rg } = await vmWithDisks(0);
    const c = fx.azure.compute.virtualMachines;
    await expectRefused(c.update(rg, "vm", { tags: {} }, { ...POLL, ifNoneMatch: "*" }), 412, "PreconditionFailed");
    await c.update(rg, "vm", { tags: { ok: "yes" } }, { ...POLL, ifMatch: "*" });
    const vm = await c.get(rg, "vm");
    await expectRefused(
      c.createOrUpdate(rg, "other", { location: REGION, storageProfile: vm.storageProfile }, { ...POLL, ifMatch: "*" }),
      412,
      "PreconditionFailed",
    );
  });
});
