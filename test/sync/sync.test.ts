import { describe, expect, it } from "vitest";
import { pattern, readAt, writeAt } from "../helpers/bytes";
import { useAzurite } from "../helpers/azurite";
import { useEmulator } from "../helpers/emulator";
import { createSyncEnv } from "../helpers/sync-env";
import { filesEqual } from "../helpers/compare";

const KiB = 1024;
const MiB = 1024 * KiB;

describe("sync: backfill and incremental rounds", () => {
  const f = useEmulator();
  const a = useAzurite();

  it("backfills, then keeps the staging disk byte-equal to the source after every round of writes and discards", async () => {
    const env = await createSyncEnv(f, a, [{ lun: 0 }]);
    const src = env.sourceDevice(0);
    const stg = env.stagingDevice(0);
    writeAt(src, 0, pattern(1, 3 * MiB));
    writeAt(src, 300 * MiB, pattern(2, 5 * MiB + 4 * KiB));
    await env.store.create(env.sourceRow(0));
    const rt = await env.runtime();
    const first = await rt.daemon.tick();
    const outcome = first.get(env.sourceDiskId(0));
    expect(outcome?.kind).toBe("applied");
    let row = (await env.store.get(env.sourceDiskId(0)))!.source;
    expect(row.state).toBe("healthy");
    expect(row.applying).toBeUndefined();
    expect(row.applied?.snapshotId).toBe(row.desired?.snapshotId);
    expect(await filesEqual(src, stg)).toBe(true);

    let seed = 100;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 20; i++) {
        const off = ((seed * 7919) % 1000) * MiB + (seed % 16) * 4 * KiB;
        writeAt(src, off, pattern(seed++, (1 + (seed % 8)) * 4 * KiB));
      }
      // A discard: zeroes a whole 64 KiB chunk that held data.
      writeAt(src, (round * 64 * KiB) % (3 * MiB), Buffer.alloc(64 * KiB));
      await rt.store.update((await rt.store.get(env.sourceDiskId(0)))!, {
        ...row,
        syncRequestedAt: new Date(Date.now() + 1).toISOString(),
      });
      await new Promise((r) => setTimeout(r, 5));
      const out = await rt.daemon.tick();
      expect(out.get(env.sourceDiskId(0))?.kind).toBe("applied");
      row = (await env.store.get(env.sourceDiskId(0)))!.source;
      expect(row.applying).toBeUndefined();
      expect(await filesEqual(src, stg)).toBe(true);
    }
    expect(readAt(stg, 0, 16).equals(readAt(src, 0, 16))).toBe(true);
  });
});
