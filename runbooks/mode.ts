import type { RunbookContext } from "./context";

// A blueprint's current mode, as the runbooks last set it, is a run-time fact: it lives in the
// run-state store, so a runbook on a fresh pipeline agent sees a failover that another agent ran.
// The stack config's `ferry:mode` stays the deployer's input for `pulumi up`.

/** The modes a blueprint stack is in. */
export type BlueprintMode = "standby" | "failover" | "test" | "failback";

/** The mode record of a blueprint: which mode, since when, set by which operation. */
export interface ModeRecord {
  mode: BlueprintMode;
  since: string;
  operation: string;
}

const modeKey = "mode";

/**
 * The blueprint's current mode: the store's record, or `fallback` (the stack config's mode) for a
 * blueprint no runbook has switched yet.
 */
export async function currentMode(
  ctx: Pick<RunbookContext, "runState">,
  blueprint: string,
  fallback: BlueprintMode,
): Promise<BlueprintMode> {
  return (await ctx.runState.get<ModeRecord>(blueprint, modeKey))?.doc.mode ?? fallback;
}

/**
 * Records that `operation` switches the blueprint to `mode`. Called before the `up` that switches
 * it, as the deployer sets `ferry:mode` before the update: a failed `up` leaves the stack part-way
 * there, and guards must treat it as in the new mode. Conditional on the record read here: a switch
 * by another host in between is refused ("ConcurrentUpdate"), not overwritten.
 */
export async function recordMode(
  ctx: Pick<RunbookContext, "runState" | "now">,
  blueprint: string,
  mode: BlueprintMode,
  operation: string,
): Promise<void> {
  const record: ModeRecord = { mode, since: ctx.now().toISOString(), operation };
  const current = await ctx.runState.get<ModeRecord>(blueprint, modeKey);
  if (current?.doc.mode === mode) return;
  if (current) await ctx.runState.replace(blueprint, modeKey, record, current.etag);
  else await ctx.runState.create(blueprint, modeKey, record);
}
