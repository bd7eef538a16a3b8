export type HyperVGeneration = "V1" | "V2";

/**
 * VM sizes the emulator knows: how many data disks each takes, whether it takes Premium SSD and which
 * Hyper-V generations it boots (Resource SKUs capability `HyperVGenerations`; see the README).
 */
export interface VmSize {
  maxDataDisks: number;
  premiumIO: boolean;
  vCPUs: number;
  memoryGiB: number;
  hyperVGenerations: readonly HyperVGeneration[];
  /**
   * The availability zones of a region that offer it (Resource SKUs `locationInfo[].zones`; the others are listed
   * as a `Zone` restriction). Default every zone, "1", "2" and "3".
   */
  zones?: readonly Zone[];
  /** Resource SKUs capability `TrustedLaunchDisabled`: a Trusted Launch VM of this size is refused. Default false. */
  trustedLaunchDisabled?: boolean;
  /** Resource SKUs capability `MaxNetworkInterfaces`: how many NICs a VM of this size takes. */
  maxNics: number;
  /**
   * Resource SKUs capability `AcceleratedNetworkingEnabled`: whether a VM of this size may have a NIC with accelerated
   * networking (see the README).
   */
  acceleratedNetworking: boolean;
}

export type Zone = "1" | "2" | "3";
export const ZONES: readonly Zone[] = ["1", "2", "3"];

/** The zones of a region that offer a size. */
export function zonesOf(size: VmSize): readonly Zone[] {
  return size.zones ?? ZONES;
}

const BOTH = ["V1", "V2"] as const;
const GEN1_ONLY = ["V1"] as const;

