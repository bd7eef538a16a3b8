import { describe, expect, it } from "vitest";
import { planRetention, type RetainedPoint } from "../../../core/retention";
import {
  DEFAULT_RETENTION,
  MAX_POINTS_PER_DISK,
  mostPointsKept,
  RetentionSchema,
  type Retention,
} from "../../../core/schemas/retention";
import { BlueprintSchema } from "../../../core/schemas/blueprint";
import { SourceProtectionSchema } from "../../../core/schemas/source";

const NOW = new Date("2026-12-02T12:30:00.000Z");
const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const D = 24 * H;

/** A point `ago` milliseconds before NOW, keyed by its age. */
function pt(ago: number, holds?: RetainedPoint["holds"]): RetainedPoint {
  return { key: `p-${ago}`, pointTime: new Date(NOW.getTime() - ago).toISOString(), ...(holds ? { holds } : {}) };
}

const policy = (p: Partial<Retention> = {}): Retention => RetentionSchema.parse(p);
const kept = (points: RetainedPoint[], r: Retention = policy(), inUse: string[] = []) =>
  planRetention(points, r, NOW, { inUse })
    .keep.map((k) => k.point.key)
    .sort();
const pruned = (points: RetainedPoint[], r: Retention = policy(), inUse: string[] = []) =>
  planRetention(points, r, NOW, { inUse }).prune.map((p) => p.key);

describe("the retention policy schema", () => {
  it("defaults to every point of an hour, one an hour for a day, one a day for a week", () => {
    expect(RetentionSchema.parse({})).toEqual({
      allForSeconds: 3600,
      hourlyForSeconds: 86_400,
      dailyForSeconds: 604_800,
    });
    expect(DEFAULT_RETENTION).toEqual(RetentionSchema.parse({}));
  });

  it("keeps at most 117 points per disk by default, within the cap", () => {
    expect(mostPointsKept(policy())).toBe(84 + 25 + 8);
    expect(mostPointsKept(policy())).toBeLessThanOrEqual(MAX_POINTS_PER_DISK);
  });

  it("refuses a policy that could keep more than the cap, naming the key to shorten", () => {
    const r = RetentionSchema.safeParse({ allForSeconds: 6 * 3600 });
    expect(r.success).toBe(false);
    const issue = r.error!.issues[0]!;
    expect(issue.path).toEqual(["allForSeconds"]);
    expect(issue.message).toMatch(
      /keeps up to \d+ recovery points per disk, more than 450 \(Azure keeps at most 500 .*\)\. Shorten allForSeconds/,
    );
  });

  it("refuses a daily tier of more than 450 days through dailyForSeconds", () => {
    const r = RetentionSchema.safeParse({ allForSeconds: 0, hourlyForSeconds: 0, dailyForSeconds: 500 * 86_400 });
    expect(r.error!.issues[0]!.path).toEqual(["dailyForSeconds"]);
  });

  it("refuses negative and fractional windows with the unit in the message", () => {
    expect(RetentionSchema.safeParse({ hourlyForSeconds: -1 }).error!.issues[0]!.message).toMatch(
      /is negative\. Give how long to keep one point an hour, in seconds/,
    );
    expect(RetentionSchema.safeParse({ dailyForSeconds: 1.5 }).error!.issues[0]!.message).toMatch(/whole number/);
  });

  it("refuses unknown keys (a typo must not silently fall back to the defaults)", () => {
    expect(RetentionSchema.safeParse({ allFor: "1h" }).success).toBe(false);
  });

  it("is part of a blueprint's protection record and of the blueprint schema", () => {
    expect(
      SourceProtectionSchema.parse({ blueprint: "web", row: "web", disk: "os", retention: { allForSeconds: 600 } })
        .retention,
    ).toEqual({ allForSeconds: 600, hourlyForSeconds: 86_400, dailyForSeconds: 604_800 });
    expect(BlueprintSchema.shape.retention).toBeDefined();
  });
});

