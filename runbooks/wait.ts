import { UserError } from "../core/errors";
import { setPaused } from "../adapters/state/admin";
import { leaseHolder } from "../adapters/state/lease";
import type { RunbookContext } from "./context";

/**
 * Polls `check` (state-store reads: cheap enough to look often) until it holds, or fails after
 * `seconds` telling the person which runbook to run again (`rerun`, e.g. "the failover").
 */
export async function waitFor(
  ctx: RunbookContext,
  seconds: number,
  what: string,
  rerun: string,
  check: () => Promise<boolean>,
  everyInMs = 250,
): Promise<void> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until)
      throw new UserError(
        `Timed out after ${seconds} s waiting for ${what}. Check the sync daemon (ferry-sync list), then run ${rerun} again.`,
        { code: "Timeout" },
      );
    await ctx.sleep(Math.min(everyInMs, Math.max(25, ctx.poll.updateIntervalInMs)));
  }
}

/**
 * Pauses the sync of these source disks and waits for an apply boundary: no copy in flight and no
 * daemon holding a lease, so each staging disk equals its applied point and stays so.
 */
export async function pauseAtApplyBoundary(ctx: RunbookContext, sourceDiskIds: string[], rerun: string): Promise<void> {
  await Promise.all(sourceDiskIds.map((id) => setPaused(ctx.store, id, true, ctx.now())));
  const ids = new Set(sourceDiskIds.map((id) => id.toLowerCase()));
  await waitFor(ctx, ctx.config.timeouts.pauseSeconds, "the sync to stop at an apply boundary", rerun, async () => {
    // One query for all the disks, however many.
    const all = (await ctx.store.list()).map((r) => r.source).filter((s) => ids.has(s.sourceDiskId.toLowerCase()));
    return all.length === ids.size && all.every((s) => !s.applying && leaseHolder(s, ctx.now()) === undefined);
  });
}
