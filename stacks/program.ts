import * as pulumi from "@pulumi/pulumi";
import { parseResourceId } from "../core/resource-id";
import type { BlueprintStackConfig, StackConfig } from "./config";
import { LandingZone } from "./components/landing-zone";
import { RecoveredVm } from "./components/recovered-vm";
import { StagingDisk } from "./components/staging-disk";
import { planBlueprint } from "./plan";

/**
 * ferry's one Pulumi program: `kind` selects what the stack declares. Takes the config parsed at
 * the edge (stacks/index.ts reads Pulumi's Config), so tests and the local deployer run it with
 * any config, under mocks.
 */
export function ferryProgram(
  config: StackConfig,
  opts?: pulumi.ComponentResourceOptions,
): Record<string, pulumi.Output<unknown>> {
  if (config.kind === "landing-zone") {
    const zone = new LandingZone(
      "landing-zone",
      config,
      { subscriptionId: parseResourceId(config.targetSubnetId).subscriptionId },
      opts,
    );
    return zone.outputs;
  }
  return blueprintProgram(config, opts);
}

function blueprintProgram(
  config: BlueprintStackConfig,
  opts?: pulumi.ComponentResourceOptions,
): Record<string, pulumi.Output<unknown>> {
  const plan = planBlueprint(config.blueprint, {
    mode: config.mode,
    recoveryPoints: config.recoveryPoints,
    stagingSku: config.stagingSku,
    ...(config.operation ? { operationId: config.operation } : {}),
  });
  const resourceGroupName = plan.resourceGroup;
  const staging = new Map<string, StagingDisk>();
  for (const s of plan.staging)
    staging.set(s.logicalName, new StagingDisk(s, { resourceGroupName, location: plan.location }, opts));
  const recovered = plan.rows.map((row) => ({
    row: row.row,
    vm: new RecoveredVm(row, { resourceGroupName, location: plan.location, staging }, opts),
  }));
  return {
    blueprint: pulumi.output(plan.blueprint),
    mode: pulumi.output(plan.mode),
    stagingDisks: pulumi.all(
      plan.staging.map((s) =>
        staging.get(s.logicalName)!.id.apply((id) => ({
          name: s.logicalName,
          id,
          sourceDiskId: s.sourceDiskId,
          row: s.row,
          role: s.role,
          ...(s.lun !== undefined ? { lun: s.lun } : {}),
        })),
      ),
    ),
    recoveredVms: pulumi.all(
      recovered.map((r) =>
        pulumi
          .all([r.vm.id, r.vm.nic.id, r.vm.vm.name])
          .apply(([id, nicId, name]) => ({ row: r.row, id, nicId, name })),
      ),
    ),
  };
}
