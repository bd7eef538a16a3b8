import { describe, expect, it } from "vitest";
import { formatProtect, type ProtectResult } from "../../../runbooks/protect";

const disk = (name: string) =>
  `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/dr-rg/providers/Microsoft.Compute/disks/${name}`;

const result: ProtectResult = {
  stack: "web-linux",
  blueprint: "web",
  operation: "protect-20260101T000000Z",
  update: { ran: true, version: 4, changes: { create: 2, update: 0, delete: 0, same: 3 } },
  disks: [
    {
      disk: "web1-os",
      sourceDiskId: disk("web1-os"),
      row: "web1",
      role: "os",
      action: "updated",
      changed: ["retention"],
    },
    { disk: "web2-os", sourceDiskId: disk("web2-os"), row: "web2", role: "os", action: "enabled", prepare: "empty" },
    { disk: "web2-data0", sourceDiskId: disk("web2-data0"), row: "web2", role: "lun-0", action: "disabled" },
  ].map((d) => ({ ...d, stagingDisk: `${d.disk}-staging`, lun: 3, state: "pending" as const }) as never),
  released: [{ sourceDiskId: disk("old-os"), stagingDiskId: disk("old-os-staging") }],
};

describe("ferry protect's text", () => {
  it("says per blueprint whether the stack changed, then what was done to each disk and what to do next", () => {
    expect(formatProtect([result]).split("\n")).toEqual([
      "web-linux: stack updated (version 4: 2 created, 0 updated, 0 deleted)",
      "  updated   web1-os (web1, os): retention",
      "  enabled   web2-os (web2, os): web2-os-staging at appliance LUN 3 (pending; prepare empty)",
      "  disabled  web2-data0 (web2, lun-0): left disabled; protect it again with " +
        "`ferry sources enable web-linux --disk web2-data0 --prepare keep`",
      "  released  old-os-staging: its row is gone; the staging disk left the stack and is kept in Azure (delete it " +
        "when its data is no longer wanted)",
    ]);
  });
});
