/** The emulator's records of Azure resources. Serialised to ARM JSON by the handlers in `arm/`. */

export type Tags = Record<string, string>;

interface Base {
  /** The resource id with the casing it was created with. */
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  tags: Tags;
  provisioningState: string;
}

export interface ResourceGroupRecord {
  kind: "resourceGroup";
  id: string;
  name: string;
  location: string;
  tags: Tags;
  provisioningState: string;
}

export type DiskCreateOption = "Empty" | "Copy" | "Upload" | "UploadPreparedSecure" | "FromImage";

/** `securityProfile.securityType` of a disk or snapshot (Azure's `DiskSecurityTypes`); absent is Standard. */
export type DiskSecurityType =
  | "TrustedLaunch"
  | "ConfidentialVM_VMGuestStateOnlyEncryptedWithPlatformKey"
  | "ConfidentialVM_DiskEncryptedWithPlatformKey"
  | "ConfidentialVM_DiskEncryptedWithCustomerKey";

/** A VM's `securityProfile`: its security type and UEFI settings, as the request stated them. */
export interface VmSecurity {
  securityType: "TrustedLaunch" | "ConfidentialVM";
  uefiSettings?: { secureBootEnabled?: boolean; vTpmEnabled?: boolean };
}

export interface DiskRecord extends Base {
  kind: "disk";
  sku: string;
  zones: string[];
  uniqueId: string;
  timeCreated: string;
  sizeBytes: number;
  osType?: "Linux" | "Windows";
  hyperVGeneration?: "V1" | "V2";
  securityType?: DiskSecurityType;
  createOption: DiskCreateOption;
  sourceResourceId?: string;
  sourceUniqueId?: string;
  uploadSizeBytes?: number;
  maxShares: number;
  /** Ids of the VMs the disk is attached to. */
  managedBy: string[];
  /** Upload disks: `ready` until the first write SAS is revoked, then `sealed` (never writable again). */
  upload?: "ready" | "sealed";
  /** Incremental snapshots of this disk share this family; it changes when a resize crosses 4 TiB. */
  familyId: string;
  /** File holding the disk's bytes, relative to the data folder. */
  file: string;
}

export interface SnapshotRecord extends Base {
  kind: "snapshot";
  sku: string;
  uniqueId: string;
  timeCreated: string;
  sizeBytes: number;
  osType?: "Linux" | "Windows";
  hyperVGeneration?: "V1" | "V2";
  securityType?: DiskSecurityType;
  incremental: boolean;
  familyId?: string;
  createOption: "Copy" | "CopyStart";
  sourceResourceId: string;
  sourceUniqueId: string;
  /** Cross-region copies (`CopyStart`) reach 100 when their data has arrived. */
  completionPercent: number;
  /** Epoch milliseconds at which a `CopyStart` copy completes. */
  copyStartedAt?: number;
  copyReadyAt?: number;
  copyCompletionError?: { errorCode: string; errorMessage: string };
  /** Manifest file, relative to the data folder. */
  manifest: string;
}

export interface VmDiskRef {
  lun: number;
  name: string;
  diskId: string;
  caching: string;
  createOption: "Attach" | "Empty" | "FromImage";
  deleteOption: "Delete" | "Detach";
  writeAcceleratorEnabled?: boolean;
}

export interface VmOsDiskRef {
  name: string;
  diskId: string;
  osType: "Linux" | "Windows";
  caching: string;
  createOption: "Attach" | "FromImage";
  deleteOption: "Delete" | "Detach";
}

export type PowerState = "running" | "starting" | "stopping" | "stopped" | "deallocating" | "deallocated";

