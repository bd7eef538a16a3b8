import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../core/logger";
import { startAzurite } from "../local/azurite";
import { startEmulator } from "@ferry/emulator";
import { AZURE_PROFILE } from "@ferry/emulator";
import { failover } from "../runbooks/failover";
import { createLocalWorld } from "../local/world";
import type { BenchResult } from "./report";

export interface FailoverBenchOptions {
  workDir: string;
  log: (message: string) => void;
  /** Divides the `azure` profile's latencies (default 5): the reference is divided alike. */
  speedup?: number;
  /** Blueprint sizes, in VMs. Default 1 and 10. */
  sizes?: number[];
}

type Strategy = "attachAsIs" | "fromSnapshot";

/**
 * The operations a failover cannot avoid doing one after the other, per strategy, in the `azure`
 * profile: what no implementation can beat. Each counts its own request's latency too.
 * - attach-as-is: the staging disks leave the appliance (one VM update for all of them); then, in
 *   the stack update the design puts after the detach, the failback base snapshot of each disk
 *   (the longer of it and the NIC, made meanwhile) and the VM on them. (A NIC made in standby
 *   would not shorten this path: the base snapshot is longer.)
 * - from-snapshot: a snapshot of the staging disk, a disk copied from it, its failback base
 *   snapshot (the VM must not write before it), then the VM; the NIC is made meanwhile.
 */
export const CRITICAL_PATH: Record<Strategy, string[]> = {
  attachAsIs: ["VirtualMachines_Update", "Snapshots_CreateOrUpdate", "VirtualMachines_CreateOrUpdate"],
  fromSnapshot: [
    "Snapshots_CreateOrUpdate",
    "Disks_CreateOrUpdate:Copy",
    "Snapshots_CreateOrUpdate",
    "VirtualMachines_CreateOrUpdate",
  ],
};

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
  const speedup = options.speedup ?? 5;
  const sizes = options.sizes ?? [1, 10];
  const { workDir, log } = options;
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
        log(`failover: ${strategy}, ${n} VM${n === 1 ? "" : "s"}: unplanned failover`);
        const op = await world.whileSyncing(() => failover(ctx, w.stack, { kind: "unplanned" }), world.sourcesOf(w));
        const seconds = Math.max(...op.rto.map((r) => r.vmCreatedSeconds ?? Number.POSITIVE_INFINITY));
        if (op.rto.length !== n || !Number.isFinite(seconds))
          throw new Error(`the failover of ${w.stack} recovered ${op.rto.length} of ${n} VMs`);
        rto.set(n, seconds);
        const t0 = Date.parse(op.startedAt);
        log(
          `  steps: ${op.steps.map((st) => `${st.name} ${((Date.parse(st.startedAt) - t0) / 1000).toFixed(2)}+${(((st.endedAt ? Date.parse(st.endedAt) : t0) - Date.parse(st.startedAt)) / 1000).toFixed(2)} s`).join("; ")}`,
        );
        const byKind = new Map<string, number[]>();
        for (const e of op.events ?? [])
          byKind.set(`${e.resource} ${e.action}`, [...(byKind.get(`${e.resource} ${e.action}`) ?? []), e.atSeconds]);
        log(
          `  resources (first–last done, s): ${[...byKind].map(([k, v]) => `${k} ${Math.min(...v)}–${Math.max(...v)}`).join("; ")}`,
        );
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

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
