import { existsSync, readdirSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { FerryError, isUserError, unlessNotFound, UserError } from "../core/errors";
import { parseResourceId } from "../core/resource-id";
import type { BlueprintRow } from "../core/schemas/blueprint";
import {
  memberBlueprint,
  memberRows,
  planHooks,
  RecoveryPlanSchema,
  type PlanGroup,
  type PlanHook,
  type RecoveryPlan,
} from "../core/schemas/plan";
import { parseWith } from "../core/validate";
import { readYamlFile } from "../stacks/config";
import { recoveredNicName, recoveredVmName } from "../stacks/plan";
import { landingZone, loadBlueprint } from "./blueprints";
import type { RunbookContext } from "./context";
import { checkHook, hookAzureFor, runHook, type HookContext, type HookOperationKind, type HookVm } from "./hooks";
import type { Operation } from "./journal";
import { withNextStep } from "./next-step";
import {
  awaitingGroup,
  continuePlanRun,
  newPlanRun,
  reversed,
  unfinished,
  type ApprovalRecord,
  type GroupRecord,
  type HookRecord,
  type MemberRecord,
  type PlanOperationKind,
  type PlanRunState,
} from "./plan-state";
import { waitUntilReady } from "./readiness";

/** A plan file, parsed. */
export interface LoadedPlan {
  name: string;
  path: string;
  plan: RecoveryPlan;
}

/** The state-store partition of a plan's operations and lease: no blueprint name has a colon. */
export function planPartition(name: string): string {
  return `plan:${name}`;
}

const planName = /^[A-Za-z0-9][\w.-]*$/;

/** Reads and validates `plans/<name>.yaml` (or .yml, .json); every problem names its key and the fix. */
export function loadPlan(ctx: Pick<RunbookContext, "config">, name: string): LoadedPlan {
  const dir = ctx.config.plans.dir;
  const known = () =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => /\.(ya?ml|json)$/.test(f))
          .map((f) => f.replace(/\.(ya?ml|json)$/, ""))
      : [];
  const path = planName.test(name)
    ? [".yaml", ".yml", ".json"].map((ext) => join(dir, `${name}${ext}`)).find((p) => existsSync(p))
    : undefined;
  if (!path) {
    const list = known();
    throw new UserError(
      `There is no plan ${name} in ${dir}/. ${list.length ? `The plans there: ${list.join(", ")}.` : "It has no plan."} ` +
        "A plan is a file plans/<name>.yaml (see README, Recovery plans).",
      { code: "UnknownPlan", details: { known: list } },
    );
  }
  return {
    name,
    path,
    plan: parseWith(RecoveryPlanSchema, readYamlFile(path), { what: `plan ${name} (${path})` }),
  };
}

/** Options for {@link checkPlan}. */
export interface CheckPlanOptions {
  /** Check that every hook script is there and parses. Default true. */
  hooks?: boolean;
}

/**
 * What the stack files and the repository say against a plan: each blueprint a blueprint stack, each row one of
 * its rows, a readiness gate only on rows that define that readiness, each hook present and parseable. Returns the
 * problems, each `<key>: <what is wrong>. <what to do>`; empty when the plan can run.
 */
export async function checkPlan(
  ctx: RunbookContext,
  loaded: LoadedPlan,
  options: CheckPlanOptions = {},
): Promise<string[]> {
  const problems: string[] = [];
  for (const [i, g] of loaded.plan.groups.entries()) {
    for (const [j, m] of g.blueprints.entries()) {
      const key = `groups[${i}].blueprints[${j}]`;
      const stack = memberBlueprint(m);
      let rows: BlueprintRow[];
      try {
        rows = (await loadBlueprint(ctx, stack)).blueprint.rows;
      } catch (e) {
        if (!isUserError(e)) throw e;
        problems.push(`${key}: ${e.message}`);
        continue;
      }
      const names = rows.map((r) => r.name);
      for (const r of memberRows(m) ?? [])
        if (!names.includes(r))
          problems.push(
            `${key}.rows: ${r} is not a row of blueprint ${stack} (its rows: ${names.join(", ")}). Name one of them.`,
          );
      const gate = g.gate?.kind;
      if (gate === "osReady" || gate === "appReady") {
        const field = gate === "osReady" ? "os" : "app";
        for (const r of rowsOf(rows, memberRows(m)))
          if (!r.readiness?.[field])
            problems.push(
              `groups[${i}].gate: ${gate} waits for row ${r.name} of blueprint ${stack}, whose readiness has no ` +
                `${field} check. Add readiness.${field} to the row in its stack file, or use another gate.`,
            );
      }
    }
  }
  if (options.hooks ?? true) {
    const repo = resolve(ctx.config.plans.repoDir);
    for (const h of planHooks(loaded.plan))
      for (const p of await checkHook(h.hook, repo))
        problems.push(`group ${h.group}, ${h.when} hook ${h.hook.script}: ${p}. Fix the script or the plan.`);
  }
  return problems;
}

