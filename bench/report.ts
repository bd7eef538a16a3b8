/** One benchmark result, in the shape `npm run bench -- --json` prints (one JSON object per line). */
export interface BenchResult {
  bench: string;
  value: number;
  unit: string;
  /** The same measure of the reference tool, taken in the same run on the same data; null when there is none. */
  reference: number | null;
  /** As each benchmark defines it (see `goal`); null without a reference. */
  ratio: number | null;
  goal: string;
  /** Whether the goal is met. */
  ok?: boolean;
}

export function printResults(results: BenchResult[], json: boolean): void {
  if (json) {
    for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const rows = results.map((r) => [
    r.bench,
    `${round(r.value)} ${r.unit}`,
    r.reference === null ? "—" : `${round(r.reference)} ${r.unit}`,
    r.ratio === null ? "—" : round(r.ratio).toString(),
    r.goal,
    r.ok === undefined ? "" : r.ok ? "met" : "MISSED",
  ]);
  const head = ["bench", "ferry", "reference", "ratio", "goal", ""];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${line(head)}\n${line(widths.map((w) => "-".repeat(w)))}\n${rows.map(line).join("\n")}\n`);
}

function round(n: number): number {
  return Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 100) / 100;
}