describe("planRetention", () => {
  it("keeps every point of the first tier, up to and including its boundary", () => {
    const points = [pt(0), pt(10 * MIN), pt(H)];
    expect(pruned(points, policy({ hourlyForSeconds: 0, dailyForSeconds: 0 }))).toEqual([]);
  });

  it("drops a point just past the first tier when no other tier keeps it", () => {
    const points = [pt(0), pt(H + 1)];
    expect(pruned(points, policy({ hourlyForSeconds: 0, dailyForSeconds: 0 }))).toEqual([`p-${H + 1}`]);
  });

  it("keeps the newest point of each UTC hour within the hourly tier, and drops the rest", () => {
    // NOW is 12:30. 10:50, 10:20 and 10:05 share the 10:00 hour: only 10:50 stays.
    const points = [pt(0), pt(H + 40 * MIN), pt(2 * H + 10 * MIN), pt(2 * H + 25 * MIN)];
    expect(pruned(points, policy({ allForSeconds: 3600, dailyForSeconds: 0 }))).toEqual([
      `p-${2 * H + 25 * MIN}`,
      `p-${2 * H + 10 * MIN}`,
    ]);
  });

  it("lets a point in the first tier stand for its hour (no second point kept from that hour)", () => {
    // NOW is 12:30: 12:10 is in the first tier, 12:05 only in the hourly one, and its hour is 12:10's.
    const points = [pt(0), pt(20 * MIN), pt(25 * MIN)];
    expect(pruned(points, policy({ allForSeconds: 20 * 60, dailyForSeconds: 0 }))).toEqual([`p-${25 * MIN}`]);
  });

  it("keeps one point per UTC day within the daily tier", () => {
    const points = [pt(0), pt(2 * D), pt(2 * D + 2 * H), pt(6 * D), pt(8 * D)];
    expect(kept(points, policy({ allForSeconds: 0, hourlyForSeconds: 0 }))).toEqual(
      ["p-0", `p-${2 * D}`, `p-${6 * D}`].sort(),
    );
  });

  it("always keeps the newest point, even one older than every tier", () => {
    const points = [pt(30 * D), pt(31 * D)];
    const plan = planRetention(points, policy(), NOW);
    expect(plan.keep).toEqual([{ point: points[0], reason: "newest" }]);
    expect(plan.prune).toEqual([points[1]]);
  });

  it("keeps the newest point under a policy of zeros, and nothing else", () => {
    const zero = policy({ allForSeconds: 0, hourlyForSeconds: 0, dailyForSeconds: 0 });
    expect(kept([pt(MIN), pt(0), pt(2 * MIN)], zero)).toEqual(["p-0"]);
  });

  it("keeps a held point whatever its age, while its hold lives", () => {
    const holds = [{ by: "failover-1", until: new Date(NOW.getTime() + MIN).toISOString() }];
    const plan = planRetention([pt(0), pt(30 * D, holds)], policy(), NOW);
    expect(plan.keep.map((k) => k.reason)).toEqual(["newest", "held"]);
    expect(plan.prune).toEqual([]);
  });

  it("prunes a point whose hold ended exactly now", () => {
    const holds = [{ by: "drill-1", until: NOW.toISOString() }];
    expect(pruned([pt(0), pt(30 * D, holds)])).toEqual([`p-${30 * D}`]);
  });

  it("keeps a point in use (a staging disk's base) whatever its age", () => {
    const plan = planRetention([pt(0), pt(30 * D)], policy(), NOW, { inUse: [`p-${30 * D}`] });
    expect(plan.keep.map((k) => k.reason)).toEqual(["newest", "in-use"]);
  });

  it("counts a point dated after now (clock skew) as new, and keeps it", () => {
    expect(pruned([pt(-5 * MIN), pt(0)])).toEqual([]);
  });

  it("lists the points to prune oldest first, whatever order they came in", () => {
    const zero = policy({ allForSeconds: 0, hourlyForSeconds: 0, dailyForSeconds: 0 });
    expect(pruned([pt(3 * MIN), pt(0), pt(9 * MIN), pt(6 * MIN)], zero)).toEqual([
      `p-${9 * MIN}`,
      `p-${6 * MIN}`,
      `p-${3 * MIN}`,
    ]);
  });

  it("never keeps more than the policy's bound of a week of points taken every 43 s", () => {
    const points = Array.from({ length: Math.floor((7 * D) / (43 * S)) }, (_, i) => pt(i * 43 * S));
    const keep = planRetention(points, policy(), NOW).keep.length;
    expect(keep).toBeLessThanOrEqual(mostPointsKept(policy()));
    // 84 at most in the first hour at 43 s (an hour holds 84), 24-25 hours, 7-8 days.
    expect(keep).toBeGreaterThan(100);
  });

  it("returns nothing for no points", () => {
    expect(planRetention([], policy(), NOW)).toEqual({ keep: [], prune: [] });
  });
});
