import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { sameResourceId } from "../../core/resource-id";
import { factsFromConfig, factsProblemMessage } from "../facts";
import { TAGS, isRecovered, label, tagOf } from "../resources";

/** Default of `maxAgeMinutes`: how old the precheck facts may be, in minutes. */
export const DEFAULT_PRECHECK_MAX_AGE_MINUTES = 30;

// A precheck written a little "in the future" is clock skew between the pipeline agent and the
// machine running pulumi; much more than that is a wrong or hand-edited timestamp.
const CLOCK_SKEW_MS = 5 * 60_000;

/** Options of {@link precheckPassedPolicy}. */
export interface PrecheckPassedOptions {
  /** The clock the facts' age is measured against. Default: the system clock (`() => new Date()`). */
  now?: () => Date;
}

/** This rule's config (`ferry-failover-precheck-passed` in the policy-pack config). */
export interface PrecheckPassedConfig {
  /** The precheck facts (policies/facts.ts). Absent: every stack with recovered resources is refused. */
  facts?: unknown;
  /** Oldest facts accepted, in minutes. Default 30. */
  maxAgeMinutes?: number;
}

/**
 * `ferry-failover-precheck-passed`: a stack that declares recovered resources (a failover, a drill,
 * a failback) is only applied on the facts of a passed precheck of the same blueprint and mode,
 * fresh enough, whose recovery points are the ones the resources are made from.
 */
export function precheckPassedPolicy(options: PrecheckPassedOptions = {}): StackValidationPolicy {
  const now = options.now ?? (() => new Date());
  return {
    name: "ferry-failover-precheck-passed",
    description:
      "A blueprint stack that declares recovered VMs, NICs, disks or snapshots must carry the facts of a passed `ferry precheck` of the same blueprint and mode, no older than maxAgeMinutes, and recover only the recovery points that precheck approved.",
    enforcementLevel: "mandatory",
    configSchema: {
      properties: {
        facts: {
          type: "object",
          description: "The precheck facts written by `ferry precheck <blueprint>` (see policies/facts.ts).",
        },
        maxAgeMinutes: {
          type: "number",
          minimum: 1,
          default: DEFAULT_PRECHECK_MAX_AGE_MINUTES,
          description: "Oldest precheck accepted, in minutes.",
        },
      },
    },
    validateStack: (args, report) => {
      const recovered = args.resources.filter((r) => isRecovered(r.props));
      if (recovered.length === 0) return;
      const blueprints = distinct(recovered.map((r) => tagOf(r.props, TAGS.blueprint)));
      const modes = distinct(recovered.map((r) => tagOf(r.props, TAGS.mode)));
      const blueprint = blueprints[0];
      const run = `ferry precheck ${blueprint ?? "<blueprint>"}`;

      const config = args.getConfig<PrecheckPassedConfig>();
      const found = factsFromConfig(config);
      if (found.status !== "ok") {
        report(factsProblemMessage(found, blueprint, `the recovery of ${recovered.length} resource(s) in this stack`));
        return;
      }
      const facts = found.facts;

      if (!facts.passed) {
        const why = facts.problems?.length ? ` It reported: ${facts.problems.join(" ")}` : "";
        report(
          `The precheck of blueprint '${facts.blueprint}' at ${facts.checkedAt} did not pass, so this stack may not declare recovered resources.${why} Fix what it reports, then run \`${run}\` again.`,
        );
      }
      for (const b of blueprints) {
        if (b !== facts.blueprint) {
          report(
            `The precheck facts are for blueprint '${facts.blueprint}', but this stack recovers blueprint '${b}'. Run \`ferry precheck ${b}\` and pass its facts to the policy pack.`,
          );
        }
      }
      for (const m of modes) {
        if (m !== facts.mode) {
          report(
            `The precheck facts were checked for mode '${facts.mode}', but this stack's recovered resources are in mode '${m}'. Run \`${run}\` for mode '${m}' and pass its facts to the policy pack.`,
          );
        }
      }

      const maxAgeMinutes = config.maxAgeMinutes ?? DEFAULT_PRECHECK_MAX_AGE_MINUTES;
      if (typeof maxAgeMinutes !== "number" || !(maxAgeMinutes > 0)) {
        report(
          `The policy config sets maxAgeMinutes to ${JSON.stringify(maxAgeMinutes)}, which is not a positive number of minutes. Set it to how old a precheck may be (default ${DEFAULT_PRECHECK_MAX_AGE_MINUTES}).`,
        );
      } else {
        const ageMs = now().getTime() - Date.parse(facts.checkedAt);
        if (ageMs < -CLOCK_SKEW_MS) {
          report(
            `The precheck facts of blueprint '${facts.blueprint}' were checked at ${facts.checkedAt}, ${minutes(-ageMs)} in the future. Check the clocks of the pipeline agent and this machine, then run \`${run}\` again.`,
          );
        } else if (ageMs > maxAgeMinutes * 60_000) {
          report(
            `The precheck facts of blueprint '${facts.blueprint}' are ${minutes(ageMs)} old (checked at ${facts.checkedAt}), older than the limit of ${maxAgeMinutes} minutes (maxAgeMinutes). Run \`${run}\` again just before the ${facts.mode} so it sees the current state of the disks.`,
          );
        }
      }

      const approved = Object.values(facts.recoveryPoints);
      for (const r of recovered) checkRecoveryPoint(r, facts.recoveryPoints, approved, run, report);
    },
  };
}

function checkRecoveryPoint(
  r: PolicyResource,
  points: Record<string, string>,
  approved: string[],
  run: string,
  report: (message: string, urn?: string) => void,
): void {
  const point = tagOf(r.props, TAGS.recoveryPoint);
  if (point === undefined) {
    report(
      `Recovered ${label(r)} carries no ${TAGS.recoveryPoint} tag, so its recovery point cannot be checked against the precheck. Declare it through ferry's program, which tags every recovered resource with the point it is made from.`,
      r.urn,
    );
    return;
  }
  // A disk or snapshot names its source disk: it must be at exactly that disk's approved point.
  const source = tagOf(r.props, TAGS.sourceDisk);
  const key = source === undefined ? undefined : Object.keys(points).find((k) => sameResourceId(k, source));
  const expected = key === undefined ? undefined : points[key];
  if (expected !== undefined) {
    if (!sameResourceId(point, expected)) {
      report(
        `Recovered ${label(r)} is made from recovery point ${point}, but the precheck approved ${expected} for its source disk ${source}. Run \`${run}\` again so the stack config and the facts name the same applied points.`,
        r.urn,
      );
    }
    return;
  }
  if (!approved.some((p) => sameResourceId(p, point))) {
    report(
      `Recovered ${label(r)} is made from recovery point ${point}, which is not one of the recovery points the precheck approved. Run \`${run}\` again so the stack config and the facts name the same applied points.`,
      r.urn,
    );
  }
}

function distinct(values: (string | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => v !== undefined))];
}

/** "45 minutes", "30 minutes 5 seconds": exact enough that an age just over the limit reads as over it. */
function minutes(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  return s === 0 ? plural(m, "minute") : `${plural(m, "minute")} ${plural(s, "second")}`;
}

/** The rule on the system clock. */
export const precheckPassed = precheckPassedPolicy();