/** {@link checkPlan}, refusing a plan with problems (exit 2, nothing run). */
export async function assertPlanRuns(ctx: RunbookContext, loaded: LoadedPlan): Promise<void> {
  const problems = await checkPlan(ctx, loaded);
  if (problems.length)
    throw new UserError(
      `Plan ${loaded.name} (${loaded.path}) cannot run (${problems.length} problem${problems.length === 1 ? "" : "s"}):` +
        `\n  ${problems.join("\n  ")}`,
      { code: "InvalidPlan", details: { problems } },
    );
}

/** Options for {@link runPlan}. */
export interface RunPlanOptions {
  kind: PlanOperationKind;
  /** A resume: approves the group awaiting approval, recorded with this person. Default: none (nothing approved). */
  approvedBy?: string;
  /** Passed to each blueprint's failover (see FailoverOptions.acceptOlderPoint). Default false. */
  acceptOlderPoint?: boolean;
}

/** The outcome of a plan run: its state, and the plan operation of this run. */
export interface PlanRunResult {
  state: PlanRunState;
  op: Operation;
}

const hookKind: Record<PlanOperationKind, HookOperationKind | undefined> = {
  "failover-planned": "planned",
  "failover-unplanned": "unplanned",
  "failover-test": "test",
  "failback-complete": "failback",
  cleanup: undefined,
};

/**
 * Runs a recovery plan: its groups in order (reversed on the way home), each group's blueprints in parallel (at
 * most `concurrency` at once, each its own operation under its own lease), then the group's gate, its `after`
 * hooks and its manual step; the next group starts only once the gate passed. The plan's own operation (its lease
 * keeps two runs of one plan apart, on any host) records every group, hook and gate with timings. A failure stops
 * the plan; the same command continues it (groups recovered stay so; blueprints that got through are not run
 * again), as does `ferry plan resume`, which also approves a manual step.
 */
