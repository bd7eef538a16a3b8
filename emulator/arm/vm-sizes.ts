/** VM sizes the emulator knows: how many data disks each takes and whether it takes Premium SSD. */
export interface VmSize {
  maxDataDisks: number;
  premiumIO: boolean;
  vCPUs: number;
  memoryGiB: number;
}

export const VM_SIZES: Record<string, VmSize> = {
  Standard_B1s: { maxDataDisks: 2, premiumIO: true, vCPUs: 1, memoryGiB: 1 },
  Standard_B2s: { maxDataDisks: 4, premiumIO: true, vCPUs: 2, memoryGiB: 4 },
  Standard_B2ms: { maxDataDisks: 4, premiumIO: true, vCPUs: 2, memoryGiB: 8 },
  Standard_A2_v2: { maxDataDisks: 4, premiumIO: false, vCPUs: 2, memoryGiB: 4 },
  Standard_D2_v3: { maxDataDisks: 4, premiumIO: false, vCPUs: 2, memoryGiB: 8 },
  Standard_D2s_v3: { maxDataDisks: 4, premiumIO: true, vCPUs: 2, memoryGiB: 8 },
  Standard_D4s_v3: { maxDataDisks: 8, premiumIO: true, vCPUs: 4, memoryGiB: 16 },
  Standard_DS1_v2: { maxDataDisks: 4, premiumIO: true, vCPUs: 1, memoryGiB: 3.5 },
  Standard_DS2_v2: { maxDataDisks: 8, premiumIO: true, vCPUs: 2, memoryGiB: 7 },
  Standard_D2s_v5: { maxDataDisks: 4, premiumIO: true, vCPUs: 2, memoryGiB: 8 },
  Standard_D4s_v5: { maxDataDisks: 8, premiumIO: true, vCPUs: 4, memoryGiB: 16 },
  Standard_D8s_v5: { maxDataDisks: 16, premiumIO: true, vCPUs: 8, memoryGiB: 32 },
  Standard_D16s_v5: { maxDataDisks: 32, premiumIO: true, vCPUs: 16, memoryGiB: 64 },
  Standard_D2as_v5: { maxDataDisks: 4, premiumIO: true, vCPUs: 2, memoryGiB: 8 },
  Standard_D4as_v5: { maxDataDisks: 8, premiumIO: true, vCPUs: 4, memoryGiB: 16 },
  Standard_E2s_v5: { maxDataDisks: 4, premiumIO: true, vCPUs: 2, memoryGiB: 16 },
  Standard_E4s_v5: { maxDataDisks: 8, premiumIO: true, vCPUs: 4, memoryGiB: 32 },
  Standard_E8s_v5: { maxDataDisks: 16, premiumIO: true, vCPUs: 8, memoryGiB: 64 },
  Standard_F2s_v2: { maxDataDisks: 4, premiumIO: true, vCPUs: 2, memoryGiB: 4 },
  Standard_F4s_v2: { maxDataDisks: 8, premiumIO: true, vCPUs: 4, memoryGiB: 8 },
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
