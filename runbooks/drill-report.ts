import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { escapeHtml as esc } from "../core/html";
import type { Operation } from "./journal";

/** One bar of the drill's timeline: a step of the drill, of a failover, or of one row. */
export interface DrillStep {
  lane: string;
  name: string;
  /** Milliseconds from the drill's start. */
  startMs: number;
  endMs?: number;
  status: "running" | "succeeded" | "failed";
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

export interface DrillSummary {
  ok: boolean;
  strategies: { strategy: string; rtoSeconds: number | null; verified: boolean }[];
  rpoSeconds: number | null;
  /**
   * The failback leg, when the drill ran one: every returned disk verified, bytes copied home, seconds from sync to
   * complete.
   */
  failback?: { verified: boolean; bytesMoved: number; seconds: number };
}

/** Records a drill as it runs (steps, failovers, verifications) and writes its report. */
export class DrillRecorder {
  readonly startedAt = new Date();
  readonly steps: DrillStep[] = [];
  readonly verifications: DrillVerification[] = [];
  readonly operations: Operation[] = [];
  /** RTO per strategy (seconds to VM created), from the failover the drill measures. */
  readonly rto = new Map<string, number>();
  rpoSeconds: number | null = null;
  /** Set by a drill that fails back (see DrillSummary.failback). */
  failback?: { bytesMoved: number; seconds: number };
  error?: string;
  /** Told of each step run through `step()` as it ends (a printed line). */
  onStepEnd?: (step: DrillStep) => void;

  constructor(
    readonly title: string,
    private readonly now: () => number = Date.now,
  ) {}