export async function runPlan(ctx: RunbookContext, name: string, options: RunPlanOptions): Promise<PlanRunResult> {
  const loaded = loadPlan(ctx, name);
  await assertPlanRuns(ctx, loaded);
  const { plan } = loaded;
  const kind = options.kind;
  const ordered = reversed(kind) ? [...plan.groups].reverse() : plan.groups;
  const op = await ctx.journal.start(`plan-${kind}`, planPartition(name));
  const log = ctx.logger.child({ plan: name, operation: op.id, kind });
  let state: PlanRunState | undefined;
  try {
    const previous = (await ctx.journal.list(planPartition(name))).find((o) => o.id !== op.id && o.details?.plan);
    const before = previous?.details?.plan as PlanRunState | undefined;
    const waiting = before?.kind === kind ? awaitingGroup(before) : undefined;
    if (waiting && options.approvedBy === undefined)
      throw new UserError(
        `Plan ${name} waits for approval after group ${waiting.name}: "${waiting.awaiting ?? ""}". ` +
          `Once that is done, run \`ferry plan resume ${name}\` (or approve the pipeline's stage).`,
        { code: "AwaitingApproval" },
      );
    const approval: ApprovalRecord | undefined =
      waiting && options.approvedBy !== undefined
        ? { by: options.approvedBy, host: op.host ?? hostname(), at: ctx.now().toISOString(), message: "" }
        : undefined;
    const fresh = newPlanRun(
      name,
      kind,
      ordered.map((g) => ({ name: g.name, blueprints: g.blueprints.map(memberBlueprint) })),
      op.id,
      ctx.now().toISOString(),
    );
    const run = continuePlanRun(before, fresh, op.id, approval);
    state = run;
    if (run !== fresh) op.details = { ...op.details, resumes: previous!.id };
    if (approval) log.info({ group: waiting!.name, approvedBy: approval.by }, `approved: ${waiting!.awaiting ?? ""}`);
    // A group's blueprints start together, each recorded running first: their writes of the plan's record are
    // coalesced, so that the last to start waits for two writes, not for one per blueprint before it.
    const save = coalesced(async () => {
      op.details = { ...op.details, plan: run };
      op.phase = run.phase;
      await ctx.journal.save(op);
    });
    await save();
    const planStart = Date.parse(run.startedAt);
    for (const [index, group] of ordered.entries()) {
      const rec = run.groups[index]!;
      if (rec.status === "succeeded") continue;
      const glog = log.child({ group: group.name });
      const last = index === ordered.length - 1;
      rec.status = "running";
      rec.startedAt ??= ctx.now().toISOString();
      await save();
      const hooksFor = (when: "before" | "after") =>
        hookKind[kind] === undefined ? [] : group[when].map((h) => ({ when, hook: h }));
      for (const { when, hook } of hooksFor("before"))
        await hookStep(ctx, loaded, run, rec, group, kind, when, hook, glog, save);
      await runMembers(ctx, group, rec, kind, options, glog, save);
      await gateStep(ctx, loaded, run, rec, group, kind, glog, save);
      rec.recoveredAt = ctx.now().toISOString();
      rec.rtoSeconds = Math.round((Date.parse(rec.recoveredAt) - planStart) / 100) / 10;
      for (const { when, hook } of hooksFor("after"))
        await hookStep(ctx, loaded, run, rec, group, kind, when, hook, glog, save);
      rec.endedAt = ctx.now().toISOString();
      glog.info({ rtoSeconds: rec.rtoSeconds }, `group ${group.name}: recovered`);
      if (group.manualStep && !last && kind !== "cleanup") {
        rec.status = "awaitingApproval";
        rec.awaiting = group.manualStep.message;
        run.phase = "awaitingApproval";
        await save();
        glog.warn(
          { message: group.manualStep.message },
          `plan ${name} stops for approval after group ${group.name}: ${group.manualStep.message}. ` +
            `Run \`ferry plan resume ${name}\` once it is done.`,
        );
        // Neither done nor failed: the operation waits for a person, and `ferry plan resume` goes on.
        await ctx.journal.end(op, "waiting");
        return { state: run, op };
      }
      rec.status = "succeeded";
      await save();
    }
    run.phase = "succeeded";
    run.rtoSeconds = Math.max(0, ...run.groups.map((g) => g.rtoSeconds ?? 0));
    op.details = { ...op.details, plan: run };
    op.phase = run.phase;
    await ctx.journal.end(op, "succeeded");
    log.info({ rtoSeconds: run.rtoSeconds }, `plan ${name}: every group recovered`);
    return { state: run, op };
  } catch (e) {
    if (state) {
      state.phase = "failed";
      for (const g of state.groups) if (g.status === "running") g.status = "failed";
      op.details = { ...op.details, plan: state };
      op.phase = state.phase;
    }
    await ctx.journal.end(op, "failed", e);
    log.error({ error: (e as Error).message }, `plan ${name} stopped`);
    throw withNextStep(
      e,
      state
        ? `Plan ${name} stopped and is recorded: fix the cause, then run \`ferry plan resume ${name}\` ` +
            "(or the same command again): it continues with the group that stopped."
        : `Nothing of plan ${name} was run.`,
      "PlanFailed",
    );
  }
}

/**
 * `write` wrapped so that calls while a write is under way share one more write, started once that one ends: each
 * call resolves after a write that began after it (and so holds what the caller changed before calling).
 */
export function coalesced(write: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const start = () => {
    running = write().finally(() => {
      running = undefined;
    });
    return running;
  };
  return () => {
    if (queued) return queued;
    if (!running) return start();
    queued = running
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return start();
      });
    return queued;
  };
}

/** Options for {@link resumePlan}. */
export interface ResumePlanOptions {
  /** Who approves a manual step the plan waits at. Default: the OS user at this host. */
  approvedBy?: string;
}

/** `ferry plan resume`: continues the plan's latest unfinished run (approving a manual step it waits at). */
export async function resumePlan(
  ctx: RunbookContext,
  name: string,
  options: ResumePlanOptions = {},
): Promise<PlanRunResult> {
  const latest = await latestPlanRun(ctx, name);
  if (!unfinished(latest?.state))
    throw new UserError(
      `Plan ${name} has nothing to resume: ${latest ? `its last run (${latest.op.id}) succeeded` : "it never ran"}. ` +
        `Start one with \`ferry failover --plan ${name}\`.`,
      { code: "NothingToResume" },
    );
  return runPlan(ctx, name, {
    kind: latest!.state.kind,
    approvedBy: options.approvedBy ?? `${userInfo().username}@${hostname()}`,
  });
}

