import { describe, expect, it } from "vitest";
import { nicDifferences, type SourceNic } from "../../../runbooks/network";

const nic = (name: string, extra: Partial<SourceNic> = {}): SourceNic => ({
  name,
  primary: false,
  acceleratedNetworking: false,
  ...extra,
});

describe("nicDifferences", () => {
  it("finds none where the row lists the source's NICs as it has them", () => {
    const source = [nic("a", { staticIp: "10.0.1.5" }), nic("b", { primary: true, acceleratedNetworking: true })];
    const row = {
      name: "web",
      nics: [{ privateIpAddress: "10.0.1.5" }, { subnet: "data", primary: true, acceleratedNetworking: true }],
    };
    expect(nicDifferences(row, source)).toEqual([]);
  });

  it("names a source with more NICs than a row without nics, and the key that keeps them", () => {
    const out = nicDifferences({ name: "web" }, [nic("a", { primary: true }), nic("b")]);
    expect(out).toEqual([
      "the source VM has 2 NICs and the row 1: the recovered VM gets 1. List the source's in rows[].nics, in its " +
        "order, to keep them",
    ]);
  });

  it("names another primary, accelerated networking and a static address the row does not keep", () => {
    const source = [nic("a"), nic("b", { primary: true, acceleratedNetworking: true, staticIp: "10.0.2.7" })];
    const out = nicDifferences({ name: "web", nics: [{}, {}] }, source);
    expect(out).toEqual([
      "the source's primary NIC is its NIC 2 (b), the row's its NIC 1: set rows[].nics[1].primary: true to keep " +
        "the source's default route",
      "the source's NIC 2 (b) has accelerated networking on, the row's off: set " +
        "rows[].nics[1].acceleratedNetworking: true to keep it",
      "the source's NIC 2 (b) has the static address 10.0.2.7, the row's a dynamic one: set " +
        "rows[].nics[1].privateIpAddress: 10.0.2.7 to keep it, where the DR subnet has that range",
    ]);
  });

  it("names a row-level address that is not the source's static one by the row's own key", () => {
    const out = nicDifferences({ name: "web", privateIpAddress: "10.1.0.9" }, [
      nic("a", { primary: true, staticIp: "10.0.1.5" }),
    ]);
    expect(out).toEqual([
      "the source's NIC 1 (a) has the static address 10.0.1.5, the row's 10.1.0.9: set " +
        "rows[].privateIpAddress: 10.0.1.5 to keep it, where the DR subnet has that range",
    ]);
  });
});
