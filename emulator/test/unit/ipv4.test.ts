import { describe, expect, it } from "vitest";
import { formatIp, parseCidr, parseIp, usable } from "../../arm/ipv4";

describe("a subnet's usable addresses", () => {
  it("leaves out the network address, the next three and the broadcast address, at any prefix length", () => {
    for (const [prefix, first, last] of [
      ["10.0.0.0/24", "10.0.0.4", "10.0.0.254"],
      ["10.0.0.32/27", "10.0.0.36", "10.0.0.62"],
      ["172.16.1.128/26", "172.16.1.132", "172.16.1.190"],
      ["10.1.0.0/22", "10.1.0.4", "10.1.3.254"],
    ] as const) {
      const c = parseCidr(prefix)!;
      const all = Array.from({ length: 2 ** (32 - c.bits) }, (_, i) => c.base + i);
      const ok = all.filter((ip) => usable(c, ip)).map(formatIp);
      expect({ prefix, count: ok.length, first: ok[0], last: ok.at(-1) }).toEqual({
        prefix,
        count: all.length - 5,
        first,
        last,
      });
    }
  });

  it("has no address outside the subnet", () => {
    const c = parseCidr("10.0.0.32/27")!;
    expect(usable(c, parseIp("10.0.0.31")!)).toBe(false);
    expect(usable(c, parseIp("10.0.0.64")!)).toBe(false);
  });
});
