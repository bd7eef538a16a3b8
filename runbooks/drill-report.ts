import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Blueprint, DiskStrategy, Readiness } from "../core/schemas/blueprint";
import { emulationLine, renderDrillReport, rowLane, verdictWord } from "./drill-report-html";
import type { Operation } from "./journal";
import type { PlanRunState } from "./plan-state";

/** One bar of the drill's timeline: a step of the drill, of a failover, or of one row. */
export interface DrillStep {
  lane: string;
  name: string;
  /** Milliseconds from the drill's start. */
  startMs: number;
  endMs?: number;
  /** `waiting`: a plan's group stopped at its manual step for a person (neither done nor failed). */
  status: "running" | "waiting" | "succeeded" | "failed";
  detail?: string;
}

/** One recovered disk compared with its recovery point. */
export interface DrillVerification {
  failover: string;
  row: string;
  vm: string;
  disk: string;
  strategy: string;
  recoveryPoint: string;
  ok: boolean;
  bytesCompared: number;
  sizeBytes: number;
  firstDifferenceAt?: number;
  /** What else was checked on it (a file system check of an OS disk). */
  note?: string;
}

/** How the Azure a drill ran against answered in time, when it was the local emulator. */
export interface EmulatedLatency {
  /** The emulator's latency profile: `azure` (durations of the order Azure shows), `zero`, or `unknown`. */
  profile: string;
  /** What the profile's durations were divided by (1: the profile's own pace). Undefined when not known. */
  speedup?: number;
}

/** Where, by whom and with which ferry a drill ran: the report's banner. Never a token or secret. */
export interface DrillProvenance {
  /** ferry's version (package.json) and the git commit it was built from, or `unknown`. */
  ferry: { version: string; commit: string };
  subscriptionId: string;
  /** The primary regions of the blueprint's rows. */
  sourceRegions: string[];
  /** The landing zone's region. */
  drRegion: string;
  /** Who ran it: the OS user and host, and the Azure identity as configured. */
  operator: string;
  /** Set when the drill ran against the local emulator rather than Azure. */
  emulation?: EmulatedLatency;
}

/** What a drill is judged against: the blueprint's targets and each row's readiness checks and strategies. */
export type DrillBlueprint = Pick<Blueprint, "name" | "rpoTargetSeconds" | "rtoTargetSeconds"> & {
  rows: { name: string; osStrategy: DiskStrategy; dataStrategy: DiskStrategy; readiness?: Readiness }[];
};

/** A readiness point of a row: when it was reached, or why the row does not check it. */
export type ReadinessPoint = { seconds: number | null } | { notChecked: string };

/** One blueprint row of a measured failover: its recovery times, in seconds from the failover's start. */
export interface DrillRowResult {
  failover: string;
  row: string;
  vm: string;
  strategy: string;
  /** null when the VM was never created. */
  vmCreatedSeconds: number | null;
  osReady: ReadinessPoint;
  appReady: ReadinessPoint;
  /** The row's RTO as its readiness defines it: app ready if checked, else OS ready if checked, else VM created. */
  rtoSeconds: number | null;
  /** Against `rtoTargetSeconds`; undefined when the blueprint sets none. */
  rtoMet?: boolean;
}

/** One objective of the blueprint judged. */
export interface TargetVerdict {
  targetSeconds: number;
  /** As measured (scaled, when the latencies were emulated and sped up); null when not measured. */
  measuredSeconds: number | null;
  /** What was compared with the target: measured × `scale`. */
  judgedSeconds: number | null;
  met: boolean;
}

/** The blueprint's targets and how the drill did against them. */
export interface DrillTargets {
  /**
   * What measured times are multiplied by before they are judged: the emulator's speed-up (times measured against a
   * sped-up emulator stand for that many times longer on Azure); 1 otherwise.
   */
  scale: number;
  /** null: the blueprint sets no `rpoTargetSeconds`. */
  rpo: TargetVerdict | null;
  /** null: the blueprint sets no `rtoTargetSeconds`. The drill's RTO is its slowest row's. */
  rto: TargetVerdict | null;
}

/** A disk strategy the blueprint uses that the drill did not exercise, and how to exercise it. */
export interface NotExercised {
  strategy: string;
  rows: string[];
  note: string;
}

/**
 * `passed`: everything ran, every disk verified, every target met. `failed`: a step failed or a disk did not verify.
 * `targetMissed`: everything ran and verified, but a target was missed.
 */
export type DrillVerdict = "passed" | "failed" | "targetMissed";

