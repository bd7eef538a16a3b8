import type { ResourceValidationPolicy } from "@pulumi/policy";
import { sameResourceId } from "../../core/resource-id";
import { factsFromConfig, factsProblemMessage } from "../facts";
import { AZURE_TYPES, TAGS, asAzureType, label, tagOf, tryRead } from "../resources";

/** This rule's config (`ferry-disk-at-least-source-size` in the policy-pack config). */
export interface DiskAtLeastSourceSizeConfig {
  /**
   * The precheck facts (policies/facts.ts), optional. When present, a disk must also be at least
   * the source size the precheck measured (`sourceSizesGiB`), in case a tag is out of date.
   */
  facts?: unknown;
}

/**
 * `ferry-disk-at-least-source-size`: a staging or recovered disk is never smaller than its source
 * disk; a smaller one cannot hold the replica (and Azure never shrinks a disk).
 */
export const diskAtLeastSourceSize: ResourceValidationPolicy = {
  name: "ferry-disk-at-least-source-size",
  description: `A managed disk tagged ${TAGS.sourceSizeGiB} (staging and recovered disks) must declare diskSizeGB at least that size, and at least the source size the precheck measured when its facts are given.`,
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      facts: {
        type: "object",
        description: "Optional precheck facts (see policies/facts.ts); their sourceSizesGiB are checked too.",
      },
    },
  },
  validateResource: (args, report) => {
    const disk = asAzureType(args, AZURE_TYPES.disk);
    if (disk === undefined) return;
    const tagged = tagOf(args.props, TAGS.sourceSizeGiB);
    if (tagged === undefined) return;
    const what = label(args);
    if (!/^\d+$/.test(tagged) || Number(tagged) < 1) {
      report(
        `${what} has ${TAGS.sourceSizeGiB} '${tagged}', which is not a whole number of GiB. Set it to the size of the source disk in GiB, as ferry's program does.`,
      );
      return;
    }
    let required = Number(tagged);
    let why = `its source disk's size (${TAGS.sourceSizeGiB}: ${tagged})`;

    const found = factsFromConfig(args.getConfig<DiskAtLeastSourceSizeConfig>());
    if (found.status === "invalid") {
      report(factsProblemMessage(found, tagOf(args.props, TAGS.blueprint), `the size of ${what}`));
      return;
    }
    const source = tagOf(args.props, TAGS.sourceDisk);
    if (found.status === "ok" && source !== undefined) {
      const key = Object.keys(found.facts.sourceSizesGiB).find((k) => sameResourceId(k, source));
      const measured = key === undefined ? undefined : found.facts.sourceSizesGiB[key];
      if (measured !== undefined && measured > required) {
        required = measured;
        why = `the size the precheck measured for its source disk ${source} (${measured} GiB; the tag says ${tagged})`;
      }
    }

    const size = tryRead(() => disk.diskSizeGB);
    // Computed from another resource and not known yet (a preview): checked in the update.
    if (!size.known) return;
    if (size.value === undefined || size.value === null) {
      report(
        `${what} declares no diskSizeGB, so its size would follow whatever it is created from. Set diskSizeGB to at least ${required} GiB, ${why}.`,
      );
    } else if (size.value < required) {
      report(
        `${what} is ${size.value} GiB, smaller than ${why}. Set diskSizeGB to at least ${required} GiB: a smaller disk cannot hold the replica.`,
      );
    }
  },
};
