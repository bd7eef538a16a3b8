import type { Logger } from "pino";
import type { Source } from "../core/schemas/source";
import { checkHealth, syncSource, type CycleOutcome, type SyncContext } from "./cycle";
import { groupId, SnapshotGroup } from "./row-group";
import { SyncMetrics } from "./metrics";
import { leaseHolder } from "../adapters/state/lease";
import { currentSession, sessionEnded } from "./process-identity";
import type { StoredSource } from "../adapters/state/store";
import type { DaemonHeartbeat } from "../core/schemas/heartbeat";

/** Where and how often the daemon says it is alive (see {@link SchedulerOptions.heartbeat}). */
export interface HeartbeatOptions {
  /** Where heartbeats go: the state store's (`adapters/state/heartbeat.ts`). */
  store: { write(heartbeat: DaemonHeartbeat): Promise<void> };
  /** Time between two heartbeats, in milliseconds: at most one per interval, at ticks and between them. */
  intervalInMs: number;
  instanceId: string;
  host: string;
  pid: number;
  version: string;
}

export interface SchedulerOptions {
  /** The appliance whose sources this daemon syncs. */
  applianceId: string;
  /** Time between two syncs of a source, in milliseconds. */
  intervalInMs: number;
  /** Time between two scheduled verifications of a healthy source, in milliseconds; 0 never. */
  verifyIntervalInMs: number;
  maxParallelSources: number;
  /** How often due sources are looked for, in milliseconds. */
  tickInMs: number;
  /**
   * Heartbeats in the state store: written at a tick that read the store, and on a timer between ticks (a tick
   * waits for its cycles, and a backfill takes hours), then once more with `stoppedAt` on stop. Default: none.
   */
  heartbeat?: HeartbeatOptions;
}

type Outcome = CycleOutcome | { kind: "verified"; ok: boolean; firstDifferenceAt?: number };

/** Failed cycles back off: the interval doubled per failure in a row, at most eight times it. */
function backoff(intervalInMs: number, failures: number): number {
  return failures <= 0 ? intervalInMs : intervalInMs * Math.min(8, 2 ** (failures - 1));
}

/**
 * The sync daemon's scheduler: every tick it reads the sources of its appliance from the state
 * store and starts a cycle for each one that is due — an interrupted apply or a pending source at
 * once, a requested sync at once, otherwise one interval after the last snapshot (longer after
 * failures) — at most `maxParallelSources` at a time. A failing source never stops the others.
 */
export class SyncDaemon {
  readonly metrics: SyncMetrics;
  private readonly running = new Map<string, Promise<void>>();
  private readonly lastAttemptAt = new Map<string, number>();
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** When the last heartbeat was sent (epoch ms), so that ticks and the timer write one per interval. */
  private lastBeatAt = 0;
  private readonly startedAt = new Date();
  private ticking: Promise<void> | undefined;
  private readonly log: Logger;
  /** The other daemon each source was last seen leased to, so that it is said once, not every tick. */
  private readonly heldBy = new Map<string, string>();

  constructor(
    private readonly ctx: SyncContext,
    private readonly options: SchedulerOptions,
  ) {
    this.log = ctx.logger.child({ component: "scheduler" });
    this.metrics = new SyncMetrics(ctx.owner ? { instanceId: ctx.owner } : {});
  }

  /** Whether a source needs a cycle now; `"verify"` when only a scheduled verification is due. */
  due(source: Source, now: number): boolean | "verify" {
    if (source.state === "disabled") return false;
    // Another daemon's cycle is under way: its lease ends with it (or runs out if it died).
    const holder = leaseHolder(source, new Date(now));
    if (holder !== undefined && holder !== this.ctx.owner) return false;
    if (source.applying) return true;
    // A paused source still leased by this daemon gets one more (empty) cycle, which releases it.
    if (source.paused) return source.lease !== undefined && source.lease.owner === this.ctx.owner;
    if (source.state === "degraded") return false;
    if (source.state === "pending") return true;
    const last = Math.max(
      this.lastAttemptAt.get(key(source)) ?? 0,
      source.desired ? Date.parse(source.desired.createdAt) : 0,
    );
    if (source.syncRequestedAt && Date.parse(source.syncRequestedAt) > (this.lastAttemptAt.get(key(source)) ?? 0))
      return true;
    if (now >= last + backoff(this.options.intervalInMs, source.consecutiveFailures)) return true;
    if (
      this.options.verifyIntervalInMs > 0 &&
      source.state === "healthy" &&
      (!source.lastVerifiedAt || now >= Date.parse(source.lastVerifiedAt) + this.options.verifyIntervalInMs)
    ) {
      return "verify";
    }
    return false;
  }

