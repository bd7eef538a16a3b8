import { redactSecrets } from "../core/redact";
import type { Blueprint } from "../core/schemas/blueprint";
import { memberBlueprint } from "../core/schemas/plan";
import { isFerryError } from "../core/errors";
import { parsePointRequest } from "../core/point-choice";
import { formatResourceId, sameResourceId } from "../core/resource-id";
import { planBlueprint } from "../stacks/plan";
import { landingZone, loadBlueprint, sourceDisks } from "./blueprints";
import type { RunbookContext } from "./context";
import { DrillRecorder, type DrillSummary, type EmulatedLatency } from "./drill-report";
import { drillProvenance } from "./drill-provenance";
import { cleanup, failover } from "./failover";
import type { Operation } from "./journal";
import { withAzureFix } from "./next-step";
import { formatPrecheck, precheck } from "./precheck";
import { drillPoints } from "./recovery-points";
import { verifyAgainstPoint } from "./verify";

export interface DrillOptions {
  /**
   * `latest` (default), an ISO 8601 time or a point id: the DR-side recovery points the test failover recovers
   * (see {@link import("./failover").FailoverOptions.recoveryPoint}).
   */
  recoveryPoint?: string;
  /** Leave the test VMs up at the end (for a look inside); `ferry cleanup` removes them later. */
  keep?: boolean;
  /** Where the report goes: index.html, summary.json, drill.json. */
  reportDir?: string;
  /** Called as each step ends (the CLI prints a line). */
  onStep?: (name: string, ok: boolean, seconds: number, detail?: string) => void;
  /** Where the report's banner reads who ran the drill (the OS user, a pipeline's requester). Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** How the Azure drilled answers in time. Default: what the emulator says, when ferry.json points at one. */
  emulation?: EmulatedLatency;
}

export interface DrillResult {
  summary: DrillSummary;
  recorder: DrillRecorder;
  operation?: Operation;
}

/**
 * `ferry drill <blueprint>`: a test failover, measured and verified, then cleaned up. The precheck
 * for the test network runs first; the test failover brings every row up from snapshots of the
 * staging disks while replication goes on; each of those snapshots (what the test disks were
 * created from) is compared byte for byte with the recovery point it was taken at; cleanup puts
 * the stack back in standby. Whatever fails, the drill ends with a cleanup (unless `keep`) and a
 * report, and nothing of production is touched.
 */
export async function drill(ctx: RunbookContext, stack: string, options: DrillOptions = {}): Promise<DrillResult> {
  const { blueprint } = await loadBlueprint(ctx, stack);
  const rec = new DrillRecorder(`ferry drill ${blueprint.name}`);
  rec.blueprint = blueprint;
  // The banner's facts: a landing zone that cannot be read is the precheck's to report, not this.
  const drRegion = await landingZone(ctx).then(
    (z) => z.location,
    () => "unknown (the landing zone could not be read)",
  );
  rec.provenance = await drillProvenance(
    ctx.config.azure,
    { sourceRegions: blueprint.rows.map((r) => r.sourceRegion), drRegion },
    {
      credential: ctx.azure.credential,
      ...(options.env ? { env: options.env } : {}),
      ...(options.emulation ? { emulation: options.emulation } : {}),
    },
  );
  rec.onStepEnd = (s) =>
    options.onStep?.(s.name, s.status === "succeeded", ((s.endMs ?? s.startMs) - s.startMs) / 1000, s.detail);
  let operation: Operation | undefined;
  let started = false;
  try {
    await rec.step("drill", "precheck (test network)", async () => {
      // Judged on the points the drill recovers: a disk taken from its DR-side point is not read while it syncs.
      const chosen = await drillPoints(ctx, sourceDisks(blueprint), parsePointRequest(options.recoveryPoint));
      const r = await precheck(ctx, stack, {
        mode: "test",
        recoveryPoints: chosen.points,
        deliberatePoint: chosen.deliberate,
      });
      if (!r.passed) throw new Error(`the precheck failed:\n${formatPrecheck(r)}`);
    });
    started = true;
    operation = await rec.step("drill", "test failover", () =>
      failover(ctx, stack, { kind: "test", recoveryPoint: options.recoveryPoint ?? "latest" }).catch((e: unknown) => {
        throw withAzureFix(e);
      }),
    );
    rec.addOperation(operation, "test failover", true);
    const op = operation;
    await rec.step("drill", "verify every test disk's snapshot against its recovery point", () =>
      verifyTestDisks(ctx, rec, blueprint, op),
    );
  } catch (e) {
    rec.error = (e as Error).message;
    // The stack goes to the debug log only: the operator reads the step's FAIL line and the report.
    ctx.logger.debug({ err: e, blueprint: blueprint.name }, "drill failed");
    ctx.logger.error({ error: redactSecrets(rec.error), blueprint: blueprint.name }, "drill failed");
  } finally {
    if (started && !options.keep) {
      await rec
        .step("drill", "clean up the test failover", () => cleanup(ctx, stack))
        .catch((e: unknown) => {
          rec.error = [rec.error, `cleanup: ${(e as Error).message}`].filter(Boolean).join("; ");
        });
    }
  }
  const summary = options.reportDir ? rec.write(options.reportDir) : rec.summary();
  return { summary, recorder: rec, ...(operation ? { operation } : {}) };
}

