import { describe, expect, it } from "vitest";
import { verifyAgainstPoint } from "../../runbooks/verify";
import { pattern, writeAt } from "../helpers/bytes";
import { DR, PRIMARY, useDrWorld } from "../helpers/dr-env";

const env = useDrWorld();
const f = env.f;

describe("verifying a recovered disk against its recovery point", () => {
  it("finds a staging device and a copy snapshot identical, and names the first differing byte when they are not", async () => {
    const w = await env.world.workload("vf", { dataLuns: [] });
    writeAt(w.sourceDevice("os"), 3 * 65536 + 100, pattern(21, 300_000));
    await env.world.protect(w);
    const s = (await env.world.ctx.store.get(w.osDiskId))!.source;
    const point = s.applied!.snapshotId;
    const staging = f.emu.devicePath(DR.rg, DR.appliance, s.applianceLun);

    const same = await verifyAgainstPoint(env.world.ctx, { devicePath: staging }, point);
    expect(same).toMatchObject({ ok: true, sizeBytes: 1024 ** 3, bytesCompared: 1024 ** 3 });

    // A full copy of the source disk taken now holds the same bytes; after one more write it does not.
    const copy = async (name: string) =>
      (
        await f.azure.compute.snapshots.beginCreateOrUpdateAndWait(PRIMARY.rg, name, {
          location: PRIMARY.location,
          incremental: false,
          creationData: { createOption: "Copy", sourceResourceId: w.osDiskId },
        })
      ).id!;
    expect(await verifyAgainstPoint(env.world.ctx, { snapshotId: await copy("vf-same") }, point)).toMatchObject({
      ok: true,
    });
    writeAt(w.sourceDevice("os"), 700 * 1024 * 1024 + 5, Buffer.from([1]));
    const changed = await verifyAgainstPoint(env.world.ctx, { snapshotId: await copy("vf-changed") }, point);
    expect(changed).toMatchObject({ ok: false, firstDifferenceAt: 700 * 1024 * 1024 + 5 });

    writeAt(staging, 3 * 65536 + 101, Buffer.from([0xff]));
    expect(await verifyAgainstPoint(env.world.ctx, { devicePath: staging }, point)).toMatchObject({
      ok: false,
      firstDifferenceAt: 3 * 65536 + 101,
    });
    // Every SAS it granted is revoked again.
    const granted = (await f.azure.compute.snapshots.get(PRIMARY.rg, "vf-changed")).diskState;
    expect(granted).not.toBe("ActiveSAS");
  });

  it("says plainly when the recovery point is gone", async () => {
    const gone = `/subscriptions/${f.emu.subscriptionId}/resourceGroups/${PRIMARY.rg}/providers/Microsoft.Compute/snapshots/never-was`;
    await expect(verifyAgainstPoint(env.world.ctx, { devicePath: "/dev/null" }, gone)).rejects.toThrow(
      /Recovery point .*never-was no longer exists/,
    );
  });
});
