import { loadBlueprint } from "./blueprints";
import type { RunbookContext } from "./context";
import type { RowRto } from "./journal";

export interface HistoryLine {
  kind: string;
  source: "stack" | "runbook";
  startedAt: string;
  endedAt?: string;
  status: string;
  message: string;
  recoveryPoints?: Record<string, string>;
  rpoSeconds?: number;
  rto?: RowRto[];
  steps?: { name: string; seconds?: number; status: string }[];
}

/**
 * Every operation of a blueprint, newest first: the stack's history (the operation log) and the
 * runbooks' operations, read from the state store (whichever host ran them).
 */
export async function history(ctx: RunbookContext, stack: string): Promise<HistoryLine[]> {
  const lines: HistoryLine[] = [];
  for (const h of await ctx.deployer.history(stack)) {
    lines.push({
      kind: `pulumi ${h.kind}`,
      source: "stack",
      startedAt: h.startTime,
      endedAt: h.endTime,
      status: h.result,
      // The mode is in the message of an update ferry ran; stack config held it before the state store did.
      message:
        `${h.message} (${h.config.mode ? `mode ${String(h.config.mode)}; ` : ""}` +
        `+${h.resourceChanges.create} ~${h.resourceChanges.update} -${h.resourceChanges.delete})`,
    });
  }
  const { blueprint } = await loadBlueprint(ctx, stack);
  for (const op of await ctx.journal.list(blueprint.name)) {
    lines.push({
      kind: op.kind,
      source: "runbook",
      startedAt: op.startedAt,
      ...(op.endedAt ? { endedAt: op.endedAt } : {}),
      status: op.status,
      message: op.error ?? op.id,
      ...(op.recoveryPoints ? { recoveryPoints: op.recoveryPoints } : {}),
      ...(op.rpoSeconds !== undefined ? { rpoSeconds: op.rpoSeconds } : {}),
      rto: op.rto,
      steps: op.steps.map((s) => ({
        name: s.name,
        status: s.status,
        ...(s.endedAt ? { seconds: (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000 } : {}),
      })),
    });
  }
  return lines.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

export function formatHistory(lines: HistoryLine[]): string {
  return lines
    .map((l) => {
      const seconds = l.endedAt ? ` ${((Date.parse(l.endedAt) - Date.parse(l.startedAt)) / 1000).toFixed(1)} s` : "";
      const rto = l.rto?.length
        ? `  RTO ${l.rto.map((r) => `${r.row} ${r.vmCreatedSeconds ?? "?"} s${r.osReadySeconds !== undefined ? ` (OS ready ${r.osReadySeconds} s${r.appReadySeconds !== undefined ? `, app ${r.appReadySeconds} s` : ""})` : r.appReadySeconds !== undefined ? ` (app ready ${r.appReadySeconds} s)` : ""}`).join(", ")}`
        : "";
      const rpo = l.rpoSeconds !== undefined ? `  RPO ${l.rpoSeconds.toFixed(0)} s` : "";
      // A runbook's steps, each with its time (a failback's sync passes, swap, reprotect; a failover's pause, up).
      const steps = (l.steps ?? [])
        .map(
          (st) =>
            `\n      ${st.status === "succeeded" ? "  " : "! "}${st.name}${st.seconds !== undefined ? `  ${st.seconds.toFixed(1)} s` : ""}${st.status === "succeeded" ? "" : `  ${st.status}`}`,
        )
        .join("");
      return `${l.startedAt}  ${l.kind.padEnd(22)} ${l.status.padEnd(9)}${seconds}  ${l.message}${rpo}${rto}${steps}`;
    })
    .join("\n");
}