/**
 * Compares each test disk's snapshot of a test failover (what the test disks were created from) byte for byte with
 * the recovery point it was taken at, recording each comparison; throws naming the disks that differ.
 */
async function verifyTestDisks(
  ctx: RunbookContext,
  rec: DrillRecorder,
  blueprint: Blueprint,
  op: Operation,
): Promise<void> {
  // The plan names each test disk's snapshot; the points are the ones the failover used.
  const fromDr = (op.details?.drPoints ?? {}) as Record<string, { drSnapshotId: string }>;
  const drOf = (id: string) => Object.entries(fromDr).find(([k]) => sameResourceId(k, id))?.[1]?.drSnapshotId;
  const points = Object.fromEntries(
    Object.entries(op.recoveryPoints ?? {}).map(([sourceDiskId, snapshotId]) => [
      sourceDiskId,
      {
        snapshotId,
        sourceDiskId,
        createdAt: op.startedAt,
        ...(drOf(sourceDiskId) ? { drSnapshotId: drOf(sourceDiskId) } : {}),
      },
    ]),
  );
  const zone = await landingZone(ctx);
  const plan = planBlueprint(blueprint, zone, { mode: "test", recoveryPoints: points, operationId: op.id });
  const bad: string[] = [];
  for (const row of plan.rows) {
    for (const d of [row.osDisk, ...row.dataDisks]) {
      const point = op.recoveryPoints?.[d.sourceDiskId];
      const dr = d.recoveryPoint.drSnapshotId;
      if (!point || (!d.snapshot && !dr)) continue;
      // What the test disk was created from: its DR-side point, or the snapshot the failover took.
      const snapshotId =
        dr ??
        formatResourceId({
          subscriptionId: zone.subscriptionId,
          resourceGroup: zone.resourceGroupName,
          provider: "Microsoft.Compute",
          type: "snapshots",
          name: d.snapshot!.name,
        });
      const through = dr ? `DR-side point ${dr.split("/").pop()}` : d.snapshot!.name;
      let r: Awaited<ReturnType<typeof verifyAgainstPoint>>;
      try {
        r = await verifyAgainstPoint(ctx, { snapshotId }, point);
      } catch (e) {
        // An older point's source snapshot is gone from the primary region (the sync deletes each after the
        // next apply): its DR-side point is the only copy, and there is nothing to compare it with.
        if (!(dr && isFerryError(e) && e.code === "SnapshotGone")) throw e;
        ctx.logger.info({ row: row.row, point, drSnapshotId: dr }, "not verified: the source point is gone");
        continue;
      }
      const disk = d.role === "os" ? "OS" : `LUN ${d.lun}`;
      rec.verifications.push({
        failover: "test",
        row: row.row,
        vm: row.vmName,
        disk,
        strategy: d.strategy,
        recoveryPoint: point,
        ...r,
        note: `compared through ${through}`,
      });
      if (!r.ok) bad.push(`${row.row} ${disk}: ${through} differs from ${point} at byte ${r.firstDifferenceAt}`);
    }
  }
  if (bad.length) throw new Error(bad.join("; "));
}

