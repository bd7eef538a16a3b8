import { describe, expect, it } from "vitest";
import { FerryError, UserError, formatErrorForCli, isFerryError, isUserError } from "../../../core/errors";

describe("FerryError and UserError", () => {
  it("carry code, cause, details and their class name", () => {
    const cause = new Error("socket closed");
    const e = new UserError("Disk d1 is attached to a running VM. Stop the VM and retry.", {
      code: "DiskInUse",
      cause,
      details: { diskId: "d1" },
    });
    expect(e).toBeInstanceOf(FerryError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("UserError");
    expect(e.code).toBe("DiskInUse");
    expect(e.cause).toBe(cause);
    expect(e.details).toEqual({ diskId: "d1" });
    expect(Object.keys(e)).not.toContain("name");
  });

  it("leave cause and details unset when not given", () => {
    const e = new FerryError("x", { code: "X" });
    expect("cause" in e).toBe(false);
    expect(e.details).toBeUndefined();
  });
});

describe("guards", () => {
  it("tell user errors, ferry errors and other errors apart", () => {
    expect(isFerryError(new FerryError("x", { code: "X" }))).toBe(true);
    expect(isUserError(new FerryError("x", { code: "X" }))).toBe(false);
    expect(isUserError(new UserError("x", { code: "X" }))).toBe(true);
    expect(isFerryError(new Error("x"))).toBe(false);
    expect(isFerryError("x")).toBe(false);
    expect(isUserError(undefined)).toBe(false);
  });

  it("recognise errors from another copy of the module by their brand", () => {
    // What a second copy of core/errors.ts would construct: another class, the same global brands.
    class OtherUserError extends Error {
      code = "X";
      constructor() {
        super("from elsewhere");
        Object.defineProperty(this, Symbol.for("ferry.FerryError"), { value: true });
        Object.defineProperty(this, Symbol.for("ferry.UserError"), { value: true });
      }
    }
    const e = new OtherUserError();
    expect(e instanceof UserError).toBe(false);
    expect(isFerryError(e)).toBe(true);
    expect(isUserError(e)).toBe(true);
  });
});

describe("formatErrorForCli", () => {
  it("prints only the message of a user error", () => {
    expect(formatErrorForCli(new UserError("Region is missing. Set ferry:region.", { code: "X" }))).toBe(
      "Region is missing. Set ferry:region.",
    );
  });

  it("prints the stack, code and causes of anything else", () => {
    const e = new FerryError("planner broke", { code: "Bug", cause: new TypeError("undefined is not a function") });
    const text = formatErrorForCli(e);
    expect(text).toMatch(/^FerryError: planner broke\n\s+at /);
    expect(text).toContain("code: Bug");
    expect(text).toMatch(/Caused by: TypeError: undefined is not a function\n\s+at /);
  });

  it("scrubs secrets from both", () => {
    const url = "https://acct.blob.core.windows.net/c/d?sv=2024&sig=c2VjcmV0";
    expect(formatErrorForCli(new UserError(`Cannot read ${url}`, { code: "X" }))).toBe(
      "Cannot read https://acct.blob.core.windows.net/c/d?<redacted>",
    );
    expect(formatErrorForCli(new Error(`GET ${url} failed`))).not.toContain("c2VjcmV0");
  });

  it("describes thrown non-errors", () => {
    expect(formatErrorForCli("plain")).toBe("plain");
    expect(formatErrorForCli({ code: 1 })).toBe('Non-error value thrown: {"code":1}');
  });
});
