/**
 * IPv4 arithmetic for the private addresses of recovered NICs (pure). Azure reserves five addresses of
 * every subnet: its network address, the next three (default gateway, Azure DNS) and its last (broadcast),
 * whatever the prefix length (Azure virtual network FAQ; see emulator/README.md, "Private addresses").
 */

/** An IPv4 address as a number, or undefined for anything else. */
export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + p, 0);
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** A subnet's range: its first address and how many it has. */
export interface Ipv4Range {
  prefix: string;
  first: number;
  count: number;
}

/** A CIDR block such as 10.1.0.0/22, or undefined when it is none (host bits set, a bad length). */
export function parseIpv4Cidr(prefix: string): Ipv4Range | undefined {
  const [ip, bitsText, ...rest] = prefix.split("/");
  const first = ip === undefined ? undefined : parseIpv4(ip);
  const bits = Number(bitsText);
  if (first === undefined || rest.length || !/^\d{1,2}$/.test(bitsText ?? "") || bits > 32) return undefined;
  const count = 2 ** (32 - bits);
  if (first % count !== 0) return undefined;
  return { prefix, first, count };
}

/** The addresses Azure keeps from NICs in a subnet, as the operator reads them. */
export function reservedIpv4(range: Ipv4Range): string {
  if (range.count <= 4) return `all of ${range.prefix}`;
  return `${formatIpv4(range.first)}-${formatIpv4(range.first + 3)} and ${formatIpv4(range.first + range.count - 1)}`;
}

/** The first and last address a NIC may hold in a subnet, or undefined when it has none (a /30 or smaller). */
export function usableIpv4(range: Ipv4Range): { first: string; last: string } | undefined {
  if (range.count <= 5) return undefined;
  return { first: formatIpv4(range.first + 4), last: formatIpv4(range.first + range.count - 2) };
}

/**
 * Why a NIC in a subnet cannot hold an address: outside the subnet's range, or one of the five Azure
 * reserves there; undefined when it may (whether another NIC holds it is Azure's to say).
 */
export function ipv4PlaceProblem(ip: string, range: Ipv4Range): "outside" | "reserved" | undefined {
  const n = parseIpv4(ip);
  if (n === undefined || n < range.first || n >= range.first + range.count) return "outside";
  if (n < range.first + 4 || n === range.first + range.count - 1) return "reserved";
  return undefined;
}
