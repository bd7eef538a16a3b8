import { escapeHtml as esc } from "../core/html";
import type {
  DrillFailover,
  DrillProvenance,
  DrillRansomware,
  DrillStep,
  DrillSummary,
  DrillVerdict,
  DrillVerification,
  EmulatedLatency,
  ReadinessPoint,
  TargetVerdict,
} from "./drill-report";

/** What the page is drawn from: a drill's recorder once it has ended. */
export interface DrillReportSource {
  title: string;
  startedAt: Date;
  endedAt?: Date;
  steps: readonly DrillStep[];
  verifications: readonly DrillVerification[];
  failovers: readonly DrillFailover[];
  error?: string;
  provenance?: DrillProvenance;
  blueprint?: { rtoTargetSeconds?: number | undefined };
  /** The ransomware scenario's listing of points (its facts are in the summary). */
  ransomware?: Pick<DrillRansomware, "pointsListing">;
}

/** The lane of a row's resources on the timeline. */
export function rowLane(label: string, row: string | undefined, strategy: string | undefined): string {
  return `${label}: ${row ?? "stack"}${strategy ? ` (${strategy})` : ""}`;
}

export function verdictWord(verdict: DrillVerdict): string {
  return verdict === "passed" ? "PASSED" : verdict === "targetMissed" ? "FAILED (target missed)" : "FAILED";
}

/** One plain sentence on what emulated times stand for. */
export function emulationLine(e: EmulatedLatency): string {
  if (e.profile === "azure" && e.speedup !== undefined && e.speedup > 1)
    return (
      `Latencies are emulated (the local Azure, profile azure) and sped up ${e.speedup}×: every time in this ` +
      `report is scaled, and stands for about ${e.speedup} times as long on Azure (1 s here ≈ ${e.speedup} s ` +
      "there). Targets are judged at Azure's pace: measured times × the speed-up."
    );
  if (e.profile === "azure")
    return "Latencies are emulated (the local Azure, profile azure, not sped up): times are of the order Azure shows.";
  if (e.profile === "zero")
    return (
      "Latencies are emulated (the local Azure, profile zero: operations finish at once): the times say nothing " +
      "of Azure's, and targets are judged against them as measured."
    );
  return (
    "Latencies are emulated (the local Azure), with a profile and speed-up it did not say: the times may be " +
    "scaled, and targets are judged against them as measured."
  );
}

const utc = (d: Date) =>
  `${d
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "")} UTC`;

/** A table cell of text that is already HTML (escape what goes in). */
const td = (html: string, cls?: string) => `<td${cls ? ` class="${cls}"` : ""}>${html}</td>`;
const tr = (cls: string, cells: string[]) => `<tr${cls ? ` class="${cls}"` : ""}>${cells.join("")}</tr>`;
const thead = (names: string[]) => `<thead><tr>${names.map((n) => `<th>${n}</th>`).join("")}</tr></thead>`;
const table = (id: string, names: string[], rows: string[]) =>
  `<table id="${id}">${thead(names)}\n<tbody>\n${rows.join("\n")}\n</tbody></table>`;
