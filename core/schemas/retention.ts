import { z } from "zod";

/** Azure keeps at most 500 incremental snapshots of one disk. */
export const AZURE_MAX_INCREMENTAL_PER_DISK = 500;
/** Azure creates at most this many incremental snapshots of one disk per {@link AZURE_SNAPSHOT_WINDOW_SECONDS}. */
export const AZURE_SNAPSHOTS_PER_WINDOW = 7;
export const AZURE_SNAPSHOT_WINDOW_SECONDS = 300;
/**
 * The most recovery points a retention policy may keep per disk: Azure's 500 less 50 left for the other
 * snapshots of a staging disk (a failover's or a drill's) and for held points retention may not delete.
 */
export const MAX_POINTS_PER_DISK = 450;

const HOUR = 3600;
const DAY = 86_400;

/** The default tiers: every point of the last hour, one an hour for a day, one a day for a week. */
export const DEFAULT_RETENTION = { allForSeconds: HOUR, hourlyForSeconds: DAY, dailyForSeconds: 7 * DAY } as const;

const window = (what: string) =>
  z
    .int(`is not a whole number of seconds. Give how long to keep ${what}, in seconds (0: none)`)
    .min(0, `is negative. Give how long to keep ${what}, in seconds (0: none)`);

/**
 * How long a blueprint's recovery points in the DR region are kept, in tiers measured back from now by the
 * points' times: every point younger than `allForSeconds`; the newest point of each UTC hour younger than
 * `hourlyForSeconds`; the newest of each UTC day younger than `dailyForSeconds`. The newest point, and points a
 * failover, drill or failback holds, are kept whatever the tiers say.
 */
export const RetentionSchema = z
  .strictObject({
    /** Keep every point this young, in seconds. Default 3600 (an hour). */
    allForSeconds: window("every point").default(DEFAULT_RETENTION.allForSeconds),
    /** Keep one point an hour (each UTC hour's newest) this far back, in seconds. Default 86400 (a day). */
    hourlyForSeconds: window("one point an hour").default(DEFAULT_RETENTION.hourlyForSeconds),
    /** Keep one point a day (each UTC day's newest) this far back, in seconds. Default 604800 (a week). */
    dailyForSeconds: window("one point a day").default(DEFAULT_RETENTION.dailyForSeconds),
  })
  .superRefine((r, ctx) => {
    if (![r.allForSeconds, r.hourlyForSeconds, r.dailyForSeconds].every(Number.isInteger)) return;
    const most = mostPointsKept(r);
    if (most > MAX_POINTS_PER_DISK) {
      const key = largestTier(r);
      ctx.addIssue({
        code: "custom",
        path: [key],
        message:
          `keeps up to ${most} recovery points per disk, more than ${MAX_POINTS_PER_DISK} (Azure keeps at most ` +
          `${AZURE_MAX_INCREMENTAL_PER_DISK} incremental snapshots of a disk, and failovers and drills need some). ` +
          `Shorten ${key}`,
      });
    }
  });
export type Retention = z.infer<typeof RetentionSchema>;
export type RetentionInput = z.input<typeof RetentionSchema>;

/**
 * The most points a policy can keep of one disk: every point of the first tier at the fastest rate Azure allows
 * (7 per 5 minutes), plus one per hour and one per day of the others (each window may start mid-bucket: +1).
 */
export function mostPointsKept(r: Retention): number {
  const all = Math.ceil(r.allForSeconds / AZURE_SNAPSHOT_WINDOW_SECONDS) * AZURE_SNAPSHOTS_PER_WINDOW;
  const hourly = r.hourlyForSeconds > 0 ? Math.ceil(r.hourlyForSeconds / HOUR) + 1 : 0;
  const daily = r.dailyForSeconds > 0 ? Math.ceil(r.dailyForSeconds / DAY) + 1 : 0;
  // The newest point is always kept, even by a policy of zeros.
  return Math.max(1, all + hourly + daily);
}

/** The tier that contributes most to {@link mostPointsKept}: the one to shorten. */
function largestTier(r: Retention): keyof Retention {
  const shares: [keyof Retention, number][] = [
    ["allForSeconds", Math.ceil(r.allForSeconds / AZURE_SNAPSHOT_WINDOW_SECONDS) * AZURE_SNAPSHOTS_PER_WINDOW],
    ["hourlyForSeconds", Math.ceil(r.hourlyForSeconds / HOUR)],
    ["dailyForSeconds", Math.ceil(r.dailyForSeconds / DAY)],
  ];
  return shares.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
}
