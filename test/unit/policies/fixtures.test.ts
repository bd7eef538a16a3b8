import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import type { BlueprintMode } from "../../../stacks/plan";
import { ferryProgram } from "../../../stacks/program";
import { LANDING_ZONE_STACK, landingZone, readyRunState, recoveryPoints } from "../stacks/fixtures";
import { OPERATION, armId, blueprintStack, policyBlueprint } from "./fixtures";

const SEGMENT: Record<string, [segment: string, nameInput: string]> = {
  "azure-native:compute:Disk": ["Microsoft.Compute/disks", "diskName"],
  "azure-native:compute:Snapshot": ["Microsoft.Compute/snapshots", "snapshotName"],
  "azure-native:compute:VirtualMachine": ["Microsoft.Compute/virtualMachines", "vmName"],
  "azure-native:network:NetworkInterface": ["Microsoft.Network/networkInterfaces", "networkInterfaceName"],
};

/** What the real program declares (custom resources, their inputs), under mocks that give ARM ids. */
async function declared(mode: BlueprintMode): Promise<{ type: string; name: string; props: unknown }[]> {
  const b = policyBlueprint();
  const zone = landingZone();
  const out: { type: string; name: string; props: unknown }[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        // The landing zone's outputs, read as the engine reads a StackReference: not a resource of the stack.
        if (args.type === "pulumi:pulumi:StackReference")
          return { id: args.name, state: { name: args.name, outputs: { outputs: zone } } };
        if (args.custom !== false) out.push({ type: args.type, name: args.name, props: args.inputs });
        const [segment, nameInput] = SEGMENT[args.type] ?? [];
        const id = segment
          ? armId(zone.subscriptionId, args.inputs.resourceGroupName, segment, args.inputs[nameInput!])
          : `${args.name}-id`;
        return { id, state: args.inputs };
      },
      call: () => ({ subscriptionId: zone.subscriptionId }),
    },
    "ferry",
    "dr",
    false,
  );
  const config = {
    kind: "blueprint" as const,
    landingZoneStack: LANDING_ZONE_STACK,
    blueprint: b,
    stagingSku: "Premium_LRS" as const,
  };
  // The store's record a runbook leaves before its `up` (standby: none).
  const state = mode === "standby" ? { sync: {} } : readyRunState(mode, recoveryPoints(b), OPERATION);
  await new Promise((resolve) =>
    pulumi.output(ferryProgram(config, undefined, { readBlueprintState: async () => state })).apply(resolve),
  );
  return out;
}

const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

describe("the policy fixtures", () => {
  for (const mode of ["standby", "failover", "test"] as const) {
    it(`are what ferry's program declares in mode ${mode}`, async () => {
      const fixture = blueprintStack(mode).resources.map((r) => ({ type: r.type, name: r.name, props: r.props }));
      expect(fixture.sort(byName)).toEqual((await declared(mode)).sort(byName));
    });
  }

  it("in failover: two staging disks, one NIC, VM, snapshot and disk, a failback base per disk", () => {
    expect(blueprintStack("failover").resources.map((r) => `${r.type.split(":")[2]} ${r.name}`)).toEqual([
      "Disk web1-os-staging",
      "Disk web1-lun0-staging",
      "NetworkInterface web1-nic",
      "Snapshot web1-os-failback-base",
      "Snapshot web1-lun0-snapshot",
      "Disk web1-lun0-disk",
      "Snapshot web1-lun0-failback-base",
      "VirtualMachine web1",
    ]);
  });
});