export interface DrillSummary {
  ok: boolean;
  verdict: DrillVerdict;
  strategies: { strategy: string; rtoSeconds: number | null; verified: boolean }[];
  rpoSeconds: number | null;
  /** Each row of the failover the drill measures. */
  rows: DrillRowResult[];
  targets: DrillTargets;
  /** Sentences saying which target was missed and by how much. */
  targetsMissed: string[];
  notExercised: NotExercised[];
  /**
   * The failback leg, when the drill ran one: every returned disk verified, bytes copied home, seconds from sync to
   * complete.
   */
  failback?: { verified: boolean; bytesMoved: number; seconds: number };
  /** The recovery plan a plan drill ran: each group with its gate, hooks and RTO, and the plan's RTO. */
  plan?: DrillPlanSummary;
  /** The ransomware scenario, when the drill ran it. */
  ransomware?: DrillRansomwareSummary;
}

/** A plan drill's plan: what the report shows of each group. */
export interface DrillPlanSummary {
  plan: string;
  kind: string;
  phase: string;
  /** Seconds from the plan's start to its last group recovered (gate passed). */
  rtoSeconds: number | null;
  groups: {
    name: string;
    status: string;
    blueprints: string[];
    /** Seconds from the plan's start to the group's gate passed (or its failovers' end without a gate). */
    rtoSeconds: number | null;
    gate: { kind: string; status: string; seconds: number | null } | null;
    hooks: {
      when: string;
      script: string;
      exitCode: number | null;
      timedOut: boolean;
      seconds: number;
      passed: boolean;
    }[];
  }[];
}

/** One recovered data disk of a ransomware drill: its file system checked, its files compared by hash. */
export interface RansomwareCheck {
  /** Which failover: `before the damage` or `latest`. */
  failover: string;
  /** The `--recovery-point` it asked for. */
  recoveryPoint: string;
  /** What its files must be: the application's (`good`) or the ransomware's (`garbage`). */
  expected: "good" | "garbage";
  /** `e2fsck -fn` found nothing to fix. */
  fsckClean: boolean;
  /** e2fsck's summary. */
  fsck: string;
  /** Files compared. */
  files: number;
  /** Files with the hash the application wrote. */
  good: number;
  /** Files with the hash the ransomware wrote. */
  garbage: number;
  /** Files missing or with neither hash. */
  other: string[];
  /** The file system is clean and every file is as expected. */
  ok: boolean;
}

/** The ransomware scenario of a drill: when the damage began, the point chosen before it, and what each disk held. */
export interface DrillRansomware {
  /** The blueprint row whose data disk was attacked. */
  row: string;
  /** When the ransomware began overwriting the files (ISO 8601). */
  damageAt: string;
  /** The `--recovery-point` of the restore. */
  requested: string;
  /** The row-level point the restore recovered, as `ferry points` lists it (unset: the drill did not get that far). */
  chosen?: {
    id: string;
    /** The newest of its disks' point times (ISO 8601). */
    time: string;
    /** Its age when the restore's failover began, in seconds. */
    ageSeconds: number;
    /** How long before the damage it was taken, in seconds. */
    beforeDamageSeconds: number;
    /** Between its disks' point times, in milliseconds. */
    spreadMs: number;
  };
  /** The row's complete points before and after the damage, in `ferry points`. */
  pointsBefore: number;
  pointsAfter: number;
  /** `ferry points <blueprint>` as it printed, after the damage. */
  pointsListing: string;
  checks: RansomwareCheck[];
}

/** A ransomware drill in the summary: {@link DrillRansomware} without the listing, and whether it all held. */
export type DrillRansomwareSummary = Omit<DrillRansomware, "pointsListing"> & { ok: boolean };

/** Whether a ransomware drill proved its case: points on both sides, the restore good, `latest` damaged. */
function ransomwareHeld(r: DrillRansomware): boolean {
  const expected = (x: RansomwareCheck) => (x.expected === "good" ? x.good : x.garbage) === x.files;
  return (
    r.pointsBefore > 0 &&
    r.pointsAfter > 0 &&
    r.chosen !== undefined &&
    Date.parse(r.chosen.time) < Date.parse(r.damageAt) &&
    (["good", "garbage"] as const).every((e) => r.checks.some((x) => x.expected === e)) &&
    r.checks.every((x) => x.ok && x.fsckClean && x.files > 0 && expected(x))
  );
}

