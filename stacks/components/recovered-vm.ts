import * as compute from "@pulumi/azure-native/compute";
import * as network from "@pulumi/azure-native/network";
import * as pulumi from "@pulumi/pulumi";
import { TAGS, type RecoveredDiskPlan, type RecoveredRowPlan } from "../plan";
import { generationOf, type StagingDisk } from "./staging-disk";

/** A recovered row's machine: its NICs and the VM on its disks. */
export interface RecoveredMachine {
  vm: compute.VirtualMachine;
  /** The row's NICs, in its order. */
  nics: network.NetworkInterface[];
  /** The primary one of `nics`. */
  nic: network.NetworkInterface;
  id: pulumi.Output<string>;
}

/**
 * `ferry:dr:RecoveredVm`: one blueprint row brought up in the DR region — its NICs (no public IP, one primary),
 * its disks (the staging disks attached as they are, or new disks from snapshots of them), and the
 * VM on its existing OS disk (`createOption: Attach`: the VM keeps the disk's identity; a Windows
 * disk is attached specialized, never treated as a generalized image).
 *
 * Declared in two steps: the constructor declares the disks (the start of a failover's critical path: a copy, its
 * failback base, then the VM), {@link declareMachine} the failback bases, the NICs and the VM, once the program has
 * let the disks' registrations go out.
 */
export class RecoveredVm extends pulumi.ComponentResource {
  /** The row's disks, the OS disk first then the data disks in the row's order, each with its id. */
  private readonly disks: { plan: RecoveredDiskPlan; id: pulumi.Output<string> }[];
  private machine: RecoveredMachine | undefined;

  constructor(
    private readonly plan: RecoveredRowPlan,
    private readonly args: {
      resourceGroupName: pulumi.Input<string>;
      location: string;
      /** The staging disk of a logical name (declared on first use). */
      staging: (logicalName: string) => StagingDisk | undefined;
      /** What the VM waits for before it attaches an attach-as-is disk (its detach from the appliance), if anything. */
      detached?: ((sourceDiskId: string) => Promise<void> | undefined) | undefined;
    },
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("ferry:dr:RecoveredVm", plan.row + (plan.tags[TAGS.role] === "test" ? "-test" : ""), {}, opts);
    const { resourceGroupName, location } = args;
    const recoveredDiskId = (d: RecoveredDiskPlan): pulumi.Output<string> => {
      // Asked for only where it is read: a disk copied from its DR-side point does not touch its staging disk.
      const staging = (): StagingDisk => {
        const s = args.staging(d.staging);
        if (!s) throw new Error(`no staging disk ${d.staging} for row ${plan.row}`);
        return s;
      };
      if (d.strategy === "attachAsIs") {
        // The id once the disk has left the appliance: the VM is registered then, its NICs before.
        const gate = args.detached?.(d.sourceDiskId);
        return gate ? pulumi.all([staging().id, gate]).apply(([id]) => id) : staging().id;
      }
      const tags = {
        ...plan.tags,
        [TAGS.recoveryPoint]: d.recoveryPoint.snapshotId,
        [TAGS.sourceDisk]: d.sourceDiskId.toLowerCase(),
        [TAGS.sourceSizeGiB]: String(d.sizeGiB),
      };
      // The DR-side point when there is one: the disk comes straight from it, with no snapshot on the critical path
      // and the staging disk untouched. Otherwise a snapshot of the staging disk, at its paused point.
      const from: pulumi.Input<string> = d.recoveryPoint.drSnapshotId
        ? d.recoveryPoint.drSnapshotId
        : new compute.Snapshot(
            d.snapshot!.logicalName,
            {
              snapshotName: d.snapshot!.name,
              resourceGroupName,
              location,
              incremental: true,
              creationData: { createOption: compute.DiskCreateOption.Copy, sourceResourceId: staging().id },
              tags,
            },
            { parent: this },
          ).id;
      const disk = new compute.Disk(
        d.disk!.logicalName,
        {
          diskName: d.disk!.name,
          resourceGroupName,
          location,
          creationData: { createOption: compute.DiskCreateOption.Copy, sourceResourceId: from },
          diskSizeGB: d.disk!.sizeGiB,
          sku: { name: d.disk!.sku },
          ...(d.disk!.zone ? { zones: [d.disk!.zone] } : {}),
          ...(d.role === "os" ? { osType: osTypeOf(plan) } : {}),
          ...(d.role === "os" && plan.hyperVGeneration
            ? { hyperVGeneration: generationOf(plan.hyperVGeneration) }
            : {}),
          tags,
        },
        { parent: this },
      );
      return disk.id;
    };

    this.disks = [plan.osDisk, ...plan.dataDisks].map((d) => ({ plan: d, id: recoveredDiskId(d) }));
  }

