import type { ResourceValidationPolicy } from "@pulumi/policy";
import { diskStrategies } from "../../core/schemas/blueprint";
import { blueprintModes } from "../../stacks/plan";
import { AZURE_TYPES, TAGS, isAzureType, isRecovered, isStaging, label, tagOf } from "../resources";

/** Tags every staging disk carries. */
export const STAGING_TAGS = [TAGS.blueprint, TAGS.row, TAGS.role, TAGS.sourceDisk, TAGS.sourceSizeGiB] as const;
/** Tags every recovered resource (VM, NIC, snapshot, disk) carries. */
export const RECOVERED_TAGS = [
  TAGS.blueprint,
  TAGS.row,
  TAGS.role,
  TAGS.mode,
  TAGS.recoveryPoint,
  TAGS.operation,
  TAGS.osStrategy,
  TAGS.dataStrategy,
] as const;
/** Tags a recovered disk carries besides {@link RECOVERED_TAGS}. */
export const RECOVERED_DISK_TAGS = [TAGS.sourceDisk, TAGS.sourceSizeGiB] as const;

// Tags whose value is one of a known set: a typo there would hide a resource from the other rules.
const ALLOWED_VALUES: Record<string, readonly string[]> = {
  [TAGS.mode]: blueprintModes,
  [TAGS.osStrategy]: diskStrategies,
  [TAGS.dataStrategy]: diskStrategies,
};

/**
 * `ferry-required-tags`: staging disks and recovered resources carry the tags that tie them to
 * their blueprint, row, source disk and operation — what cleanup, history and the other rules read.
 */
export const requiredTags: ResourceValidationPolicy = {
  name: "ferry-required-tags",
  description: `Staging disks carry ${STAGING_TAGS.join(", ")}; recovered resources carry ${RECOVERED_TAGS.join(", ")} (recovered disks also ${RECOVERED_DISK_TAGS.join(", ")}); none of them empty.`,
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    let required: readonly string[];
    let kind: string;
    if (isStaging(args.props)) {
      required = STAGING_TAGS;
      kind = "a staging disk";
    } else if (isRecovered(args.props)) {
      required = isAzureType(args, AZURE_TYPES.disk) ? [...RECOVERED_TAGS, ...RECOVERED_DISK_TAGS] : RECOVERED_TAGS;
      kind = "a recovered resource";
    } else {
      return;
    }
    const missing = required.filter((t) => tagOf(args.props, t) === undefined);
    if (missing.length > 0) {
      report(
        `${label(args)} is ${kind} but lacks the tag(s) ${missing.join(", ")} (absent or empty). Declare it through ferry's program, which tags it from the blueprint plan, or add the missing tags with non-empty values.`,
      );
    }
    for (const tag of required) {
      const value = tagOf(args.props, tag);
      const allowed = ALLOWED_VALUES[tag];
      if (value !== undefined && allowed !== undefined && !allowed.includes(value)) {
        report(
          `${label(args)} has ${tag} '${value}', which is not one of ${allowed.join(", ")}. Set it to one of them.`,
        );
      }
    }
  },
};