/** A failover added to the drill, for the timeline's markers. */
export interface DrillFailover {
  label: string;
  /** Milliseconds from the drill's start. */
  startMs: number;
  rto: Operation["rto"];
  /** Whether its times are the drill's measure (RTO, RPO, targets). */
  measures: boolean;
}

const tenths = (n: number) => Math.round(n * 10) / 10;

/** Records a drill as it runs (steps, failovers, verifications) and writes its report. */
export class DrillRecorder {
  readonly startedAt = new Date();
  endedAt?: Date;
  readonly steps: DrillStep[] = [];
  readonly verifications: DrillVerification[] = [];
  readonly operations: Operation[] = [];
  readonly failovers: DrillFailover[] = [];
  /** RTO per strategy (seconds to VM created), from the failover the drill measures. */
  readonly rto = new Map<string, number>();
  rpoSeconds: number | null = null;
  /** Set by a drill that fails back (see DrillSummary.failback). */
  failback?: { bytesMoved: number; seconds: number };
  error?: string;
  /** The banner's facts; a report without them says they are unknown. */
  provenance?: DrillProvenance;
  /** The blueprint drilled: its targets, each row's readiness checks and strategies. */
  blueprint?: DrillBlueprint;
  /**
   * How a strategy the drill cannot exercise would be (the command to run), by strategy. Default: the `ferry`
   * commands that do.
   */
  howToExercise?: Partial<Record<DiskStrategy, string>>;
  /** Told of each step run through `step()` as it ends (a printed line). */
  onStepEnd?: (step: DrillStep) => void;
  /** Set by a drill that plays the ransomware scenario. */
  ransomware?: DrillRansomware;

  constructor(
    readonly title: string,
    private readonly now: () => number = Date.now,
  ) {}

  private ms(): number {
    return this.now() - this.startedAt.getTime();
  }

  /** The plan a plan drill ran (its groups, gates and hooks go on the timeline too). */
  plan?: PlanRunState;

  /** Adds a plan's run: each group, its gate and its hooks as steps of the plan's lane on the timeline. */
  addPlan(state: PlanRunState): void {
    this.plan = state;
    const at = (iso: string | undefined) =>
      iso === undefined ? undefined : Date.parse(iso) - this.startedAt.getTime();
    const lane = `plan ${state.plan}`;
    const status = (s: string): DrillStep["status"] =>
      s === "succeeded" || s === "passed" ? "succeeded" : s === "running" ? "running" : "failed";
    for (const g of state.groups) {
      if (g.startedAt === undefined) continue;
      const end = at(g.recoveredAt ?? g.endedAt);
      this.steps.push({
        lane,
        name: `group ${g.name}: ${g.members.map((m) => m.blueprint).join(", ")}`,
        startMs: at(g.startedAt)!,
        ...(end !== undefined ? { endMs: end } : {}),
        status: g.status === "awaitingApproval" ? "waiting" : status(g.status),
      });
      if (g.gate) {
        const gateEnd = at(g.gate.endedAt);
        this.steps.push({
          lane,
          name: `group ${g.name}: gate ${g.gate.kind}`,
          startMs: at(g.gate.startedAt)!,
          ...(gateEnd !== undefined ? { endMs: gateEnd } : {}),
          status: status(g.gate.status),
          ...(g.gate.detail ? { detail: g.gate.detail } : {}),
        });
      }
      for (const h of g.hooks)
        this.steps.push({
          lane,
          name: `group ${g.name}: ${h.when} hook ${h.result.script} (${h.result.timedOut ? "timed out" : `exit ${h.result.exitCode}`})`,
          startMs: at(h.result.startedAt)!,
          endMs: at(h.result.endedAt)!,
          status: h.passed || h.onFailure === "continue" ? "succeeded" : "failed",
        });
    }
  }

  private planSummary(): DrillPlanSummary | undefined {
    const p = this.plan;
    if (!p) return undefined;
    const secs = (from: string | undefined, to: string | undefined) =>
      from === undefined || to === undefined ? null : tenths((Date.parse(to) - Date.parse(from)) / 1000);
    return {
      plan: p.plan,
      kind: p.kind,
      phase: p.phase,
      rtoSeconds: p.rtoSeconds ?? null,
      groups: p.groups.map((g) => ({
        name: g.name,
        status: g.status,
        blueprints: g.members.map((m) => m.blueprint),
        rtoSeconds: g.rtoSeconds ?? null,
        gate: g.gate
          ? { kind: g.gate.kind, status: g.gate.status, seconds: secs(g.gate.startedAt, g.gate.endedAt) }
          : null,
        hooks: g.hooks.map((h) => ({
          when: h.when,
          script: h.result.script,
          exitCode: h.result.exitCode,
          timedOut: h.result.timedOut,
          seconds: tenths(h.result.durationMs / 1000),
          passed: h.passed,
        })),
      })),
    };
  }

