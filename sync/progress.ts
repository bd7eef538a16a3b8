/** Progress of long copies on a terminal: one line per source, rewritten in place, at most every 500 ms. */
export class ProgressPrinter {
  private readonly started = new Map<string, { at: number; bytes: number }>();
  private lastPrint = 0;
  private readonly lines = new Map<string, string>();

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly label: (sourceDiskId: string) => string = (id) => id.split("/").pop() ?? id,
    private readonly now: () => number = Date.now,
  ) {}

  update(sourceDiskId: string, p: { bytesDone: number; bytesTotal: number }): void {
    const t = this.now();
    let start = this.started.get(sourceDiskId);
    if (!start || p.bytesDone < start.bytes) {
      start = { at: t, bytes: p.bytesDone };
      this.started.set(sourceDiskId, start);
    }
    const seconds = Math.max(0.001, (t - start.at) / 1000);
    const rate = (p.bytesDone - start.bytes) / seconds;
    const pct = p.bytesTotal > 0 ? (100 * p.bytesDone) / p.bytesTotal : 100;
    const eta = rate > 0 ? (p.bytesTotal - p.bytesDone) / rate : Number.POSITIVE_INFINITY;
    this.lines.set(
      sourceDiskId,
      `${this.label(sourceDiskId)}  ${pct.toFixed(1).padStart(5)}%  ${mib(p.bytesDone)}/${mib(p.bytesTotal)} MiB  ${mib(rate)} MiB/s  ETA ${Number.isFinite(eta) ? `${Math.ceil(eta)} s` : "—"}`,
    );
    if (p.bytesDone >= p.bytesTotal) this.started.delete(sourceDiskId);
    if (t - this.lastPrint >= 500 || p.bytesDone >= p.bytesTotal) {
      this.lastPrint = t;
      this.out.write(`\r${[...this.lines.values()].join(" | ")}\u001b[K${p.bytesDone >= p.bytesTotal ? "\n" : ""}`);
      if (p.bytesDone >= p.bytesTotal) this.lines.delete(sourceDiskId);
    }
  }
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
