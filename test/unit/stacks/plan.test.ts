import { describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import { planBlueprint, TAGS } from "../../../stacks/plan";
import { blueprint, landingZone, recoveryPoints } from "./fixtures";

describe("planBlueprint", () => {
  const b = blueprint();
  const points = recoveryPoints(b);
  const zone = landingZone();

  it("standby: one staging disk per source disk, at least its size, tagged with its source; nothing else", () => {
    const plan = planBlueprint(b, zone, { mode: "standby" });
    expect(plan.rows).toEqual([]);
    expect(plan.staging.map((s) => [s.logicalName, s.sizeGiB, s.role, s.lun ?? null, s.osType ?? null])).toEqual([
      ["web1-os-staging", 30, "os", null, "Linux"],
      ["web1-lun0-staging", 128, "data", 0, null],
      ["web1-lun1-staging", 256, "data", 1, null],
      ["db1-os-staging", 127, "os", null, "Windows"],
      ["db1-lun0-staging", 512, "data", 0, null],
    ]);
    const os = plan.staging[0]!;
    expect(os.tags).toEqual({
      [TAGS.blueprint]: "web",
      [TAGS.row]: "web1",
      [TAGS.role]: "staging",
      [TAGS.sourceDisk]: b.rows[0]!.osDisk.sourceDiskId.toLowerCase(),
      [TAGS.sourceSizeGiB]: "30",
    });
    expect(plan.staging.every((s) => s.sku === "Premium_LRS")).toBe(true);
    expect(plan.location).toBe("northeurope");
    expect(plan.resourceGroup).toBe("dr-rg");
  });

  it("failover: each row per its strategies — the staging disk attached as-is, or a snapshot and a disk from it", () => {
    const plan = planBlueprint(b, zone, { mode: "failover", recoveryPoints: points, operationId: "op-42" });
    const web = plan.rows.find((r) => r.row === "web1")!;
    expect(web.vmName).toBe("web1");
    expect(web.osDisk).toMatchObject({ strategy: "attachAsIs", staging: "web1-os-staging" });
    expect(web.osDisk.snapshot).toBeUndefined();
    expect(web.dataDisks.map((d) => [d.lun, d.strategy, d.snapshot?.name, d.disk?.name, d.disk?.sizeGiB])).toEqual([
      [0, "fromSnapshot", "web1-lun0-snapshot", "web1-lun0-disk", 128],
      [1, "fromSnapshot", "web1-lun1-snapshot", "web1-lun1-disk", 256],
    ]);
    // A row without nics: one primary NIC, named as it always was (an upgraded stack keeps it).
    expect(web.nics).toEqual([
      {
        logicalName: "web1-nic",
        name: "web1-nic",
        subnetId: zone.targetSubnetId,
        privateIpAddress: "10.1.0.4",
        primary: true,
        acceleratedNetworking: false,
      },
    ]);
    expect(web.nic).toBe(web.nics[0]);
    expect(web.tags).toMatchObject({
      [TAGS.mode]: "failover",
      [TAGS.role]: "recovered",
      [TAGS.operation]: "op-42",
      [TAGS.osStrategy]: "attachAsIs",
      [TAGS.dataStrategy]: "fromSnapshot",
    });
    expect(web.tags[TAGS.recoveryPoint]).toBe(points[b.rows[0]!.osDisk.sourceDiskId]!.snapshotId);
    const db = plan.rows.find((r) => r.row === "db1")!;
    // A hostname override names the recovered VM (an attached OS disk keeps its own computer name).
    expect(db.vmName).toBe("DB1");
    expect(db.osType).toBe("Windows");
    expect(db.nic.privateIpAddress).toBeUndefined();
    // Staging disks stay declared: a mode switch never removes them.
    expect(plan.staging).toHaveLength(5);
  });

  it("gives a row's recovered VM the licence the row carries, and none where it carries none", () => {
    const licensed = blueprint((raw) => {
      (raw.rows[1] as { osDisk: Record<string, unknown> }).osDisk.licenseType = "Windows_Server";
    });
    const plan = planBlueprint(licensed, zone, { mode: "failover", recoveryPoints: recoveryPoints(licensed) });
    expect(plan.rows.map((r) => [r.row, r.licenseType ?? null])).toEqual([
      ["web1", null],
      ["db1", "Windows_Server"],
    ]);
  });

  it("test: a row's test address, not its production one, on the test NIC", () => {
    const row = { ...b.rows[0]!, testPrivateIpAddress: "10.99.0.10" };
    const plan = planBlueprint({ ...b, rows: [row] }, zone, { mode: "test", recoveryPoints: points });
    expect(plan.rows[0]!.nic).toMatchObject({ name: "web1-test-nic", privateIpAddress: "10.99.0.10" });
    const failover = planBlueprint({ ...b, rows: [row] }, zone, { mode: "failover", recoveryPoints: points });
    expect(failover.rows[0]!.nic.privateIpAddress).toBe("10.1.0.4");
  });

  it("test: every disk from a snapshot, in the test subnet, named apart, with no static address", () => {
    const plan = planBlueprint(b, zone, { mode: "test", recoveryPoints: points, operationId: "drill-1" });
    const web = plan.rows.find((r) => r.row === "web1")!;
    expect(web.vmName).toBe("web1-test");
    expect(web.osDisk.strategy).toBe("fromSnapshot");
    expect(web.osDisk.snapshot?.name).toBe("web1-test-os-snapshot");
    expect(web.dataDisks.every((d) => d.strategy === "fromSnapshot")).toBe(true);
    expect(web.nic.subnetId).toBe(zone.testSubnetId);
    expect(web.nic.privateIpAddress).toBeUndefined();
    expect(web.tags).toMatchObject({
      [TAGS.role]: "test",
      [TAGS.mode]: "test",
      [TAGS.osStrategy]: "fromSnapshot",
      [TAGS.dataStrategy]: "fromSnapshot",
    });
  });

  it("a row's nics: one NIC each in its order, the first keeps the single NIC's names, the primary flagged", () => {
    const row = {
      ...b.rows[0]!,
      privateIpAddress: undefined,
      nics: [
        { privateIpAddress: "10.1.0.4", testPrivateIpAddress: "10.99.0.4" },
        { subnet: "data", privateIpAddress: "10.1.8.9", acceleratedNetworking: true, primary: true },
      ],
    };
    const plan = planBlueprint({ ...b, rows: [row] }, zone, { mode: "failover", recoveryPoints: points });
    const vnet = zone.targetSubnetId.replace(/\/subnets\/[^/]+$/, "");
    expect(plan.rows[0]!.nics).toEqual([
      {
        logicalName: "web1-nic",
        name: "web1-nic",
        subnetId: zone.targetSubnetId,
        privateIpAddress: "10.1.0.4",
        primary: false,
        acceleratedNetworking: false,
      },
      {
        logicalName: "web1-nic2",
        name: "web1-nic2",
        subnetId: `${vnet}/subnets/data`,
        privateIpAddress: "10.1.8.9",
        primary: true,
        acceleratedNetworking: true,
      },
    ]);
    expect(plan.rows[0]!.nic.name).toBe("web1-nic2");
  });

  it("test: a row's NICs in the test network, on their test subnet or the landing zone's, with test addresses", () => {
    const row = {
      ...b.rows[0]!,
      privateIpAddress: undefined,
      nics: [{ testPrivateIpAddress: "10.99.0.4" }, { subnet: "data", testSubnet: "isolated-data" }],
    };
    const plan = planBlueprint({ ...b, rows: [row] }, zone, { mode: "test", recoveryPoints: points });
    const testVnet = zone.testSubnetId.replace(/\/subnets\/[^/]+$/, "");
    expect(plan.rows[0]!.nics.map((n) => [n.logicalName, n.name, n.subnetId, n.privateIpAddress])).toEqual([
      ["web1-test-nic", "web1-test-nic", zone.testSubnetId, "10.99.0.4"],
      ["web1-test-nic2", "web1-test-nic2", `${testVnet}/subnets/isolated-data`, undefined],
    ]);
  });

  it("failback keeps the recovered VMs as they are", () => {
    const failover = planBlueprint(b, zone, { mode: "failover", recoveryPoints: points });
    const failback = planBlueprint(b, zone, { mode: "failback", recoveryPoints: points });
    expect(failback.rows.map((r) => [r.vmName, r.osDisk.strategy, r.nic.name])).toEqual(
      failover.rows.map((r) => [r.vmName, r.osDisk.strategy, r.nic.name]),
    );
  });

  it("refuses a failover without a recovery point for every disk, saying to run the precheck", () => {
    const partial = { ...points };
    delete partial[b.rows[1]!.dataDisks[0]!.sourceDiskId];
    let thrown: unknown;
    try {
      planBlueprint(b, zone, { mode: "failover", recoveryPoints: partial });
    } catch (e) {
      thrown = e;
    }
    expect(isUserError(thrown)).toBe(true);
    expect((thrown as Error).message).toMatch(/no recovery point for .*db1-data0.*ferry precheck web/);
  });

  it("refuses a landing zone in the region a row runs in, naming the row", () => {
    const sameRegion = { ...zone, location: "westeurope" };
    let thrown: unknown;
    try {
      planBlueprint(b, sameRegion, { mode: "standby" });
    } catch (e) {
      thrown = e;
    }
    expect(isUserError(thrown)).toBe(true);
    expect((thrown as Error).message).toMatch(
      /cannot fail over into westeurope:\n {2}rows\[0\] \(web1\) runs in westeurope, the region of its landing zone\..*ferry:landingZoneStack/,
    );
  });

  it("matches recovery points to disks whatever the case of their ids, as ARM does", () => {
    const upper = Object.fromEntries(Object.entries(points).map(([k, v]) => [k.toUpperCase(), v]));
    expect(planBlueprint(b, zone, { mode: "failover", recoveryPoints: upper }).rows).toHaveLength(2);
  });

  it("carries a stated Hyper-V generation to the OS staging disk and the recovered row, and none when unstated", () => {
    const gen2 = blueprint();
    gen2.rows[0]!.osDisk.hyperVGeneration = "V2";
    const standby = planBlueprint(gen2, zone, { mode: "standby" });
    expect(standby.staging.map((s) => [s.logicalName, s.hyperVGeneration ?? null])).toEqual([
      ["web1-os-staging", "V2"],
      ["web1-lun0-staging", null],
      ["web1-lun1-staging", null],
      ["db1-os-staging", null],
      ["db1-lun0-staging", null],
    ]);
    const test = planBlueprint(gen2, zone, { mode: "test", recoveryPoints: recoveryPoints(gen2) });
    expect(test.rows.map((r) => [r.row, r.hyperVGeneration ?? null])).toEqual([
      ["web1", "V2"],
      ["db1", null],
    ]);
  });

  it("makes a Trusted Launch row's OS staging disk Trusted Launch and gives its VM the stated UEFI settings", () => {
    const tl = blueprint();
    tl.rows[0]!.osDisk.hyperVGeneration = "V2";
    tl.rows[0]!.osDisk.securityType = "TrustedLaunch";
    tl.rows[0]!.osDisk.uefiSettings = { secureBootEnabled: false, vTpmEnabled: true };
    const plan = planBlueprint(tl, zone, { mode: "failover", recoveryPoints: recoveryPoints(tl) });
    expect(plan.staging.map((s) => [s.logicalName, s.securityType ?? null])).toEqual([
      ["web1-os-staging", "TrustedLaunch"],
      ["web1-lun0-staging", null],
      ["web1-lun1-staging", null],
      ["db1-os-staging", null],
      ["db1-lun0-staging", null],
    ]);
    expect(plan.rows.map((r) => [r.row, r.trustedLaunch ?? null])).toEqual([
      ["web1", { secureBootEnabled: false, vTpmEnabled: true }],
      ["db1", null],
    ]);
  });

  it("puts a zonal row's VM and from-snapshot disks in its zone, and its staging disks on the ZRS SKU", () => {
    const zonal = blueprint();
    zonal.rows[0]!.zone = "2";
    const plan = planBlueprint(zonal, zone, { mode: "test", recoveryPoints: recoveryPoints(zonal) });
    expect(plan.staging.map((s) => [s.logicalName, s.sku])).toEqual([
      ["web1-os-staging", "Premium_ZRS"],
      ["web1-lun0-staging", "Premium_ZRS"],
      ["web1-lun1-staging", "Premium_ZRS"],
      ["db1-os-staging", "Premium_LRS"],
      ["db1-lun0-staging", "Premium_LRS"],
    ]);
    expect(plan.rows.map((r) => [r.row, r.zone ?? null, r.osDisk.disk?.zone ?? null, r.osDisk.disk?.sku])).toEqual([
      ["web1", "2", "2", "Premium_LRS"],
      ["db1", null, null, "Premium_LRS"],
    ]);
  });

  it("refuses a zonal row when the staging SKU has no zone-redundant SKU", () => {
    const zonal = blueprint();
    zonal.rows[0]!.zone = "1";
    let thrown: unknown;
    try {
      planBlueprint(zonal, zone, { mode: "standby", stagingSku: "Standard_LRS" });
    } catch (e) {
      thrown = e;
    }
    expect(isUserError(thrown) && thrown.code).toBe("NoZoneRedundantSku");
    expect((thrown as Error).message).toContain("Standard_LRS has no zone-redundant SKU");
  });
});

describe("plan from DR-side points", () => {
  const withDr = (older: boolean) => {
    const b = blueprint();
    const points = recoveryPoints(b);
    for (const [id, p] of Object.entries(points))
      points[id] = {
        ...p,
        drSnapshotId: p.snapshotId.replace("/snapshots/", "/snapshots/dr-"),
        ...(older && id === b.rows[0]!.osDisk.sourceDiskId ? { older: true } : {}),
      };
    return { b, points };
  };

  it("copies from-snapshot disks straight from the point, and takes it as an attach-as-is disk's failback base", () => {
    const { b, points } = withDr(false);
    const plan = planBlueprint(b, landingZone(), { mode: "failover", recoveryPoints: points });
    const web = plan.rows[0]!;
    expect(web.osDisk.strategy).toBe("attachAsIs");
    expect(web.osDisk.failbackBase?.existingId).toBe(points[web.osDisk.sourceDiskId]!.drSnapshotId);
    const data = web.dataDisks[0]!;
    expect(data.strategy).toBe("fromSnapshot");
    expect(data.snapshot).toBeUndefined();
    expect(data.disk).toBeDefined();
    // A disk made from a point is a new disk: its own failback base is taken before the VM.
    expect(data.failbackBase?.existingId).toBeUndefined();
  });

  it("recovers a row whose point is older than its staging disks from snapshots, whatever its strategy", () => {
    const { b, points } = withDr(true);
    const plan = planBlueprint(b, landingZone(), { mode: "failover", recoveryPoints: points });
    const web = plan.rows[0]!;
    expect(web.osDisk.strategy).toBe("fromSnapshot");
    expect(web.tags[TAGS.osStrategy]).toBe("fromSnapshot");
    expect(web.osDisk.snapshot).toBeUndefined();
    expect(plan.rows[1]!.osDisk.strategy).toBe(b.rows[1]!.osStrategy);
  });
});
