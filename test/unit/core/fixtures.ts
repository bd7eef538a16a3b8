import { expect } from "vitest";
import type { z } from "zod";
import { isUserError } from "../../../core/errors";
import { parseWith } from "../../../core/validate";
import type { ValidationIssue } from "../../../core/validate";

export const subscriptionId = "11111111-1111-4111-8111-111111111111";
export const tenantId = "22222222-2222-4222-8222-222222222222";
export const clientId = "33333333-3333-4333-8333-333333333333";

export const diskIdOf = (name: string, rg = "prod-rg") =>
  `/subscriptions/${subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/disks/${name}`;
export const snapshotIdOf = (name: string, rg = "dr-rg") =>
  `/subscriptions/${subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/snapshots/${name}`;
export const vmIdOf = (name: string, rg = "prod-rg") =>
  `/subscriptions/${subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;

// Plain JSON-ish data, as read from YAML stack config; every call returns a fresh copy to change.
export type Json = any;

export function validRecoveryPoint(): Json {
  return { snapshotId: snapshotIdOf("os1-0001"), sourceDiskId: diskIdOf("os1"), createdAt: "2025-03-01T10:00:00Z" };
}

export function validSource(): Json {
  return {
    sourceDiskId: diskIdOf("os1"),
    stagingDiskId: diskIdOf("os1-staging", "dr-rg"),
    applianceLun: 3,
    state: "healthy",
    prepare: "wipe",
    desired: validRecoveryPoint(),
    applied: validRecoveryPoint(),
    bytesCopied: 1024,
    lagInMs: 120_000,
    updatedAt: "2025-03-01T10:02:00.123Z",
    applianceId: vmIdOf("ferry-appliance", "dr-rg"),
    sourceSizeBytes: 32 * 1024 ** 3,
  };
}

export function validTarget(): Json {
  return { vmSizes: ["Standard_D2s_v5", "Standard_E8-4s_v5"] };
}

/** The outputs of the landing-zone stack the blueprint fixtures fail over into (northeurope, dr-rg). */
export function validLandingZoneOutputs(): Json {
  const network = `/subscriptions/${subscriptionId}/resourceGroups/dr-network-rg/providers/Microsoft.Network/virtualNetworks`;
  return {
    subscriptionId,
    location: "northeurope",
    resourceGroupName: "dr-rg",
    targetSubnetId: `${network}/dr-vnet/subnets/app`,
    testSubnetId: `${network}/dr-test-vnet/subnets/app`,
    appliance: { vmId: vmIdOf("ferry-appliance", "dr-rg"), vmName: "ferry-appliance" },
    stateStore: {
      accountName: "ferrystate01",
      tableName: "ferrySources",
      url: "https://ferrystate01.table.core.windows.net",
    },
    snapshotResourceGroups: { westeurope: "ferry-snapshots-westeurope" },
    roleDefinitionId:
      "/subscriptions/11111111-1111-4111-8111-111111111111/providers/Microsoft.Authorization/roleDefinitions/x",
  };
}

export function validRow(): Json {
  return {
    name: "web1",
    sourceVmId: vmIdOf("web1"),
    sourceRegion: "westeurope",
    osDisk: { sourceDiskId: diskIdOf("web1-os"), osType: "Linux", sizeGiB: 30 },
    dataDisks: [
      { lun: 0, sourceDiskId: diskIdOf("web1-data0"), sizeGiB: 128 },
      { lun: 1, sourceDiskId: diskIdOf("web1-data1"), sizeGiB: 256 },
    ],
    vmSize: "Standard_D2s_v5",
    hostname: "web1",
    privateIpAddress: "10.1.0.4",
    osStrategy: "attachAsIs",
    dataStrategy: "fromSnapshot",
  };
}

export function validBlueprint(): Json {
  const second = validRow();
  second.name = "db1";
  second.sourceVmId = vmIdOf("db1");
  second.osDisk = { sourceDiskId: diskIdOf("db1-os"), osType: "Windows", sizeGiB: 127 };
  second.dataDisks = [{ lun: 0, sourceDiskId: diskIdOf("db1-data0"), sizeGiB: 512 }];
  second.hostname = "DB1";
  delete second.privateIpAddress;
  return { name: "web", target: validTarget(), rows: [validRow(), second] };
}

/** The problems parseWith reports for `value`; fails the test when it parses. */
export function problemsOf(schema: z.ZodType, value: unknown): ValidationIssue[] {
  try {
    parseWith(schema, value, { what: "test value" });
  } catch (e) {
    expect(isUserError(e)).toBe(true);
    return (e as { details: { issues: ValidationIssue[] } }).details.issues;
  }
  throw new Error("expected the value to be refused, but it parsed");
}

/** Asserts exactly one problem, at `path`, whose message contains every hint. */
export function expectOneProblem(schema: z.ZodType, value: unknown, path: string, ...hints: string[]): void {
  const problems = problemsOf(schema, value);
  expect(problems.map((p) => p.path)).toEqual([path]);
  for (const hint of hints) expect(problems[0]!.message).toContain(hint);
}
