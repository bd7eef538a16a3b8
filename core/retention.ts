import type { Retention } from "./schemas/retention";

/** A recovery point as the retention planner sees it. */
export interface RetainedPoint {
  /** Stable identity (the point's row key). */
  key: string;
  /** The point's time (ISO 8601): retention ages points by it. */
  pointTime: string;
  /** Operations holding the point, each until when (ISO 8601). */
  holds?: { by: string; until: string }[] | undefined;
}

/** Why a point is kept; the first reason that applies. */
export type KeepReason = "newest" | "held" | "in-use" | "all" | "hourly" | "daily";

/** What {@link planRetention} decided about one disk's points. */
export interface RetentionPlan<P extends RetainedPoint> {
  keep: { point: P; reason: KeepReason }[];
  /** Oldest first. */
  prune: P[];
}

/** Options of {@link planRetention}. */
export interface PlanRetentionOptions {
  /**
   * Keys of points in use that no hold names (the point a staging disk or a failback uses as its base). Default
   * none.
   */
  inUse?: Iterable<string>;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * Which of one disk's recovery points a policy keeps at `now`. Tiers count back from `now` by each point's time:
 * a point exactly `allForSeconds` old is still kept; in the hourly and daily tiers the newest point of each UTC
 * hour (day) whose point lies inside the window is kept. Whatever the tiers say, the newest point, points with a
 * live hold and points in use are kept. Points dated in the future (clock skew) count as new.
 */
export function planRetention<P extends RetainedPoint>(
  points: readonly P[],
  policy: Retention,
  now: Date,
  options: PlanRetentionOptions = {},
): RetentionPlan<P> {
  const t = now.getTime();
  const inUse = new Set(options.inUse ?? []);
  const newestFirst = [...points].sort((a, b) => Date.parse(b.pointTime) - Date.parse(a.pointTime));
  const hours = new Set<number>();
  const days = new Set<number>();
  const keep: RetentionPlan<P>["keep"] = [];
  const prune: P[] = [];
  newestFirst.forEach((p, i) => {
    const at = Date.parse(p.pointTime);
    const age = t - at;
    // Every point claims its hour and day, kept or not: the tier keeps the newest of each bucket.
    const hour = Math.floor(at / HOUR_MS);
    const day = Math.floor(at / DAY_MS);
    const firstOfHour = !hours.has(hour);
    const firstOfDay = !days.has(day);
    hours.add(hour);
    days.add(day);
    const reason: KeepReason | undefined =
      i === 0
        ? "newest"
        : (p.holds ?? []).some((h) => Date.parse(h.until) > t)
          ? "held"
          : inUse.has(p.key)
            ? "in-use"
            : age <= policy.allForSeconds * 1000
              ? "all"
              : firstOfHour && age <= policy.hourlyForSeconds * 1000
                ? "hourly"
                : firstOfDay && age <= policy.dailyForSeconds * 1000
                  ? "daily"
                  : undefined;
    if (reason) keep.push({ point: p, reason });
    else prune.push(p);
  });
  return { keep, prune: prune.reverse() };
}
