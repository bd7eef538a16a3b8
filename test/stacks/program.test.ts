import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import type { LandingZoneOutputs } from "../../core/schemas/landing-zone";
import type { StackConfig } from "../../stacks/config";
import { ferryProgram } from "../../stacks/program";
import { thrownBy } from "../helpers/errors";
import type { BlueprintRunState } from "../../core/schemas/blueprint-state";
import { blueprint, LANDING_ZONE_STACK, landingZone, readyRunState, recoveryPoints } from "../unit/stacks/fixtures";

interface Declared {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

const SEGMENT: Record<string, string> = {
  "azure-native:compute:Disk": "Microsoft.Compute/disks",
  "azure-native:compute:Snapshot": "Microsoft.Compute/snapshots",
  "azure-native:compute:VirtualMachine": "Microsoft.Compute/virtualMachines",
  "azure-native:network:NetworkInterface": "Microsoft.Network/networkInterfaces",
};

/** The input that names each resource in Azure (its `name` output). */
const NAME_INPUT: Record<string, string> = {
  "azure-native:compute:Disk": "diskName",
  "azure-native:compute:Snapshot": "snapshotName",
  "azure-native:compute:VirtualMachine": "vmName",
  "azure-native:network:NetworkInterface": "networkInterfaceName",
  "azure-native:network:VirtualNetwork": "virtualNetworkName",
  "azure-native:resources:ResourceGroup": "resourceGroupName",
  "azure-native:storage:StorageAccount": "accountName",
  "azure-native:storage:Table": "tableName",
  "azure-native:managedidentity:UserAssignedIdentity": "resourceName",
};

interface RunOptions {
  /** The stacks a StackReference can read, by name: their outputs. Default: the landing zone fixture's. */
  stacks?: Record<string, Record<string, unknown>>;
  /** What the azure-native provider's client config answers. Default: the landing zone's subscription. */
  subscriptionId?: string;
  /** The blueprint's run state in the state store. Default: none (never switched: standby). */
  state?: BlueprintRunState;
  /** Collects what was declared, also when the run throws. */
  declaredInto?: Declared[];
}

/**
 * Runs the program under mocks (STYLE 1: set mocks, run, read outputs) and returns what it declared.
 * The mocks answer a StackReference as the engine does: with the referenced stack's outputs (the
 * program exports one, `outputs`), or an error for a stack that does not exist.
 */
async function run(config: StackConfig, options: RunOptions = {}): Promise<{ declared: Declared[]; outputs: any }> {
  const stacks = options.stacks ?? { [LANDING_ZONE_STACK]: { outputs: landingZone() } };
  const declared: Declared[] = options.declaredInto ?? [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        declared.push({ type: args.type, name: args.name, inputs: args.inputs });
        if (args.type === "pulumi:pulumi:StackReference") {
          const referenced = String((args.inputs as { name: unknown }).name);
          const outputs = stacks[referenced];
          if (!outputs) throw new Error(`unknown stack "${referenced}"`);
          return { id: referenced, state: { name: referenced, outputs, secretOutputNames: [] } };
        }
        const key = NAME_INPUT[args.type];
        const name = (key && args.inputs[key]) ?? args.name;
        const segment = SEGMENT[args.type];
        const id = segment
          ? `/subscriptions/sub/resourceGroups/${args.inputs.resourceGroupName}/providers/${segment}/${name}`
          : `${args.name}-id`;
        return { id, state: { ...args.inputs, name } };
      },
      call: (args) =>
        args.token === "azure-native:authorization:getClientConfig"
          ? { subscriptionId: options.subscriptionId ?? landingZone().subscriptionId }
          : {},
    },
    "ferry",
    "test",
    false,
  );
  // A failed read also rejects promises inside Pulumi's runtime that nothing awaits (the engine's
  // language host reports them as the program's failure): while the program runs, they are expected.
  const expected = () => undefined;
  process.on("unhandledRejection", expected);
  try {
    const state = options.state ?? { sync: {} };
    const program = await ferryProgram(config, undefined, { readBlueprintState: async () => state });
    const outputs = await new Promise((resolve) => pulumi.output(program).apply(resolve));
    return { declared, outputs };
  } finally {
    setTimeout(() => process.off("unhandledRejection", expected), 100);
  }
}