  /**
   * Declares the disks' failback bases, the row's NICs and its VM on the disks the constructor declared (once: a second
   * call returns them).
   */
  declareMachine(): RecoveredMachine {
    if (this.machine) return this.machine;
    const { plan } = this;
    const [os, ...data] = this.disks;
    const { resourceGroupName, location } = this.args;
    // Each new disk's failback base, taken once the disk exists (registered then, whenever it is declared). A base
    // that exists already (the DR-side point of an attach-as-is staging disk) is not the VM's to wait for.
    const bases = this.disks
      .filter(({ plan: d }) => d.failbackBase && !d.failbackBase.existingId)
      .map(
        ({ plan: d, id }) =>
          new compute.Snapshot(
            d.failbackBase!.logicalName,
            {
              snapshotName: d.failbackBase!.name,
              resourceGroupName,
              location,
              incremental: true,
              creationData: { createOption: compute.DiskCreateOption.Copy, sourceResourceId: id },
              tags: { ...plan.tags, [TAGS.role]: "failback-base", [TAGS.sourceDisk]: d.sourceDiskId.toLowerCase() },
            },
            { parent: this },
          ),
      );
    const nics = plan.nics.map(
      (nic) =>
        new network.NetworkInterface(
          nic.logicalName,
          {
            networkInterfaceName: nic.name,
            resourceGroupName,
            location,
            ipConfigurations: [
              {
                name: "ipconfig1",
                subnet: { id: nic.subnetId },
                primary: true,
                privateIPAllocationMethod: nic.privateIpAddress
                  ? network.IPAllocationMethod.Static
                  : network.IPAllocationMethod.Dynamic,
                ...(nic.privateIpAddress ? { privateIPAddress: nic.privateIpAddress } : {}),
              },
            ],
            // Stated only when asked: a NIC declared before NICs carried it keeps its inputs, and is not updated.
            ...(nic.acceleratedNetworking ? { enableAcceleratedNetworking: true } : {}),
            tags: plan.tags,
          },
          { parent: this },
        ),
    );
    const nic = nics[plan.nics.indexOf(plan.nic)]!;
    const vm = new compute.VirtualMachine(
      plan.vmName,
      {
        vmName: plan.vmName,
        resourceGroupName,
        location,
        hardwareProfile: { vmSize: plan.vmSize },
        // The source's licence, carried in the blueprint: nothing is read from the primary region here.
        ...(plan.licenseType ? { licenseType: plan.licenseType } : {}),
        ...(plan.zone ? { zones: [plan.zone] } : {}),
        // The OS disk is Trusted Launch (the staging disk, or a copy of its snapshot, which keeps the type).
        ...(plan.trustedLaunch
          ? {
              securityProfile: {
                securityType: compute.SecurityTypes.TrustedLaunch,
                uefiSettings: {
                  secureBootEnabled: plan.trustedLaunch.secureBootEnabled,
                  vTpmEnabled: plan.trustedLaunch.vTpmEnabled,
                },
              },
            }
          : {}),
        storageProfile: {
          osDisk: {
            createOption: compute.DiskCreateOptionTypes.Attach,
            osType: osTypeOf(plan),
            managedDisk: { id: os!.id },
            // ferry owns its disks: deleting the VM never deletes a staging disk or a recovered disk behind Pulumi's
            // back.
            deleteOption: compute.DiskDeleteOptionTypes.Detach,
          },
          dataDisks: data.map(({ plan: d, id }) => ({
            lun: d.lun!,
            createOption: compute.DiskCreateOptionTypes.Attach,
            managedDisk: { id },
            deleteOption: compute.DiskDeleteOptionTypes.Detach,
          })),
        },
        networkProfile: {
          networkInterfaces: nics.map((n, i) => ({
            id: n.id,
            primary: plan.nics[i]!.primary,
            deleteOption: compute.DeleteOptions.Detach,
          })),
        },
        tags: plan.tags,
      },
      // The VM starts only once each disk's failback base is taken: nothing it writes is missed.
      { parent: this, dependsOn: bases },
    );
    this.machine = { vm, nics, nic, id: vm.id };
    this.registerOutputs({ id: vm.id, nicId: nic.id });
    return this.machine;
  }
}

function osTypeOf(plan: RecoveredRowPlan): compute.OperatingSystemTypes {
  return plan.osType === "Windows" ? compute.OperatingSystemTypes.Windows : compute.OperatingSystemTypes.Linux;
}