export interface VmRecord extends Base {
  kind: "vm";
  vmId: string;
  zones: string[];
  vmSize: string;
  osDisk: VmOsDiskRef;
  /** The Hyper-V generation it boots: its OS disk's (V1 for a disk that names none, as Azure assumes). */
  hyperVGeneration?: "V1" | "V2";
  /** Trusted Launch or Confidential VM; absent: Standard. */
  securityProfile?: VmSecurity;
  dataDisks: VmDiskRef[];
  nics: { id: string; primary?: boolean; deleteOption: "Delete" | "Detach" }[];
  osProfile?: Record<string, unknown>;
  /** The on-premises licence its OS runs under (`Windows_Server`, `RHEL_BYOS`, …); absent: pay as you go. */
  licenseType?: string;
  imageReference?: Record<string, unknown>;
  identity?: Record<string, unknown>;
  power: PowerState;
  /** Emulator time it last became running: its guest agent reports Ready a profile's while later. */
  runningSince?: number;
  /**
   * A graceful shutdown is under way (a power-off or deallocate not forced by `skipShutdown=true` or
   * `forceDeallocate=true`, Azure's default): the guest OS still runs, and writes its disks, until the operation ends.
   */
  shuttingDown?: boolean;
  timeCreated: string;
  /**
   * Its create failed before it ever booted (e.g. AllocationFailed): a PUT that succeeds boots it, as Azure's retry of
   * the create does.
   */
  neverBooted?: boolean;
  /** Grows by one on every write of its model (arm/vm-etag.ts); absent in a state written before etags: 1. */
  etag?: number;
}

export interface NicIpConfig {
  name: string;
  subnetId: string;
  privateIPAllocationMethod: "Static" | "Dynamic";
  privateIPAddress: string;
  primary: boolean;
  publicIPAddressId?: string;
}

export interface NicRecord extends Base {
  kind: "nic";
  ipConfigurations: NicIpConfig[];
  networkSecurityGroupId?: string;
  enableAcceleratedNetworking: boolean;
  macAddress: string;
  virtualMachineId?: string;
  resourceGuid: string;
}

export interface SubnetRecord {
  name: string;
  addressPrefix: string;
  networkSecurityGroupId?: string;
  provisioningState: string;
}

export interface VnetRecord extends Base {
  kind: "vnet";
  addressPrefixes: string[];
  subnets: SubnetRecord[];
  resourceGuid: string;
}

export interface NsgRecord extends Base {
  kind: "nsg";
  securityRules: Record<string, unknown>[];
  resourceGuid: string;
}

/** An A record set of a Private DNS zone (the only record type the emulator writes; `@` is the apex). */
export interface PrivateDnsRecordSet {
  /** Lower case, as Azure returns it. */
  name: string;
  etag: string;
  ttl: number;
  metadata?: Record<string, string>;
  ipv4Addresses: string[];
}

/** A virtual network linked to a Private DNS zone. */
export interface PrivateDnsLink {
  name: string;
  etag: string;
  virtualNetworkId: string;
  registrationEnabled: boolean;
  resolutionPolicy: "Default" | "NxDomainRedirect";
  tags: Tags;
}

/** A Private DNS zone (location `global`) with its A record sets and virtual network links inline. */
export interface PrivateDnsZoneRecord extends Base {
  kind: "privateDnsZone";
  etag: string;
  internalId: string;
  recordSets: PrivateDnsRecordSet[];
  links: PrivateDnsLink[];
}

export type ResourceRecord =
  DiskRecord | SnapshotRecord | VmRecord | NicRecord | VnetRecord | NsgRecord | PrivateDnsZoneRecord;

export interface OperationRecord {
  id: string;
  provider: string;
  location: string;
  status: "InProgress" | "Succeeded" | "Failed";
  startTime: string;
  endsAt: number;
  endTime?: string;
  error?: { code: string; message: string };
  /** What to do when the operation ends; see `arm/operations.ts`. */
  completion: Completion;
  /** Result body served by the operation's Location URL. */
  output?: unknown;
}

export type Completion =
  | { kind: "none" }
  | { kind: "provisioned"; resourceId: string }
  | { kind: "power"; vmId: string; from: PowerState; to: PowerState }
  | { kind: "resourceGroupDeleted"; name: string };

/** A shared access signature granted on a disk or snapshot. */
export interface GrantRecord {
  id: string;
  resourceId: string;
  access: "Read" | "Write";
  expiresAt: number;
}