const byType = (d: Declared[], type: string) => d.filter((r) => r.type === type);

describe("the blueprint program, under mocks", () => {
  const b = blueprint();
  const points = recoveryPoints(b);
  const zone: LandingZoneOutputs = landingZone();
  const standby = {
    kind: "blueprint",
    landingZoneStack: LANDING_ZONE_STACK,
    blueprint: b,
    stagingSku: "Premium_LRS",
  } as const;

  it("reads where it fails over from its landing zone's outputs, through a StackReference", async () => {
    const { declared } = await run(standby);
    expect(byType(declared, "pulumi:pulumi:StackReference")).toEqual([
      { type: "pulumi:pulumi:StackReference", name: LANDING_ZONE_STACK, inputs: { name: LANDING_ZONE_STACK } },
    ]);
    for (const disk of byType(declared, "azure-native:compute:Disk"))
      expect([disk.inputs.resourceGroupName, disk.inputs.location]).toEqual([zone.resourceGroupName, zone.location]);
  });

  it("refuses a landing-zone stack that does not exist, naming it and ferry:landingZoneStack", async () => {
    const e = await thrownBy(run(standby, { stacks: {} }));
    expect(e).toMatchObject({ code: "NoLandingZone" });
    expect(e.message).toMatch(
      new RegExp(
        `^Cannot read the landing-zone stack ${LANDING_ZONE_STACK} \\(ferry:landingZoneStack\\): .*unknown stack`,
      ),
    );
    expect(e.message).toMatch(new RegExp(`Deploy it first \\(pulumi up -s ${LANDING_ZONE_STACK}\\)`));
  });

  it("refuses a landing zone with no outputs yet: deploy it first", async () => {
    const e = await thrownBy(run(standby, { stacks: { [LANDING_ZONE_STACK]: {} } }));
    expect(e.message).toBe(
      `The landing-zone stack ${LANDING_ZONE_STACK} has no outputs: deploy it first (pulumi up -s ${LANDING_ZONE_STACK}).`,
    );
  });

  it("refuses to deploy to another subscription than its landing zone's, naming both stacks' settings", async () => {
    const other = "44444444-4444-4444-4444-444444444444";
    const e = await thrownBy(run(standby, { subscriptionId: other }));
    expect(e).toMatchObject({ code: "SubscriptionMismatch" });
    expect(e.message).toMatch(
      new RegExp(
        `stack test deploys to subscription ${other} \\(its azure-native:subscriptionId\\), but its landing zone ` +
          `${LANDING_ZONE_STACK} is in ${zone.subscriptionId} \\(the azure-native:subscriptionId of that stack\\)`,
      ),
    );
  });

  it("standby declares the staging disks and nothing else, with their exact inputs", async () => {
    const { declared, outputs } = await run(standby);
    expect(declared.map((d) => d.type).sort()).toEqual(
      [
        ...Array(5).fill("azure-native:compute:Disk"),
        ...Array(5).fill("ferry:dr:StagingDisk"),
        "pulumi:pulumi:StackReference",
      ].sort(),
    );
    const os = byType(declared, "azure-native:compute:Disk").find((d) => d.name === "web1-os-staging")!;
    expect(os.inputs).toEqual({
      diskName: "web1-os-staging",
      resourceGroupName: "dr-rg",
      location: "northeurope",
      creationData: { createOption: "Empty" },
      diskSizeGB: 30,
      sku: { name: "Premium_LRS" },
      osType: "Linux",
      tags: {
        "ferry-blueprint": "web",
        "ferry-row": "web1",
        "ferry-role": "staging",
        "ferry-source-disk": b.rows[0]!.osDisk.sourceDiskId.toLowerCase(),
        "ferry-source-size-gib": "30",
      },
    });
    expect(outputs.mode).toBe("standby");
    expect(outputs.stagingDisks).toHaveLength(5);
    expect(outputs.recoveredVms).toEqual([]);
  });

  it("failover declares, per row, the NIC, the snapshot-made disks and the VM on its disks at their LUNs", async () => {
    const { declared, outputs } = await run(standby, { state: readyRunState("failover", points, "op-7") });
    const vm = byType(declared, "azure-native:compute:VirtualMachine").find((d) => d.name === "web1")!;
    expect(vm.inputs.hardwareProfile).toEqual({ vmSize: "Standard_D2s_v5" });
    expect(vm.inputs.osProfile).toBeUndefined();
    expect(vm.inputs.storageProfile).toEqual({
      osDisk: {
        createOption: "Attach",
        osType: "Linux",
        managedDisk: {
          id: "/subscriptions/sub/resourceGroups/dr-rg/providers/Microsoft.Compute/disks/web1-os-staging",
        },
        deleteOption: "Detach",
      },
      dataDisks: [
        {
          lun: 0,
          createOption: "Attach",
          managedDisk: {
            id: "/subscriptions/sub/resourceGroups/dr-rg/providers/Microsoft.Compute/disks/web1-lun0-disk",
          },
          deleteOption: "Detach",
        },
        {
          lun: 1,
          createOption: "Attach",
          managedDisk: {
            id: "/subscriptions/sub/resourceGroups/dr-rg/providers/Microsoft.Compute/disks/web1-lun1-disk",
          },
          deleteOption: "Detach",
        },
      ],
    });
    expect(vm.inputs.networkProfile).toEqual({
      networkInterfaces: [
        {
          id: "/subscriptions/sub/resourceGroups/dr-rg/providers/Microsoft.Network/networkInterfaces/web1-nic",
          primary: true,
          deleteOption: "Detach",
        },
      ],
    });
    expect(vm.inputs.tags).toMatchObject({
      "ferry-mode": "failover",
      "ferry-operation": "op-7",
      "ferry-os-strategy": "attachAsIs",
    });

    const snap = byType(declared, "azure-native:compute:Snapshot").find((d) => d.name === "web1-lun0-snapshot")!;
    expect(snap.inputs).toMatchObject({
      snapshotName: "web1-lun0-snapshot",
      incremental: true,
      creationData: {
        createOption: "Copy",
        sourceResourceId: "/subscriptions/sub/resourceGroups/dr-rg/providers/Microsoft.Compute/disks/web1-lun0-staging",
      },
    });
    const disk = byType(declared, "azure-native:compute:Disk").find((d) => d.name === "web1-lun0-disk")!;
    expect(disk.inputs).toMatchObject({
      creationData: {
        createOption: "Copy",
        sourceResourceId:
          "/subscriptions/sub/resourceGroups/dr-rg/providers/Microsoft.Compute/snapshots/web1-lun0-snapshot",
      },
      diskSizeGB: 128,
      tags: {
        "ferry-source-size-gib": "128",
        "ferry-recovery-point": points[b.rows[0]!.dataDisks[0]!.sourceDiskId]!.snapshotId,
      },
    });
    const nic = byType(declared, "azure-native:network:NetworkInterface").find((d) => d.name === "web1-nic")!;
    expect(nic.inputs.ipConfigurations).toEqual([
      {
        name: "ipconfig1",
        subnet: { id: zone.targetSubnetId },
        primary: true,
        privateIPAllocationMethod: "Static",
        privateIPAddress: "10.1.0.4",
      },
    ]);
    expect(byType(declared, "azure-native:network:PublicIPAddress")).toEqual([]);
    // The Windows row attaches its staging OS disk as a specialized disk: Attach with osType, no image, no osProfile.
    const db = byType(declared, "azure-native:compute:VirtualMachine").find((d) => d.name === "DB1")!;
    expect(db.inputs.storageProfile.osDisk).toMatchObject({ createOption: "Attach", osType: "Windows" });
    expect(db.inputs.storageProfile.imageReference).toBeUndefined();
    expect(outputs.recoveredVms.map((r: any) => r.row)).toEqual(["web1", "db1"]);
  });

  it("test declares snapshot-made disks only, in the test subnet, and never attaches a staging disk", async () => {
    const { declared } = await run(standby, { state: readyRunState("test", points) });
    for (const vm of byType(declared, "azure-native:compute:VirtualMachine")) {
      const ids = [
        vm.inputs.storageProfile.osDisk.managedDisk.id,
        ...vm.inputs.storageProfile.dataDisks.map((d: any) => d.managedDisk.id),
      ];
      expect(ids.some((id: string) => id.endsWith("-staging"))).toBe(false);
      expect(vm.name).toMatch(/-test$/);
    }
    for (const nic of byType(declared, "azure-native:network:NetworkInterface")) {
      expect(nic.inputs.ipConfigurations[0].subnet.id).toBe(zone.testSubnetId);
      expect(nic.inputs.ipConfigurations[0].privateIPAllocationMethod).toBe("Dynamic");
    }
  });
});

