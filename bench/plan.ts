import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createLogger } from "../core/logger";
import { startAzurite } from "../local/azurite";
import { startEmulator } from "@ferry/emulator";
import { failover } from "../runbooks/failover";
import { daemonTickInMs } from "./failover";
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
  // `throttling`: the emulator's token buckets of ARM and Compute, as Azure's (refills times the speed-up).
  const emu = await startEmulator({ dataDir: join(workDir, "azure"), latency: "azure", speedup, throttling: "azure" });
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

    // Fair both ways: both runs fail over with the daemon ticking over every source (no filter) at its own pace
    // (its default tick, sped up as the profile is: see daemonTickInMs), the other
    // blueprints' sources idle at their applied points in both; both RTOs count from the start of what the operator
    // ran (the failover, the plan) to its last VM created; the throttling buckets are the same emulator's, refilled
    // between the runs (the reference's 65 requests are a fraction of one bucket). Checked with the step and traffic
    // breakdown below: no 429 in either run, and the same ARM requests per VM.
    log(`plan: one blueprint of ${vms} VMs, unplanned failover`);
    const oneWindow = traffic(emu);
    const op: Operation = await world.whileSyncing(
      () => failover(world.ctx, single.stack, { kind: "unplanned" }),
      undefined,
      daemonTickInMs(speedup),
    );
    const oneTraffic = oneWindow.end();
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
    const manyWindow = traffic(emu);
    const { state } = await world.whileSyncing(
      () => runPlan(ctx, "bench", { kind: "failover-unplanned" }),
      undefined,
      daemonTickInMs(speedup),
    );
    const manyTraffic = manyWindow.end();
    const start = Date.parse(state.startedAt);
    let last = 0;
    let created = 0;
    const memberOps: Operation[] = [];
    for (const m of state.groups[0]!.members) {
      const mop = (await world.ctx.journal.get(m.blueprint, m.operationId!))!;
      memberOps.push(mop);
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
    // Where the time went: each step of the one blueprint's failover against the slowest of the plan's, and what
    // each run asked of Azure (per VM) and how often Azure said 429.
    for (const line of stepBreakdown(op, memberOps, start)) log(`plan:   ${line}`);
    log(`plan: one blueprint: ${describeTraffic(oneTraffic, vms)}`);
    log(`plan: ${count} at once: ${describeTraffic(manyTraffic, count * vms)}`);
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

/** The steps of the single failover and, per step name, the slowest of the plan's (seconds, and where it began). */
function stepBreakdown(one: Operation, many: Operation[], planStart: number): string[] {
  const seconds = (s: { startedAt: string; endedAt?: string }) =>
    ((s.endedAt ? Date.parse(s.endedAt) : Date.now()) - Date.parse(s.startedAt)) / 1000;
  const lines = [`${"step".padEnd(58)} one (s)  plan slowest (s, began at)`];
  const firstStart = Math.min(...many.map((m) => Date.parse(m.startedAt)));
  lines.push(
    `${"operation started after the plan began".padEnd(58)} ${"0".padStart(7)}  ` +
      `${((firstStart - planStart) / 1000).toFixed(2)} .. ` +
      `${((Math.max(...many.map((m) => Date.parse(m.startedAt))) - planStart) / 1000).toFixed(2)}`,
  );
  for (const step of one.steps) {
    const theirs = many.flatMap((m) => m.steps.filter((s) => s.name === step.name && s.row === step.row));
    const slowest = theirs.reduce<(typeof theirs)[number] | undefined>(
      (a, b) => (a && seconds(a) >= seconds(b) ? a : b),
      undefined,
    );
    const name = `${step.name}${step.row ? ` (${step.row})` : ""}`.slice(0, 58).padEnd(58);
    lines.push(
      `${name} ${seconds(step).toFixed(2).padStart(7)}  ` +
        (slowest
          ? `${seconds(slowest).toFixed(2)} at ${((Date.parse(slowest.startedAt) - planStart) / 1000).toFixed(2)}`
          : "—"),
    );
  }
  return lines;
}

interface Traffic {
  requests: number;
  byAgent: Record<string, number>;
  byOperation: Record<string, number>;
  throttled: number;
  throttledByBucket: Record<string, number>;
  /** The emulator's request log dropped some of the window's requests (it keeps the last 20,000). */
  truncated: boolean;
  /** CPU time of this process (ferry, the in-process emulator and daemon) over the window's wall time. */
  cpuShare: number;
  /** The event loop's delay, 99th percentile and most, in milliseconds: how long a ready callback waited. */
  loopDelayP99InMs: number;
  loopDelayMaxInMs: number;
}

/** Counts the ARM requests the emulator serves from now until `end()`, and its 429s. */
function traffic(emu: Awaited<ReturnType<typeof startEmulator>>): { end(): Traffic } {
  const from = emu.requests.length;
  const first = emu.requests.at(-1);
  const before = emu.throttling.stats();
  const cpu = process.cpuUsage();
  const wallStart = performance.now();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  return {
    end() {
      loop.disable();
      const used = process.cpuUsage(cpu);
      const all = emu.requests;
      // The log is a window of the last 20,000: find where this one began.
      const at = first ? all.lastIndexOf(first) : 0;
      const mine = all.slice(first ? at + 1 : from).filter((r) => r.plane === "arm");
      const after = emu.throttling.stats();
      const byAgent: Record<string, number> = {};
      const byOperation: Record<string, number> = {};
      for (const r of mine) {
        const agent = r.userAgent.split(/[\s/]/)[0] || "?";
        byAgent[agent] = (byAgent[agent] ?? 0) + 1;
        byOperation[r.operationId] = (byOperation[r.operationId] ?? 0) + 1;
      }
      const throttledByBucket: Record<string, number> = {};
      for (const [k, v] of Object.entries(after.byBucket)) {
        const d = v - (before.byBucket[k] ?? 0);
        if (d) throttledByBucket[k] = d;
      }
      return {
        requests: mine.length,
        byAgent,
        byOperation,
        throttled: after.throttled - before.throttled,
        throttledByBucket,
        truncated: first !== undefined && at < 0,
        cpuShare: (used.user + used.system) / 1000 / (performance.now() - wallStart),
        loopDelayP99InMs: loop.percentile(99) / 1e6,
        loopDelayMaxInMs: loop.max / 1e6,
      };
    },
  };
}

function describeTraffic(t: Traffic, vms: number): string {
  const top = Object.entries(t.byOperation)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([k, v]) => `${k} ${(v / vms).toFixed(1)}`)
    .join(", ");
  return (
    `${t.requests} ARM requests (${(t.requests / vms).toFixed(1)} per VM${t.truncated ? ", log truncated" : ""}; ` +
    `by agent ${JSON.stringify(t.byAgent)}); per VM: ${top}; 429s: ${t.throttled} ${JSON.stringify(t.throttledByBucket)}; ` +
    `CPU ${(t.cpuShare * 100).toFixed(0)}% of a core; event-loop delay p99 ${t.loopDelayP99InMs.toFixed(0)} ms, ` +
    `max ${t.loopDelayMaxInMs.toFixed(0)} ms`
  );
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
