import { beforeAll, describe, expect, it } from "vitest";
import { isUserError } from "../../core/errors";
import { createLogger } from "../../core/logger";
import type { Blueprint } from "../../core/schemas/blueprint";
import type { PrecheckFacts } from "../../policies/facts";
import { createFerryPolicies, packConfigFromFacts } from "../../policies/pack";
import { LocalDeployer } from "../../local/deployer/local-deployer";
import type { UpResult } from "../../runbooks/deployers/deployer";
import { useEmulator, tempDir } from "../helpers/emulator";
import { thrownBy } from "../helpers/errors";
import type { BlueprintRunState } from "../../core/schemas/blueprint-state";
import { blueprint, readyRunState, recoveryPoints } from "../unit/stacks/fixtures";

const NOW = new Date("2026-11-22T06:00:00.000Z");
const POLL = { updateIntervalInMs: 10 };

describe("the local deployer against the emulator", () => {
  const f = useEmulator();
  let deployer: LocalDeployer;
  let b: Blueprint;
  let targetSubnet: string;
  let testSubnet: string;
  let landingZone: { first: UpResult; second: UpResult };
  let firstStandby: UpResult;
  // The blueprint's run state as the program reads it: what a runbook would have recorded in the store.
  let runState: BlueprintRunState = { sync: {} };

  const facts = (overrides: Partial<PrecheckFacts> = {}): PrecheckFacts => {
    const points = recoveryPoints(b);
    return {
      blueprint: "web",
      passed: true,
      checkedAt: new Date(NOW.getTime() - 5 * 60_000).toISOString(),
      mode: "failover",
      operation: "op-1",
      targetRegion: "northeurope",
      sourceRegions: ["westeurope"],
      allowedSubnetIds: [targetSubnet],
      recoveryPoints: Object.fromEntries(Object.entries(points).map(([disk, p]) => [disk, p.snapshotId])),
      sourceSizesGiB: Object.fromEntries(
        b.rows.flatMap((r) => [
          [r.osDisk.sourceDiskId, r.osDisk.sizeGiB],
          ...r.dataDisks.map((d) => [d.sourceDiskId, d.sizeGiB]),
        ]),
      ),
      ...overrides,
    };
  };
  const vmExists = async (name: string) =>
    f.azure.compute.virtualMachines.get("dr-rg", name).then(
      () => true,
      () => false,
    );

  beforeAll(async () => {
    await f.azure.resources.resourceGroups.createOrUpdate("dr-network-rg", { location: "northeurope" });
    const vnet = await f.azure.network.virtualNetworks.beginCreateOrUpdateAndWait(
      "dr-network-rg",
      "dr-vnet",
      {
        location: "northeurope",
        addressSpace: { addressPrefixes: ["10.1.0.0/16"] },
        subnets: [{ name: "app", addressPrefix: "10.1.0.0/24" }],
      },
      POLL,
    );
    targetSubnet = vnet.subnets![0]!.id!;
    testSubnet = targetSubnet.replace("/virtualNetworks/dr-vnet/", "/virtualNetworks/dr-test-vnet/");
    deployer = new LocalDeployer({
      stateDir: tempDir(),
      azure: f.azure,
      readBlueprintState: async () => runState,
      policies: createFerryPolicies({ now: () => NOW }),
      logger: createLogger({ level: "silent" }),
      now: () => NOW,
    });
    b = blueprint((raw) => {
      (raw.rows as Record<string, unknown>[])[0]!.privateIpAddress = "10.1.0.20";
    });
    // The landing zone and the blueprint in standby: what every test below starts from.
    await deployer.setConfig("lz", {
      kind: "landing-zone",
      region: "northeurope",
      resourceGroup: "dr-rg",
      targetSubnetId: targetSubnet,
      testNetwork: {
        name: "dr-test-vnet",
        addressPrefix: "10.99.0.0/16",
        subnetName: "app",
        subnetPrefix: "10.99.1.0/24",
      },
      stateStore: { accountName: "ferrystate01" },
      appliance: { sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 test" },
    });
    landingZone = {
      first: await deployer.up("lz", { message: "landing zone northeurope" }),
      second: await deployer.up("lz", { message: "landing zone northeurope, again" }),
    };
    await deployer.setConfig("web", { kind: "blueprint", blueprint: b, landingZoneStack: "lz" });
    firstStandby = await deployer.up("web", { message: "enable DR web" });
  });

  /** Back to standby (a no-op when it is there): each test starts from it, whatever ran before. */
  const standby = () => {
    runState = { sync: {} };
    return deployer.up("web", { message: "standby web" });
  };

  it("deploys the landing zone: group, test network, appliance with its identity and no public IP; a second up changes nothing", async () => {
    const { first, second } = landingZone;
    expect(first.changes.create).toBeGreaterThanOrEqual(9);
    const appliance = await f.azure.compute.virtualMachines.get("dr-rg", "ferry-appliance", { expand: "instanceView" });
    expect(appliance.instanceView?.statuses?.map((s) => s.code)).toContain("PowerState/running");
    expect(Object.keys(appliance.identity?.userAssignedIdentities ?? {})[0]).toMatch(
      /userAssignedIdentities\/ferry-appliance-identity$/,
    );
    const nic = await f.azure.network.networkInterfaces.get("dr-rg", "ferry-appliance-nic");
    expect(nic.ipConfigurations?.[0]?.publicIPAddress).toBeUndefined();
    expect(
      (await f.azure.network.virtualNetworks.get("dr-network-rg", "dr-test-vnet")).subnets?.[0]?.addressPrefix,
    ).toBe("10.99.1.0/24");
    expect((first.outputs.appliance as { vmName: string }).vmName).toBe("ferry-appliance");
    expect(second.changes).toMatchObject({ create: 0, update: 0, delete: 0 });
  });

  it("refuses a blueprint whose landing-zone stack does not exist, naming it, before anything is created", async () => {
    await deployer.setConfig("orphan", {
      kind: "blueprint",
      blueprint: b,
      landingZoneStack: "lz-nowhere",
    });
    const e = await thrownBy(deployer.up("orphan", { message: "enable DR orphan" }));
    expect(isUserError(e)).toBe(true);
    expect(e.message).toMatch(
      /^Cannot read the landing-zone stack lz-nowhere \(ferry:landingZoneStack\): .*Stack lz-nowhere does not exist/,
    );
    expect(e.message).toMatch(/Deploy it first \(pulumi up -s lz-nowhere\)/);
    expect((await deployer.history("orphan"))[0]).toMatchObject({ result: "failed", resourceChanges: { create: 0 } });
  });

  it("standby creates one staging disk per source disk where the landing zone's outputs say, the reference no resource", async () => {
    const r = firstStandby;
    // Five disks: the StackReference is a read of the landing zone, not a resource of this stack.
    expect(r.changes.create).toBe(5);
    const zone = await deployer.outputs("lz");
    const disk = await f.azure.compute.disks.get(String(zone.resourceGroupName), "web1-lun1-staging");
    expect(disk.location).toBe(zone.location);
    expect(disk.diskSizeGB).toBe(256);
    expect(disk.tags?.["ferry-source-disk"]).toBe(b.rows[0]!.dataDisks[1]!.sourceDiskId.toLowerCase());
  });

  it("refuses a failover whose precheck facts are missing, or stale, before anything is created", async () => {
    await standby();
    const points = recoveryPoints(b);
    runState = readyRunState("failover", points);
    const missing = await thrownBy(
      deployer.up("web", {
        message: "failover web (no precheck)",
      }),
    );
    expect(isUserError(missing)).toBe(true);
    expect(missing.message).toMatch(/ferry-failover-precheck-passed/);
    expect(missing.message).toMatch(/ferry precheck web/);
    const stale = await thrownBy(
      deployer.up("web", {
        message: "failover web (stale precheck)",
        policyConfig: packConfigFromFacts(facts({ checkedAt: new Date(NOW.getTime() - 3 * 3_600_000).toISOString() })),
      }),
    );
    expect(stale.message).toMatch(/minutes/);
    expect(await vmExists("web1")).toBe(false);
    await expect(f.azure.network.networkInterfaces.get("dr-rg", "web1-nic")).rejects.toMatchObject({ statusCode: 404 });
    const history = await deployer.history("web");
    expect(history.slice(0, 2).map((h) => [h.message, h.result, h.resourceChanges.create])).toEqual([
      ["failover web (stale precheck)", "failed", 0],
      ["failover web (no precheck)", "failed", 0],
    ]);
  });

  it("fails over: each VM on its disks at their LUNs, with its NIC; then back to standby the staging disks survive", async () => {
    await standby();
    const points = recoveryPoints(b);
    runState = readyRunState("failover", points, "op-1");
    const up = await deployer.up("web", {
      message: "failover web op-1",
      policyConfig: packConfigFromFacts(facts()),
    });
    // 2 VMs, 2 NICs, 3 snapshots and 3 disks (web1's data disks, db1's data disk), and a failback base of each of the 5
    // disks.
    expect(up.changes.create).toBe(15);
    // db1 is a Windows VM whose OS disk attaches as-is: the pack advises a snapshot.
    expect(up.advisories.map((a) => a.policy)).toContain("ferry-windows-os-from-snapshot");
    const web = await f.azure.compute.virtualMachines.get("dr-rg", "web1");
    const id = (name: string) =>
      `/subscriptions/${f.emu.subscriptionId}/resourceGroups/dr-rg/providers/Microsoft.Compute/disks/${name}`.toLowerCase();
    expect(web.storageProfile?.osDisk?.managedDisk?.id?.toLowerCase()).toBe(id("web1-os-staging"));
    expect(web.storageProfile?.dataDisks?.map((d) => [d.lun, d.managedDisk?.id?.toLowerCase()])).toEqual([
      [0, id("web1-lun0-disk")],
      [1, id("web1-lun1-disk")],
    ]);
    const nic = await f.azure.network.networkInterfaces.get("dr-rg", "web1-nic");
    expect(nic.ipConfigurations?.[0]?.privateIPAddress).toBe("10.1.0.20");
    expect(nic.ipConfigurations?.[0]?.subnet?.id?.toLowerCase()).toBe(targetSubnet.toLowerCase());
    expect(nic.virtualMachine?.id?.toLowerCase()).toBe(web.id!.toLowerCase());
    expect(web.tags?.["ferry-recovery-point"]).toBe(points[b.rows[0]!.osDisk.sourceDiskId]!.snapshotId);
    expect((await f.azure.compute.disks.get("dr-rg", "web1-os-staging")).diskState).toBe("Attached");
    // Each disk's failback base is of the disk the VM got, in that disk's own snapshot family.
    const base = await f.azure.compute.snapshots.get("dr-rg", "web1-lun0-failback-base");
    expect(base.creationData?.sourceResourceId?.toLowerCase()).toBe(id("web1-lun0-disk"));
    expect(base.incremental).toBe(true);
    expect(
      (
        await f.azure.compute.snapshots.get("dr-rg", "web1-os-failback-base")
      ).creationData?.sourceResourceId?.toLowerCase(),
    ).toBe(id("web1-os-staging"));
    const db = await f.azure.compute.virtualMachines.get("dr-rg", "DB1");
    expect(db.storageProfile?.osDisk?.osType).toBe("Windows");

    runState = { sync: {} };
    const back = await deployer.up("web", { message: "back to standby web" });
    expect(back.changes).toMatchObject({ delete: 15, same: 5, create: 0 });
    expect(await vmExists("web1")).toBe(false);
    for (const name of [
      "web1-os-staging",
      "web1-lun0-staging",
      "web1-lun1-staging",
      "db1-os-staging",
      "db1-lun0-staging",
    ]) {
      expect((await f.azure.compute.disks.get("dr-rg", name)).diskState).toBe("Unattached");
    }
    await expect(f.azure.compute.disks.get("dr-rg", "web1-lun0-disk")).rejects.toMatchObject({ statusCode: 404 });
  });

  it("a test failover brings up copies in the test network and never touches the staging disks", async () => {
    await standby();
    const points = recoveryPoints(b);
    runState = readyRunState("test", points, "drill-1");
    const up = await deployer.up("web", {
      message: "drill web",
      policyConfig: packConfigFromFacts(facts({ mode: "test", operation: "drill-1", allowedSubnetIds: [testSubnet] })),
    });
    expect(up.changes.create).toBe(14);
    const web = await f.azure.compute.virtualMachines.get("dr-rg", "web1-test");
    expect(web.storageProfile?.osDisk?.managedDisk?.id).toMatch(/web1-test-os-disk$/);
    const nic = await f.azure.network.networkInterfaces.get("dr-rg", "web1-test-nic");
    expect(nic.ipConfigurations?.[0]?.subnet?.id?.toLowerCase()).toBe(testSubnet.toLowerCase());
    for (const name of ["web1-os-staging", "db1-os-staging"])
      expect((await f.azure.compute.disks.get("dr-rg", name)).diskState).toBe("Unattached");
    runState = { sync: {} };
    const cleanup = await deployer.up("web", { message: "drill web: clean up" });
    expect(cleanup.changes.delete).toBe(14);
    const history = await deployer.history("web");
    expect(history[0]).toMatchObject({ message: "drill web: clean up", result: "succeeded", kind: "update" });
    // The mode is the store's, not the stack's config: none is recorded there.
    expect(history[0]!.config.mode).toBeUndefined();
    expect(history.map((h) => h.version)).toEqual([...history.map((h) => h.version)].sort((x, y) => y - x));
  });
});
