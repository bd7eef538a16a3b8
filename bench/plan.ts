import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../core/logger";
import { startAzurite } from "../local/azurite";
import { startEmulator } from "@ferry/emulator";
import { failover } from "../runbooks/failover";
import type { Operation } from "../runbooks/journal";
import { runPlan } from "../runbooks/plan";
import { enableDr } from "../runbooks/sources";
import { createLocalWorld, type Workload } from "../local/world";
import type { BenchResult } from "./report";

export interface PlanBenchOptions {
  workDir: string;
  log: (message: string) => void;
  /** Divides the `azure` profile's latencies (default 5), as the failover bench does. */
  speedup?: number;
  /** Blueprints in the plan's one group. Default 10. */
  blueprints?: number;
  /** VMs per blueprint. Default 5. */
  vms?: number;
}

/**
 * `npm run bench -- plan`: the RTO (start to the last VM created) of a plan whose one group fails over 10
 * blueprints of 5 VMs each (50 VMs, all at once), against the RTO of one blueprint of 5 VMs failed over alone, in
 * the same run, under the `azure` latency profile with ARM's throttling on. Goal: at most 1.3× (many blueprints at
 * once cost little more than one, and Azure does not throttle them into a queue).
 */
export async function runPlanBenches(options: PlanBenchOptions): Promise<BenchResult[]> {
  const speedup = options.speedup ?? 5;
  const count = options.blueprints ?? 10;
  const vms = options.vms ?? 5;
  const { workDir, log } = options;
  mkdirSync(join(workDir, "repo", "plans"), { recursive: true });
  // `throttling` is the emulator's token buckets of ARM and Compute (where this emulator has them).
  const emulatorOptions: Parameters<typeof startEmulator>[0] & { throttling?: "azure" | "off" } = {
    dataDir: join(workDir, "azure"),
    latency: "azure",
    speedup,
    throttling: "azure",
  };
  const emu = await startEmulator(emulatorOptions);
  const azurite = await startAzurite({ dataDir: join(workDir, "azurite") });
  const logger = createLogger({ name: "bench", level: "silent", env: {} });
  const world = await createLocalWorld({
    emu,
    tableConnectionString: azurite.connectionString,
    tableName: "benchPlan",
    dir: join(workDir, "ferry"),
    logger,
    pollIntervalInMs: 100,
    retry: { maxRetries: 8, retryDelayInMs: 50, maxRetryDelayInMs: 5000 },
    // One appliance syncs every staging disk: 55 OS disks need a size with 64 data disks.
    applianceVmSize: "Standard_M64s",
    // A disk in sync is not synced again within the bench: the daemon's few parallel cycles go to the backfills
    // (at 43 s, 55 healthy disks kept every cycle busy and the backfills waited behind them).
    syncIntervalSeconds: 3600,
  });
  try {
    log(`plan: building ${count + 1} blueprints of ${vms} VMs (OS disks only) and enabling DR`);
    const build = async (name: string): Promise<Workload> => {
      const w = await world.workload(name, { vms, dataLuns: [], osStrategy: "attachAsIs", dataStrategy: "attachAsIs" });
      await enableDr(world.ctx, w.stack, { prepare: "empty" });
      return w;
    };
    const single = await build("one");
    const members: Workload[] = [];
    for (let i = 0; i < count; i++) members.push(await build(`g${i}`));
    await world.syncUntil(
      async () => {
        const all = await world.ctx.store.list();
        return all.length >= (count + 1) * vms && all.every((s) => s.source.state === "healthy" && !s.source.applying);
      },
      "every disk healthy",
      undefined,
      1_800_000,
    );

    log(`plan: one blueprint of ${vms} VMs, unplanned failover`);
    const op: Operation = await world.whileSyncing(() => failover(world.ctx, single.stack, { kind: "unplanned" }));
    const one = Math.max(...op.rto.map((r) => r.vmCreatedSeconds ?? Number.POSITIVE_INFINITY));
    if (op.rto.length !== vms || !Number.isFinite(one))
      throw new Error(`the failover of ${single.stack} recovered ${op.rto.length} of ${vms} VMs`);

    const repo = join(workDir, "repo");
    writeFileSync(
      join(repo, "plans", "bench.yaml"),
      `groups:\n  - name: all\n    concurrency: ${count}\n    blueprints: [${members.map((m) => m.stack).join(", ")}]\n`,
    );
    const ctx = { ...world.ctx, config: { ...world.ctx.config, plans: { dir: join(repo, "plans"), repoDir: repo } } };
    log(`plan: ${count} blueprints of ${vms} VMs in one group, unplanned failover`);
    const { state } = await world.whileSyncing(() => runPlan(ctx, "bench", { kind: "failover-unplanned" }));
    const start = Date.parse(state.startedAt);
    let last = 0;
    let created = 0;
    for (const m of state.groups[0]!.members) {
      const mop = (await world.ctx.journal.get(m.blueprint, m.operationId!))!;
      for (const r of mop.rto) {
        created++;
        last = Math.max(last, Date.parse(mop.startedAt) + (r.vmCreatedSeconds ?? Infinity) * 1000 - start);
      }
    }
    if (created !== count * vms || !Number.isFinite(last))
      throw new Error(`the plan recovered ${created} of ${count * vms} VMs`);
    const many = last / 1000;
    log(`plan: one blueprint ${one.toFixed(2)} s; ${count} at once ${many.toFixed(2)} s (azure profile ÷ ${speedup})`);
    const ratio = many / one;
    return [
      {
        bench: `rto-plan-${count}x${vms}vm`,
        value: round(many),
        unit: "s",
        reference: round(one),
        ratio: round(ratio),
        goal: "<= 1.3",
        ok: ratio <= 1.3,
      },
    ];
  } finally {
    await world.close().catch(() => undefined);
    await emu.close().catch(() => undefined);
    await azurite.close().catch(() => undefined);
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