export const VM_SIZES: Record<string, VmSize> = {
  Standard_B1s: {
    maxDataDisks: 2,
    premiumIO: true,
    vCPUs: 1,
    memoryGiB: 1,
    hyperVGenerations: BOTH,
    maxNics: 2,
    acceleratedNetworking: false,
  },
  Standard_B2s: {
    maxDataDisks: 4,
    premiumIO: true,
    vCPUs: 2,
    memoryGiB: 4,
    hyperVGenerations: BOTH,
    maxNics: 3,
    acceleratedNetworking: false,
  },
  Standard_B2ms: {
    maxDataDisks: 4,
    premiumIO: true,
    vCPUs: 2,
    memoryGiB: 8,
    hyperVGenerations: BOTH,
    maxNics: 3,
    acceleratedNetworking: false,
  },
  Standard_A2_v2: {
    maxDataDisks: 4,
    premiumIO: false,
    vCPUs: 2,
    memoryGiB: 4,
    hyperVGenerations: GEN1_ONLY,
    trustedLaunchDisabled: true,
    maxNics: 2,
    acceleratedNetworking: false,
  },
  Standard_D2_v3: {
    maxDataDisks: 4,
    premiumIO: false,
    vCPUs: 2,
    memoryGiB: 8,
    hyperVGenerations: GEN1_ONLY,
    trustedLaunchDisabled: true,
    maxNics: 2,
    acceleratedNetworking: false,
  },
  Standard_D2s_v3: {
    maxDataDisks: 4,
    premiumIO: true,
    vCPUs: 2,
    memoryGiB: 8,
    hyperVGenerations: BOTH,
    maxNics: 2,
    acceleratedNetworking: true,
  },
  Standard_D4s_v3: {
    maxDataDisks: 8,
    premiumIO: true,
    vCPUs: 4,
    memoryGiB: 16,
    hyperVGenerations: BOTH,
    maxNics: 2,
    acceleratedNetworking: true,
  },
  Standard_DS1_v2: {
    maxDataDisks: 4,
    premiumIO: true,
    vCPUs: 1,
    memoryGiB: 3.5,
    hyperVGenerations: BOTH,
    maxNics: 2,
    acceleratedNetworking: false,
  },
  Standard_DS2_v2: {
    maxDataDisks: 8,
    premiumIO: true,
    vCPUs: 2,
    memoryGiB: 7,
    hyperVGenerations: BOTH,
    maxNics: 2,
    acceleratedNetworking: true,
  },
  Standard_D2s_v5: {
    maxDataDisks: 4,
    premiumIO: true,
    vCPUs: 2,
    memoryGiB: 8,
    hyperVGenerations: BOTH,
    maxNics: 2,
    acceleratedNetworking: true,
  },
  Standard_D4s_v5: {
    maxDataDisks: 8,
    premiumIO: true,
    vCPUs: 4,
    memoryGiB: 16,
    hyperVGenerations: BOTH,
    maxNics: 2,
    acceleratedNetworking: true,
  },
  Standard_D8s_v5: {
    maxDataDisks: 16,
    premiumIO: true,
    vCPUs: 8,
    memoryGiB: 32,
    hyperVGenerations: BOTH,
    maxNics: 4,
    acceleratedNetworking: true,
  },
  Standard_D16s_v5: {
    maxDataDisks: 32,
    premiumIO: true,
    vCPUs: 16,
    memoryGiB: 64,
    hyperVGenerations: BOTH,
    maxNics: 8,
    acceleratedNetworking: true,
  },
  Standard_D2as_v5: {
    maxDataDisks: 4,
    premiumIO: true,
    vCPUs: 2,
    memoryGiB: 8,
    hyperVGenerations: BOTH,
    maxNics: 2,
    acceleratedNetworking: true,
  },
  Standard_D4as_v5: {
    maxDataDisks: 8,
    premiumIO: true,
    vCPUs: 4,
    memoryGiB: 16,
    hyperVGenerations: BOTH,
    maxNics: 2,
    acceleratedNetworking: true,
  },
  Standard_E2s_v5: {
    maxDataDisks: 4,
    premiumIO: true,
    vCPUs: 2,
    memoryGiB: 16,
    hyperVGenerations: BOTH,
    maxNics: 2,
    acceleratedNetworking: true,
  },
  Standard_E4s_v5: {
    maxDataDisks: 8,
    premiumIO: true,
    vCPUs: 4,
    memoryGiB: 32,
    hyperVGenerations: BOTH,
    maxNics: 2,
    acceleratedNetworking: true,
  },
  // 64 data disks: an appliance that syncs more than 32 staging disks (the plan benchmark's 55).
  Standard_M64s: {
    maxDataDisks: 64,
    premiumIO: true,
    vCPUs: 64,
    memoryGiB: 1024,
    hyperVGenerations: BOTH,
    maxNics: 8,
    acceleratedNetworking: true,
  },
  // Offered in two zones of each region only, as sizes often are (Resource SKUs `Zone` restriction).
  Standard_E8s_v5: {
    maxDataDisks: 16,
    premiumIO: true,
    vCPUs: 8,
    memoryGiB: 64,
    hyperVGenerations: BOTH,
    zones: ["1", "2"],
    maxNics: 4,
    acceleratedNetworking: true,
  },
  Standard_F2s_v2: {
    maxDataDisks: 4,
    premiumIO: true,
    vCPUs: 2,
    memoryGiB: 4,
    hyperVGenerations: BOTH,
    maxNics: 2,
    acceleratedNetworking: true,
  },
  Standard_F4s_v2: {
    maxDataDisks: 8,
    premiumIO: true,
    vCPUs: 4,
    memoryGiB: 8,
    hyperVGenerations: BOTH,
    maxNics: 2,
    acceleratedNetworking: true,
  },
  // Boots Gen2 but not as Trusted Launch (MicrosoftDocs/azure-docs#122515).
  Standard_NC6s_v3: {
    maxDataDisks: 12,
    premiumIO: true,
    vCPUs: 6,
    memoryGiB: 112,
    hyperVGenerations: BOTH,
    trustedLaunchDisabled: true,
    maxNics: 4,
    acceleratedNetworking: false,
  },
};

export function findVmSize(name: string): [string, VmSize] | undefined {
  const key = Object.keys(VM_SIZES).find((k) => k.toLowerCase() === name.toLowerCase());
  return key ? [key, VM_SIZES[key]!] : undefined;
}

/** Disk SKUs that need a VM size with premium storage support. */
export const PREMIUM_SKUS = new Set(["Premium_LRS", "Premium_ZRS", "PremiumV2_LRS", "UltraSSD_LRS"]);
export const ZRS_SKUS = new Set(["Premium_ZRS", "StandardSSD_ZRS"]);
export const DISK_SKUS = [
  "Standard_LRS",
  "Premium_LRS",
  "StandardSSD_LRS",
  "UltraSSD_LRS",
  "Premium_ZRS",
  "StandardSSD_ZRS",
  "PremiumV2_LRS",
] as const;