/** The plan's latest run (from the state store), if any. */
export async function latestPlanRun(
  ctx: RunbookContext,
  name: string,
): Promise<{ op: Operation; state: PlanRunState } | undefined> {
  const op = (await ctx.journal.list(planPartition(name))).find((o) => o.details?.plan);
  return op ? { op, state: op.details!.plan as PlanRunState } : undefined;
}

async function runMembers(
  ctx: RunbookContext,
  group: PlanGroup,
  rec: GroupRecord,
  kind: PlanOperationKind,
  options: RunPlanOptions,
  log: RunbookContext["logger"],
  save: () => Promise<void>,
): Promise<void> {
  const todo = rec.members.filter((m) => m.status !== "succeeded");
  const failures: MemberRecord[] = [];
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const m = todo[next++]!;
      m.status = "running";
      m.startedAt = ctx.now().toISOString();
      delete m.error;
      await save();
      try {
        m.operationId = (await blueprintOperation(ctx, m.blueprint, kind, options)).id;
        m.status = "succeeded";
      } catch (e) {
        m.status = "failed";
        m.error = (e as Error).message;
        failures.push(m);
        log.error({ blueprint: m.blueprint, error: m.error }, `${m.blueprint}: ${kind} failed`);
      }
      m.endedAt = ctx.now().toISOString();
      await save();
    }
  };
  // Every started failover runs to its end before the group is judged: none is left half-way.
  await Promise.all(Array.from({ length: Math.min(group.concurrency, todo.length) }, worker));
  if (failures.length)
    throw new FerryError(
      `Group ${group.name}: ${failures.map((m) => `${m.blueprint} failed (${m.error ?? ""})`).join("; ")}`,
      { code: "GroupFailed", details: { blueprints: failures.map((m) => m.blueprint) } },
    );
}

async function blueprintOperation(
  ctx: RunbookContext,
  stack: string,
  kind: PlanOperationKind,
  options: RunPlanOptions,
): Promise<Operation> {
  if (kind === "cleanup") return (await import("./failover")).cleanup(ctx, stack);
  if (kind === "failback-complete")
    return (await (await import("./failback/complete")).failbackComplete(ctx, stack)).op;
  const { failover } = await import("./failover");
  return failover(ctx, stack, {
    kind: kind === "failover-planned" ? "planned" : kind === "failover-unplanned" ? "unplanned" : "test",
    acceptOlderPoint: options.acceptOlderPoint ?? false,
  });
}

async function hookStep(
  ctx: RunbookContext,
  loaded: LoadedPlan,
  run: PlanRunState,
  rec: GroupRecord,
  group: PlanGroup,
  kind: PlanOperationKind,
  when: "before" | "after" | "gate",
  hook: PlanHook,
  log: RunbookContext["logger"],
  save: () => Promise<void>,
): Promise<HookRecord> {
  const context: HookContext = {
    plan: loaded.name,
    group: group.name,
    operationId: run.operations.at(-1)!,
    kind: hookKind[kind]!,
    when,
    vms: await hookVms(ctx, group, kind),
  };
  const tail: string[] = [];
  const hlog = log.child({ hook: hook.script, when });
  log.info({ hook: hook.script, when, vms: context.vms.length }, `${when} hook ${hook.script}: started`);
  const result = await runHook(hook, {
    repoRoot: resolve(ctx.config.plans.repoDir),
    context,
    // Where Azure is and how to sign in there, as ferry itself does (never a secret in arguments).
    azure: hookAzureFor(ctx.config.azure),
    log: (line, stream) => {
      hlog.info({ stream }, line);
      tail.push(line);
      if (tail.length > 20) tail.shift();
    },
  });
  const passed = result.exitCode === 0 && !result.timedOut;
  const onFailure = when === "gate" ? "stop" : (hook.onFailure ?? "stop");
  const record: HookRecord = { when, result, passed, onFailure, tail };
  rec.hooks.push(record);
  await save();
  const what = result.timedOut ? `timed out after ${hook.timeoutSeconds ?? 300} s` : `exited ${result.exitCode}`;
  if (passed) log.info({ hook: hook.script, ms: result.durationMs }, `${when} hook ${hook.script}: passed`);
  else if (onFailure === "continue")
    log.warn(
      { hook: hook.script, exitCode: result.exitCode },
      `${when} hook ${hook.script} ${what}: recorded, going on`,
    );
  else
    throw new UserError(
      `The ${when} hook ${hook.script} of group ${group.name} ${what}` +
        (tail.length ? ` (last line: ${tail.at(-1)})` : "") +
        ". Its output is in the log.",
      { code: "HookFailed", details: { script: hook.script, exitCode: result.exitCode, timedOut: result.timedOut } },
    );
  return record;
}

