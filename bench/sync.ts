import { execFile, spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { open, truncate } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseResourceId } from "../core/resource-id";
import type { AzureClients } from "../adapters/azure/clients";
import { startAzurite } from "../local/azurite";
import { applyPlan } from "../sync/apply";
import { buildBundle } from "../build";
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from "../sync/launch";
import { openDevice } from "../sync/device";
import { changedRanges, validRanges } from "../sync/page-ranges";
import { totalBytes } from "../sync/ranges";
import { sasRangeSource } from "../sync/sas-reader";
import { SourceStore, sourceStoreClient } from "../adapters/state/store";
import { startEmulatorProcess, type EmulatorProcess } from "./emulator-process";
import type { BenchResult } from "./report";

const exec = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const POLL = { updateIntervalInMs: 10 };

export interface SyncBenchOptions {
  workDir: string;
  log: (message: string) => void;
  /** Only these benchmarks (backfill, delta, memory). Default all; delta needs backfill. */
  only?: string[];
}

/** The sync benchmarks: backfill throughput against curl, delta against rsync, memory of 8 disks at once. */
export async function runSyncBenches(options: SyncBenchOptions): Promise<BenchResult[]> {
  const { workDir, log } = options;
  mkdirSync(workDir, { recursive: true });
  const emu = await startEmulatorProcess(join(workDir, "azure"));
  const want = (name: string) => !options.only || options.only.includes(name);
  const results: BenchResult[] = [];
  try {
    if (want("backfill") || want("delta")) {
      const env = await primary(emu, log);
      const backfill = await benchBackfill(emu, env, workDir, log);
      if (want("backfill")) results.push(backfill.result);
      if (want("delta")) results.push(...(await benchDelta(emu, env, workDir, backfill.sas, log)));
    }
    if (want("memory")) results.push(await benchMemory(emu, workDir, log));
    return results;
  } finally {
    await emu.stop();
  }
}

interface Primary {
  diskId: string;
  device: string;
  sizeBytes: number;
  staging: string;
}

async function group(azure: AzureClients, name: string, location: string): Promise<string> {
  await azure.resources.resourceGroups.createOrUpdate(name, { location });
  const vnet = await azure.network.virtualNetworks.beginCreateOrUpdateAndWait(
    name,
    "vnet",
    {
      location,
      addressSpace: { addressPrefixes: ["10.0.0.0/16"] },
      subnets: [{ name: "default", addressPrefix: "10.0.1.0/24" }],
    },
    POLL,
  );
  return vnet.subnets![0]!.id!;
}

async function vmWithDisks(
  azure: AzureClients,
  rg: string,
  location: string,
  subnet: string,
  name: string,
  sizesGB: number[],
): Promise<string[]> {
  const nic = await azure.network.networkInterfaces.beginCreateOrUpdateAndWait(
    rg,
    `${name}-nic`,
    { location, ipConfigurations: [{ name: "ip", subnet: { id: subnet } }] },
    POLL,
  );
  const os = await azure.compute.disks.createOrUpdate(
    rg,
    `${name}-os`,
    { location, osType: "Linux", creationData: { createOption: "Empty" }, diskSizeGB: 1 },
    POLL,
  );
  const ids: string[] = [];
  for (const [i, gb] of sizesGB.entries()) {
    ids.push(
      (
        await azure.compute.disks.createOrUpdate(
          rg,
          `${name}-data${i}`,
          { location, creationData: { createOption: "Empty" }, diskSizeGB: gb },
          POLL,
        )
      ).id!,
    );
  }
  await azure.compute.virtualMachines.createOrUpdate(
    rg,
    name,
    {
      location,
      hardwareProfile: { vmSize: "Standard_D16s_v5" },
      storageProfile: {
        osDisk: { createOption: "Attach", osType: "Linux", managedDisk: { id: os.id! } },
        dataDisks: ids.map((id, lun) => ({ lun, createOption: "Attach", managedDisk: { id } })),
      },
      networkProfile: { networkInterfaces: [{ id: nic.id! }] },
    },
    POLL,
  );
  return ids;
}

