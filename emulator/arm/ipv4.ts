/** IPv4 arithmetic for subnets and private addresses. */
export interface Cidr {
  base: number;
  bits: number;
}

export function parseIp(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function parseCidr(text: string): Cidr | undefined {
  const [ip, bitsText] = text.split("/");
  const base = ip === undefined ? undefined : parseIp(ip);
  const bits = Number(bitsText);
  if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return undefined;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  if ((base & mask) >>> 0 !== base) return undefined;
  return { base, bits };
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.bits);
}

export function contains(outer: Cidr, inner: Cidr): boolean {
  return inner.bits >= outer.bits && inner.base >= outer.base && inner.base + size(inner) <= outer.base + size(outer);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/** Whether an address is one a NIC may use: Azure reserves the first four and the last of each subnet. */
export function usable(c: Cidr, ip: number): boolean {
  return ip >= c.base + 4 && ip < c.base + size(c) - 1;
}
