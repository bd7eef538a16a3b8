import * as compute from "@pulumi/azure-native/compute";
import * as network from "@pulumi/azure-native/network";
import { describe, expect, it } from "vitest";
import { AZURE_TYPES, asAzureType, isAzureType, ofType } from "../../../policies/resources";

// The rules match types by token so the published pack need not depend on @pulumi/azure-native;
// these tests hold the tokens to the classes CrossGuard's isType/asType would have been given.
describe("the type tokens the rules match", () => {
  it("are the __pulumiType of azure-native's classes, which isType compares", () => {
    expect(AZURE_TYPES).toEqual({
      virtualMachine: compute.VirtualMachine.__pulumiType,
      disk: compute.Disk.__pulumiType,
      snapshot: compute.Snapshot.__pulumiType,
      networkInterface: network.NetworkInterface.__pulumiType,
      publicIpAddress: network.PublicIPAddress.__pulumiType,
    });
  });

  it("answer as isType and asType do: the same props for that type, nothing for another", () => {
    const props = { diskSizeGB: 64 };
    const disk = { type: compute.Disk.__pulumiType, props };
    expect(isAzureType(disk, AZURE_TYPES.disk)).toBe(true);
    expect(isAzureType(disk, AZURE_TYPES.snapshot)).toBe(false);
    expect(asAzureType(disk, AZURE_TYPES.disk)).toBe(props);
    expect(asAzureType(disk, AZURE_TYPES.virtualMachine)).toBeUndefined();
  });

  it("carry the type on a rule made with ofType, so the engine calls it for that type only", () => {
    const validate = ofType(AZURE_TYPES.virtualMachine, () => {});
    expect((validate as { __pulumiType?: string }).__pulumiType).toBe(compute.VirtualMachine.__pulumiType);
  });
});
