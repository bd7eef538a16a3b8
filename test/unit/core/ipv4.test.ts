import { describe, expect, it } from "vitest";
import { ipv4PlaceProblem, parseIpv4Cidr, reservedIpv4, usableIpv4 } from "../../../core/ipv4";

describe("where a NIC may hold an address", () => {
  const range = parseIpv4Cidr("10.1.0.0/22")!;

  it("refuses an address outside the subnet's range, on either side", () => {
    expect(ipv4PlaceProblem("10.0.255.254", range)).toBe("outside");
    expect(ipv4PlaceProblem("10.1.4.10", range)).toBe("outside");
  });

  it("refuses the network address, the next three and the broadcast address", () => {
    const reserved = ["10.1.0.0", "10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.3.255"];
    expect(reserved.map((ip) => ipv4PlaceProblem(ip, range))).toEqual(reserved.map(() => "reserved"));
  });

  it("accepts every other address of the range, across octet boundaries", () => {
    for (const ip of ["10.1.0.4", "10.1.0.255", "10.1.1.0", "10.1.3.254"])
      expect(ipv4PlaceProblem(ip, range)).toBe(undefined);
  });

  it("names the reserved and usable addresses of a subnet that does not end at .255", () => {
    const small = parseIpv4Cidr("172.16.1.128/26")!;
    expect(reservedIpv4(small)).toBe("172.16.1.128-172.16.1.131 and 172.16.1.191");
    expect(usableIpv4(small)).toEqual({ first: "172.16.1.132", last: "172.16.1.190" });
    expect(usableIpv4(parseIpv4Cidr("10.0.0.0/29")!)).toEqual({ first: "10.0.0.4", last: "10.0.0.6" });
    expect(usableIpv4(parseIpv4Cidr("10.0.0.0/30")!)).toBeUndefined();
  });

  it("reads no range from a prefix with host bits set or a bad length", () => {
    expect(parseIpv4Cidr("10.1.0.1/22")).toBeUndefined();
    expect(parseIpv4Cidr("10.1.0.0/33")).toBeUndefined();
    expect(parseIpv4Cidr("10.1.0.0")).toBeUndefined();
  });
});
