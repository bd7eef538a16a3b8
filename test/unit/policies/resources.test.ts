import * as compute from "@pulumi/azure-native/compute";
import * as network from "@pulumi/azure-native/network";
import { describe, expect, it } from "vitest";
import { AZURE_TYPES, asAzureType, isAzureType, ofType } from "../../../policies/resources";

// The rules match types by token so the published pack need not depend on @pulumi/azure-native;
// these tests hold the tokens to the classes CrossGuard's isType/asType would have been given.
// CrossGuard's isType/asType read a class's static __pulumiType (policy.js getPulumiType); the
// classes declare it private.
const tokenOf = (cls: unknown) => (cls as { __pulumiType: string }).__pulumiType;

describe("the type tokens the rules match", () => {
  it("are the __pulumiType of azure-native's classes, which isType compares", () => {
    expect(AZURE_TYPES).toEqual({
      virtualMachine: tokenOf(compute.VirtualMachine),
      disk: tokenOf(compute.Disk),
      snapshot: tokenOf(compute.Snapshot),
      networkInterface: tokenOf(network.NetworkInterface),
      publicIpAddress: tokenOf(network.PublicIPAddress),
    });
  });

  it("answer as isType and asType do: the same props for that type, nothing for another", () => {
    const props = { diskSizeGB: 64 };
    const disk = { type: tokenOf(compute.Disk), props };
    expect(isAzureType(disk, AZURE_TYPES.disk)).toBe(true);
    expect(isAzureType(disk, AZURE_TYPES.snapshot)).toBe(false);
    expect(asAzureType(disk, AZURE_TYPES.disk)).toBe(props);
    expect(asAzureType(disk, AZURE_TYPES.virtualMachine)).toBeUndefined();
  });

  it("carry the type on a rule made with ofType, so the engine calls it for that type only", () => {
    const validate = ofType(AZURE_TYPES.virtualMachine, () => {});
    expect((validate as { __pulumiType?: string }).__pulumiType).toBe(tokenOf(compute.VirtualMachine));
  });
});