/** Writes `count` extents of `extentBytes` of random data at distinct aligned slots of a device. */
async function writeScattered(path: string, sizeBytes: number, extentBytes: number, count: number): Promise<number> {
  const slots = sizeBytes / extentBytes;
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(randomInt(slots));
  const fh = await open(path, "r+");
  try {
    for (const slot of chosen) await fh.write(randomBytes(extentBytes), 0, extentBytes, slot * extentBytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return count * extentBytes;
}

async function snapshot(azure: AzureClients, diskId: string, name: string): Promise<{ id: string; sas: string }> {
  const d = parseResourceId(diskId);
  const snap = await azure.compute.snapshots.createOrUpdate(
    d.resourceGroup,
    name,
    { location: "eastus", incremental: true, creationData: { createOption: "Copy", sourceResourceId: diskId } },
    POLL,
  );
  const sas = (
    await azure.compute.snapshots.grantAccess(d.resourceGroup, name, { access: "Read", durationInSeconds: 3600 }, POLL)
  ).accessSAS!;
  return { id: snap.id!, sas };
}

async function primary(emu: EmulatorProcess, log: (m: string) => void): Promise<Primary> {
  const subnet = await group(emu.azure, "prod", "eastus");
  const [diskId] = await vmWithDisks(emu.azure, "prod", "eastus", subnet, "bench-app", [4]);
  const device = join(emu.dataDir, "vms", "prod", "bench-app", "lun0");
  log("writing 1 GiB of random data in 256 scattered 4 MiB extents of a 4 GiB disk");
  await writeScattered(device, 4 * GiB, 4 * MiB, 256);
  const staging = join(emu.dataDir, "..", "staging.img");
  await (await open(staging, "w")).close();
  await truncate(staging, 4 * GiB);
  return { diskId: diskId!, device, sizeBytes: 4 * GiB, staging };
}

/** Same bytes? Compared in 8 MiB blocks. */
async function sameBytes(a: string, b: string, size: number): Promise<boolean> {
  const fa = await open(a, "r");
  const fb = await open(b, "r");
  const ba = Buffer.allocUnsafe(8 * MiB);
  const bb = Buffer.allocUnsafe(8 * MiB);
  try {
    for (let pos = 0; pos < size; pos += 8 * MiB) {
      await fa.read(ba, 0, 8 * MiB, pos);
      await fb.read(bb, 0, 8 * MiB, pos);
      if (!ba.equals(bb)) return false;
    }
    return true;
  } finally {
    await fa.close();
    await fb.close();
  }
}

/** Each side of a comparison runs this many times; the best run counts (the machine is shared and noisy). */
const REPS = 3;

async function bestOf(n: number, run: () => Promise<number>): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) best = Math.min(best, await run());
  return best;
}

