import { EmulatorError } from "../errors";
import type { DiskCreateOption, DiskRecord, DiskSecurityType, SnapshotRecord, VmSecurity } from "../model";
import { invalid, oneOf, optBoolean, optObject, optString } from "./input";
import { VM_SIZES } from "./vm-sizes";

/** Security types of disks (Azure's `DiskSecurityTypes`). */
const DISK_SECURITY_TYPES = [
  "TrustedLaunch",
  "ConfidentialVM_VMGuestStateOnlyEncryptedWithPlatformKey",
  "ConfidentialVM_DiskEncryptedWithPlatformKey",
  "ConfidentialVM_DiskEncryptedWithCustomerKey",
] as const satisfies readonly DiskSecurityType[];

const badRequest = (message: string) => new EmulatorError(400, "BadRequest", message);

/** A VM's `properties.securityProfile`; undefined for a Standard VM (no profile, or `securityType: Standard`). */
export function readVmSecurity(body: unknown): VmSecurity | undefined {
  const profile = optObject(body, "properties.securityProfile");
  if (!profile) return undefined;
  const type = oneOf(optString(profile, "securityType"), "securityProfile.securityType", [
    "TrustedLaunch",
    "ConfidentialVM",
    "Standard",
  ] as const);
  const uefi = optObject(profile, "uefiSettings");
  if (!type || type === "Standard") {
    if (uefi)
      throw invalid(
        "securityProfile.uefiSettings",
        "UEFI settings apply to a TrustedLaunch or ConfidentialVM security type only.",
      );
    return undefined;
  }
  const secureBootEnabled = uefi ? optBoolean(uefi, "secureBootEnabled") : undefined;
  const vTpmEnabled = uefi ? optBoolean(uefi, "vTpmEnabled") : undefined;
  return {
    securityType: type,
    ...(uefi
      ? {
          uefiSettings: {
            ...(secureBootEnabled !== undefined ? { secureBootEnabled } : {}),
            ...(vTpmEnabled !== undefined ? { vTpmEnabled } : {}),
          },
        }
      : {}),
  };
}

export function serializeVmSecurity(s: VmSecurity) {
  return { securityType: s.securityType, ...(s.uefiSettings ? { uefiSettings: s.uefiSettings } : {}) };
}

/** The VM security type an OS disk of this security type boots as. */
function vmTypeOfDisk(t: DiskSecurityType | undefined): VmSecurity["securityType"] | "Standard" {
  if (!t) return "Standard";
  return t === "TrustedLaunch" ? "TrustedLaunch" : "ConfidentialVM";
}

/**
 * Refuses a VM whose security type its size does not offer, or whose OS disk is of another security type, with the
 * codes and messages Azure answers (see the README, "Security types").
 */
export function checkVmSecurity(security: VmSecurity | undefined, vmSize: string, osDisk: DiskRecord): void {
  const type = security?.securityType ?? "Standard";
  if (type !== "Standard" && (type === "ConfidentialVM" || VM_SIZES[vmSize]!.trustedLaunchDisabled)) {
    // No size of the emulator's table is a confidential (DCasv5/ECasv5) size.
    throw badRequest(
      `The VM size '${vmSize}' is not supported for creation of VMs and Virtual Machine Scale Set with ` +
        `'${type}' security type. For more information, see https://aka.ms/TrustedLaunch-FAQ`,
    );
  }
  if (vmTypeOfDisk(osDisk.securityType) !== type)
    throw badRequest("Security type of VM is not compatible with the security type of attached OS Disk.");
}

/**
 * The security type of a disk being created: from the request for `UploadPreparedSecure`, from its source for a
 * `Copy` (a copy keeps it, and cannot change it); `Empty` and `Upload` take none (see the README).
 */
export function diskSecurityOnCreate(
  body: unknown,
  createOption: DiskCreateOption,
  hyperVGeneration: "V1" | "V2" | undefined,
  source?: DiskRecord | SnapshotRecord,
): DiskSecurityType | undefined {
  const raw = oneOf(optString(body, "properties.securityProfile.securityType"), "securityProfile.securityType", [
    ...DISK_SECURITY_TYPES,
    "Standard",
  ] as const);
  const asked = raw === "Standard" ? undefined : raw;
  if (createOption === "Copy") {
    const carried = source?.securityType;
    if (asked !== undefined && asked !== carried)
      throw badRequest(
        `Disk security type '${asked}' cannot be set on a copy of '${source?.name}', whose security type is ` +
          `'${carried ?? "Standard"}': a copy keeps its source's security type and VM guest state.`,
      );
    return carried;
  }
  if (createOption === "UploadPreparedSecure") {
    if (!asked)
      throw badRequest(
        "A disk created with createOption 'UploadPreparedSecure' needs securityProfile.securityType " +
          "(TrustedLaunch or a ConfidentialVM type): it is uploaded with its VM guest state.",
      );
  } else if (asked) {
    throw badRequest(
      `Disk security type '${asked}' cannot be set on a disk created with createOption '${createOption}'. ` +
        "A Trusted Launch or Confidential VM disk is created FromImage, ImportSecure or UploadPreparedSecure (with " +
        "its VM guest state), or copied from a disk or snapshot of that security type.",
    );
  }
  if (asked && hyperVGeneration !== "V2")
    throw badRequest(
      `Disk security type '${asked}' needs hyperVGeneration 'V2': Trusted Launch and Confidential VMs are ` +
        "Generation 2 only.",
    );
  return asked;
}