  /**
   * One pass: starts cycles for due sources (with `force`, for every source the filter keeps), and
   * resolves when the ones it started have ended.
   */
  async tick(options: { filter?: (s: Source) => boolean; force?: boolean } = {}): Promise<Map<string, Outcome>> {
    const { filter, force } = options;
    const outcomes = new Map<string, Outcome>();
    let rows: StoredSource[];
    try {
      rows = await this.ctx.store.list(
        { applianceId: this.options.applianceId },
        {
          onCorrupt: (rowKey, e) =>
            this.log.error({ err: e, rowKey }, "skipping a source row that does not parse; fix or delete it"),
        },
      );
      this.metrics.lastStoreError = undefined;
      this.metrics.lastTickAt = Date.now();
      await this.beat();
    } catch (e) {
      this.metrics.lastStoreError = (e as Error).message;
      this.log.error({ err: e }, "cannot read the state store");
      return outcomes;
    }
    const now = this.ctx.now();
    const started: Promise<void>[] = [];
    const dueNow = new Map<string, boolean | "verify">();
    for (const stored of rows) {
      const source = stored.source;
      this.metrics.observe(source, now);
      if (filter && !filter(source)) continue;
      const k = key(source);
      this.noteHolder(source, now);
      if (this.running.has(k) || this.controller.signal.aborted) continue;
      dueNow.set(k, force && source.state !== "disabled" ? true : this.due(source, now.getTime()));
    }
    const groups = this.rowGroups(rows, dueNow, now);
    for (const stored of rows) {
      const source = stored.source;
      const k = key(source);
      const due = dueNow.get(k);
      if (!due) continue;
      if (this.running.size >= this.options.maxParallelSources) break;
      const group = due === true ? groups.get(k) : undefined;
      this.lastAttemptAt.set(k, now.getTime());
      const work = (async () => {
        const outcome =
          due === "verify"
            ? await checkHealth(stored, this.ctx, this.controller.signal)
            : await syncSource(stored, this.ctx, this.controller.signal, group ? { group } : {});
        outcomes.set(source.sourceDiskId, outcome);
        if (outcome.kind !== "skipped" && outcome.kind !== "interrupted" && outcome.kind !== "fenced") {
          this.metrics.recordCycle(
            source.sourceDiskId,
            outcome.kind === "applied" || (outcome.kind === "verified" && outcome.ok),
            this.ctx.now(),
          );
        }
        const after = await this.ctx.store.get(source.sourceDiskId).catch(() => undefined);
        if (after) this.metrics.observe(after.source, this.ctx.now());
      })()
        .catch((e: unknown) => this.log.error({ err: e, sourceDiskId: source.sourceDiskId }, "sync cycle crashed"))
        .finally(() => this.running.delete(k));
      this.running.set(k, work);
      started.push(work);
    }
    // A row's disk left out (no free slot) is not waited for by the others.
    for (const [k, group] of groups) if (!this.running.has(k)) group.leave(k);
    await Promise.all(started);
    return outcomes;
  }

  /**
   * The disks of one blueprint row sync together, so that their source snapshots are requested at once: when one is
   * due, every other healthy disk of its row that is free joins it now (`dueNow` is changed), and each row's
   * disks that will take a snapshot share a {@link SnapshotGroup}. Sources without a row, or re-applying a point,
   * or still pending, go on their own.
   */
  private rowGroups(
    rows: StoredSource[],
    dueNow: Map<string, boolean | "verify">,
    now: Date,
  ): Map<string, SnapshotGroup> {
    const rowOf = (s: Source) => (s.protection ? `${s.protection.blueprint}\n${s.protection.row}` : undefined);
    const byRow = new Map<string, Source[]>();
    for (const { source } of rows) {
      const r = rowOf(source);
      if (r !== undefined && dueNow.has(key(source))) byRow.set(r, [...(byRow.get(r) ?? []), source]);
    }
    const out = new Map<string, SnapshotGroup>();
    for (const sources of byRow.values()) {
      if (!sources.some((s) => dueNow.get(key(s)) === true)) continue;
      const takers = sources.filter((s) => {
        const free = s.state === "healthy" && !s.paused && !s.applying;
        const holder = leaseHolder(s, now);
        if (free && (holder === undefined || holder === this.ctx.owner)) dueNow.set(key(s), true);
        // A pending or backfilling source, or one re-applying, takes no snapshot at the start of its cycle.
        return dueNow.get(key(s)) === true && !s.applying && s.state !== "pending";
      });
      if (takers.length === 0) continue;
      const group = new SnapshotGroup(
        groupId(takers[0]!.protection!.row, now),
        takers.map((s) => s.sourceDiskId),
      );
      for (const s of takers) out.set(key(s), group);
    }
    return out;
  }