async function benchBackfill(
  emu: EmulatorProcess,
  env: Primary,
  workDir: string,
  log: (m: string) => void,
): Promise<{ result: BenchResult; sas: string }> {
  const s0 = await snapshot(emu.azure, env.diskId, "bench-s0");
  const ranges = await validRanges(emu.azure.pageBlob(s0.sas), env.sizeBytes);
  const bytes = totalBytes(ranges);
  log("backfill: ferry (valid page ranges, parallel ranged reads, positional writes, fsync)");
  const ferrySeconds = await bestOf(REPS, async () => {
    await truncate(env.staging, 0);
    await truncate(env.staging, env.sizeBytes);
    const device = await openDevice(env.staging, { write: true });
    const start = performance.now();
    const found = await validRanges(emu.azure.pageBlob(s0.sas), env.sizeBytes);
    await applyPlan(
      { copy: found, zero: [] },
      {
        source: sasRangeSource({
          pageBlob: (u) => emu.azure.pageBlob(u),
          sasUrl: async () => s0.sas,
          regrant: async () => s0.sas,
        }),
        device,
      },
    );
    await device.sync();
    const seconds = (performance.now() - start) / 1000;
    await device.close();
    return seconds;
  });
  if (!(await sameBytes(env.staging, env.device, env.sizeBytes)))
    throw new Error("backfill bench: the staging file differs from the source disk");

  log("backfill: reference (curl, the same ranges, 8 in parallel, into files, then sync)");
  const dir = join(workDir, "curl");
  mkdirSync(dir, { recursive: true });
  // One operation per range (`next` resets per-URL options such as the range and the CA).
  const config = ranges
    .map(
      (r, i) =>
        `url = "${s0.sas}"\nrange = "${r.start}-${r.end - 1}"\noutput = "${join(dir, `part-${i}`)}"\ncacert = "${emu.caCertPath}"\nfail\nsilent\nshow-error\n`,
    )
    .join("next\n");
  writeFileSync(join(dir, "config"), config);
  const curlSeconds = await bestOf(REPS, async () => {
    const t = performance.now();
    await exec("curl", ["--parallel", "--parallel-max", "8", "--config", join(dir, "config")], {
      maxBuffer: 1024 * 1024,
    });
    // ferry's copy ends with an fsync (applied never runs ahead of durable data); curl's ends when
    // its files are durable too, so both measure the same work.
    await exec("sync", ["-f", join(dir, "part-0")]);
    return (performance.now() - t) / 1000;
  });
  for (const [i, r] of ranges.entries()) {
    if (statSync(join(dir, `part-${i}`)).size !== r.end - r.start)
      throw new Error(`backfill bench: curl wrote a part ${i} of the wrong length`);
  }
  const ferryRate = bytes / MiB / ferrySeconds;
  const curlRate = bytes / MiB / curlSeconds;
  log(
    `backfill: ${bytes / MiB} MiB, ferry ${ferrySeconds.toFixed(2)} s, curl ${curlSeconds.toFixed(2)} s (best of ${REPS})`,
  );
  const ratio = ferryRate / curlRate;
  return {
    result: {
      bench: "backfill",
      value: ferryRate,
      unit: "MiB/s",
      reference: curlRate,
      ratio,
      goal: "ferry ≥ 0.8 × curl throughput, both to durable files (4 GiB disk, 1 GiB scattered data)",
      ok: ratio >= 0.8,
    },
    sas: s0.sas,
  };
}

