import type { Policies } from "@pulumi/policy";
import type { PrecheckFacts } from "./facts";
import { diskAtLeastSourceSize } from "./rules/disk-at-least-source-size";
import { noPublicIp } from "./rules/no-public-ip";
import { DEFAULT_PRECHECK_MAX_AGE_MINUTES, precheckPassedPolicy } from "./rules/precheck-passed";
import { recoveredInTargetRegion } from "./rules/recovered-in-target-region";
import { requiredTags } from "./rules/required-tags";
import { testNeverAttachAsIs } from "./rules/test-never-attach-as-is";
import { testStagingUntouched } from "./rules/test-staging-untouched";
import { windowsOsFromSnapshot } from "./rules/windows-os-from-snapshot";

// The rules as a list, without the PolicyPack (index.ts builds that, and building it starts the
// engine's gRPC server): the local deployer imports this module and calls the rules itself.

/** Options of {@link createFerryPolicies}. */
export interface FerryPolicyOptions {
  /** The clock the precheck's age is measured against. Default: the system clock (`() => new Date()`). */
  now?: () => Date;
}

/**
 * Every rule of the pack, in a stable order: mandatory rules first, then the advisory one. All are
 * resource policies, judged on each resource before it is created, but `ferry-test-staging-untouched`,
 * a stack policy for what no single resource shows (see its file).
 */
export function createFerryPolicies(options: FerryPolicyOptions = {}): Policies {
  return [
    precheckPassedPolicy(options.now ? { now: options.now } : {}),
    recoveredInTargetRegion,
    noPublicIp,
    diskAtLeastSourceSize,
    testNeverAttachAsIs,
    testStagingUntouched,
    requiredTags,
    windowsOsFromSnapshot,
  ];
}

/** The pack's rules on the system clock. */
export const ferryPolicies: Policies = createFerryPolicies();

/** The rules that read the precheck facts from their config. */
export const FACTS_POLICY_NAMES = [
  "ferry-failover-precheck-passed",
  "ferry-recovered-in-target-region",
  "ferry-disk-at-least-source-size",
] as const;

/** Options of {@link packConfigFromFacts}. */
export interface PackConfigOptions {
  /** Oldest precheck accepted, in minutes. Default 30. */
  maxAgeMinutes?: number;
}

/**
 * The policy-pack config that hands precheck facts to the pack: the same facts under `facts` of
 * every rule that reads them (CrossGuard gives each rule only its own config). Write it to a file
 * for `pulumi up --policy-pack policies --policy-pack-config <file>`, or pass it to the local deployer.
 */
export function packConfigFromFacts(
  facts: PrecheckFacts,
  options: PackConfigOptions = {},
): Record<string, Record<string, unknown>> {
  const config: Record<string, Record<string, unknown>> = {};
  for (const name of FACTS_POLICY_NAMES) config[name] = { facts };
  config["ferry-failover-precheck-passed"]!.maxAgeMinutes = options.maxAgeMinutes ?? DEFAULT_PRECHECK_MAX_AGE_MINUTES;
  return config;
}
