import * as compute from "@pulumi/azure-native/compute";
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { normalizeResourceId } from "../../core/resource-id";
import { TAGS, isStaging, known, label, roleOf, tagOf } from "../resources";

const why =
  "a drill must leave the staging disks untouched (attaching one takes it off the sync, and the test VM would write to the replica)";

/**
 * `ferry-test-never-attach-as-is`: a test failover (drill) makes every disk from a snapshot and
 * never attaches a staging disk to a test VM.
 */
export const testNeverAttachAsIs: StackValidationPolicy = {
  name: "ferry-test-never-attach-as-is",
  description:
    "In mode test, every VM's disks come from snapshots (ferry-os-strategy and ferry-data-strategy fromSnapshot) and no VM attaches a staging disk, by id or by dependency.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const staging = args.resources.filter((r) => r.isType(compute.Disk) && isStaging(r.props));
    const testVms = args.resources.filter(
      (r) => r.isType(compute.VirtualMachine) && (tagOf(r.props, TAGS.mode) === "test" || roleOf(r.props) === "test"),
    );
    for (const vm of testVms) {
      const wrong = [TAGS.osStrategy, TAGS.dataStrategy]
        .filter((t) => tagOf(vm.props, t) !== "fromSnapshot")
        .map((t) => `${t}: ${tagOf(vm.props, t) ?? "(missing)"}`);
      if (wrong.length > 0) {
        report(
          `Test ${label(vm)} is tagged ${wrong.join(", ")}, but in mode test both strategies must be fromSnapshot: ${why}. Plan the drill with ferry's program in mode test, which makes every disk from a snapshot.`,
          vm.urn,
        );
      }
      const reported = new Set<PolicyResource>();
      for (const ref of diskRefs(vm)) {
        const disk = staging.find((s) => namesDisk(ref.id, s));
        if (disk === undefined || reported.has(disk)) continue;
        reported.add(disk);
        report(
          `Test ${label(vm)} attaches staging disk '${disk.name}' as its ${ref.where}: ${why}. Attach a disk created from a snapshot of it instead (strategy fromSnapshot).`,
          vm.urn,
        );
      }
      // In a preview the ids are not known yet; what the VM's storage profile depends on is.
      const deps = vm.propertyDependencies?.storageProfile ?? vm.dependencies ?? [];
      for (const dep of deps) {
        if (!staging.includes(dep) || reported.has(dep)) continue;
        reported.add(dep);
        report(
          `Test ${label(vm)} depends on staging disk '${dep.name}' for its disks: ${why}. Attach a disk created from a snapshot of it instead (strategy fromSnapshot).`,
          vm.urn,
        );
      }
    }
  },
};

/** The managed-disk ids a VM attaches (those known), with where each is attached. */
function diskRefs(vm: PolicyResource): { id: string; where: string }[] {
  const out: { id: string; where: string }[] = [];
  const storage = known((): unknown => vm.props.storageProfile) as
    | { osDisk?: { managedDisk?: { id?: unknown } }; dataDisks?: { lun?: unknown; managedDisk?: { id?: unknown } }[] }
    | undefined;
  const os = known(() => storage?.osDisk?.managedDisk?.id);
  if (typeof os === "string") out.push({ id: os, where: "OS disk" });
  for (const d of known(() => storage?.dataDisks) ?? []) {
    const id = known(() => d.managedDisk?.id);
    if (typeof id === "string") out.push({ id, where: `data disk at LUN ${known(() => d.lun) ?? "?"}` });
  }
  return out;
}

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