async function benchDelta(
  emu: EmulatorProcess,
  env: Primary,
  workDir: string,
  baseSas: string,
  log: (m: string) => void,
): Promise<BenchResult[]> {
  // Both sides start every run from the staging file as it was at the base point.
  const base = join(workDir, "base.img");
  const rsyncTarget = join(workDir, "rsync-target.img");
  await exec("cp", ["--sparse=always", env.staging, base]);
  log("delta: changing 1 % of the disk in scattered 64 KiB writes");
  const changed = await writeScattered(
    env.device,
    env.sizeBytes,
    64 * KiB,
    Math.round((env.sizeBytes * 0.01) / (64 * KiB)),
  );
  const s1 = await snapshot(emu.azure, env.diskId, "bench-s1");

  log("delta: ferry (diff of the two snapshots, changed ranges only, fsync)");
  let bytesRead = 0;
  const ferrySeconds = await bestOf(REPS, async () => {
    await exec("cp", ["--sparse=always", base, env.staging]);
    const device = await openDevice(env.staging, { write: true });
    const start = performance.now();
    const diff = await changedRanges(emu.azure.pageBlob(s1.sas), baseSas, env.sizeBytes);
    const planned = performance.now();
    const result = await applyPlan(
      { copy: diff.changed, zero: diff.cleared },
      {
        source: sasRangeSource({
          pageBlob: (u) => emu.azure.pageBlob(u),
          sasUrl: async () => s1.sas,
          regrant: async () => s1.sas,
        }),
        device,
      },
    );
    const copied = performance.now();
    await device.sync();
    const seconds = (performance.now() - start) / 1000;
    log(
      `delta: diff ${((planned - start) / 1000).toFixed(2)} s, copy ${((copied - planned) / 1000).toFixed(2)} s, fsync ${((performance.now() - copied) / 1000).toFixed(2)} s`,
    );
    await device.close();
    bytesRead = result.bytesRead;
    return seconds;
  });
  if (!(await sameBytes(env.staging, env.device, env.sizeBytes)))
    throw new Error("delta bench: the staging file differs from the source disk");

  await ensureRsync(log);
  log("delta: reference (rsync --inplace --no-whole-file between the same two files)");
  const rsyncSeconds = await bestOf(REPS, async () => {
    await exec("cp", ["--sparse=always", base, rsyncTarget]);
    const t = performance.now();
    // The device path is a symlink: rsync is given the file behind it. --ignore-times: the two files
    // can share a size and a modification second, and rsync's quick check would then skip the copy.
    await exec("rsync", ["--inplace", "--no-whole-file", "--ignore-times", realpathSync(env.device), rsyncTarget]);
    await exec("sync", ["-f", rsyncTarget]);
    return (performance.now() - t) / 1000;
  });
  if (!(await sameBytes(rsyncTarget, env.device, env.sizeBytes)))
    throw new Error("delta bench: rsync's copy differs from the source disk");
  log(
    `delta: ${changed / MiB} MiB changed, ferry ${ferrySeconds.toFixed(2)} s reading ${bytesRead / MiB} MiB, rsync ${rsyncSeconds.toFixed(2)} s (best of ${REPS})`,
  );
  return [
    {
      bench: "delta",
      value: ferrySeconds,
      unit: "s",
      reference: rsyncSeconds,
      ratio: rsyncSeconds / ferrySeconds,
      goal: "ferry ≥ 10 × faster than rsync (ratio = rsync time / ferry time)",
      ok: rsyncSeconds / ferrySeconds >= 10,
    },
    {
      bench: "delta-bytes",
      value: bytesRead / MiB,
      unit: "MiB",
      reference: changed / MiB,
      ratio: bytesRead / changed,
      goal: "bytes read ≤ 1.1 × bytes changed",
      ok: bytesRead / changed <= 1.1,
    },
  ];
}

async function ensureRsync(log: (m: string) => void): Promise<void> {
  if (["/usr/bin/rsync", "/bin/rsync"].some((p) => existsSync(p))) return;
  log("installing rsync from Debian's packages (the delta reference)");
  await exec("apt-get", ["install", "-y", "-q", "rsync"], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  }).catch(async () => {
    await exec("apt-get", ["update", "-q"]);
    await exec("apt-get", ["install", "-y", "-q", "rsync"], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  });
}

/** Highest resident set of a process, in MiB, sampled from /proc until it exits. */
function peakRss(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ peakMiB: number; code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    let peak = 0;
    const sample = () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
        if (hwm) peak = Math.max(peak, Number(hwm[1]) / 1024);
      } catch {
        // The process is gone: the last sample stands.
      }
    };
    const timer = setInterval(sample, 20);
    child.once("exit", (code) => {
      clearInterval(timer);
      resolve({ peakMiB: peak, code, stderr });
    });
  });
}

