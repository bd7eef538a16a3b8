import * as network from "@pulumi/azure-native/network";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { sameResourceId } from "../../core/resource-id";
import { factsFromConfig, factsProblemMessage } from "../facts";
import { TAGS, canonicalRegion, isRecoveredResource, known, label, tagOf, tryRead } from "../resources";

/** This rule's config (`ferry-recovered-in-target-region` in the policy-pack config). */
export interface RecoveredInTargetRegionConfig {
  /** The precheck facts (policies/facts.ts): target region, source regions, allowed subnets. */
  facts?: unknown;
}

/**
 * `ferry-recovered-in-target-region`: what a failover creates lands in the DR region the precheck
 * checked, never back in a source region, and its NICs join only the subnets the precheck allowed.
 */
export const recoveredInTargetRegion: ResourceValidationPolicy = {
  name: "ferry-recovered-in-target-region",
  description:
    "Recovered VMs, NICs, disks and snapshots must be in the precheck's target region and in none of the source regions; recovered NICs may only join the subnets the precheck allowed.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      facts: {
        type: "object",
        description: "The precheck facts written by `ferry precheck <blueprint>` (see policies/facts.ts).",
      },
    },
  },
  validateResource: (args, report) => {
    if (!isRecoveredResource(args)) return;
    const what = `Recovered ${label(args)}`;
    const found = factsFromConfig(args.getConfig<RecoveredInTargetRegionConfig>());
    if (found.status !== "ok") {
      report(factsProblemMessage(found, tagOf(args.props, TAGS.blueprint), `the region of ${what}`));
      return;
    }
    const facts = found.facts;

    const location = known((): unknown => args.props.location);
    if (typeof location !== "string" || location.trim() === "") {
      report(
        `${what} declares no location, so it would land in its resource group's region. Set location to the target region '${facts.targetRegion}'.`,
      );
    } else {
      const region = canonicalRegion(location);
      const target = canonicalRegion(facts.targetRegion);
      if (facts.sourceRegions.some((s) => canonicalRegion(s) === region)) {
        report(
          `${what} is in '${location}', a source region of the blueprint: a recovery there does not survive the outage it recovers from. Put it in the target region '${facts.targetRegion}'.`,
        );
      } else if (region !== target) {
        report(
          `${what} is in '${location}', not in the target region '${facts.targetRegion}' the precheck checked. Put it in '${facts.targetRegion}', or change the blueprint's target and run the precheck again.`,
        );
      }
    }

    const nic = args.asType(network.NetworkInterface);
    if (nic === undefined) return;
    const configurations = known(() => nic.ipConfigurations) ?? [];
    for (const [i, ipConfiguration] of configurations.entries()) {
      const name = known(() => ipConfiguration.name) ?? `#${i}`;
      const read = tryRead(() => ipConfiguration.subnet?.id);
      // A subnet id computed from another resource is not known in a preview: checked in the update.
      if (!read.known) continue;
      const subnet = read.value;
      if (subnet === undefined) {
        report(
          `${what} has IP configuration '${name}' without a subnet. Join it to one of the subnets the precheck allowed: ${facts.allowedSubnetIds.join(", ")}.`,
        );
      } else if (!facts.allowedSubnetIds.some((s) => sameResourceId(s, subnet))) {
        report(
          `${what} joins subnet ${subnet} (IP configuration '${name}'), which is not one the precheck allowed. Use one of: ${facts.allowedSubnetIds.join(", ") || "(none: the precheck allowed no subnet; check the blueprint's target network)"}.`,
        );
      }
    }
  },
};
