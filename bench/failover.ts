import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../core/logger";
import { startAzurite } from "../local/azurite";
import { startEmulator } from "@ferry/emulator";
import { AZURE_PROFILE } from "@ferry/emulator";
import { failover } from "../runbooks/failover";
import { daemonPoints } from "../local/dr-points";
import { SyncConfigSchema } from "../sync/config";
import { createLocalWorld, type Workload } from "../local/world";
import type { Operation } from "../runbooks/journal";
import type { BenchResult } from "./report";

export interface FailoverBenchOptions {
  workDir: string;
  log: (message: string) => void;
  /** Divides the `azure` profile's latencies (default 5): the reference is divided alike. */
  speedup?: number;
  /** Blueprint sizes, in VMs. Default 1 and 10. */
  sizes?: number[];
  /**
   * Also measure the absolute RTO at speed-up 1 of one VM with a 30 GiB OS disk and a 4 GiB data disk per strategy,
   * beside XReplicator's figures. Default true.
   */
  absolute?: boolean;
}

type Strategy = "attachAsIs" | "fromSnapshot";

/**
 * The operations a failover cannot avoid doing one after the other, per strategy, in the `azure`
 * profile: what no implementation can beat. Each counts its own request's latency too. Every disk
 * has a DR-side recovery point (the daemon takes one after each apply), so no snapshot of a staging
 * disk is taken at failover time.
 * - attach-as-is: the staging disks leave the appliance (one attachDetachDataDisks call for all of them), then the VM
 *   on them; the DR-side point of each is its failback base already. The NIC is made meanwhile.
 * - from-snapshot: a disk copied from the DR-side point, its failback base snapshot (a new disk opens
 *   its own family; the VM must not write before it), then the VM; the NIC is made meanwhile.
 */
export const CRITICAL_PATH: Record<Strategy, string[]> = {
  attachAsIs: ["VirtualMachines_AttachDetachDataDisks", "VirtualMachines_CreateOrUpdate"],
  fromSnapshot: ["Disks_CreateOrUpdate:Copy", "Snapshots_CreateOrUpdate", "VirtualMachines_CreateOrUpdate"],
};

/** XReplicator's measured failover of one VM with a 30 GB OS disk and a 4 GB data disk, in seconds (AZURE-FACTS). */
export const XREPLICATOR_SECONDS: Record<Strategy, number> = { attachAsIs: 40, fromSnapshot: 70 };

export function criticalPathSeconds(strategy: Strategy, speedup: number): number {
  const ms = CRITICAL_PATH[strategy].reduce(
    (sum, op) => sum + (AZURE_PROFILE.operationsInMs[op] ?? 0) + AZURE_PROFILE.armRequestInMs,
    0,
  );
  return ms / speedup / 1000;
}

/**
 * `npm run bench -- failover`: the RTO of an unplanned failover (from its start to the last VM
 * created) against the critical path of the `azure` profile, for 1 and for 10 VMs in one
 * blueprint, per strategy; and how the RTO grows from 1 to 10 VMs. The sync daemon runs throughout,
 * as on an appliance.
 */
export async function runFailoverBenches(options: FailoverBenchOptions): Promise<BenchResult[]> {
  const results = await runScaled(options);
  if (options.absolute ?? true) results.push(...(await runAbsolute(options)));
  return results;
}

