import * as compute from "@pulumi/azure-native/compute";
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { normalizeResourceId } from "../../core/resource-id";
import { isStaging, known, label } from "../resources";
import { DRILL_WHY, diskRefs, isTestVm } from "./test-never-attach-as-is";

/**
 * `ferry-test-staging-untouched`: no test VM attaches, or depends for its disks on, a disk tagged
 * `ferry-role: staging`.
 *
 * Kept as a stack policy for what `ferry-test-never-attach-as-is` (a resource policy) cannot see:
 * other resources. A staging disk renamed so its id does not end in `-staging` is known here by its
 * tag and its id; in a preview, where a disk id is not known yet, by the VM's dependencies. Pulumi
 * runs stack policies after every resource is registered, so in an update this cannot stop the VM
 * from being created, only fail the update; it gates through the preview the deployers run before
 * every update (runbooks/deployers), and `pulumi up` runs by default.
 */
export const testStagingUntouched: StackValidationPolicy = {
  name: "ferry-test-staging-untouched",
  description:
    "In mode test, no VM attaches a disk tagged ferry-role staging, by id or, in a preview, by dependency; a stack policy, so it fails the preview before an update.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const staging = args.resources.filter((r) => r.isType(compute.Disk) && isStaging(r.props));
    const testVms = args.resources.filter((r) => r.isType(compute.VirtualMachine) && isTestVm(r.props));
    for (const vm of testVms) {
      const reported = new Set<PolicyResource>();
      for (const ref of diskRefs(vm.props)) {
        const disk = staging.find((s) => namesDisk(ref.id, s));
        if (disk === undefined || reported.has(disk)) continue;
        reported.add(disk);
        report(
          `Test ${label(vm)} attaches staging disk '${disk.name}' as its ${ref.where}: ${DRILL_WHY}. Attach a disk created from a snapshot of it instead (strategy fromSnapshot).`,
          vm.urn,
        );
      }
      // In a preview the ids are not known yet; what the VM's storage profile depends on is.
      const deps = vm.propertyDependencies?.storageProfile ?? vm.dependencies ?? [];
      for (const dep of deps) {
        if (!staging.includes(dep) || reported.has(dep)) continue;
        reported.add(dep);
        report(
          `Test ${label(vm)} depends on staging disk '${dep.name}' for its disks: ${DRILL_WHY}. Attach a disk created from a snapshot of it instead (strategy fromSnapshot).`,
          vm.urn,
        );
      }
    }
  },
};

/**
 * Whether an ARM disk id names this staging disk: its `id` when the engine has it (stack rules
 * see outputs), else its resource group and name (a preview, or the local deployer: inputs).
 */
function namesDisk(ref: string, disk: PolicyResource): boolean {
  const wanted = normalizeResourceId(ref);
  const id = known((): unknown => disk.props.id);
  if (typeof id === "string" && id !== "") return normalizeResourceId(id) === wanted;
  const name = known((): unknown => disk.props.diskName ?? disk.props.name);
  if (typeof name !== "string" || name === "") return false;
  const group = known((): unknown => disk.props.resourceGroupName);
  const suffix =
    typeof group === "string" && group !== ""
      ? `/resourcegroups/${group}/providers/microsoft.compute/disks/${name}`
      : `/providers/microsoft.compute/disks/${name}`;
  return wanted.endsWith(suffix.toLowerCase());
}
