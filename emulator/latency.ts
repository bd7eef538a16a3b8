/**
 * Latency profiles: how long the emulator takes to answer and to finish long-running operations.
 * `zero` answers at once (tests); `azure` uses durations of the order Azure shows (drills, benchmarks).
 * The table in emulator/README.md mirrors `AZURE_PROFILE`; keep them together.
 */
export type LatencyProfileName = "zero" | "azure";

export interface LatencyProfile {
  name: LatencyProfileName;
  /** Added to every ARM request before it is handled, in milliseconds. */
  armRequestInMs: number;
  /** Added to every data-plane request before it is answered, in milliseconds. */
  dataRequestInMs: number;
  /** How long a long-running operation stays `InProgress`, by operation key, in milliseconds. */
  operationsInMs: Record<string, number>;
  /** Cross-region snapshot copy (`CopyStart`) speed, in MiB per second of changed data. */
  copyStartMiBPerSecond: number;
  /** Whether Azure's limit of 7 incremental snapshots per disk per 5 minutes is enforced. */
  enforceSnapshotRate: boolean;
}

export const ZERO_PROFILE: LatencyProfile = {
  name: "zero",
  armRequestInMs: 0,
  dataRequestInMs: 0,
  operationsInMs: {},
  copyStartMiBPerSecond: Number.POSITIVE_INFINITY,
  enforceSnapshotRate: false,
};

export const AZURE_PROFILE: LatencyProfile = {
  name: "azure",
  armRequestInMs: 60,
  dataRequestInMs: 4,
  operationsInMs: {
    ResourceGroups_Delete: 20_000,
    VirtualNetworks_CreateOrUpdate: 4_000,
    VirtualNetworks_Delete: 6_000,
    Subnets_CreateOrUpdate: 3_000,
    Subnets_Delete: 3_000,
    NetworkSecurityGroups_CreateOrUpdate: 3_000,
    NetworkSecurityGroups_Delete: 3_000,
    NetworkInterfaces_CreateOrUpdate: 2_000,
    NetworkInterfaces_Delete: 3_000,
    "Disks_CreateOrUpdate:Empty": 2_000,
    "Disks_CreateOrUpdate:Copy": 8_000,
    "Disks_CreateOrUpdate:Upload": 2_000,
    Disks_Update: 2_000,
    Disks_Delete: 2_000,
    Disks_GrantAccess: 1_000,
    Disks_RevokeAccess: 1_000,
    Snapshots_CreateOrUpdate: 3_000,
    Snapshots_Update: 1_000,
    Snapshots_Delete: 2_000,
    Snapshots_GrantAccess: 1_000,
    Snapshots_RevokeAccess: 1_000,
    VirtualMachines_CreateOrUpdate: 30_000,
    VirtualMachines_Update: 8_000,
    VirtualMachines_AttachDetachDataDisks: 8_000,
    VirtualMachines_Start: 20_000,
    VirtualMachines_PowerOff: 10_000,
    VirtualMachines_Deallocate: 30_000,
    VirtualMachines_Restart: 20_000,
    VirtualMachines_Delete: 25_000,
    // Not an operation: how long a running VM's guest takes to boot until its agent reports Ready.
    GuestAgent_Ready: 40_000,
  },
  copyStartMiBPerSecond: 100,
  enforceSnapshotRate: true,
};

export function latencyProfile(name: LatencyProfileName): LatencyProfile {
  return name === "azure" ? AZURE_PROFILE : ZERO_PROFILE;
}

/** Durations of a profile divided by `speedup` (≥ 1), so tests and drills can run the `azure` profile faster. */
export function spedUp(profile: LatencyProfile, speedup: number): LatencyProfile {
  if (!(speedup >= 1)) throw new RangeError(`speedup must be a number ≥ 1, got ${speedup}`);
  if (speedup === 1) return profile;
  const operationsInMs: Record<string, number> = {};
  for (const [k, v] of Object.entries(profile.operationsInMs)) operationsInMs[k] = v / speedup;
  return {
    ...profile,
    armRequestInMs: profile.armRequestInMs / speedup,
    dataRequestInMs: profile.dataRequestInMs / speedup,
    operationsInMs,
    copyStartMiBPerSecond: profile.copyStartMiBPerSecond * speedup,
  };
}

/**
 * The duration of an operation: the most specific key wins (`Disks_CreateOrUpdate:Copy`, then `Disks_CreateOrUpdate`).
 */
export function operationDurationInMs(profile: LatencyProfile, operationId: string, variant?: string): number {
  if (variant !== undefined) {
    const specific = profile.operationsInMs[`${operationId}:${variant}`];
    if (specific !== undefined) return specific;
  }
  return profile.operationsInMs[operationId] ?? 0;
}
