import type { ReportViolation, ResourceValidationPolicy } from "@pulumi/policy";
import { recoverySetFingerprint } from "../../core/recovery-set";
import { sameResourceId } from "../../core/resource-id";
import { factsFromConfig, factsProblemMessage, type PrecheckFacts } from "../facts";
import { TAGS, isRecoveredResource, label, tagOf, type Props } from "../resources";

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
  /** The precheck facts (policies/facts.ts). Absent: every recovered resource is refused. */
  facts?: unknown;
  /** Oldest facts accepted, in minutes. Default 30. */
  maxAgeMinutes?: number;
}

/**
 * `ferry-failover-precheck-passed`: no recovered VM, NIC, disk or snapshot (a failover, a drill, a
 * failback) is created or changed without the facts of a passed precheck of its blueprint, mode
 * and operation, fresh enough, that approved exactly the recovery point it is made from.
 *
 * A resource policy, judged on each recovered resource before the engine creates or updates it.
 * Pulumi runs stack policies only after every resource of the stack is registered (in an update:
 * created), so a stack policy could fail the update but never stop the recovered VM from existing
 * ("Types of Policies" in Pulumi's "Policy as code concepts":
 * https://www.pulumi.com/docs/iac/using-pulumi/crossguard/core-concepts/). Every check here reads
 * only the resource's own tags and the facts, so no stack policy is kept beside it.
 */
export function precheckPassedPolicy(options: PrecheckPassedOptions = {}): ResourceValidationPolicy {
  const now = options.now ?? (() => new Date());
  return {
    name: "ferry-failover-precheck-passed",
    description:
      "Every recovered VM, NIC, disk or snapshot must carry the facts of a passed `ferry precheck` of its blueprint, mode and operation, no older than maxAgeMinutes, that approved exactly its recovery point; it is judged before it is created.",
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
    validateResource: (args, report) => {
      if (!isRecoveredResource(args)) return;
      const what = `Recovered ${label(args)}`;
      const blueprint = tagOf(args.props, TAGS.blueprint);
      const run = `ferry precheck ${blueprint ?? "<blueprint>"}`;
      const config = args.getConfig<PrecheckPassedConfig>();
      const found = factsFromConfig(config);
      if (found.status !== "ok") {
        report(factsProblemMessage(found, blueprint, `the recovery of ${what}`));
        return;
      }
      const facts = found.facts;
      if (!facts.passed) {
        const why = facts.problems?.length ? ` It reported: ${facts.problems.join(" ")}` : "";
        report(
          `The precheck of blueprint '${facts.blueprint}' at ${facts.checkedAt} did not pass, so ${what} may not be created.${why} Fix what it reports, then run \`${run}\` again.`,
        );
      }
      checkBinding(what, args.props, facts, run, report);
      checkAge(facts, config.maxAgeMinutes, now(), run, report);
      checkRecoveryPoint(what, args.props, facts.recoveryPoints, run, report);
      checkRecoverySet(what, args.props, facts.recoveryPoints, run, report);
    },
  };
}

/** The resource is of the blueprint, mode and operation the precheck was run for. */
function checkBinding(what: string, props: Props, facts: PrecheckFacts, run: string, report: ReportViolation): void {
  const blueprint = tagOf(props, TAGS.blueprint);
  if (blueprint !== facts.blueprint) {
    report(
      blueprint === undefined
        ? `${what} carries no ${TAGS.blueprint} tag, so it cannot be bound to the precheck of blueprint '${facts.blueprint}'. Declare it through ferry's program, which tags every recovered resource with its blueprint.`
        : `The precheck facts are for blueprint '${facts.blueprint}', but ${what} recovers blueprint '${blueprint}'. Run \`ferry precheck ${blueprint}\` and pass its facts to the policy pack.`,
    );
  }
  const mode = tagOf(props, TAGS.mode);
  if (mode !== facts.mode) {
    report(
      `The precheck facts were checked for mode '${facts.mode}', but ${what} is in mode '${mode ?? "(no ferry-mode tag)"}'. Run \`${run}\`${mode === "test" ? " --test" : ""} for that mode and pass its facts to the policy pack.`,
    );
  }
  // Facts of one operation do not license another: a failover re-run, or a break-glass up, prechecks again.
  const operation = tagOf(props, TAGS.operation);
  if (facts.operation !== undefined && operation !== facts.operation) {
    report(
      `The precheck facts were checked for operation '${facts.operation}', but ${what} belongs to operation '${operation ?? "(no ferry-operation tag)"}'. Run \`${run} --operation ${operation ?? "<operation>"}\` and pass its facts to the policy pack.`,
    );
  }
}