const tenth = (n: number) => n.toFixed(1);

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 .badge { font-size: 0.6em; padding: 0.2em 0.6em; border-radius: 0.3em; color: #fff; vertical-align: middle; }
.badge.ok { background: #2e7d32; } .badge.failed { background: #c62828; }
.emulated { border: 2px solid #e65100; background: #fff3e0; padding: 0.6em 0.8em; border-radius: 0.3em; }
#verdict.failed { color: #c62828; font-weight: bold; } #verdict.ok { color: #2e7d32; font-weight: bold; }
.note { border-left: 4px solid #1565c0; background: #e3f2fd; padding: 0.4em 0.8em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
#facts th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } td.id { font-family: monospace; font-size: 0.9em; }
td .why, td.why { display: block; font-size: 0.85em; color: #666; }
tr.failed td { background: #fdecea; }
td.pass { color: #2e7d32; font-weight: bold; } td.fail { color: #c62828; font-weight: bold; }
svg { border: 1px solid #ddd; background: #fafafa; max-width: 100%; height: auto; }
rect.bar.succeeded { fill: #4a90d9; } rect.bar.failed { fill: #d9534f; } rect.bar.running { fill: #f0ad4e; }
rect.bar.waiting { fill: #9e9e9e; } tr.waiting td { background: #fff8e1; }
text.lane { font-size: 12px; } text.tick { font-size: 10px; fill: #666; } line.tick { stroke: #e3e3e3; }
line.start { stroke: #333; stroke-width: 1.5; } line.target { stroke: #c62828; stroke-width: 2; stroke-dasharray: 6 4; }
text.target { font-size: 10px; fill: #c62828; } text.start { font-size: 10px; fill: #333; }
.mark { stroke: #fff; stroke-width: 1; }
.mark.vm { fill: #6a1b9a; } .mark.os { fill: #00897b; } .mark.app { fill: #ef6c00; }
#legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4em 1.4em; }
#legend svg { border: none; background: none; vertical-align: middle; margin-right: 0.3em; }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; font-size: 11px; }
  h2 { break-after: avoid; }
  table, svg, #legend, .emulated, .note { break-inside: avoid; }
  .badge, .emulated, .note, tr.failed td, rect, .mark, line {
    print-color-adjust: exact; -webkit-print-color-adjust: exact;
  }
}`;

const VERIFIED_COLUMNS = ["failover", "row", "VM", "disk", "strategy", "recovery point", "compared", "result"];

/** The drill's report as one HTML page: no script, no external resource (it opens offline), print-friendly. */
export function renderDrillReport(d: DrillReportSource, summary: DrillSummary): string {
  const scale = summary.targets.scale;
  // Against a sped-up emulator each time also says what it stands for on Azure.
  const time = (n: number | null) =>
    n === null ? "—" : scale === 1 ? `${tenth(n)} s` : `${tenth(n)} s (≈ ${Math.round(n * scale)} s on Azure)`;
  const strategies = summary.strategies.map((s) =>
    tr(s.verified ? "succeeded" : "failed", [
      td(esc(s.strategy)),
      td(s.rtoSeconds === null ? "—" : tenth(s.rtoSeconds), "num"),
      td(s.verified ? "yes" : "no"),
    ]),
  );
  const fb = summary.failback;
  const failback = fb
    ? `<p id="failback">Failback: ${tenth(fb.bytesMoved / 1024 ** 2)} MiB copied home (delta only) in ` +
      `${tenth(fb.seconds)} s; returned disks ${fb.verified ? "verified byte for byte" : "NOT verified"}.</p>`
    : "";
  const verified = d.verifications.map((v) =>
    tr(v.ok ? "succeeded" : "failed", [
      ...[v.failover, v.row, v.vm, v.disk, v.strategy].map((t) => td(esc(t))),
      td(esc(v.recoveryPoint.split("/").pop() ?? v.recoveryPoint), "id"),
      td(`${(v.bytesCompared / 1024 ** 2).toFixed(0)} MiB`, "num"),
      td(`${v.ok ? "identical" : `differs at byte ${v.firstDifferenceAt}`}${v.note ? `; ${esc(v.note)}` : ""}`),
    ]),
  );
  const steps = d.steps.map((s) =>
    tr(s.status, [
      td(esc(s.lane)),
      td(esc(s.name)),
      td(tenth(s.startMs / 1000), "num"),
      td(s.endMs === undefined ? "—" : tenth((s.endMs - s.startMs) / 1000), "num"),
      td(`${s.status}${s.detail ? `: ${esc(s.detail)}` : ""}`),
    ]),
  );
  const version = d.provenance?.ferry.version ?? "(version unknown)";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(d.title)}</title>
<style>${STYLE}
</style>
</head>
<body>
${banner(d, summary)}
${targetsTable(summary, time)}
${rowsTable(summary, time)}
${notExercised(summary)}
<h2>Recovery time per strategy</h2>
${table("strategies", ["strategy", "RTO (s, VM created)", "data verified"], strategies)}
<p id="rpo">RPO at failover: ${time(summary.rpoSeconds)} (age of the recovery point when the failover began).</p>
${failback}
${ransomwareSection(d, summary)}
${planTable(summary, time)}
${timeline(d, summary)}
<h2>Data verified</h2>
${table("verifications", VERIFIED_COLUMNS, verified)}
<h2>Steps</h2>
${table("steps", ["lane", "step", "start (s)", "took (s)", "status"], steps)}
<p class="foot">Written by ferry ${esc(version)}; the same data is in drill.json and summary.json beside this page.</p>
</body>
</html>
`;
}

function banner(d: DrillReportSource, summary: DrillSummary): string {
  const p = d.provenance;
  const ok = summary.verdict === "passed";
  const unknown = "unknown (not recorded)";
  const facts: [string, string][] = [
    ["ferry", p ? `${p.ferry.version} (commit ${p.ferry.commit})` : unknown],
    ["subscription", p?.subscriptionId ?? unknown],
    [p && p.sourceRegions.length > 1 ? "source regions" : "source region", p?.sourceRegions.join(", ") || unknown],
    ["DR region", p?.drRegion ?? unknown],
    ["run by", p?.operator ?? unknown],
    ["started", utc(d.startedAt)],
    ["ended", d.endedAt ? utc(d.endedAt) : "—"],
    ["Azure", p?.emulation ? `emulated locally (latency profile ${p.emulation.profile})` : "Azure"],
  ];
  const missed = summary.targetsMissed.join("; ");
  const cause = d.error ? `the drill failed: ${d.error}` : "a step failed or a disk did not verify (below)";
  const verdict = ok
    ? "Verdict: PASSED — every step ran, every recovered disk verified, every target set was met."
    : summary.verdict === "targetMissed"
      ? `Verdict: FAILED — a target was missed: ${missed}.`
      : `Verdict: FAILED — ${cause}${missed ? `; and ${missed}` : ""}.`;
  const emulated = p?.emulation
    ? `<p id="emulated" class="emulated"><strong>Not Azure: emulated latencies.</strong> ` +
      `${esc(emulationLine(p.emulation))}</p>`
    : "";
  return `<header id="banner">
<h1>${esc(d.title)} <span class="badge ${ok ? "ok" : "failed"}">${ok ? "PASSED" : "FAILED"}</span></h1>
${emulated}
<table id="facts"><tbody>
${facts.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`).join("\n")}
</tbody></table>
<p id="verdict" class="${ok ? "ok" : "failed"}">${esc(verdict)}</p>
</header>`;
}

/** The ransomware scenario: the damage, the point chosen before it, each recovered disk's files, `ferry points`. */
function ransomwareSection(d: DrillReportSource, summary: DrillSummary): string {
  const r = summary.ransomware;
  if (!r) return "";
  const c = r.chosen;
  const rows = r.checks.map((x) =>
    tr(x.ok ? "succeeded" : "failed", [
      td(esc(x.failover)),
      td(esc(x.recoveryPoint), "id"),
      td(`${x.fsckClean ? "clean" : "errors"}<span class="why">${esc(x.fsck)}</span>`),
      td(String(x.files), "num"),
      td(String(x.good), "num"),
      td(String(x.garbage), "num"),
      td(x.other.length ? esc(x.other.join(", ")) : "—"),
      td(x.ok ? `as expected (${x.expected})` : `NOT ${x.expected}`, x.ok ? "pass" : "fail"),
    ]),
  );
  const listing = d.ransomware?.pointsListing ?? "";
  const restored = c
    ? `The restore (<code>--recovery-point ${esc(r.requested)}</code>) recovered point <code>${esc(c.id)}</code> ` +
      `of ${esc(c.time)}: taken ${tenth(c.beforeDamageSeconds)} s before the damage, ${tenth(c.ageSeconds)} s old ` +
      `when its failover began, its disks ${c.spreadMs} ms apart.`
    : "The drill ended before a point was restored.";
  return (
    `<h2>Ransomware drill</h2>
<p id="ransomware-damage">The ransomware overwrote the files of row ${esc(r.row)} from ${esc(r.damageAt)}. ` +
    `<code>ferry points</code> listed ${r.pointsBefore} point(s) of the row before the damage and ${r.pointsAfter} after. ` +
    `${restored}</p>
${table("ransomware-files", ["failover", "recovery point", "e2fsck -fn", "files", "good", "garbage", "other", "result"], rows)}
${listing ? `<pre id="ransomware-points">${esc(listing)}</pre>` : ""}`
  );
}

/** A plan drill's groups: blueprints, gate, each hook's exit status and duration, RTO per group and for the plan. */
function planTable(summary: DrillSummary, time: (n: number | null) => string): string {
  const p = summary.plan;
  if (!p) return "";
  const rows = p.groups.map((g) =>
    tr(g.status === "succeeded" ? "succeeded" : g.status === "awaitingApproval" ? "waiting" : "failed", [
      td(esc(g.name)),
      td(esc(g.blueprints.join(", "))),
      td(
        g.gate
          ? `${esc(g.gate.kind)} ${esc(g.gate.status)}${g.gate.seconds === null ? "" : ` (${tenth(g.gate.seconds)} s)`}`
          : "—",
      ),
      td(
        g.hooks.length
          ? g.hooks
              .map(
                (h) =>
                  `${esc(h.when)} ${esc(h.script)}: ${h.timedOut ? "timed out" : `exit ${h.exitCode}`}, ` +
                  `${tenth(h.seconds)} s`,
              )
              .join("<br>")
          : "—",
      ),
      td(time(g.rtoSeconds), "num"),
    ]),
  );
  return `<h2>Recovery plan ${esc(p.plan)}</h2>
<p id="plan-rto">${esc(p.kind)} by plan ${esc(p.plan)}: ${esc(p.phase)}; RTO of the plan ${time(p.rtoSeconds)} (from its start to its last group's gate passed).</p>
${table("plan-groups", ["group", "blueprints", "gate", "hooks", "RTO"], rows)}`;
}

function targetsTable(summary: DrillSummary, time: (n: number | null) => string): string {
  const scale = summary.targets.scale;
  const scaled = scale !== 1;
  const seconds = (n: number | null) => (n === null ? "—" : `${tenth(n)} s`);
  const row = (name: "RPO" | "RTO", t: TargetVerdict | null, what: string) => {
    if (t === null) {
      // No target: the drill's RTO (its slowest row's) is still shown.
      const rtos = summary.rows.map((r) => r.rtoSeconds);
      const slowest = rtos.length && rtos.every((n) => n !== null) ? Math.max(...(rtos as number[])) : null;
      const measured = name === "RPO" ? summary.rpoSeconds : slowest;
      return tr("", [
        td(name),
        td(`none set (${name.toLowerCase()}TargetSeconds)`),
        td(esc(time(measured)), "num"),
        ...(scaled ? [td("—")] : []),
        td("not judged"),
      ]);
    }
    const judged = tr(t.met ? "succeeded" : "failed", [
      td(name),
      td(`${t.targetSeconds} s`, "num"),
      td(seconds(t.measuredSeconds), "num"),
      ...(scaled ? [td(seconds(t.judgedSeconds), "num")] : []),
      td(t.met ? "PASS" : "FAIL", t.met ? "pass" : "fail"),
    ]);
    return `${judged}\n<tr><td colspan="${scaled ? 5 : 4}" class="why">${esc(what)}</td></tr>`;
  };
  const names = ["objective", "target", "measured", ...(scaled ? [`at Azure's pace (× ${scale})`] : []), "result"];
  return `<h2>Targets</h2>
${table("targets", names, [
  row("RPO", summary.targets.rpo, "RPO: the age of the recovery point when the failover began."),
  row(
    "RTO",
    summary.targets.rto,
    "RTO: from the failover's start to its slowest row's readiness " +
      "(app ready, OS ready or VM created, as each row's readiness defines).",
  ),
])}`;
}

function rowsTable(summary: DrillSummary, time: (n: number | null) => string): string {
  if (!summary.rows.length)
    return `<h2>Recovery per row</h2>\n<p id="rows-none">No failover of this drill was measured.</p>`;
  const point = (p: ReadinessPoint) =>
    "seconds" in p
      ? td(p.seconds === null ? "never" : esc(time(p.seconds)), "num")
      : td(`—<span class="why">${esc(p.notChecked)}</span>`);
  const target = summary.targets.rto?.targetSeconds;
  const rows = summary.rows.map((r) =>
    tr(r.rtoMet === false ? "failed" : "succeeded", [
      ...[r.failover, r.row, r.vm, r.strategy].map((t) => td(esc(t))),
      td(r.vmCreatedSeconds === null ? "never" : esc(time(r.vmCreatedSeconds)), "num"),
      point(r.osReady),
      point(r.appReady),
      td(esc(time(r.rtoSeconds)), "num"),
      td(target === undefined ? "none set" : `${target} s`, "num"),
      r.rtoMet === undefined ? td("not judged") : td(r.rtoMet ? "PASS" : "FAIL", r.rtoMet ? "pass" : "fail"),
    ]),
  );
  const names = ["failover", "row", "VM", "strategy", "VM created", "OS ready", "app ready", "row RTO", "RTO target"];
  return `<h2>Recovery per row</h2>
<p>Seconds from the failover's start. A row's RTO ends at the last readiness point it checks.</p>
${table("rows", [...names, "result"], rows)}`;
}

function notExercised(summary: DrillSummary): string {
  if (!summary.notExercised.length) return "";
  const notes = summary.notExercised.map(
    (n) =>
      `<p class="note"><strong>Not exercised: ${esc(n.strategy)}</strong> ` +
      `(rows ${esc(n.rows.join(", "))}). ${esc(n.note)}</p>`,
  );
  return `<div id="not-exercised">\n${notes.join("\n")}\n</div>`;
}

const MARKS = {
  vm: { what: "VM created", shape: (x: number, y: number) => `<circle class="mark vm" cx="${x}" cy="${y}" r="5"/>` },
  os: {
    what: "OS ready",
    shape: (x: number, y: number) =>
      `<polygon class="mark os" points="${x},${y - 6} ${x + 6},${y} ${x},${y + 6} ${x - 6},${y}"/>`,
  },
  app: {
    what: "app ready",
    shape: (x: number, y: number) =>
      `<polygon class="mark app" points="${x},${y - 6} ${x + 6},${y + 5} ${x - 6},${y + 5}"/>`,
  },
} as const;

/** A vertical line across the lanes, with a hover title and a label under the drawing. */
function rule(cls: string, x: number, y: [number, number], title: string, label: string, labelY: number): string {
  const at = x.toFixed(1);
  return (
    `<line class="${cls}" x1="${at}" y1="${y[0]}" x2="${at}" y2="${y[1]}"><title>${esc(title)}</title></line>` +
    `<text class="${cls}" x="${(x + 3).toFixed(1)}" y="${labelY}">${esc(label)}</text>`
  );
}

function timeline(d: DrillReportSource, summary: DrillSummary): string {
  const scale = summary.targets.scale;
  const rtoTarget = d.blueprint?.rtoTargetSeconds;
  // The target line sits where the target falls on this (scaled) timeline: target ÷ the speed-up.
  const targetLines =
    rtoTarget === undefined
      ? []
      : d.failovers.filter((f) => f.measures).map((f) => ({ f, ms: f.startMs + (rtoTarget / scale) * 1000 }));
  const marks = d.failovers.flatMap((f) =>
    f.rto.flatMap((r) => {
      const lane = rowLane(f.label, r.row, r.strategy);
      const at = (s: number | undefined, kind: keyof typeof MARKS) =>
        s === undefined
          ? []
          : [
              {
                lane,
                kind,
                ms: f.startMs + s * 1000,
                label: `${f.label}: ${r.row} ${MARKS[kind].what} at ${tenth(s)} s`,
              },
            ];
      return [...at(r.vmCreatedSeconds, "vm"), ...at(r.osReadySeconds, "os"), ...at(r.appReadySeconds, "app")];
    }),
  );
  const end = Math.max(
    1,
    ...d.steps.map((s) => s.endMs ?? s.startMs),
    ...marks.map((m) => m.ms),
    ...targetLines.map((t) => t.ms * 1.02),
  );
  const lanes = [...new Set([...d.steps.map((s) => s.lane), ...marks.map((m) => m.lane)])];
  const laneHeight = 26;
  const left = 260;
  const width = 1000;
  const top = 24;
  const x = (ms: number) => left + (ms / end) * (width - left - 10);
  const yOf = (lane: string) => lanes.indexOf(lane) * laneHeight + top;
  const bottom = lanes.length * laneHeight + top;
  const bars = d.steps.map((s) => {
    const x0 = x(s.startMs);
    const w = Math.max(2, x(s.endMs ?? end) - x0);
    const title = `${s.name}: ${tenth(((s.endMs ?? end) - s.startMs) / 1000)} s (${s.status})`;
    return (
      `<rect class="bar ${s.status}" x="${x0.toFixed(1)}" y="${yOf(s.lane) + 4}" width="${w.toFixed(1)}" ` +
      `height="${laneHeight - 8}"><title>${esc(`${title}${s.detail ? ` — ${s.detail}` : ""}`)}</title></rect>`
    );
  });
  const labels = lanes.map((l) => `<text class="lane" x="4" y="${yOf(l) + laneHeight / 2 + 4}">${esc(l)}</text>`);
  const ticks: string[] = [];
  const step = niceStep(end / 1000);
  for (let t = 0; t <= end / 1000; t += step) {
    const at = x(t * 1000);
    ticks.push(
      `<line class="tick" x1="${at}" y1="18" x2="${at}" y2="${bottom}"/>` +
        `<text class="tick" x="${at + 2}" y="14">${t} s</text>`,
    );
  }
  const starts = d.failovers.map((f) =>
    rule("start", x(f.startMs), [top, bottom], `${f.label} started`, `${f.label} start`, bottom + 12),
  );
  const targets = targetLines.map((t) =>
    rule(
      "target",
      x(t.ms),
      [top, bottom],
      `RTO target ${rtoTarget} s of the ${t.f.label}`,
      `RTO target ${rtoTarget} s`,
      bottom + 24,
    ),
  );
  const markers = marks.map((m) => {
    const shape = MARKS[m.kind].shape(Number(x(m.ms).toFixed(1)), yOf(m.lane) + laneHeight / 2);
    return `<g>${shape}<title>${esc(m.label)}</title></g>`;
  });
  const height = bottom + 32;
  const swatch = (inner: string) => `<svg width="18" height="14" viewBox="0 0 18 14" aria-hidden="true">${inner}</svg>`;
  const targetNote =
    rtoTarget === undefined
      ? "RTO target (none set)"
      : scale === 1
        ? `RTO target (${rtoTarget} s)`
        : `RTO target (${rtoTarget} s, drawn at ${tenth(rtoTarget / scale)} s on this timeline scaled ÷ ${scale})`;
  const legend: [string, string][] = [
    [swatch(`<rect class="bar succeeded" x="1" y="3" width="16" height="8"/>`), "step (succeeded)"],
    [swatch(`<rect class="bar failed" x="1" y="3" width="16" height="8"/>`), "step (failed)"],
    [swatch(`<rect class="bar running" x="1" y="3" width="16" height="8"/>`), "step (never ended)"],
    [swatch(`<line class="start" x1="9" y1="0" x2="9" y2="14"/>`), "failover start"],
    [swatch(MARKS.vm.shape(9, 7)), "VM created"],
    [swatch(MARKS.os.shape(9, 7)), "OS ready"],
    [swatch(MARKS.app.shape(9, 7)), "app ready"],
    [swatch(`<line class="target" x1="9" y1="0" x2="9" y2="14"/>`), targetNote],
  ];
  return (
    `<h2>Timeline</h2>
<ul id="legend">
${legend.map(([s, t]) => `<li>${s}${esc(t)}</li>`).join("\n")}
</ul>
<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}">
${ticks.join("\n")}
${labels.join("\n")}
${bars.join("\n")}
${starts.join("\n")}
${targets.join("\n")}
${markers.join("\n")}
</svg>`
  );
}

function niceStep(totalSeconds: number): number {
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600]) if (totalSeconds / s <= 12) return s;
  return 1200;
}
