import { describe, expect, it } from "vitest";
import { testStagingUntouched as rule } from "../../../policies/rules/test-staging-untouched";
import { subscriptionId } from "../core/fixtures";
import { UNKNOWN, armId, asInPreview, blueprintStack, expectOne, find, urnOf, violationsOf } from "./fixtures";

const stagingId = (name: string) => armId(subscriptionId, "dr-rg", "Microsoft.Compute/disks", name);

describe("ferry-test-staging-untouched", () => {
  it("is a stack policy: it sees the other resources, after they are registered", () => {
    expect(rule).toHaveProperty("validateStack");
    expect(rule).not.toHaveProperty("validateResource");
  });

  it("passes a drill and leaves a failover alone", async () => {
    expect(await violationsOf(rule, blueprintStack("test"))).toEqual([]);
    expect(await violationsOf(rule, blueprintStack("failover"))).toEqual([]);
  });

  it("refuses a test VM that attaches a staging disk by id", async () => {
    const stack = blueprintStack("test");
    const vm = find(stack, "web1-test");
    vm.props.storageProfile.dataDisks[0].managedDisk.id = stagingId("web1-lun0-staging");
    const v = expectOne(
      await violationsOf(rule, stack),
      "Test VirtualMachine 'web1-test' attaches staging disk 'web1-lun0-staging' as its data disk at LUN 0",
    );
    expect(v.urn).toBe(urnOf(vm));
  });

  it("knows a staging disk by its tag and its own id, whatever its name", async () => {
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
