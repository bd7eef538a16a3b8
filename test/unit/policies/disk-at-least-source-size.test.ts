import { describe, expect, it } from "vitest";
import { diskAtLeastSourceSize as rule } from "../../../policies/rules/disk-at-least-source-size";
import { UNKNOWN, asInPreview, blueprintStack, expectOne, find, urnOf, violationsOf } from "./fixtures";

describe("ferry-disk-at-least-source-size", () => {
  it("passes staging and recovered disks of the source's size, with or without facts", async () => {
    expect(await violationsOf(rule, blueprintStack("failover"))).toEqual([]);
    expect(await violationsOf(rule, blueprintStack("standby"), {})).toEqual([]);
  });

  it("refuses a staging disk smaller than its source", async () => {
    const stack = blueprintStack("standby");
    const disk = find(stack, "web1-lun0-staging");
    disk.props.diskSizeGB = 64;
    const v = expectOne(
      await violationsOf(rule, stack, {}),
      "Disk 'web1-lun0-staging' is 64 GiB, smaller than its source disk's size (ferry-source-size-gib: 128)",
      "Set diskSizeGB to at least 128 GiB",
    );
    expect(v.urn).toBe(urnOf(disk));
  });

  it("refuses a recovered disk smaller than its source", async () => {
    const stack = blueprintStack("failover");
    find(stack, "web1-lun0-disk").props.diskSizeGB = 127;
    expectOne(await violationsOf(rule, stack), "Disk 'web1-lun0-disk' is 127 GiB, smaller than its source disk's size");
  });

  it("accepts a disk larger than its source", async () => {
    const stack = blueprintStack("failover");
    find(stack, "web1-os-staging").props.diskSizeGB = 64;
    expect(await violationsOf(rule, stack)).toEqual([]);
  });

  it("refuses a disk smaller than the source size the precheck measured, even when its tag agrees", async () => {
    const stack = blueprintStack("failover");
    const source = stack.blueprint.rows[0]!.dataDisks[0]!.sourceDiskId;
    stack.facts.sourceSizesGiB[source] = 256;
    expect((await violationsOf(rule, stack)).map((v) => v.urn?.split("::").pop())).toEqual([
      "web1-lun0-staging",
      "web1-lun0-disk",
    ]);
    const [v] = await violationsOf(rule, stack);
    expect(v!.message).toContain(
      `is 128 GiB, smaller than the size the precheck measured for its source disk ${source.toLowerCase()} (256 GiB; the tag says 128)`,
    );
    expect(v!.message).toContain("Set diskSizeGB to at least 256 GiB");
  });

  it("refuses a sized disk without diskSizeGB", async () => {
    const stack = blueprintStack("failover");
    delete find(stack, "web1-lun0-disk").props.diskSizeGB;
    expectOne(await violationsOf(rule, stack), "Disk 'web1-lun0-disk' declares no diskSizeGB", "at least 128 GiB");
  });

  it("refuses a size tag that is not a whole number", async () => {
    const stack = blueprintStack("failover");
    find(stack, "web1-os-staging").props.tags["ferry-source-size-gib"] = "30GB";
    expectOne(
      await violationsOf(rule, stack),
      "Disk 'web1-os-staging' has ferry-source-size-gib '30GB', which is not a whole number of GiB",
    );
  });

  it("refuses invalid facts when they are given", async () => {
    const stack = blueprintStack("failover");
    (stack.facts as { sourceSizesGiB: unknown }).sourceSizesGiB = { x: 1 };
    const violations = await violationsOf(rule, stack);
    expect(violations).toHaveLength(3);
    expect(violations[0]!.message).toContain(
      "precheck facts in the policy config are not valid, so the size of Disk 'web1-os-staging' cannot be checked",
    );
    expect(violations[0]!.message).toContain("sourceSizesGiB.x: key is not the ARM id of a Microsoft.Compute/disks");
  });

  it("leaves disks without a source size alone", async () => {
    const stack = blueprintStack("failover");
    const disk = find(stack, "web1-lun0-disk");
    delete disk.props.tags["ferry-source-size-gib"];
    disk.props.diskSizeGB = 1;
    expect(await violationsOf(rule, stack, {})).toEqual([]);
  });

  it("leaves a size the engine does not know yet (a preview) to the update", async () => {
    const stack = blueprintStack("failover");
    const disk = find(stack, "web1-lun0-disk");
    disk.props.diskSizeGB = UNKNOWN;
    asInPreview(disk);
    expect(await violationsOf(rule, stack)).toEqual([]);
  });
});
