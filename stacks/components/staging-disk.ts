import * as compute from "@pulumi/azure-native/compute";
import * as pulumi from "@pulumi/pulumi";
import type { StagingDiskPlan } from "../plan";

/**
 * `ferry:dr:StagingDisk`: the DR copy of one source disk, kept current by the sync. Never destroyed
 * by a mode switch or a removed row (retainOnDelete): it is the data.
 */
export class StagingDisk extends pulumi.ComponentResource {
  readonly disk: compute.Disk;
  readonly id: pulumi.Output<string>;

  constructor(
    plan: StagingDiskPlan,
    args: { resourceGroupName: pulumi.Input<string>; location: string },
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("ferry:dr:StagingDisk", plan.logicalName, {}, opts);
    this.disk = new compute.Disk(
      plan.logicalName,
      {
        diskName: plan.diskName,
        resourceGroupName: args.resourceGroupName,
        location: args.location,
        creationData: { createOption: compute.DiskCreateOption.Empty },
        diskSizeGB: plan.sizeGiB,
        sku: { name: plan.sku },
        ...(plan.osType
          ? {
              osType:
                plan.osType === "Windows" ? compute.OperatingSystemTypes.Windows : compute.OperatingSystemTypes.Linux,
            }
          : {}),
        tags: plan.tags,
      },
      { parent: this, retainOnDelete: true },
    );
    this.id = this.disk.id;
    this.registerOutputs({ id: this.id });
  }
}
