import { describe, expect, it } from "vitest";
import { requestSync } from "../../adapters/state/admin";
import type { AzureClients } from "../../adapters/azure/clients";
import { TAG_ROLE, TAG_SOURCE } from "../../sync/snapshots";
import { parseResourceId, sameResourceId } from "../../core/resource-id";
import { isUserError } from "../../core/errors";
import { enableDr } from "../../runbooks/sources";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm } from "@ferry/emulator/testing";
import { PRIMARY, useDrWorld } from "../helpers/dr-env";
import { thrownBy } from "../helpers/errors";

/** The sync's snapshots of one source disk in a resource group, by their tags. */
async function syncSnapshotsOf(azure: AzureClients, group: string, sourceDiskId: string): Promise<string[]> {
  const out: string[] = [];
  for await (const s of azure.compute.snapshots.listByResourceGroup(group)) {
    const tag = s.tags?.[TAG_SOURCE];
    if (s.tags?.[TAG_ROLE] === "sync" && tag !== undefined && sameResourceId(tag, sourceDiskId)) out.push(s.id!);
  }
  return out;
}

describe("ferry's snapshot group: the sync's snapshots live there, never in a production group", () => {
  const env = useDrWorld();

  it("takes each source's snapshots in the landing zone's group of its region, none in the disk's own", async () => {
    const { world } = env;
    const w = await world.workload("sg-take", { dataLuns: [] });
    await world.protect(w);
    const row = (await world.ctx.store.get(w.osDiskId))!.source;
    expect(row.snapshotResourceGroup).toBe(PRIMARY.snapshotRg);
    expect(parseResourceId(row.applied!.snapshotId).resourceGroup).toBe(PRIMARY.snapshotRg);
    expect(await syncSnapshotsOf(world.builder, PRIMARY.rg, w.osDiskId)).toEqual([]);
  });

  it("deletes a source's older snapshots in the snapshot group once a newer point is applied", async () => {
    const { world } = env;
    const w = await world.workload("sg-clean", { dataLuns: [] });
    await world.protect(w);
    const first = (await world.ctx.store.get(w.osDiskId))!.source.applied!.snapshotId;
    await requestSync(world.ctx.store, w.osDiskId);
    await world.syncUntil(
      async () => {
        const s = (await world.ctx.store.get(w.osDiskId))!.source;
        return s.applied !== undefined && s.applied.snapshotId !== first && !s.applying;
      },
      "a second point of sg-clean applied",
      world.sourcesOf(w),
    );
    const second = (await world.ctx.store.get(w.osDiskId))!.source.applied!.snapshotId;
    expect(await syncSnapshotsOf(world.builder, PRIMARY.snapshotRg, w.osDiskId)).toEqual([second]);
  });

  it("gives a source enabled before snapshot groups its group when enable runs again; its next point goes there", async () => {
    const { world } = env;
    const w = await world.workload("sg-move", { dataLuns: [] });
    await world.protect(w);
    // A row as ferry wrote it before snapshot groups: no group, so snapshots in the disk's own.
    const stored = (await world.ctx.store.get(w.osDiskId))!;
    const { snapshotResourceGroup: _old, ...before } = stored.source;
    await world.ctx.store.update(stored, before);

    const [again] = await enableDr(world.ctx, w.stack, { prepare: "empty" });
    expect(again!.snapshotResourceGroup).toBe(PRIMARY.snapshotRg);
    const first = again!.applied!.snapshotId;
    await requestSync(world.ctx.store, w.osDiskId);
    await world.syncUntil(
      async () => {
        const s = (await world.ctx.store.get(w.osDiskId))!.source;
        return s.applied !== undefined && s.applied.snapshotId !== first && !s.applying;
      },
      "a new point of sg-move applied",
      world.sourcesOf(w),
    );
    const applied = (await world.ctx.store.get(w.osDiskId))!.source.applied!.snapshotId;
    expect(parseResourceId(applied).resourceGroup).toBe(PRIMARY.snapshotRg);
  });

  it("refuses to enable a disk of a region without a snapshot group, naming the key, and attaches nothing", async () => {
    const { world } = env;
    const rg = "prod-east";
    const region = "eastus";
    await createGroup(world.builder, rg, region);
    const subnet = await createSubnet(world.builder, rg, region);
    const os = await createEmptyDisk(world.builder, rg, region, "east-os", 1, { osType: "Linux" });
    const nic = await createNic(world.builder, rg, region, "east-nic", subnet);
    const vm = await createVm(world.builder, rg, region, "east", { osDiskId: os, nicId: nic, dataDisks: [] });
    const stack = "bp-east";
    await world.ctx.deployer.setConfig(stack, {
      kind: "blueprint",
      landingZoneStack: world.config.landingZoneStack,
      blueprint: {
        name: stack,
        target: { vmSizes: ["Standard_D2s_v5"] },
        rows: [
          {
            name: "east",
            sourceVmId: vm.id!,
            sourceRegion: region,
            osDisk: { sourceDiskId: os, osType: "Linux", sizeGiB: 1 },
            dataDisks: [],
            vmSize: "Standard_D2s_v5",
            osStrategy: "attachAsIs",
            dataStrategy: "attachAsIs",
          },
        ],
      },
    });
    const standby = await world.ctx.deployer.up(stack, { message: `standby ${stack}` });
    const staging = (standby.outputs.stagingDisks as { id: string }[])[0]!.id;

    const e = await thrownBy(enableDr(world.ctx, stack, { prepare: "empty" }));
    expect(isUserError(e)).toBe(true);
    expect(e.message).toMatch(
      /east-os is in eastus, and the landing zone lz has no snapshot group there \(it has for westeurope, northeurope\)/,
    );
    expect(e.message).toMatch(/Set ferry:snapshotResourceGroups\.eastus in the landing zone's stack file/);
    const p = parseResourceId(staging);
    expect((await world.builder.compute.disks.get(p.resourceGroup, p.name)).managedBy).toBeUndefined();
    expect(await world.ctx.store.get(os)).toBeUndefined();
  });
});