async function gateStep(
  ctx: RunbookContext,
  loaded: LoadedPlan,
  run: PlanRunState,
  rec: GroupRecord,
  group: PlanGroup,
  kind: PlanOperationKind,
  log: RunbookContext["logger"],
  save: () => Promise<void>,
): Promise<void> {
  const gate = group.gate;
  if (!gate || kind === "cleanup") return;
  // On the way home the VMs are the primary's, which the rows' readiness does not name: only a hook gate holds.
  if (kind === "failback-complete" && gate.kind !== "hook") {
    log.info({ gate: gate.kind }, `group ${group.name}: the ${gate.kind} gate holds on the way out only`);
    return;
  }
  rec.gate = { kind: gate.kind, status: "running", startedAt: ctx.now().toISOString() };
  await save();
  let problems: string[] = [];
  if (gate.kind === "hook") {
    try {
      await hookStep(ctx, loaded, run, rec, group, kind, "gate", gate, log, save);
    } catch (e) {
      problems = [(e as Error).message];
    }
  } else {
    const mode = kind === "failover-test" ? "test" : "failover";
    const lz = await landingZone(ctx);
    const checks = await Promise.all(
      group.blueprints.flatMap(async (m) => {
        const rows = rowsOf((await loadBlueprint(ctx, memberBlueprint(m))).blueprint.rows, memberRows(m));
        return Promise.all(
          rows.map((r) =>
            waitUntilReady(
              ctx,
              lz.resourceGroupName,
              { row: r.name, vmName: recoveredVmName(r, mode), nic: { name: recoveredNicName(r, mode) } },
              gate.kind === "osReady"
                ? { os: true, timeoutSeconds: group.gateTimeoutSeconds }
                : { ...(r.readiness?.app ? { app: r.readiness.app } : {}), timeoutSeconds: group.gateTimeoutSeconds },
              Date.parse(run.startedAt),
            ),
          ),
        );
      }),
    );
    problems = checks.flat().flatMap((c) => c.problems);
  }
  rec.gate.endedAt = ctx.now().toISOString();
  rec.gate.status = problems.length ? "failed" : "passed";
  if (problems.length) rec.gate.detail = problems.join("\n");
  await save();
  if (problems.length)
    throw new FerryError(
      `The ${gate.kind} gate of group ${group.name} did not pass; the next group was not started:\n  ` +
        problems.join("\n  "),
      { code: "GateFailed" },
    );
  log.info({ gate: gate.kind }, `group ${group.name}: gate ${gate.kind} passed`);
}

function rowsOf(rows: BlueprintRow[], only: string[] | undefined): BlueprintRow[] {
  return only ? rows.filter((r) => only.includes(r.name)) : rows;
}

/** The VMs of a group a hook is told about: the recovered ones (the primary's, on the way home) that exist. */
async function hookVms(ctx: RunbookContext, group: PlanGroup, kind: PlanOperationKind): Promise<HookVm[]> {
  const lz = kind === "failback-complete" ? undefined : await landingZone(ctx);
  const mode = kind === "failover-test" ? "test" : "failover";
  const out: HookVm[] = [];
  for (const m of group.blueprints) {
    const stack = memberBlueprint(m);
    const rows = rowsOf((await loadBlueprint(ctx, stack)).blueprint.rows, memberRows(m));
    for (const r of rows) {
      const where = lz
        ? { resourceGroup: lz.resourceGroupName, name: recoveredVmName(r, mode) }
        : parseResourceId(r.sourceVmId);
      const vm = await unlessNotFound(ctx.azure.compute.virtualMachines.get(where.resourceGroup, where.name));
      if (!vm) continue;
      const privateIps: string[] = [];
      for (const n of vm.networkProfile?.networkInterfaces ?? []) {
        if (!n.id) continue;
        const id = parseResourceId(n.id);
        const nic = await unlessNotFound(ctx.azure.network.networkInterfaces.get(id.resourceGroup, id.name));
        for (const c of nic?.ipConfigurations ?? []) if (c.privateIPAddress) privateIps.push(c.privateIPAddress);
      }
      out.push({
        blueprint: stack,
        row: r.name,
        name: vm.name ?? where.name,
        id: vm.id ?? "",
        privateIps,
        region: vm.location ?? "",
      });
    }
  }
  return out;
}