async function benchMemory(emu: EmulatorProcess, workDir: string, log: (m: string) => void): Promise<BenchResult> {
  const azurite = await startAzurite({ dataDir: join(workDir, "azurite") });
  try {
    const disks = 8;
    const subnet = await group(emu.azure, "dr", "westus");
    const primarySubnet = await group(emu.azure, "prod", "eastus");
    const sources = await vmWithDisks(
      emu.azure,
      "prod",
      "eastus",
      primarySubnet,
      "mem-app",
      Array<number>(disks).fill(1),
    );
    const stagings = await vmWithDisks(
      emu.azure,
      "dr",
      "westus",
      subnet,
      "mem-appliance",
      Array<number>(disks).fill(1),
    );
    log(`memory: writing 128 MiB to each of ${disks} source disks`);
    for (let lun = 0; lun < disks; lun++)
      await writeScattered(join(emu.dataDir, "vms", "prod", "mem-app", `lun${lun}`), GiB, 4 * MiB, 32);
    const store = await SourceStore.open({
      client: sourceStoreClient({ connectionString: azurite.connectionString, tableName: "benchmemory" }),
      // What the landing zone makes in Azure.
      createTable: true,
    });
    const applianceId = `/subscriptions/${emu.subscriptionId}/resourceGroups/dr/providers/Microsoft.Compute/virtualMachines/mem-appliance`;
    for (let lun = 0; lun < disks; lun++) {
      await store.create({
        sourceDiskId: sources[lun]!,
        stagingDiskId: stagings[lun]!,
        applianceId,
        applianceLun: lun,
        state: "pending",
        prepare: "empty",
        sourceSizeBytes: GiB,
        bytesCopied: 0,
        paused: false,
        consecutiveFailures: 0,
        updatedAt: new Date().toISOString(),
      });
    }
    const config = join(workDir, "memory-sync.json");
    writeFileSync(
      config,
      JSON.stringify({
        instanceId: "bench",
        applianceId,
        deviceDir: join(emu.dataDir, "vms", "dr", "mem-appliance"),
        azure: {
          subscriptionId: emu.subscriptionId,
          armEndpoint: emu.endpoint,
          caCertPath: emu.caCertPath,
          credential: { kind: "emulator" },
          pollIntervalInMs: 10,
        },
        stateStore: { kind: "connectionStringEnv", variable: "FERRY_BENCH_TABLE", tableName: "benchmemory" },
        sync: { maxParallelSources: disks },
        metrics: { enabled: false },
        logLevel: "warn",
      }),
    );
    const env = { ...process.env, FERRY_BENCH_TABLE: azurite.connectionString };
    // Measured as deployed on the appliance: the bundle (npm run build:sync) on plain node, with the
    // unit's flags and environment.
    const bundle = (await buildBundle("ferry-sync", { outDir: workDir })).file;
    log("memory: reference (the same command listing the sources: the process's own footprint)");
    const launch = { ...env, ...DAEMON_ENV };
    const idle = await peakRss([...DAEMON_NODE_FLAGS, bundle, "list", "--config", config], launch);
    log(`memory: ferry-sync once, ${disks} sources backfilled at the same time`);
    const busy = await peakRss([...DAEMON_NODE_FLAGS, bundle, "once", "--config", config], launch);
    if (busy.code !== 0) throw new Error(`memory bench: ferry-sync once failed (${busy.code}): ${busy.stderr}`);
    const rows = await store.list();
    const healthy = rows.filter((r) => r.source.state === "healthy").length;
    if (healthy !== disks) throw new Error(`memory bench: ${healthy} of ${disks} sources became healthy`);
    for (let lun = 0; lun < disks; lun++) {
      if (
        !(await sameBytes(
          join(emu.dataDir, "vms", "prod", "mem-app", `lun${lun}`),
          join(emu.dataDir, "vms", "dr", "mem-appliance", `lun${lun}`),
          GiB,
        ))
      ) {
        throw new Error(`memory bench: staging disk ${lun} differs from its source`);
      }
    }
    return {
      bench: "memory",
      value: busy.peakMiB,
      unit: "MiB",
      reference: idle.peakMiB,
      ratio: busy.peakMiB / idle.peakMiB,
      goal: `peak RSS ≤ 256 MiB while syncing ${disks} disks at once (reference: the same process idle)`,
      ok: busy.peakMiB <= 256,
    };
  } finally {
    await azurite.close();
  }
}