describe("a bare up of a blueprint in failover mode, under mocks", () => {
  const b = blueprint();
  const points = recoveryPoints(b);
  const config = {
    kind: "blueprint",
    landingZoneStack: LANDING_ZONE_STACK,
    blueprint: b,
    stagingSku: "Premium_LRS",
  } as const;
  const recovered = (d: Declared[]) =>
    d.filter((r) => r.type === "azure-native:compute:VirtualMachine" || r.type === "azure-native:compute:Snapshot");
  const osId = b.rows[0]!.osDisk.sourceDiskId;

  it("refuses a disk whose sync is applying, naming it and the command, and declares nothing recovered", async () => {
    const state = readyRunState("failover", points);
    state.sync[osId.toLowerCase()]!.applying =
      "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/snapshots/next";
    const declared: Declared[] = [];
    const e = await thrownBy(run(config, { state, declaredInto: declared }));
    expect(e).toMatchObject({ code: "NotReadyToRecover" });
    expect(e.message).toContain(`${b.rows[0]!.name} OS disk (${osId}`);
    expect(e.message).toContain("a half-applied staging disk");
    expect(e.message).toContain("ferry failover test --unplanned");
    expect(recovered(declared)).toEqual([]);
  });

  it("refuses an attach-as-is disk the store does not show detached from the appliance", async () => {
    const state = readyRunState("failover", points);
    delete state.mode!.disks[osId.toLowerCase()]!.detached;
    const e = await thrownBy(run(config, { state }));
    expect(e).toMatchObject({ code: "NotReadyToRecover" });
    expect(e.message).toContain("does not record its staging disk as detached");
  });

  it("refuses a from-snapshot disk whose sync moved on, unless its DR snapshot is recorded as taken", async () => {
    const state = readyRunState("test", points);
    state.sync[osId.toLowerCase()] = { paused: false, applied: "/subscriptions/s/resourceGroups/g/providers/x/later" };
    const e = await thrownBy(run(config, { state }));
    expect(e).toMatchObject({ code: "NotReadyToRecover" });
    expect(e.message).toContain("is syncing (not paused)");
    expect(e.message).toContain("ferry failover test --test");
    state.mode!.disks[osId.toLowerCase()]!.snapshotTaken = true;
    const { declared } = await run(config, { state });
    expect(byType(declared, "azure-native:compute:VirtualMachine")).toHaveLength(b.rows.length);
  });

  it("refuses a mode record with no recovery point for a disk", async () => {
    const state = readyRunState("failover", points);
    const { [osId]: _gone, ...rest } = state.mode!.recoveryPoints;
    state.mode!.recoveryPoints = rest;
    const e = await thrownBy(run(config, { state }));
    expect(e).toMatchObject({ code: "MissingRecoveryPoint" });
    expect(e.message).toContain(osId);
  });

  it("declares the disks a failback returned, from the store, over the tracked ids", async () => {
    const by = osId.replace(/\/disks\/[^/]+$/, "/disks/returned-os");
    const { outputs } = await run(config, {
      state: {
        sync: {},
        sources: { replaced: { [osId.toLowerCase()]: { by, operation: "fb-1", at: "2026-11-23T00:00:00.000Z" } } },
      },
    });
    const sources = outputs.stagingDisks.map((d: { sourceDiskId: string }) => d.sourceDiskId);
    expect(sources).toContain(by);
    expect(sources).not.toContain(osId);
  });
});

