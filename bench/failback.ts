import { randomBytes, randomInt } from "node:crypto";
import { mkdirSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { createLogger } from "../core/logger";
import { requestSync } from "../adapters/state/admin";
import { startAzurite } from "../local/azurite";
import { startEmulator } from "@ferry/emulator";
import { attachToAppliance } from "../runbooks/appliance";
import { prepareFailback } from "../runbooks/failback/prepare";
import { failbackSync } from "../runbooks/failback/sync";
import { createEmptyDisk } from "@ferry/emulator/testing";
import { createLocalWorld, DR, PRIMARY } from "../local/world";
import { ByteBudget } from "../sync/budget";
import { openDevice } from "../sync/device";
import { SnapshotService } from "../sync/snapshots";
import { copyUnion } from "../sync/union-copy";
import type { BenchResult } from "./report";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const CHUNK = 64 * KiB;

export interface FailbackBenchOptions {
  workDir: string;
  log: (message: string) => void;
  /** Disk size in GiB (default 4) and the share of it changed, half on each side (default 0.01). */
  diskGiB?: number;
  changed?: number;
}

/**
 * `npm run bench -- failback`: a failed-over disk full of data; the DR VM rewrites half a percent
 * of it and the primary, back, the other half (replicated before the failback). Failback sync
 * should move only the union of the two deltas (known here from the writes, not from ferry's own
 * count), and beat a full copy of the same disk, by ferry's copy engine into a disk on the same
 * appliance, in the same run.
 */
export async function runFailbackBenches(options: FailbackBenchOptions): Promise<BenchResult[]> {
  const { workDir, log } = options;
  const diskGiB = options.diskGiB ?? 4;
  const changed = options.changed ?? 0.01;
  mkdirSync(workDir, { recursive: true });
  const emu = await startEmulator({ dataDir: join(workDir, "azure"), latency: "zero" });
  const azurite = await startAzurite({ dataDir: join(workDir, "azurite") });
  const logger = createLogger({ name: "bench", level: "silent", env: {} });
  const world = await createLocalWorld({
    emu,
    tableConnectionString: azurite.connectionString,
    tableName: "benchFailback",
    dir: join(workDir, "ferry"),
    logger,
    pollIntervalInMs: 20,
  });
  try {
    const ctx = world.ctx;
    // From snapshots: the primary disk's sync goes on after the failover, so the primary's writes are replicated.
    const w = await world.workload("fb", {
      dataLuns: [],
      osStrategy: "fromSnapshot",
      dataStrategy: "fromSnapshot",
      osDiskSizeGiB: diskGiB,
    });
    log(`failback: filling a ${diskGiB} GiB disk with data`);
    await fill(w.sourceDevice("os"), diskGiB * GiB);
    log("failback: enabling DR (full backfill)");
    await world.protect(w, 1_800_000);
    await world.unplannedFailover(w);
    // Half the change on each side, on chunks of their own: the union is the sum.
    const chunks = (diskGiB * GiB) / CHUNK;
    const perSide = Math.round((chunks * changed) / 2);
    const picked = new Set<number>();
    while (picked.size < perSide * 2) picked.add(randomInt(chunks));
    const all = [...picked];
    await writeChunks(emu.devicePath(DR.rg, "fb", "os"), all.slice(0, perSide));
    await writeChunks(w.sourceDevice("os"), all.slice(perSide));
    const base = (await ctx.store.get(w.osDiskId))!.source.applied!.snapshotId;
    await requestSync(ctx.store, w.osDiskId);
    await world.syncUntil(
      async () => (await ctx.store.get(w.osDiskId))!.source.applied!.snapshotId !== base,
      "the primary's writes replicated",
      world.sourcesOf(w),
      600_000,
    );
    const unionBytes = picked.size * CHUNK;

    await prepareFailback(ctx, w.stack);
    log(`failback: failback sync (${(unionBytes / MiB).toFixed(1)} MiB changed of ${diskGiB} GiB)`);
    const t0 = performance.now();
    // The DR sync daemon runs on, as on its appliance (it lets go of the paused disks' leases).
    const { state, op } = await world.whileSyncing(() => failbackSync(ctx, w.stack), world.sourcesOf(w));
    const failbackSeconds = (performance.now() - t0) / 1000;
    log(
      `  steps: ${op.steps.map((st) => `${st.name} ${(((st.endedAt ? Date.parse(st.endedAt) : 0) - Date.parse(st.startedAt)) / 1000).toFixed(2)} s`).join("; ")}`,
    );
    const d = state.disks[0]!;
    const moved = d.passes.reduce((n, p) => n + p.bytesRead + p.bytesZeroed, 0);
    log(
      `  passes: ${d.passes.map((p) => `${p.pass}: ${(p.unionBytes / MiB).toFixed(1)} MiB in ${p.seconds} s`).join("; ")}`,
    );

    log(
      "failback: the reference, a full copy of the same disk: a snapshot of the DR disk, a new empty disk on the same appliance, every byte copied",
    );
    const appliance = world.config.failback.appliances[PRIMARY.location]!;
    const t1 = performance.now();
    let copyStarted = t1;
    const drDisk = await ctx.azure.compute.disks.get(DR.rg, "fb-os-disk");
    const snap = await ctx.azure.compute.snapshots.createOrUpdate(
      DR.rg,
      "fb-full-copy",
      {
        location: drDisk.location,
        incremental: true,
        creationData: { createOption: "Copy", sourceResourceId: drDisk.id! },
      },
      ctx.poll,
    );
    const target = await createEmptyDisk(world.builder, PRIMARY.rg, PRIMARY.location, "fb-full-copy", diskGiB);
    const lun = await attachToAppliance(ctx, appliance.vmId, target);
    const device = await openDevice(join(appliance.deviceDir, `lun${lun}`), { write: true });
    copyStarted = performance.now();
    let full;
    try {
      full = await copyUnion({
        snapshots: new SnapshotService(ctx.azure, { applianceId: "", pollIntervalInMs: 20 }),
        pageBlob: ctx.azure.pageBlob,
        copyFrom: snap.id!,
        deltas: undefined,
        device,
        budget: new ByteBudget(64 * MiB),
        readSizeInBytes: 4 * MiB,
        readConcurrency: 16,
        diffSegmentBytes: 4 * GiB,
      });
      await device.sync();
    } finally {
      await device.close();
    }
    const fullSeconds = (performance.now() - t1) / 1000;
    const fullCopySeconds = (performance.now() - copyStarted) / 1000;
    const copySeconds = d.passes.reduce((n, p) => n + p.seconds, 0);
    const fullBytes = full.bytesRead + full.bytesZeroed;
    log(
      `  full copy: ${(fullBytes / MiB).toFixed(0)} MiB in ${fullSeconds.toFixed(2)} s, of which the copy itself ${fullCopySeconds.toFixed(2)} s`,
    );

    const bytesRatio = moved / unionBytes;
    const timeRatio = fullSeconds / failbackSeconds;
    return [
      {
        bench: "failback-bytes",
        value: round(moved / MiB),
        unit: "MiB",
        reference: round(unionBytes / MiB),
        ratio: round(bytesRatio),
        goal: "<= 1.1 (bytes moved / union of the deltas)",
        ok: bytesRatio <= 1.1,
      },
      {
        bench: "failback-time",
        value: round(failbackSeconds),
        unit: "s",
        reference: round(fullSeconds),
        ratio: round(timeRatio),
        goal: ">= 5 (full copy / failback sync)",
        ok: timeRatio >= 5,
      },
      // The copy alone (what ferry's data path does), without the disk and snapshot operations both sides share.
      {
        bench: "failback-copy-time",
        value: round(copySeconds),
        unit: "s",
        reference: round(fullCopySeconds),
        ratio: round(fullCopySeconds / copySeconds),
        goal: ">= 10 (full copy / failback passes)",
        ok: fullCopySeconds / copySeconds >= 10,
      },
    ];
  } finally {
    await world.close().catch(() => undefined);
    await emu.close().catch(() => undefined);
    await azurite.close().catch(() => undefined);
  }
}

/** Fills a device with data no two 64 KiB chunks of which are alike (the emulator stores equal chunks once). */
async function fill(path: string, size: number): Promise<void> {
  const block = randomBytes(16 * MiB);
  const f = await open(path, "r+");
  try {
    for (let at = 0; at < size; at += block.length) {
      for (let c = 0; c < block.length; c += CHUNK) block.writeDoubleLE(at + c, c);
      await f.write(block, 0, Math.min(block.length, size - at), at);
    }
    await f.sync();
  } finally {
    await f.close();
  }
}

async function writeChunks(path: string, chunks: number[]): Promise<void> {
  const f = await open(path, "r+");
  try {
    for (const c of chunks) await f.write(randomBytes(CHUNK), 0, CHUNK, c * CHUNK);
    await f.sync();
  } finally {
    await f.close();
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
