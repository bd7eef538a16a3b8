import * as compute from "@pulumi/azure-native/compute";
import * as pulumi from "@pulumi/pulumi";
import type { HyperVGeneration } from "../../core/schemas/blueprint";
import type { StagingDiskPlan } from "../plan";

/** The provider's value for a blueprint's generation. */
export function generationOf(g: HyperVGeneration): compute.HyperVGeneration {
  return g === "V2" ? compute.HyperVGeneration.V2 : compute.HyperVGeneration.V1;
}

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
        // Azure makes no Trusted Launch disk Empty: UploadPreparedSecure is one, sealed (uploading nothing) by
        // `ferry sources enable` before the appliance attaches it. uploadSizeBytes counts the 512-byte VHD footer.
        ...(plan.securityType === "TrustedLaunch"
          ? {
              creationData: {
                createOption: compute.DiskCreateOption.UploadPreparedSecure,
                uploadSizeBytes: plan.sizeGiB * 1024 ** 3 + 512,
              },
              securityProfile: { securityType: compute.DiskSecurityTypes.TrustedLaunch },
            }
          : { creationData: { createOption: compute.DiskCreateOption.Empty } }),
        // Stated for upload disks too: the policy pack checks every staging disk's size against its source's.
        diskSizeGB: plan.sizeGiB,
        sku: { name: plan.sku },
        ...(plan.osType
          ? {
              osType:
                plan.osType === "Windows" ? compute.OperatingSystemTypes.Windows : compute.OperatingSystemTypes.Linux,
            }
          : {}),
        ...(plan.hyperVGeneration ? { hyperVGeneration: generationOf(plan.hyperVGeneration) } : {}),
        tags: plan.tags,
      },
      { parent: this, retainOnDelete: true },
    );
    this.id = this.disk.id;
    this.registerOutputs({ id: this.id });
  }
}