  /** Says when another daemon holds a source (once per holder), and when it no longer does. */
  private noteHolder(source: Source, now: Date): void {
    const k = key(source);
    const holder = leaseHolder(source, now);
    const session = source.lease?.session;
    // Another process of this very instance (a misconfigured second one) is just as much another holder.
    const other =
      holder === undefined
        ? undefined
        : holder !== this.ctx.owner
          ? holder
          : session !== undefined && session !== currentSession() && !sessionEnded(session)
            ? `${holder} (another process: ${session})`
            : undefined;
    if (other === this.heldBy.get(k)) return;
    if (other) {
      this.heldBy.set(k, other);
      this.log.warn(
        { sourceDiskId: source.sourceDiskId, holder: other, until: source.lease?.until },
        "another daemon holds this source; not writing it while it does",
      );
    } else {
      this.heldBy.delete(k);
      this.log.info({ sourceDiskId: source.sourceDiskId }, "the other daemon's lease on this source ended");
    }
  }

  /**
   * Writes a heartbeat if the last one is an interval old (or at once with `stoppedAt`). A store that does not
   * answer is logged and tried again at the next chance: the heartbeat only ever says what is true.
   */
  private async beat(stoppedAt?: Date): Promise<void> {
    const hb = this.options.heartbeat;
    if (!hb) return;
    const nowMs = Date.now();
    if (!stoppedAt && nowMs - this.lastBeatAt < hb.intervalInMs) return;
    this.lastBeatAt = nowMs;
    const { store, intervalInMs, ...who } = hb;
    const lastTick = this.metrics.lastTickAt;
    try {
      await store.write({
        ...who,
        applianceId: this.options.applianceId,
        startedAt: this.startedAt.toISOString(),
        at: this.ctx.now().toISOString(),
        intervalSeconds: intervalInMs / 1000,
        ...(lastTick !== undefined ? { lastTickAt: new Date(lastTick).toISOString() } : {}),
        ...(stoppedAt ? { stoppedAt: stoppedAt.toISOString() } : {}),
      });
      this.metrics.lastHeartbeatAt = nowMs;
    } catch (e) {
      this.lastBeatAt = 0;
      this.log.warn({ err: e }, "cannot write the heartbeat to the state store");
    }
  }

  /** Ticks every `tickInMs` until `stop()`. */
  start(): void {
    const hb = this.options.heartbeat;
    if (hb) {
      this.heartbeatTimer = setInterval(() => void this.beat(), hb.intervalInMs);
      this.heartbeatTimer.unref();
    }
    const loop = () => {
      if (this.controller.signal.aborted) return;
      this.ticking = this.tick().then(() => undefined);
      void this.ticking.finally(() => {
        if (!this.controller.signal.aborted) this.timer = setTimeout(loop, this.options.tickInMs);
      });
    };
    loop();
  }

  /**
   * Stops starting cycles and asks the running ones to stop at a checkpoint (a copy in progress
   * keeps its `applying`, re-applied at the next start). Resolves when they have stopped, or after
   * `timeoutInMs` at most.
   */
  async stop(timeoutInMs: number): Promise<boolean> {
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.controller.abort(new Error("the sync daemon is stopping"));
    const all = Promise.all([...this.running.values(), this.ticking]).then(() => true);
    const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutInMs).unref());
    const clean = await Promise.race([all, timeout]);
    // Said at once, so that `ferry sources list` shows the sources stale now rather than a threshold later. Bounded:
    // a store that does not answer must not hold the shutdown up.
    await Promise.race([this.beat(this.ctx.now()), new Promise((r) => setTimeout(r, 2000).unref())]);
    return clean;
  }
}

function key(source: Source): string {
  return source.sourceDiskId.toLowerCase();
}
