import { describe, expect, it } from "vitest";
import { testNeverAttachAsIs as rule } from "../../../policies/rules/test-never-attach-as-is";
import { subscriptionId } from "../core/fixtures";
import { UNKNOWN, armId, asInPreview, blueprintStack, expectOne, find, urnOf, violationsOf } from "./fixtures";

const stagingId = (name: string) => armId(subscriptionId, "dr-rg", "Microsoft.Compute/disks", name);

describe("ferry-test-never-attach-as-is", () => {
  it("is a resource policy: it judges a test VM before the engine creates it", () => {
    expect(rule).toHaveProperty("validateResource");
    expect(rule).not.toHaveProperty("validateStack");
  });

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

  it("refuses a VM with role test in another mode's tags", async () => {
    const stack = blueprintStack("failover");
    const vm = find(stack, "web1");
    vm.props.tags["ferry-role"] = "test";
    const messages = (await violationsOf(rule, stack)).map((v) => v.message);
    expect(messages).toHaveLength(2);
    expect(messages[0]).toContain("Test VirtualMachine 'web1' is tagged ferry-os-strategy: attachAsIs");
    expect(messages[1]).toContain("Test VirtualMachine 'web1' attaches staging disk 'web1-os-staging' as its OS disk");
  });

  it("refuses a test VM whose storage profile names a staging disk, from its own props", async () => {
    const stack = blueprintStack("test");
    const vm = find(stack, "web1-test");
    vm.props.storageProfile.dataDisks[0].managedDisk.id = stagingId("web1-lun0-staging");
    // The VM alone: a resource policy sees no other resource.
    const v = expectOne(
      await violationsOf(rule, { resources: [vm], config: {} }),
      "Test VirtualMachine 'web1-test' attaches staging disk 'web1-lun0-staging' as its data disk at LUN 0",
      "Attach a disk created from a snapshot of it instead",
    );
    expect(v.urn).toBe(urnOf(vm));
  });

  it("matches the staging suffix case-insensitively", async () => {
    const stack = blueprintStack("test");
    const vm = find(stack, "web1-test");
    vm.props.storageProfile.osDisk.managedDisk.id = stagingId("web1-os-staging").toUpperCase();
    expectOne(await violationsOf(rule, stack), "attaches staging disk 'WEB1-OS-STAGING' as its OS disk");
  });

  it("leaves a disk id not known yet (a preview) to the update", async () => {
    const stack = blueprintStack("test");
    const vm = find(stack, "web1-test");
    vm.props.storageProfile.osDisk.managedDisk.id = UNKNOWN;
    asInPreview(vm);
    expect(await violationsOf(rule, stack)).toEqual([]);
  });
});
