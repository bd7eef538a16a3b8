import { z } from "zod";
import { isUserError } from "../core/errors";
import { azureRegion, isoDateTime, resourceName } from "../core/schemas/fields";
import { armResourceId, diskId, snapshotId } from "../core/schemas/ids";
import { isRecord } from "../core/schemas/refine";
import { parseWith, type ValidationIssue } from "../core/validate";
import { blueprintModes } from "../stacks/plan";

/**
 * A map keyed by source disk id. zod reports a bad record key without saying why; this names the
 * key and says what an id looks like.
 */
function bySourceDiskId<V extends z.ZodType>(value: V) {
  return z.record(z.string(), value).superRefine((record, ctx) => {
    for (const key of Object.keys(record)) {
      const checked = diskId.safeParse(key);
      if (!checked.success) {
        const why = checked.error.issues[0]?.message ?? "is not the ARM id of a managed disk";
        ctx.addIssue({ code: "custom", path: [key], message: `key ${why}` });
      }
    }
  });
}

/**
 * What the precheck runbook hands the policy pack, under the `facts` key of each rule's config
 * (see `packConfigFromFacts` in pack.ts): whether the blueprint passed, when, for which mode, and
 * what a recovery may look like (region, subnets, recovery points, source sizes).
 */
export const PrecheckFactsSchema = z.strictObject({
  /** Name of the blueprint that was checked. */
  blueprint: resourceName,
  /** True only when every check of the precheck passed. */
  passed: z.boolean(),
  /** When the precheck ran (ISO 8601). */
  checkedAt: isoDateTime,
  /** The mode the stack is about to be switched to. */
  mode: z.enum(blueprintModes),
  /** Id of the operation (failover, drill) the precheck was run for. */
  operation: z.string().min(1).max(128).optional(),
  /** The DR region recovered resources must be in. */
  targetRegion: azureRegion,
  /** The regions the blueprint's source VMs live in: never a place to recover into. */
  sourceRegions: z.array(azureRegion),
  /**
   * ARM ids of the subnets recovered NICs may join: the target subnet (the test subnet of a drill) and the subnets
   * of that network the rows' NICs name (`nics[].subnet`, `testSubnet`).
   */
  allowedSubnetIds: z.array(
    armResourceId("Microsoft.Network/virtualNetworks/subnets", "az network vnet subnet show --query id -o tsv"),
  ),
  /** The applied recovery point of each source disk: source disk id → incremental snapshot id. */
  recoveryPoints: bySourceDiskId(snapshotId),
  /** The size of each source disk in GiB, by source disk id. */
  sourceSizesGiB: bySourceDiskId(z.int().min(1)),
  /** What failed, one sentence each, when `passed` is false. */
  problems: z.array(z.string()).optional(),
});
export type PrecheckFacts = z.output<typeof PrecheckFactsSchema>;

/** Result of {@link checkPrecheckFacts}: the facts, or every problem found in them. */
export type PrecheckFactsCheck =
  { ok: true; facts: PrecheckFacts } | { ok: false; problems: ValidationIssue[]; message: string };

const what = "precheck facts";

/**
 * Validates precheck facts and returns them typed, or throws a UserError (code "InvalidConfig")
 * listing every problem with its path and fix. For the precheck runbook and the deployers.
 */
export function parsePrecheckFacts(raw: unknown): PrecheckFacts {
  return parseWith(PrecheckFactsSchema, raw, { what });
}

/** As {@link parsePrecheckFacts}, but returns the problems instead of throwing (for the rules). */
export function checkPrecheckFacts(raw: unknown): PrecheckFactsCheck {
  try {
    return { ok: true, facts: parsePrecheckFacts(raw) };
  } catch (e) {
    if (!isUserError(e)) throw e;
    const problems = ((e.details as { issues?: ValidationIssue[] } | undefined)?.issues ?? []).slice();
    return { ok: false, problems, message: problems.map((p) => `${p.path}: ${p.message}`).join(" ") };
  }
}

/** The facts found under `facts` in a rule's config. */
export type FactsInConfig =
  { status: "missing" } | { status: "invalid"; message: string } | { status: "ok"; facts: PrecheckFacts };

/**
 * The facts of the configs read last, by their text: every rule reads the same config for every resource of an
 * update, and validating it each time was most of a rule's cost. Results are never changed by the rules.
 */
const factsByText = new Map<string, FactsInConfig>();
const FACTS_KEPT = 8;

/** Reads and validates the `facts` key of a rule's config (`getConfig()`). */
export function factsFromConfig(config: unknown): FactsInConfig {
  const raw = isRecord(config) ? config.facts : undefined;
  if (raw === undefined || raw === null) return { status: "missing" };
  const text = JSON.stringify(raw);
  const known = factsByText.get(text);
  if (known) return known;
  const checked = checkPrecheckFacts(raw);
  const found: FactsInConfig = checked.ok
    ? { status: "ok", facts: checked.facts }
    : { status: "invalid", message: checked.message };
  if (factsByText.size >= FACTS_KEPT) factsByText.delete(factsByText.keys().next().value!);
  factsByText.set(text, found);
  return found;
}

/** The sentence a rule reports when it needs facts and has none, or has invalid ones. */
export function factsProblemMessage(
  found: Exclude<FactsInConfig, { status: "ok" }>,
  blueprint: string | undefined,
  need: string,
): string {
  const run = `ferry precheck ${blueprint ?? "<blueprint>"}`;
  if (found.status === "missing") {
    return `The policy config holds no precheck facts, so ${need} cannot be checked. Run \`${run} --policy-config <file>\` first and pass the file it writes to the policy pack (pulumi up --policy-pack policies --policy-pack-config <file>).`;
  }
  return `The precheck facts in the policy config are not valid, so ${need} cannot be checked: ${found.message} Run \`${run}\` again and pass the facts it writes, unedited.`;
}
