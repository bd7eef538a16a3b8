import type { ResourceValidationPolicy } from "@pulumi/policy";
import { AZURE_TYPES, TAGS, isRecovered, known, label, ofType, tagOf } from "../resources";

/**
 * `ferry-windows-os-from-snapshot` (advisory): a recovered Windows VM had better boot from a disk
 * made from a snapshot than from its staging disk attached as it is.
 */
export const windowsOsFromSnapshot: ResourceValidationPolicy = {
  name: "ferry-windows-os-from-snapshot",
  description:
    "Recommends osStrategy fromSnapshot for recovered Windows VMs: the staging disk keeps syncing, and a failed boot leaves it untouched for another try.",
  enforcementLevel: "advisory",
  validateResource: ofType(AZURE_TYPES.virtualMachine, (vm, args, report) => {
    if (!isRecovered(args.props) || tagOf(args.props, TAGS.osStrategy) !== "attachAsIs") return;
    const osType = known(() => vm.storageProfile?.osDisk?.osType);
    if (typeof osType !== "string" || osType.toLowerCase() !== "windows") return;
    const row = tagOf(args.props, TAGS.row) ?? "?";
    report(
      `Recovered ${label(args)} boots Windows from its staging disk attached as-is (${TAGS.osStrategy}: attachAsIs). Prefer osStrategy fromSnapshot for row '${row}' in the blueprint: the staging disk then keeps syncing, and a Windows boot that fails in the DR region leaves it untouched for another try.`,
    );
  }),
};