/**
 * `ferry drill --plan <plan>`: the plan's precheck for the test network, its test failover group after group
 * (gates and hooks as in a failover, with kind `test`), each blueprint's test disks verified byte for byte, then
 * the plan's cleanup (groups in reverse order). The report shows the groups on the timeline with their gates and
 * hooks, each hook's exit status and duration, and the RTO per group and for the plan.
 */
export async function drillPlan(ctx: RunbookContext, name: string, options: DrillOptions = {}): Promise<DrillResult> {
  const { loadPlan, runPlan, latestPlanRun } = await import("./plan");
  const { precheckPlan, formatPlanPrecheck } = await import("./plan-precheck");
  const loaded = loadPlan(ctx, name);
  const rec = new DrillRecorder(`ferry drill --plan ${name}`);
  const blueprints = new Map<string, Blueprint>();
  for (const g of loaded.plan.groups)
    for (const m of g.blueprints) {
      const stack = memberBlueprint(m);
      blueprints.set(stack, (await loadBlueprint(ctx, stack)).blueprint);
    }
  const drRegion = await landingZone(ctx).then(
    (z) => z.location,
    () => "unknown (the landing zone could not be read)",
  );
  rec.provenance = await drillProvenance(
    ctx.config.azure,
    {
      sourceRegions: [...new Set([...blueprints.values()].flatMap((b) => b.rows.map((r) => r.sourceRegion)))],
      drRegion,
    },
    { ...(options.env ? { env: options.env } : {}), ...(options.emulation ? { emulation: options.emulation } : {}) },
  );
  rec.onStepEnd = (s) =>
    options.onStep?.(s.name, s.status === "succeeded", ((s.endMs ?? s.startMs) - s.startMs) / 1000, s.detail);
  let started = false;
  try {
    await rec.step("drill", `precheck of plan ${name} (test network)`, async () => {
      const r = await precheckPlan(ctx, name, { mode: "test" });
      if (!r.passed) throw new Error(`the precheck failed:\n${formatPlanPrecheck(r)}`);
    });
    started = true;
    const run = await rec
      .step("drill", `test failover by plan ${name}`, () => runPlan(ctx, name, { kind: "failover-test" }))
      .catch(async (e: unknown) => {
        const latest = await latestPlanRun(ctx, name).catch(() => undefined);
        if (latest?.state.kind === "failover-test") rec.addPlan(latest.state);
        throw withAzureFix(e);
      });
    rec.addPlan(run.state);
    for (const g of run.state.groups)
      for (const m of g.members) {
        const op = m.operationId ? await ctx.journal.get(m.blueprint, m.operationId) : undefined;
        if (!op) continue;
        rec.addOperation(op, `${m.blueprint} test failover`, true);
        await rec.step("drill", `verify the test disks of ${m.blueprint}`, () =>
          verifyTestDisks(ctx, rec, blueprints.get(m.blueprint)!, op),
        );
      }
  } catch (e) {
    rec.error = (e as Error).message;
    ctx.logger.debug({ err: e, plan: name }, "drill failed");
    ctx.logger.error({ error: redactSecrets(rec.error), plan: name }, "drill failed");
  } finally {
    if (started && !options.keep) {
      await rec
        .step("drill", `clean up the test failover of plan ${name}`, () => runPlan(ctx, name, { kind: "cleanup" }))
        .catch((e: unknown) => {
          rec.error = [rec.error, `cleanup: ${(e as Error).message}`].filter(Boolean).join("; ");
        });
    }
  }
  const summary = options.reportDir ? rec.write(options.reportDir) : rec.summary();
  return { summary, recorder: rec };
}
