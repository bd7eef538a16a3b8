import { describe, expect, it } from "vitest";
import { evaluatePolicies, urnOf } from "../../local/deployer/policy-eval";
import { runProgram } from "../../local/deployer/program-run";
import { blueprint, LANDING_ZONE_STACK, landingZone, readyRunState, recoveryPoints } from "../unit/stacks/fixtures";

describe("running the program for the local deployer", () => {
  it("records each resource's options, its engine URN, and dependencies that stack policies can follow", async () => {
    const b = blueprint();
    const { declared } = await runProgram(
      {
        kind: "blueprint",
        landingZoneStack: LANDING_ZONE_STACK,
        blueprint: b,
        stagingSku: "Premium_LRS",
      },
      "t",
      {
        preview: true,
        resolve: async (r) => ({ id: `/fake/${r.type}/${r.name}`, outputs: { ...r.inputs } }),
        stackOutputs: async () => ({ outputs: landingZone() }),
        subscriptionId: landingZone().subscriptionId,
        readBlueprintState: async () => readyRunState("failover", recoveryPoints(b)),
      },
    );
    const staging = declared.find((d) => d.key === "azure-native:compute:Disk::web1-os-staging")!;
    expect(staging.retainOnDelete).toBe(true);
    expect(staging.urn).toMatch(/ferry:dr:StagingDisk\$azure-native:compute:Disk::web1-os-staging$/);
    const vm = declared.find((d) => d.key === "azure-native:compute:VirtualMachine::web1")!;
    const nic = declared.find((d) => d.key === "azure-native:network:NetworkInterface::web1-nic")!;
    expect(vm.dependencies).toContain(nic.urn);
    expect(vm.dependencies).toContain(staging.urn);
    expect(declared.find((d) => d.type === "ferry:dr:RecoveredVm")?.custom).toBe(false);

    let seen: unknown[] = [];
    await evaluatePolicies(
      [
        {
          name: "probe",
          enforcementLevel: "advisory",
          validateStack: (args: { resources: { name: string; dependencies: { name: string }[] }[] }) =>
            (seen = args.resources.find((r) => r.name === "web1")!.dependencies.map((d) => d.name)),
        },
      ],
      declared,
      {},
      "t",
    );
    expect(seen).toEqual(expect.arrayContaining(["web1-nic", "web1-os-staging", "web1-lun0-disk"]));

    // Before registration (a resource policy judges it then) the URN is built as the engine builds it.
    for (const d of declared.filter((x) => x.custom)) expect(urnOf({ ...d, urn: undefined }, "t"), d.key).toBe(d.urn);
  });
});