  /** Runs `fn` as a step of the timeline. */
  async step<T>(lane: string, name: string, fn: () => Promise<T>): Promise<T> {
    const s: DrillStep = { lane, name, startMs: this.ms(), status: "running" };
    this.steps.push(s);
    try {
      const r = await fn();
      s.status = "succeeded";
      return r;
    } catch (e) {
      s.status = "failed";
      s.detail = (e as Error).message;
      throw e;
    } finally {
      s.endMs = this.ms();
      this.onStepEnd?.(s);
    }
  }

  /** Adds a failover's steps and each row's resources to the timeline, and its RTO per strategy. */
  addOperation(op: Operation, label: string, measuresRto: boolean): void {
    this.operations.push(op);
    const origin = Date.parse(op.startedAt) - this.startedAt.getTime();
    if (op.rto.length || measuresRto)
      this.failovers.push({ label, startMs: origin, rto: op.rto.map((r) => ({ ...r })), measures: measuresRto });
    for (const s of op.steps) {
      this.steps.push({
        lane: label,
        name: s.name,
        startMs: Date.parse(s.startedAt) - this.startedAt.getTime(),
        ...(s.endedAt ? { endMs: Date.parse(s.endedAt) - this.startedAt.getTime() } : {}),
        status: s.status,
        ...(s.detail ? { detail: s.detail } : {}),
      });
    }
    for (const e of op.events ?? []) {
      if (e.action === "deleted") continue;
      const end = origin + e.atSeconds * 1000;
      this.steps.push({
        lane: rowLane(label, e.row, op.rto.find((r) => r.row === e.row)?.strategy),
        name: `${e.resource} ${e.name}`,
        startMs: Math.max(origin, end - (e.ms ?? 0)),
        endMs: end,
        status: "succeeded",
      });
    }
    if (measuresRto) {
      for (const r of op.rto) {
        if (r.vmCreatedSeconds === undefined) continue;
        this.rto.set(r.strategy, Math.max(this.rto.get(r.strategy) ?? 0, r.vmCreatedSeconds));
      }
      if (op.rpoSeconds !== undefined) this.rpoSeconds = op.rpoSeconds;
    }
  }

  /** What measured times are multiplied by to be judged: the emulator's speed-up, when known. */
  scale(): number {
    return this.provenance?.emulation?.speedup ?? 1;
  }

  /** Each row of the measured failover, with its readiness points as the blueprint row defines them. */
  private rowResults(): DrillRowResult[] {
    const target = this.blueprint?.rtoTargetSeconds;
    const scale = this.scale();
    return this.failovers
      .filter((f) => f.measures)
      .flatMap((f) => {
        const names = [...new Set([...(this.blueprint?.rows.map((r) => r.name) ?? []), ...f.rto.map((r) => r.row)])];
        return names.map((name): DrillRowResult => {
          const r = f.rto.find((x) => x.row === name);
          const readiness = this.blueprint?.rows.find((x) => x.name === name)?.readiness;
          const vmCreated = r?.vmCreatedSeconds ?? null;
          const osReady: ReadinessPoint = readiness?.os
            ? { seconds: r?.osReadySeconds ?? null }
            : { notChecked: "the row does not check it (readiness.os is not set)" };
          const appReady: ReadinessPoint = readiness?.app
            ? { seconds: r?.appReadySeconds ?? null }
            : { notChecked: "the row has no application probe (readiness.app is not set)" };
          const rtoSeconds =
            "seconds" in appReady ? appReady.seconds : "seconds" in osReady ? osReady.seconds : vmCreated;
          return {
            failover: f.label,
            row: name,
            vm: r?.vm ?? "—",
            strategy: r?.strategy ?? "—",
            vmCreatedSeconds: vmCreated,
            osReady,
            appReady,
            rtoSeconds,
            ...(target === undefined ? {} : { rtoMet: rtoSeconds !== null && rtoSeconds * scale <= target }),
          };
        });
      });
  }

