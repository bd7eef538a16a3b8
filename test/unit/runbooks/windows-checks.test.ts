import { describe, expect, it } from "vitest";
import { windowsChecks } from "../../../runbooks/precheck";
import { blueprint } from "../stacks/fixtures";

/** The core fixture's Windows row (db1: hostname DB1), changed by `edit`. */
function windowsRow(edit: (row: Record<string, unknown>) => void = () => {}) {
  return blueprint((raw) => edit(raw.rows[1] as unknown as Record<string, unknown>)).rows[1]!;
}

describe("windowsChecks", () => {
  it("passes a Windows row whose VM name is a Windows computer name", () => {
    expect(
      windowsChecks(
        windowsRow((r) => (r.osStrategy = "fromSnapshot")),
        "failover",
        "bp",
      ),
    ).toEqual([
      {
        name: "db1: Windows computer name",
        ok: true,
        row: "db1",
        message: "VM DB1; its guest keeps the computer name on its disk",
      },
    ]);
  });

  it("fails a Windows row without a hostname whose row name is too long for Windows, naming the fix", () => {
    const row = windowsRow((r) => {
      delete r.hostname;
      r.name = "database-server-01";
    });
    const [name] = windowsChecks(row, "failover", "bp-db");
    expect(name).toMatchObject({ ok: false, row: "database-server-01" });
    expect(name!.message).toContain("is 18 characters, longer than Windows allows (15)");
    expect(name!.message).toContain("Set rows[].hostname for row database-server-01 in stack bp-db");
  });

  it("warns of an OS disk attached as-is with the policy's advice, in a failover and not in a drill", () => {
    const row = windowsRow((r) => (r.osStrategy = "attachAsIs"));
    expect(windowsChecks(row, "failover", "bp")[1]).toMatchObject({
      name: "db1: Windows OS disk from a snapshot",
      ok: true,
      warning: true,
      message: expect.stringContaining("policy ferry-windows-os-from-snapshot advises it"),
    });
    expect(windowsChecks(row, "test", "bp")).toHaveLength(1);
  });

  it("says nothing of a Linux row", () => {
    const b = blueprint();
    expect(windowsChecks(b.rows[0]!, "failover", "bp")).toEqual([]);
  });
});
