import { FerryError, isFerryError } from "../core/errors";
import { nameOf } from "../core/resource-id";
import type { Source } from "../core/schemas/source";
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
    // Not bad input (exit 2): an operation that failed on the sync daemon, run again once it is fixed (exit 1).
    if (Date.now() > until)
      throw new FerryError(
        `Timed out after ${seconds} s waiting for ${what}. Check the sync daemon (ferry-sync list), then run ${rerun} again.`,
        { code: "Timeout" },
      );
    await ctx.sleep(Math.min(everyInMs, Math.max(25, ctx.poll.updateIntervalInMs)));
  }
}

/**
 * Pauses the sync of these source disks and waits for an apply boundary: no copy in flight and no
 * daemon holding a lease, so each staging disk equals its applied point and stays so. When the wait
 * times out, the message names each disk still short of it and why: a daemon still copying, or a copy
 * left half-way that no daemon holds (the daemon died or was killed mid-copy, and is not running).
 */
export async function pauseAtApplyBoundary(ctx: RunbookContext, sourceDiskIds: string[], rerun: string): Promise<void> {
  const ids = new Set(sourceDiskIds.map((id) => id.toLowerCase()));
  const atBoundary = (s: Source) => !s.applying && leaseHolder(s, ctx.now()) === undefined;
  // One query for all the disks, however many: it gives each pause its ETag (a row changed since is read again).
  const listed = new Map((await ctx.store.list()).map((r) => [r.source.sourceDiskId.toLowerCase(), r]));
  const written = await Promise.all(
    sourceDiskIds.map((id) => setPaused(ctx.store, id, true, ctx.now(), listed.get(id.toLowerCase()))),
  );
  // A row written paused with no copy under way and no lease is at a boundary, and stays there: a daemon starting a
  // cycle since would have changed the row, and the conditional write would have been refused and done again.
  if (written.every((r) => atBoundary(r.source))) return;
  const rows = async () =>
    (await ctx.store.list()).map((r) => r.source).filter((s) => ids.has(s.sourceDiskId.toLowerCase()));
  try {
    await waitFor(ctx, ctx.config.timeouts.pauseSeconds, "the sync to stop at an apply boundary", rerun, async () => {
      const all = await rows();
      return all.length === ids.size && all.every(atBoundary);
    });
  } catch (e) {
    if (!isFerryError(e) || e.code !== "Timeout") throw e;
    const stuck = (await rows()).filter((s) => !atBoundary(s));
    if (!stuck.length) throw e;
    const orphaned = stuck.some((s) => s.applying && leaseHolder(s, ctx.now()) === undefined);
    throw new FerryError(
      `Timed out after ${ctx.config.timeouts.pauseSeconds} s waiting for the sync to stop at an apply boundary:\n  ` +
        stuck.map((s) => whyNotAtBoundary(s, ctx.now())).join("\n  ") +
        "\n" +
        (orphaned
          ? "The sync daemon stopped in the middle of a copy and is not running: start it again on the appliance " +
            "(systemctl restart ferry-sync; `ferry-sync list` shows its sources). It finishes the interrupted copy " +
            `first, paused or not, and nothing is lost. Then run ${rerun} again.`
          : `Check the sync daemon (ferry-sync list), then run ${rerun} again.`),
      { code: "Timeout", cause: e, details: { stuck: stuck.map((s) => s.sourceDiskId) } },
    );
  }
}

/** Why a source is not at an apply boundary, in one line. */
function whyNotAtBoundary(s: Source, now: Date): string {
  const holder = leaseHolder(s, now);
  const disk = nameOf(s.sourceDiskId);
  if (holder !== undefined)
    return `${disk}: daemon ${holder} is still ${s.applying ? `applying ${nameOf(s.applying.snapshotId)}` : "in a cycle"} (its lease runs until ${s.lease!.until})`;
  return (
    `${disk}: the copy of ${nameOf(s.applying!.snapshotId)} stopped half-way and no daemon holds it ` +
    `(${s.lease ? `its lease lapsed at ${s.lease.until}` : "no lease"})`
  );
}