function checkAge(facts: PrecheckFacts, maxAgeMinutes: unknown, now: Date, run: string, report: ReportViolation): void {
  const limit = maxAgeMinutes ?? DEFAULT_PRECHECK_MAX_AGE_MINUTES;
  if (typeof limit !== "number" || !(limit > 0)) {
    report(
      `The policy config sets maxAgeMinutes to ${JSON.stringify(limit)}, which is not a positive number of minutes. Set it to how old a precheck may be (default ${DEFAULT_PRECHECK_MAX_AGE_MINUTES}).`,
    );
    return;
  }
  const ageMs = now.getTime() - Date.parse(facts.checkedAt);
  if (ageMs < -CLOCK_SKEW_MS) {
    report(
      `The precheck facts of blueprint '${facts.blueprint}' were checked at ${facts.checkedAt}, ${minutes(-ageMs)} in the future. Check the clocks of the pipeline agent and this machine, then run \`${run}\` again.`,
    );
  } else if (ageMs > limit * 60_000) {
    report(
      `The precheck facts of blueprint '${facts.blueprint}' are ${minutes(ageMs)} old (checked at ${facts.checkedAt}), older than the limit of ${limit} minutes (maxAgeMinutes). Run \`${run}\` again just before the ${facts.mode} so it sees the current state of the disks.`,
    );
  }
}

/**
 * The resource names exactly the point the precheck approved: a disk or snapshot names its source
 * disk, and must be at that disk's approved point; a VM or NIC (no source disk) at one of them.
 */
function checkRecoveryPoint(
  what: string,
  props: Props,
  points: Record<string, string>,
  run: string,
  report: ReportViolation,
): void {
  const point = tagOf(props, TAGS.recoveryPoint);
  if (point === undefined) {
    report(
      `${what} carries no ${TAGS.recoveryPoint} tag, so its recovery point cannot be checked against the precheck. Declare it through ferry's program, which tags every recovered resource with the point it is made from.`,
    );
    return;
  }
  const again = `Run \`${run}\` again so the stack's recovery points and the facts name the same applied points.`;
  const source = tagOf(props, TAGS.sourceDisk);
  if (source !== undefined) {
    const key = Object.keys(points).find((k) => sameResourceId(k, source));
    const expected = key === undefined ? undefined : points[key];
    if (expected === undefined) {
      report(
        `${what} recovers source disk ${source}, which the precheck did not check (it approved points for ${Object.keys(points).join(", ") || "no disk"}). ${again}`,
      );
    } else if (!sameResourceId(point, expected)) {
      report(
        `${what} is made from recovery point ${point}, but the precheck approved ${expected} for its source disk ${source}. ${again}`,
      );
    }
    return;
  }
  if (!Object.values(points).some((p) => sameResourceId(p, point))) {
    report(
      `${what} is made from recovery point ${point}, which is not one of the recovery points the precheck approved. ${again}`,
    );
  }
}

/**
 * The resource belongs to a stack whose every recovery point is one the precheck approved: its
 * `ferry-recovery-set` tag is the fingerprint of all of them. Judged on each resource, so a point
 * that differs on one disk refuses the first recovered resource of any row, before anything exists.
 */
function checkRecoverySet(
  what: string,
  props: Props,
  points: Record<string, string>,
  run: string,
  report: ReportViolation,
): void {
  const set = tagOf(props, TAGS.recoverySet);
  if (set === undefined) {
    report(
      `${what} carries no ${TAGS.recoverySet} tag, so the stack's recovery points cannot be checked against the precheck as a whole. Declare it through ferry's program, which tags every recovered resource with the fingerprint of its blueprint's points.`,
    );
    return;
  }
  if (set.toLowerCase() !== recoverySetFingerprint(points)) {
    report(
      `${what} belongs to a stack whose recovery points are not the ones the precheck approved (ferry-recovery-set ${set.slice(0, 12)}… differs from the facts' points): at least one disk of the blueprint would be recovered from another point. Run \`${run}\` again so the stack's recovery points and the facts name the same applied points.`,
    );
  }
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
