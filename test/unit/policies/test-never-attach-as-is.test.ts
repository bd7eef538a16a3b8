import { describe, expect, it } from "vitest";
import { testNeverAttachAsIs as rule } from "../../../policies/rules/test-never-attach-as-is";
import { subscriptionId } from "../core/fixtures";
import { UNKNOWN, armId, asInPreview, blueprintStack, expectOne, find, urnOf, violationsOf } from "./fixtures";

const stagingId = (name: string) => armId(subscriptionId, "dr-rg", "Microsoft.Compute/disks", name);

describe("ferry-test-never-attach-as-is", () => {
  it("passes a drill whose disks all come from snapshots", async () => {
    expect(await violationsOf(rule, blueprintStack("test"))).toEqual([]);
  });

  it("leaves a failover alone: attaching as-is is its choice", async () => {
    const stack = blueprintStack("failover");
    expect(find(stack, "web1").props.storageProfile.osDisk.managedDisk.id).toMatch(/web1-os-staging$/);
    expect(await violationsOf(rule, stack)).toEqual([]);
  });

  it("refuses a test VM tagged attachAsIs", async () => {
    const stack = blueprintStack("test");
    const vm = find(stack, "web1-test");
    vm.props.tags["ferry-os-strategy"] = "attachAsIs";
    const v = expectOne(
      await violationsOf(rule, stack),
      "Test VirtualMachine 'web1-test' is tagged ferry-os-strategy: attachAsIs",
      "both strategies must be fromSnapshot",
      "staging disks untouched",
    );
    expect(v.urn).toBe(urnOf(vm));
  });

  it("refuses a test VM without its data strategy tag", async () => {
    const stack = blueprintStack("test");
    delete find(stack, "web1-test").props.tags["ferry-data-strategy"];
    expectOne(await violationsOf(rule, stack), "is tagged ferry-data-strategy: (missing)");
  });

  it("refuses a test VM that attaches a staging disk by id", async () => {
    const stack = blueprintStack("test");
    const vm = find(stack, "web1-test");
    vm.props.storageProfile.dataDisks[0].managedDisk.id = stagingId("web1-lun0-staging");
    const v = expectOne(
      await violationsOf(rule, stack),
      "Test VirtualMachine 'web1-test' attaches staging disk 'web1-lun0-staging' as its data disk at LUN 0",
      "Attach a disk created from a snapshot of it instead",
    );
    expect(v.urn).toBe(urnOf(vm));
  });

  it("matches staging disk ids case-insensitively", async () => {
    const stack = blueprintStack("test");
    const vm = find(stack, "web1-test");
    vm.props.storageProfile.osDisk.managedDisk.id = stagingId("web1-os-staging").toUpperCase();
    expectOne(await violationsOf(rule, stack), "attaches staging disk 'web1-os-staging' as its OS disk");
  });

  it("matches the staging disk's own id when the engine gives it (stack rules see outputs)", async () => {
    const stack = blueprintStack("test");
    const staging = find(stack, "web1-os-staging");
    staging.props.id = "/subscriptions/other/resourceGroups/elsewhere/providers/Microsoft.Compute/disks/renamed";
    find(stack, "web1-test").props.storageProfile.osDisk.managedDisk.id = staging.props.id;
    expectOne(await violationsOf(rule, stack), "attaches staging disk 'web1-os-staging' as its OS disk");
  });

  it("refuses a test VM whose disks depend on a staging disk when ids are not known yet (a preview)", async () => {
    const stack = blueprintStack("test");
    const vm = find(stack, "web1-test");
    vm.props.storageProfile.osDisk.managedDisk.id = UNKNOWN;
    vm.propertyDependencies.storageProfile = ["web1-os-staging", ...vm.propertyDependencies.storageProfile!.slice(1)];
    asInPreview(vm);
    expectOne(
      await violationsOf(rule, stack),
      "Test VirtualMachine 'web1-test' depends on staging disk 'web1-os-staging' for its disks",
    );
  });

  it("uses all dependencies when property dependencies are not given", async () => {
    const stack = blueprintStack("test");
    const vm = find(stack, "web1-test");
    vm.propertyDependencies = {};
    vm.dependencies.push("web1-lun0-staging");
    expectOne(await violationsOf(rule, stack), "depends on staging disk 'web1-lun0-staging'");
  });

  it("reports a staging disk attached and depended on once", async () => {
    const stack = blueprintStack("test");
    const vm = find(stack, "web1-test");
    vm.props.storageProfile.osDisk.managedDisk.id = stagingId("web1-os-staging");
    vm.propertyDependencies.storageProfile!.push("web1-os-staging");
    expectOne(await violationsOf(rule, stack), "attaches staging disk 'web1-os-staging'");
  });
});
