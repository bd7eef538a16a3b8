import { describe, expect, it } from "vitest";
import { isFerryError } from "../../../core/errors";
import { SourceSchema, type Source } from "../../../core/schemas/source";
import { parseWith } from "../../../core/validate";
import { canClaim, canWrite, claim, leaseHolder, release } from "../../../adapters/state/lease";
import { validSource } from "../core/fixtures";

const t0 = new Date("2025-03-01T10:00:00.000Z");
const at = (ms: number) => new Date(t0.getTime() + ms);
const minute = 60_000;

function source(lease?: { owner: string; until: string }): Source {
  return parseWith(SourceSchema, lease === undefined ? validSource() : { ...validSource(), lease });
}

function thrown(f: () => unknown): { code: string; message: string; details?: Record<string, unknown> } {
  try {
    f();
  } catch (e) {
    expect(isFerryError(e)).toBe(true);
    return e as { code: string; message: string; details?: Record<string, unknown> };
  }
  throw new Error("expected a FerryError");
}

describe("leaseHolder", () => {
  it("is nobody without a lease", () => {
    expect(leaseHolder(source(), t0)).toBeUndefined();
  });

  it("is the owner strictly before until, nobody from until on", () => {
    const s = source({ owner: "a", until: at(minute).toISOString() });
    expect(leaseHolder(s, t0)).toBe("a");
    expect(leaseHolder(s, at(minute - 1))).toBe("a");
    expect(leaseHolder(s, at(minute))).toBeUndefined();
    expect(leaseHolder(s, at(minute + 1))).toBeUndefined();
  });

  it("reads an until with an offset as the instant it names", () => {
    const s = source({ owner: "a", until: "2025-03-01T11:01:00+01:00" });
    expect(leaseHolder(s, at(minute - 1))).toBe("a");
    expect(leaseHolder(s, at(minute))).toBeUndefined();
  });
});

describe("canWrite and canClaim", () => {
  const held = source({ owner: "a", until: at(minute).toISOString() });

  it("lets only the holder of a live lease write", () => {
    expect(canWrite(held, "a", t0)).toBe(true);
    expect(canWrite(held, "b", t0)).toBe(false);
    expect(canWrite(held, "a", at(minute))).toBe(false);
    // A free source is claimed before it is written.
    expect(canWrite(source(), "a", t0)).toBe(false);
  });

  it("lets anyone claim a free or expired lease, and only the holder a live one", () => {
    expect(canClaim(source(), "b", t0)).toBe(true);
    expect(canClaim(held, "a", t0)).toBe(true);
    expect(canClaim(held, "b", t0)).toBe(false);
    expect(canClaim(held, "b", at(minute))).toBe(true);
  });
});

describe("claim", () => {
  it("leases a free source to the owner for leaseMs, changing nothing else", () => {
    const before = source();
    const after = claim(before, "a", t0, 5 * minute);
    expect(after).toEqual({ ...before, lease: { owner: "a", until: "2025-03-01T10:05:00.000Z" } });
    expect(before.lease).toBeUndefined();
    expect(canWrite(after, "a", t0)).toBe(true);
    // The result is still a valid row.
    expect(parseWith(SourceSchema, after)).toEqual(after);
  });

  it("renews the owner's own lease from now", () => {
    const held = source({ owner: "a", until: at(minute).toISOString() });
    expect(claim(held, "a", at(30_000), minute).lease).toEqual({ owner: "a", until: at(90_000).toISOString() });
  });

  it("takes over an expired lease", () => {
    const expired = source({ owner: "a", until: at(minute).toISOString() });
    expect(claim(expired, "b", at(minute), minute).lease).toEqual({ owner: "b", until: at(2 * minute).toISOString() });
  });

  it("refuses while another owner's lease is live, naming the holder and until when", () => {
    const held = source({ owner: "appliance-1/daemon-a", until: at(minute).toISOString() });
    const e = thrown(() => claim(held, "appliance-1/daemon-b", at(minute - 1), minute));
    expect(e.code).toBe("LeaseHeld");
    expect(e.message).toContain('"appliance-1/daemon-a"');
    expect(e.message).toContain("2025-03-01T10:01:00.000Z");
    expect(e.message).toContain(held.sourceDiskId);
    expect(e.details).toEqual({
      sourceDiskId: held.sourceDiskId,
      holder: "appliance-1/daemon-a",
      until: "2025-03-01T10:01:00.000Z",
    });
  });

  it("refuses another live process of the same owner, and records the claiming one", () => {
    const held = parseWith(SourceSchema, {
      ...validSource(),
      lease: { owner: "a", until: at(minute).toISOString(), session: "boot/100/1" },
    });
    const e = thrown(() => claim(held, "a", at(1), minute, { session: "boot/200/2" }));
    expect(e.code).toBe("LeaseHeld");
    expect(e.message).toContain("another process of instance");
    expect(claim(held, "a", at(1), minute, { session: "boot/100/1" }).lease).toEqual({
      owner: "a",
      until: at(minute + 1).toISOString(),
      session: "boot/100/1",
    });
  });

  it("takes the lease of a process of the same owner that has ended, or once it expired", () => {
    const held = parseWith(SourceSchema, {
      ...validSource(),
      lease: { owner: "a", until: at(minute).toISOString(), session: "boot/100/1" },
    });
    const ended = (s: string) => s === "boot/100/1";
    expect(claim(held, "a", at(1), minute, { session: "boot/200/2", sessionEnded: ended }).lease?.session).toBe(
      "boot/200/2",
    );
    expect(claim(held, "a", at(minute), minute, { session: "boot/200/2" }).lease?.session).toBe("boot/200/2");
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])("refuses a lease of %s ms", (leaseMs) => {
    expect(thrown(() => claim(source(), "a", t0, leaseMs)).code).toBe("InvalidLease");
  });

  it("refuses an empty owner", () => {
    expect(thrown(() => claim(source(), "", t0, minute)).code).toBe("InvalidLease");
  });
});

describe("release", () => {
  it("clears the owner's own lease, live or expired", () => {
    const held = source({ owner: "a", until: at(minute).toISOString() });
    const released = release(held, "a");
    expect(released).not.toHaveProperty("lease");
    expect(released).toEqual(source());
    expect(held.lease).toBeDefined();
    expect(canClaim(released, "b", t0)).toBe(true);
  });

  it("leaves another owner's lease, and a free source, as they are", () => {
    const held = source({ owner: "a", until: at(minute).toISOString() });
    expect(release(held, "b")).toEqual(held);
    expect(release(source(), "a")).toEqual(source());
  });
});