describe("the landing-zone program, under mocks", () => {
  const SUB = "22222222-2222-2222-2222-222222222222";
  const DR_RG = `/subscriptions/${SUB}/resourceGroups/dr-rg`;
  const PROD_RG = `/subscriptions/${SUB}/resourceGroups/prod-rg`;
  const SNAPSHOT_RG = `/subscriptions/${SUB}/resourceGroups/ferry-snapshots-westeurope`;
  const DR_NETWORK = `/subscriptions/${SUB}/resourceGroups/dr-network-rg/providers/Microsoft.Network`;
  const deploy = () =>
    run(
      {
        kind: "landing-zone",
        region: "northeurope",
        resourceGroup: "dr-rg",
        targetSubnetId: `${DR_NETWORK}/virtualNetworks/dr-vnet/subnets/app`,
        testNetwork: {
          name: "dr-test-vnet",
          addressPrefix: "10.99.0.0/16",
          subnetName: "app",
          subnetPrefix: "10.99.1.0/24",
        },
        stateStore: { accountName: "ferrystate01", tableName: "ferrySources" },
        appliance: {
          name: "ferry-appliance",
          vmSize: "Standard_D4s_v5",
          adminUsername: "ferry",
          sshPublicKey: "ssh-ed25519 AAAAC3Nza test",
        },
        sourceScopes: [PROD_RG],
        snapshotResourceGroups: { westeurope: "ferry-snapshots-westeurope" },
      },
      { subscriptionId: SUB },
    );
  /** Each role's actions and data actions, and the scopes it is assigned at (from the assignments declared). */
  const rolesOf = (declared: Declared[]) =>
    byType(declared, "azure-native:authorization:RoleDefinition").map((r) => ({
      name: r.name,
      actions: r.inputs.permissions[0].actions as string[],
      dataActions: (r.inputs.permissions[0].dataActions ?? []) as string[],
      assignableScopes: r.inputs.assignableScopes as string[],
      assignedAt: byType(declared, "azure-native:authorization:RoleAssignment")
        .filter((a) => a.inputs.roleDefinitionId === `${r.name}-id`)
        .map((a) => a.inputs.scope as string),
    }));

  it("declares the group, test network, locked-down state store, identity, roles and appliance", async () => {
    const { declared, outputs } = await deploy();
    const account = byType(declared, "azure-native:storage:StorageAccount")[0]!;
    expect(account.inputs).toMatchObject({
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: false,
      minimumTlsVersion: "TLS1_2",
      enableHttpsTrafficOnly: true,
    });
    expect(byType(declared, "azure-native:storage:Table")[0]!.inputs.tableName).toBe("ferrySources");
    const dr = rolesOf(declared).find((r) => r.name === "appliance-role")!;
    expect(dr.assignedAt).toEqual([DR_RG]);
    // The landing zone makes the table: the appliance reads and writes its entities, and manages no table.
    expect(dr.dataActions.length).toBeGreaterThan(0);
    for (const d of dr.dataActions)
      expect(d).toMatch(/^Microsoft\.Storage\/storageAccounts\/tableServices\/tables\/entities\//);
    for (const r of rolesOf(declared))
      expect(
        r.actions.filter((x) => x.startsWith("Microsoft.Storage/") || x.endsWith("/virtualMachines/write")),
      ).toEqual([]);
    const vm = byType(declared, "azure-native:compute:VirtualMachine")[0]!;
    expect(vm.inputs.osProfile.linuxConfiguration.disablePasswordAuthentication).toBe(true);
    expect(vm.inputs.identity.type).toBe("UserAssigned");
    expect(byType(declared, "azure-native:network:NetworkInterface")[0]!.inputs.ipConfigurations[0]).not.toHaveProperty(
      "publicIPAddress",
    );
    expect(byType(declared, "azure-native:network:PublicIPAddress")).toEqual([]);
    expect(outputs.subscriptionId).toBe(SUB);
    expect(outputs.stateStore).toEqual({
      accountName: "ferrystate01",
      tableName: "ferrySources",
      url: "https://ferrystate01.table.core.windows.net",
    });
  });

  it("declares ferry's snapshot group in its source region and exports it by region", async () => {
    const { declared, outputs } = await deploy();
    const groups = byType(declared, "azure-native:resources:ResourceGroup").map((g) => ({
      name: g.inputs.resourceGroupName,
      location: g.inputs.location,
    }));
    expect(groups).toEqual([
      { name: "dr-rg", location: "northeurope" },
      { name: "ferry-snapshots-westeurope", location: "westeurope" },
    ]);
    expect(outputs.snapshotResourceGroups).toEqual({ westeurope: "ferry-snapshots-westeurope" });
  });

  it("grants each scope exactly its actions: delete in the snapshot group only, no write in production", async () => {
    const { declared } = await deploy();
    const roles = rolesOf(declared)
      .map(({ name, actions, assignableScopes, assignedAt }) => ({ name, actions, assignableScopes, assignedAt }))
      .sort((a, b) => a.name.localeCompare(b.name));
    expect(roles).toEqual([
      {
        name: "appliance-role",
        actions: [
          "Microsoft.Resources/subscriptions/resourceGroups/read",
          "Microsoft.Compute/disks/read",
          "Microsoft.Compute/virtualMachines/read",
          "Microsoft.Compute/snapshots/read",
          "Microsoft.Compute/snapshots/beginGetAccess/action",
          "Microsoft.Compute/snapshots/endGetAccess/action",
        ],
        assignableScopes: [DR_RG],
        assignedAt: [DR_RG],
      },
      {
        name: "appliance-snapshot-role",
        actions: [
          "Microsoft.Compute/snapshots/read",
          "Microsoft.Compute/snapshots/write",
          "Microsoft.Compute/snapshots/delete",
          "Microsoft.Compute/snapshots/beginGetAccess/action",
          "Microsoft.Compute/snapshots/endGetAccess/action",
        ],
        assignableScopes: [SNAPSHOT_RG],
        assignedAt: [SNAPSHOT_RG],
      },
      {
        name: "appliance-source-role",
        actions: ["Microsoft.Compute/disks/read", "Microsoft.Compute/disks/beginGetAccess/action"],
        assignableScopes: [PROD_RG],
        assignedAt: [PROD_RG],
      },
    ]);
    const deleters = roles.filter((r) => r.actions.some((a) => a.endsWith("/delete"))).flatMap((r) => r.assignedAt);
    expect(deleters).toEqual([SNAPSHOT_RG]);
    const writers = roles.filter((r) => r.actions.some((a) => a.endsWith("/write"))).flatMap((r) => r.assignedAt);
    expect(writers).not.toContain(PROD_RG);
  });
});