  /** The blueprint's strategies that no failover of the drill used, each with how it would be exercised. */
  private notExercised(): NotExercised[] {
    if (!this.blueprint) return [];
    const used = new Set<string>([
      ...this.verifications.filter((v) => v.failover !== "failback").map((v) => v.strategy),
      ...this.failovers.flatMap((f) => f.rto.map((r) => r.strategy)),
    ]);
    const bp = this.blueprint.name;
    const how: Record<DiskStrategy, string> = {
      attachAsIs:
        "A test drill never exercises attach-as-is: it creates every disk from a snapshot so that replication goes " +
        `on. Only a real failover attaches the staging disks as they are: \`ferry failover ${bp} --planned\` (or ` +
        "`--unplanned`), or `npm run drill` on the local Azure.",
      fromSnapshot: `\`ferry drill ${bp}\` (a test failover) exercises it.`,
      ...this.howToExercise,
    };
    const out: NotExercised[] = [];
    for (const strategy of ["attachAsIs", "fromSnapshot"] as const) {
      if (used.has(strategy)) continue;
      const rows = this.blueprint.rows
        .filter((r) => r.osStrategy === strategy || r.dataStrategy === strategy)
        .map((r) => r.name);
      if (rows.length) out.push({ strategy, rows, note: how[strategy] });
    }
    return out;
  }

  private judge(targetSeconds: number | undefined, measured: number | null): TargetVerdict | null {
    if (targetSeconds === undefined) return null;
    const judged = measured === null ? null : tenths(measured * this.scale());
    return {
      targetSeconds,
      measuredSeconds: measured,
      judgedSeconds: judged,
      met: judged !== null && judged <= targetSeconds,
    };
  }

  summary(): DrillSummary {
    const failedOver = this.verifications.filter((v) => v.failover !== "failback");
    const strategies = [...new Set([...this.rto.keys(), ...failedOver.map((v) => v.strategy)])]
      .sort()
      .map((strategy) => {
        const checked = failedOver.filter((v) => v.strategy === strategy);
        return {
          strategy,
          rtoSeconds: this.rto.get(strategy) ?? null,
          verified: checked.length > 0 && checked.every((v) => v.ok),
        };
      });
    const returned = this.verifications.filter((v) => v.failover === "failback");
    const failback = this.failback
      ? {
          verified: returned.length > 0 && returned.every((v) => v.ok),
          bytesMoved: this.failback.bytesMoved,
          seconds: tenths(this.failback.seconds),
        }
      : undefined;
    const rpoSeconds = this.rpoSeconds === null ? null : tenths(this.rpoSeconds);
    const rows = this.rowResults();
    const ransomware = this.ransomwareSummary();
    const slowest =
      rows.length && rows.every((r) => r.rtoSeconds !== null)
        ? tenths(Math.max(...rows.map((r) => r.rtoSeconds!)))
        : null;
    const targets: DrillTargets = {
      scale: this.scale(),
      rpo: this.judge(this.blueprint?.rpoTargetSeconds, rpoSeconds),
      rto: this.judge(this.blueprint?.rtoTargetSeconds, slowest),
    };
    const targetsMissed = (["rpo", "rto"] as const).flatMap((k) => {
      const t = targets[k];
      if (!t || t.met) return [];
      const name = k.toUpperCase();
      if (t.judgedSeconds === null)
        return [`${name} was not measured, so its target of ${t.targetSeconds} s (${k}TargetSeconds) is not shown met`];
      const scaled = targets.scale === 1 ? "" : ` (${t.measuredSeconds} s measured × ${targets.scale})`;
      return [`${name} ${t.judgedSeconds} s${scaled} is over the target of ${t.targetSeconds} s (${k}TargetSeconds)`];
    });
    const ran =
      !this.error &&
      this.steps.every((s) => s.status === "succeeded") &&
      strategies.length > 0 &&
      strategies.every((s) => s.verified && s.rtoSeconds !== null) &&
      (failback === undefined || failback.verified) &&
      (this.plan === undefined || this.plan.phase === "succeeded") &&
      (ransomware === undefined || ransomware.ok);
    const verdict: DrillVerdict = !ran ? "failed" : targetsMissed.length ? "targetMissed" : "passed";
    return {
      ok: verdict === "passed",
      verdict,
      strategies,
      rpoSeconds,
      rows,
      targets,
      targetsMissed,
      notExercised: this.notExercised(),
      ...(failback ? { failback } : {}),
      ...(this.plan ? { plan: this.planSummary()! } : {}),
      ...(ransomware ? { ransomware } : {}),
    };
  }