  private ms(): number {
    return this.now() - this.startedAt.getTime();
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
      const strategy = op.rto.find((r) => r.row === e.row)?.strategy;
      this.steps.push({
        lane: `${label}: ${e.row ?? "stack"}${strategy ? ` (${strategy})` : ""}`,
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
          seconds: Math.round(this.failback.seconds * 10) / 10,
        }
      : undefined;
    const ok =
      !this.error &&
      this.steps.every((s) => s.status === "succeeded") &&
      strategies.length > 0 &&
      strategies.every((s) => s.verified && s.rtoSeconds !== null) &&
      (failback === undefined || failback.verified);
    return {
      ok,
      strategies,
      rpoSeconds: this.rpoSeconds === null ? null : Math.round(this.rpoSeconds * 10) / 10,
      ...(failback ? { failback } : {}),
    };
  }

  /** Writes `index.html` (opens in a browser, no scripts, no network) and `summary.json` into `dir`. */
  write(dir: string): DrillSummary {
    mkdirSync(dir, { recursive: true });
    const summary = this.summary();
    writeFileSync(join(dir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
    writeFileSync(
      join(dir, "drill.json"),
      `${JSON.stringify({ title: this.title, startedAt: this.startedAt.toISOString(), summary, steps: this.steps, verifications: this.verifications, operations: this.operations, error: this.error }, null, 2)}\n`,
    );
    writeFileSync(join(dir, "index.html"), this.html(summary));
    return summary;
  }

  /** The short table printed at the end. */
  table(summary = this.summary()): string {
    const lines = summary.strategies.map(
      (s) =>
        `  ${s.strategy.padEnd(13)} RTO ${s.rtoSeconds === null ? "—" : `${s.rtoSeconds.toFixed(1)} s`.padStart(8)}   data ${s.verified ? "verified, byte for byte" : "NOT VERIFIED"}`,
    );
    const failback = summary.failback
      ? [
          `  failback      ${(summary.failback.bytesMoved / 1024 ** 2).toFixed(1)} MiB copied home in ${summary.failback.seconds.toFixed(1)} s, data ${summary.failback.verified ? "verified, byte for byte" : "NOT VERIFIED"}`,
        ]
      : [];
    return [
      `drill ${summary.ok ? "PASSED" : "FAILED"}`,
      ...lines,
      `  RPO at failover: ${summary.rpoSeconds === null ? "—" : `${summary.rpoSeconds.toFixed(1)} s`}`,
      ...failback,
    ].join("\n");
  }

  private html(summary: DrillSummary): string {
    const end = Math.max(1, ...this.steps.map((s) => s.endMs ?? s.startMs));
    const lanes = [...new Set(this.steps.map((s) => s.lane))];
    const laneHeight = 26;
    const left = 260;
    const width = 1000;
    const x = (ms: number) => left + (ms / end) * (width - left - 10);
    const bars = this.steps.map((s) => {
      const y = lanes.indexOf(s.lane) * laneHeight + 24;
      const x0 = x(s.startMs);
      const w = Math.max(2, x(s.endMs ?? end) - x0);
      const secs = (((s.endMs ?? end) - s.startMs) / 1000).toFixed(1);
      return `<rect class="bar ${s.status}" x="${x0.toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="${laneHeight - 8}"><title>${esc(`${s.name}: ${secs} s (${s.status})${s.detail ? ` — ${s.detail}` : ""}`)}</title></rect>`;
    });
    const labels = lanes.map(
      (l, i) => `<text class="lane" x="4" y="${i * laneHeight + 24 + laneHeight / 2 + 4}">${esc(l)}</text>`,
    );
    const ticks: string[] = [];
    const step = niceStep(end / 1000);
    for (let t = 0; t <= end / 1000; t += step)
      ticks.push(
        `<line class="tick" x1="${x(t * 1000)}" y1="18" x2="${x(t * 1000)}" y2="${lanes.length * laneHeight + 24}"/><text class="tick" x="${x(t * 1000) + 2}" y="14">${t} s</text>`,
      );
    const height = lanes.length * laneHeight + 34;
    const rows = this.steps
      .map(
        (s) =>
          `<tr class="${s.status}"><td>${esc(s.lane)}</td><td>${esc(s.name)}</td><td class="num">${(s.startMs / 1000).toFixed(1)}</td><td class="num">${s.endMs === undefined ? "—" : ((s.endMs - s.startMs) / 1000).toFixed(1)}</td><td>${s.status}${s.detail ? `: ${esc(s.detail)}` : ""}</td></tr>`,
      )
      .join("\n");
    const strategies = summary.strategies
      .map(
        (s) =>
          `<tr class="${s.verified ? "succeeded" : "failed"}"><td>${esc(s.strategy)}</td><td class="num">${s.rtoSeconds === null ? "—" : s.rtoSeconds.toFixed(1)}</td><td>${s.verified ? "yes" : "no"}</td></tr>`,
      )
      .join("\n");
    const verified = this.verifications
      .map(
        (v) =>
          `<tr class="${v.ok ? "succeeded" : "failed"}"><td>${esc(v.failover)}</td><td>${esc(v.row)}</td><td>${esc(v.vm)}</td><td>${esc(v.disk)}</td><td>${esc(v.strategy)}</td><td class="id">${esc(v.recoveryPoint.split("/").pop() ?? v.recoveryPoint)}</td><td class="num">${(v.bytesCompared / 1024 ** 2).toFixed(0)} MiB</td><td>${v.ok ? "identical" : `differs at byte ${v.firstDifferenceAt}`}${v.note ? `; ${esc(v.note)}` : ""}</td></tr>`,
      )
      .join("\n");
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(this.title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 .badge { font-size: 0.6em; padding: 0.2em 0.6em; border-radius: 0.3em; color: #fff; vertical-align: middle; }
.badge.ok { background: #2e7d32; } .badge.failed { background: #c62828; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } td.id { font-family: monospace; font-size: 0.9em; }
tr.failed td { background: #fdecea; }
svg { border: 1px solid #ddd; background: #fafafa; }
rect.bar.succeeded { fill: #4a90d9; } rect.bar.failed { fill: #d9534f; } rect.bar.running { fill: #f0ad4e; }
text.lane { font-size: 12px; } text.tick { font-size: 10px; fill: #666; } line.tick { stroke: #e3e3e3; }
</style>
</head>
<body>
<h1>${esc(this.title)} <span class="badge ${summary.ok ? "ok" : "failed"}">${summary.ok ? "PASSED" : "FAILED"}</span></h1>
<p>Started ${esc(this.startedAt.toISOString())}; ${(end / 1000).toFixed(1)} s in all.${this.error ? ` <strong>Error: ${esc(this.error)}</strong>` : ""}</p>
<h2>Recovery time per strategy</h2>
<table id="strategies"><thead><tr><th>strategy</th><th>RTO (s, VM created)</th><th>data verified</th></tr></thead>
<tbody>
${strategies}
</tbody></table>
<p id="rpo">RPO at failover: ${summary.rpoSeconds === null ? "—" : `${summary.rpoSeconds.toFixed(1)} s`} (age of the recovery point when the failover began).</p>
${summary.failback ? `<p id="failback">Failback: ${(summary.failback.bytesMoved / 1024 ** 2).toFixed(1)} MiB copied home (delta only) in ${summary.failback.seconds.toFixed(1)} s; returned disks ${summary.failback.verified ? "verified byte for byte" : "NOT verified"}.</p>` : ""}
<h2>Timeline</h2>
<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
${ticks.join("\n")}
${labels.join("\n")}
${bars.join("\n")}
</svg>
<h2>Data verified</h2>
<table id="verifications"><thead><tr><th>failover</th><th>row</th><th>VM</th><th>disk</th><th>strategy</th><th>recovery point</th><th>compared</th><th>result</th></tr></thead>
<tbody>
${verified}
</tbody></table>
<h2>Steps</h2>
<table id="steps"><thead><tr><th>lane</th><th>step</th><th>start (s)</th><th>took (s)</th><th>status</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body>
</html>
`;
  }
}

function niceStep(totalSeconds: number): number {
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600]) if (totalSeconds / s <= 12) return s;
  return 1200;
}