/** The RTO per strategy for 1 and for 10 VMs, against the critical path, at the speed-up asked. */
async function runScaled(options: FailoverBenchOptions): Promise<BenchResult[]> {
  const speedup = options.speedup ?? 5;
  const sizes = options.sizes ?? [1, 10];
  const { log } = options;
  const workDir = join(options.workDir, "scaled");
  mkdirSync(workDir, { recursive: true });
  const emu = await startEmulator({ dataDir: join(workDir, "azure"), latency: "azure", speedup });
  const azurite = await startAzurite({ dataDir: join(workDir, "azurite") });
  const logger = createLogger({ name: "bench", level: "silent", env: {} });
  const world = await createLocalWorld({
    emu,
    tableConnectionString: azurite.connectionString,
    tableName: "benchFailover",
    dir: join(workDir, "ferry"),
    logger,
    // Azure's pace sped up: ferry's 2 s default poll would be 400 ms at 5×; 100 ms keeps polling
    // off the measure without flooding the one process that also serves the emulator.
    pollIntervalInMs: 100,
    retry: { maxRetries: 5, retryDelayInMs: 50, maxRetryDelayInMs: 1000 },
  });
  const results: BenchResult[] = [];
  try {
    for (const strategy of ["attachAsIs", "fromSnapshot"] as const) {
      const rto = new Map<number, number>();
      const reference = criticalPathSeconds(strategy, speedup);
      for (const n of sizes) {
        const name = `${strategy === "attachAsIs" ? "aa" : "fs"}${n}`;
        log(`failover: ${strategy}, ${n} VM${n === 1 ? "" : "s"}: building the primary VMs and enabling DR`);
        const w = await world.workload(name, { vms: n, osStrategy: strategy, dataStrategy: strategy, dataLuns: [0] });
        const ctx = world.ctx;
        await world.protect(w, 600_000);
        // The DR-side points the daemon took after the last apply.
        await daemonPoints(ctx, disksOf(w));
        log(`failover: ${strategy}, ${n} VM${n === 1 ? "" : "s"}: unplanned failover`);
        const op = await world.whileSyncing(
          () => failover(ctx, w.stack, { kind: "unplanned" }),
          world.sourcesOf(w),
          daemonTickInMs(speedup),
        );
        const seconds = Math.max(...op.rto.map((r) => r.vmCreatedSeconds ?? Number.POSITIVE_INFINITY));
        if (op.rto.length !== n || !Number.isFinite(seconds))
          throw new Error(`the failover of ${w.stack} recovered ${op.rto.length} of ${n} VMs`);
        rto.set(n, seconds);
        logBreakdown(log, op);
        const ratio = seconds / reference;
        results.push({
          bench: `rto-${strategy}-${n}vm`,
          value: round(seconds),
          unit: "s",
          reference: round(reference),
          ratio: round(ratio),
          goal: "<= 1.1",
          ok: ratio <= 1.1,
        });
      }
      const one = rto.get(sizes[0]!);
      const many = rto.get(sizes[sizes.length - 1]!);
      if (sizes.length > 1 && one && many) {
        const ratio = many / one;
        results.push({
          bench: `rto-scaling-${strategy}`,
          value: round(many),
          unit: "s",
          reference: round(one),
          ratio: round(ratio),
          goal: "<= 1.2",
          ok: ratio <= 1.2,
        });
      }
    }
    log(
      `failover: the azure profile sped up ${speedup}×; reference = critical path (${Object.entries(CRITICAL_PATH)
        .map(([s, ops]) => `${s}: ${ops.join(" → ")}`)
        .join("; ")})`,
    );
    return results;
  } finally {
    await world.close().catch(() => undefined);
    await emu.close().catch(() => undefined);
    await azurite.close().catch(() => undefined);
  }
}

/**
 * The RTO of one VM with a 30 GiB OS disk and a 4 GiB data disk, per strategy, in the `azure` profile at speed-up 1:
 * seconds as Azure would take them, beside XReplicator's measured figures.
 */