  private ransomwareSummary(): DrillRansomwareSummary | undefined {
    if (!this.ransomware) return undefined;
    const { pointsListing: _, ...rest } = this.ransomware;
    return { ...rest, ok: ransomwareHeld(this.ransomware) };
  }

  /** Writes `index.html` (opens in a browser, no scripts, no network) and `summary.json` into `dir`. */
  write(dir: string): DrillSummary {
    mkdirSync(dir, { recursive: true });
    this.endedAt ??= new Date(this.now());
    const summary = this.summary();
    writeFileSync(join(dir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
    const record = {
      title: this.title,
      startedAt: this.startedAt.toISOString(),
      endedAt: this.endedAt.toISOString(),
      provenance: this.provenance,
      summary,
      steps: this.steps,
      verifications: this.verifications,
      operations: this.operations,
      error: this.error,
    };
    writeFileSync(join(dir, "drill.json"), `${JSON.stringify(record, null, 2)}\n`);
    writeFileSync(join(dir, "index.html"), renderDrillReport(this, summary));
    return summary;
  }

  /** The short table printed at the end. */
  table(summary = this.summary()): string {
    const s = (n: number | null) => (n === null ? "—" : `${n.toFixed(1)} s`);
    const point = (p: ReadinessPoint) => ("seconds" in p ? s(p.seconds) : "—");
    const data = (verified: boolean) => `data ${verified ? "verified, byte for byte" : "NOT VERIFIED"}`;
    const lines = summary.strategies.map(
      (x) => `  ${x.strategy.padEnd(13)} RTO ${s(x.rtoSeconds).padStart(8)}   ${data(x.verified)}`,
    );
    const rows = summary.rows.map((r) => {
      const judged = r.rtoMet === undefined ? "" : r.rtoMet ? ", RTO target met" : ", RTO TARGET MISSED";
      return (
        `  row ${r.row} (${r.strategy}): VM created ${s(r.vmCreatedSeconds)}, OS ready ${point(r.osReady)}, ` +
        `app ready ${point(r.appReady)}${judged}`
      );
    });
    const target = (name: string, t: TargetVerdict | null) => {
      if (t === null) return `  ${name} target: none set`;
      const pace = summary.targets.scale === 1 ? "" : ` at Azure's pace, ${s(t.measuredSeconds)} measured`;
      return `  ${name} target ${t.targetSeconds} s: ${t.met ? "met" : "MISSED"} (${s(t.judgedSeconds)}${pace})`;
    };
    const fb = summary.failback;
    const failback = fb
      ? [
          `  failback      ${(fb.bytesMoved / 1024 ** 2).toFixed(1)} MiB copied home in ${fb.seconds.toFixed(1)} s, ` +
            data(fb.verified),
        ]
      : [];
    const emulation = this.provenance?.emulation;
    const rw = summary.ransomware;
    const ransomware = rw
      ? [
          `  ransomware    damage from ${rw.damageAt}; ${rw.pointsBefore} point(s) before it, ${rw.pointsAfter} after`,
          rw.chosen
            ? `  ransomware    restored point ${rw.chosen.id} of ${rw.chosen.time}: ` +
              `${rw.chosen.beforeDamageSeconds.toFixed(1)} s before the damage, ` +
              `${rw.chosen.ageSeconds.toFixed(1)} s old at the failover, spread ${rw.chosen.spreadMs} ms`
            : "  ransomware    no point restored: the drill ended before",
          ...rw.checks.map(
            (c) =>
              `  ransomware    ${c.failover} (${c.recoveryPoint}): e2fsck ${c.fsckClean ? "clean" : "FOUND ERRORS"}, ` +
              `${c.good}/${c.files} files good, ${c.garbage}/${c.files} garbage` +
              `${c.other.length ? `, ${c.other.length} other` : ""}: ${c.ok ? "as expected" : `NOT ${c.expected}`}`,
          ),
        ]
      : [];
    return [
      `drill ${verdictWord(summary.verdict)}`,
      ...(emulation ? [`  ${emulationLine(emulation)}`] : []),
      ...lines,
      ...rows,
      `  RPO at failover: ${s(summary.rpoSeconds)}`,
      target("RPO", summary.targets.rpo),
      target("RTO", summary.targets.rto),
      ...summary.targetsMissed.map((m) => `  target missed: ${m}`),
      ...summary.notExercised.map((n) => `  not exercised: ${n.strategy} (rows ${n.rows.join(", ")}). ${n.note}`),
      ...failback,
      ...ransomware,
    ].join("\n");
  }
}
