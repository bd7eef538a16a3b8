import * as compute from "@pulumi/azure-native/compute";
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { TAGS, known, label, roleOf, tagOf, type Props } from "../resources";

/** Why a drill never attaches a staging disk; every message of the drill rules says it. */
export const DRILL_WHY =
  "a drill must leave the staging disks untouched (attaching one takes it off the sync, and the test VM would write to the replica)";

/** The suffix of every staging disk's name (stacks/plan.ts names them `<row>-os-staging`, `<row>-lun<n>-staging`). */
const STAGING_SUFFIX = "-staging";

/**
 * `ferry-test-never-attach-as-is`: a test failover (drill) makes every disk from a snapshot and
 * never attaches a staging disk to a test VM.
 *
 * A resource policy, judged on each test VM before the engine creates it: a stack policy runs only
 * once every resource is registered, too late to keep a test VM off a staging disk (Pulumi's
 * "Policy as code concepts", "Types of Policies"). It reads what the VM itself says: its ferry
 * tags, and the names in its storage profile's managed disk ids (staging disks are named
 * `…-staging`). A staging disk by another name, or attached through a dependency whose id is not
 * known yet in a preview, is what `ferry-test-staging-untouched` (a stack policy) adds.
 */
export const testNeverAttachAsIs: ResourceValidationPolicy = {
  name: "ferry-test-never-attach-as-is",
  description:
    "In mode test, a VM's disks come from snapshots (ferry-os-strategy and ferry-data-strategy fromSnapshot) and its storage profile names no staging disk; it is judged before it is created.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!args.isType(compute.VirtualMachine) || !isTestVm(args.props)) return;
    const what = `Test ${label(args)}`;
    const wrong = [TAGS.osStrategy, TAGS.dataStrategy]
      .filter((t) => tagOf(args.props, t) !== "fromSnapshot")
      .map((t) => `${t}: ${tagOf(args.props, t) ?? "(missing)"}`);
    if (wrong.length > 0) {
      report(
        `${what} is tagged ${wrong.join(", ")}, but in mode test both strategies must be fromSnapshot: ${DRILL_WHY}. Plan the drill with ferry's program in mode test, which makes every disk from a snapshot.`,
      );
    }
    for (const ref of diskRefs(args.props)) {
      // The id's last segment, however the rest is written: a malformed id still names its disk.
      const name = ref.id.split("/").filter(Boolean).pop() ?? "";
      if (!name.toLowerCase().endsWith(STAGING_SUFFIX)) continue;
      report(
        `${what} attaches staging disk '${name}' as its ${ref.where}: ${DRILL_WHY}. Attach a disk created from a snapshot of it instead (strategy fromSnapshot).`,
      );
    }
  },
};

/** A VM of a drill: mode test, or role test. */
export function isTestVm(props: Props): boolean {
  return tagOf(props, TAGS.mode) === "test" || roleOf(props) === "test";
}

/**
 * The managed-disk ids a VM's storage profile attaches, with where each is attached. Ids not known
 * yet (a preview, where the disk is still to be created) are left out: the update judges them.
 */
export function diskRefs(props: Props): { id: string; where: string }[] {
  const out: { id: string; where: string }[] = [];
  const storage = known((): unknown => props.storageProfile) as
    | { osDisk?: { managedDisk?: { id?: unknown } }; dataDisks?: { lun?: unknown; managedDisk?: { id?: unknown } }[] }
    | undefined;
  const os = known(() => storage?.osDisk?.managedDisk?.id);
  if (typeof os === "string") out.push({ id: os, where: "OS disk" });
  for (const d of known(() => storage?.dataDisks) ?? []) {
    const id = known(() => d.managedDisk?.id);
    if (typeof id === "string") out.push({ id, where: `data disk at LUN ${String(known(() => d.lun) ?? "?")}` });
  }
  return out;
}