async function runAbsolute(options: FailoverBenchOptions): Promise<BenchResult[]> {
  const { log } = options;
  const workDir = join(options.workDir, "absolute");
  mkdirSync(workDir, { recursive: true });
  const emu = await startEmulator({ dataDir: join(workDir, "azure"), latency: "azure", speedup: 1 });
  const azurite = await startAzurite({ dataDir: join(workDir, "azurite") });
  const logger = createLogger({ name: "bench", level: "silent", env: {} });
  const world = await createLocalWorld({
    emu,
    tableConnectionString: azurite.connectionString,
    tableName: "benchFailoverAbs",
    dir: join(workDir, "ferry"),
    logger,
    pollIntervalInMs: 500,
    retry: { maxRetries: 5, retryDelayInMs: 200, maxRetryDelayInMs: 5000 },
  });
  const results: BenchResult[] = [];
  try {
    for (const strategy of ["attachAsIs", "fromSnapshot"] as const) {
      const name = strategy === "attachAsIs" ? "abs-aa" : "abs-fs";
      log(`failover (speed-up 1): ${strategy}, one VM, 30 GiB OS + 4 GiB data: building and enabling DR`);
      const w = await world.workload(name, {
        osStrategy: strategy,
        dataStrategy: strategy,
        dataLuns: [0],
        osDiskSizeGiB: 30,
        dataDiskSizeGiB: 4,
      });
      await world.protect(w, 1_200_000);
      await daemonPoints(world.ctx, disksOf(w));
      log(`failover (speed-up 1): ${strategy}: unplanned failover`);
      const op = await world.whileSyncing(
        () => failover(world.ctx, w.stack, { kind: "unplanned" }),
        world.sourcesOf(w),
        daemonTickInMs(1),
      );
      const seconds = op.rto[0]?.vmCreatedSeconds;
      if (seconds === undefined) throw new Error(`the failover of ${w.stack} recovered no VM`);
      logBreakdown(log, op);
      const reference = XREPLICATOR_SECONDS[strategy];
      log(
        `  ${strategy}: RTO ${seconds} s (critical path ${round(criticalPathSeconds(strategy, 1))} s; ` +
          `XReplicator ${strategy === "attachAsIs" ? "< 40" : "~70"} s)`,
      );
      results.push({
        bench: `rto-azure-30+4gib-${strategy}`,
        value: round(seconds),
        unit: "s",
        reference,
        ratio: round(seconds / reference),
        goal: "<= 1 (XReplicator)",
        ok: seconds <= reference,
      });
    }
    return results;
  } finally {
    await world.close().catch(() => undefined);
    await emu.close().catch(() => undefined);
    await azurite.close().catch(() => undefined);
  }
}

/** Where the seconds of a failover went: its steps, the time before its `up`, and its resources as they were done. */
function logBreakdown(log: (message: string) => void, op: Operation): void {
  const t0 = Date.parse(op.startedAt);
  // What the reference has no part of: the time before the `up` (the detach of attach-as-is rows runs beside it).
  const up = op.steps.find((st) => st.name.startsWith("pulumi up"));
  const detach = op.steps.find((st) => st.name.startsWith("detach"));
  const spanOf = (st: (typeof op.steps)[number] | undefined) =>
    st?.endedAt ? (Date.parse(st.endedAt) - Date.parse(st.startedAt)) / 1000 : 0;
  const at = (st: (typeof op.steps)[number]) => ((Date.parse(st.startedAt) - t0) / 1000).toFixed(2);
  if (up)
    log(
      `  before the up: ${at(up)} s` +
        (detach ? `; the detach beside it ${at(detach)}–${(Number(at(detach)) + spanOf(detach)).toFixed(2)} s` : ""),
    );
  log(`  steps: ${op.steps.map((st) => `${st.name} ${at(st)}+${spanOf(st).toFixed(2)} s`).join("; ")}`);
  const byKind = new Map<string, number[]>();
  for (const e of op.events ?? [])
    byKind.set(`${e.resource} ${e.action}`, [...(byKind.get(`${e.resource} ${e.action}`) ?? []), e.atSeconds]);
  const spans = [...byKind].map(([k, v]) => `${k} ${Math.min(...v)}–${Math.max(...v)}`);
  log(`  resources (first–last done, s): ${spans.join("; ")}`);
}

/**
 * The daemon's pace during a measured failover: its own default tick (`sync.tickSeconds`, 5 s), sped up as the
 * profile is. The daemon runs on the appliance, not where the runbook runs; here it shares the process, and the
 * local world's test pace (a tick every 20 ms, each reading every source row) would charge the failover with CPU
 * the real daemon never spends.
 */
export function daemonTickInMs(speedup: number): number {
  return (SyncConfigSchema.shape.sync.parse({}).tickSeconds * 1000) / speedup;
}

/** Every source disk of a workload's VMs. */
function disksOf(w: Workload): string[] {
  return w.vms.flatMap((v) => [v.osDiskId, ...v.dataDiskIds.values()]);
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
