import { EmulatorError } from "../errors";
import type { NicRecord } from "../model";
import { VM_SIZES } from "./vm-sizes";

/**
 * What Azure checks of a VM's network interfaces against each other and against its size, with its codes and
 * messages where they are published (see "Network interfaces of a VM" in the README): how many the size takes
 * (`MaxNetworkInterfaces`), exactly one primary, one virtual network for all, and accelerated networking only on a
 * size with `AcceleratedNetworkingEnabled`.
 */
export function checkVmNics(
  vm: { id: string; name: string; vmSize: string },
  nics: readonly { record: NicRecord; primary?: boolean }[],
): void {
  const size = VM_SIZES[vm.vmSize]!;
  if (nics.length > size.maxNics) {
    throw new EmulatorError(
      400,
      "NetworkInterfaceCountExceeded",
      `The number of network interfaces for virtual machine ${vm.name} exceeds the maximum allowed for the virtual ` +
        `machine size ${vm.vmSize}. The number of network interfaces is ${nics.length} and the maximum allowed is ` +
        `${size.maxNics}. `,
    );
  }
  if (nics.length > 1) {
    const primaries = nics.filter((n) => n.primary === true);
    if (primaries.length === 0) {
      const unset = nics.find((n) => n.primary === undefined) ?? nics[0]!;
      throw new EmulatorError(
        400,
        "NetworkInterfaceMustHavePrimaryPropertySet",
        `Network interface ${unset.record.name} must have Primary property set.`,
      );
    }
    if (primaries.length > 1) {
      // Azure's code and message for this were not found published: the emulator's own (see the README).
      throw new EmulatorError(
        400,
        "VirtualMachineMustHaveOnePrimaryNetworkInterface",
        `Virtual machine ${vm.name} has ${primaries.length} network interfaces marked primary ` +
          `(${primaries.map((n) => n.record.name).join(", ")}); exactly one must be primary.`,
      );
    }
    const vnetOf = (n: NicRecord) => vnetIdOf(n.ipConfigurations[0]?.subnetId ?? "");
    const first = nics[0]!.record;
    const other = nics.find((n) => vnetOf(n.record).toLowerCase() !== vnetOf(first).toLowerCase());
    if (other) {
      // Azure's code and message for this were not found published: the emulator's own (see the README).
      throw new EmulatorError(
        400,
        "NetworkInterfacesInDifferentVirtualNetworks",
        `Network interfaces of virtual machine ${vm.name} must all be in one virtual network: ${first.name} is in ` +
          `${vnetOf(first)}, ${other.record.name} in ${vnetOf(other.record)}.`,
      );
    }
  }
  checkAcceleratedNetworking(
    vm.vmSize,
    vm.id,
    nics.map((n) => n.record),
  );
}

/** Refuses a NIC with accelerated networking on a VM whose size does not take it, with Azure's code and message. */
export function checkAcceleratedNetworking(vmSize: string, vmId: string, nics: readonly NicRecord[]): void {
  if (VM_SIZES[vmSize]?.acceleratedNetworking !== false) return;
  if (!nics.some((n) => n.enableAcceleratedNetworking)) return;
  const allowed = Object.entries(VM_SIZES)
    .filter(([, s]) => s.acceleratedNetworking)
    .map(([name]) => name);
  throw new EmulatorError(
    400,
    "VMSizeIsNotPermittedToEnableAcceleratedNetworking",
    `Virtual Machine size ${vmSize} is not in the allowed list of VM sizes for accelerated networking to be enabled ` +
      `on Network Interface ${vmId}. Allowed sizes: ${allowed.join(", ")}.`,
  );
}

function vnetIdOf(subnetId: string): string {
  return subnetId.replace(/\/subnets\/[^/]+$/i, "");
}
