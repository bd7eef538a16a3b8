import { describe, expect, it } from "vitest";
import { BlueprintRowSchema, BlueprintSchema, hostnameProblem } from "../../../core/schemas";
import { parseWith } from "../../../core/validate";
import { diskIdOf, expectOneProblem, problemsOf, validBlueprint, validRow } from "./fixtures";
import type { Json } from "./fixtures";

describe("BlueprintSchema", () => {
  it("parses a compliant blueprint", () => {
    const blueprint = parseWith(BlueprintSchema, validBlueprint());
    expect(blueprint.rows.map((r) => r.name)).toEqual(["web1", "db1"]);
    expect(blueprint.rows[0]!.dataDisks[1]!.lun).toBe(1);
    expect(blueprint.target.vmSizes).toEqual(["Standard_D2s_v5", "Standard_E8-4s_v5"]);
  });

  const cases: [string, (b: Json) => void, string, ...string[]][] = [
    [
      "unknown top-level key",
      (b) => (b.mode = "failover"),
      "mode",
      "is not a recognised key",
      "name, target, rpoTargetSeconds, rtoTargetSeconds, rows",
    ],
    ["bad blueprint name", (b) => (b.name = "web app"), "name", "letters, digits and hyphens"],
    ["zone that is none", (b) => (b.rows[0].zone = "4"), "rows[0].zone", '"1"'],
    [
      "Trusted Launch on a Gen1 disk",
      (b) => (b.rows[0].osDisk.securityType = "TrustedLaunch"),
      "rows[0].osDisk.securityType",
      "V2 only",
      "hyperVGeneration: V2",
    ],
    [
      "UEFI settings without Trusted Launch",
      (b) => (b.rows[0].osDisk.uefiSettings = { secureBootEnabled: true }),
      "rows[0].osDisk.uefiSettings",
      "Trusted Launch VM only",
    ],
    ["no rows", (b) => (b.rows = []), "rows", "at least 1"],
    ["missing target", (b) => delete b.target, "target", 'Add "target"'],
    ["row name with underscore", (b) => (b.rows[0].name = "web_1"), "rows[0].name", "letters, digits and hyphens"],
    [
      "source VM id of a disk",
      (b) => (b.rows[0].sourceVmId = diskIdOf("x")),
      "rows[0].sourceVmId",
      "Microsoft.Compute/virtualMachines/<name>",
      "az vm show",
    ],
    [
      "source VM id not an id",
      (b) => (b.rows[0].sourceVmId = "web1"),
      "rows[0].sourceVmId",
      "is not the ARM id",
      "/subscriptions/<subscription id>",
    ],
    [
      "source region with spaces",
      (b) => (b.rows[0].sourceRegion = "West Europe"),
      "rows[0].sourceRegion",
      'Did you mean "westeurope"',
    ],
    [
      "OS type in wrong case",
      (b) => (b.rows[0].osDisk.osType = "linux"),
      "rows[0].osDisk.osType",
      'Did you mean "Linux"',
      '"Linux", "Windows"',
    ],
    ["OS disk size not an integer", (b) => (b.rows[0].osDisk.sizeGiB = 30.5), "rows[0].osDisk.sizeGiB", "integer"],
    ["OS disk too large", (b) => (b.rows[0].osDisk.sizeGiB = 5000), "rows[0].osDisk.sizeGiB", "at most 4095"],
    [
      "missing OS disk id",
      (b) => delete b.rows[0].osDisk.sourceDiskId,
      "rows[0].osDisk.sourceDiskId",
      'is missing. Add "sourceDiskId"',
    ],
    ["data disk LUN out of range", (b) => (b.rows[0].dataDisks[1].lun = 64), "rows[0].dataDisks[1].lun", "0 to 63"],
    [
      "duplicate LUN in a row",
      (b) => (b.rows[0].dataDisks[1].lun = 0),
      "rows[0].dataDisks[1].lun",
      "LUN 0 is already used by dataDisks[0]",
    ],
    ["data disk size zero", (b) => (b.rows[0].dataDisks[0].sizeGiB = 0), "rows[0].dataDisks[0].sizeGiB", "at least 1"],
    ["dataDisks not a list", (b) => (b.rows[0].dataDisks = { lun: 0 }), "rows[0].dataDisks", "must be a list"],
    ["VM size malformed", (b) => (b.rows[0].vmSize = "D2s_v5"), "rows[0].vmSize", "Standard_D2s_v5"],
    [
      "VM size not offered by the target",
      (b) => (b.rows[0].vmSize = "Standard_D4s_v5"),
      "rows[0].vmSize",
      "not in target.vmSizes",
      "Standard_D2s_v5, Standard_E8-4s_v5",
    ],
    [
      "Windows hostname too long",
      (b) => (b.rows[1].hostname = "database-server-01"),
      "rows[1].hostname",
      "longer than Windows allows (15)",
    ],
    [
      "hostname with a dot",
      (b) => (b.rows[0].hostname = "web1.contoso.com"),
      "rows[0].hostname",
      "letters, digits and hyphens",
    ],
    [
      "private IP out of range",
      (b) => (b.rows[0].privateIpAddress = "10.1.0.300"),
      "rows[0].privateIpAddress",
      "IPv4",
      "10.0.1.4",
    ],
    [
      "unknown OS strategy",
      (b) => (b.rows[0].osStrategy = "attach"),
      "rows[0].osStrategy",
      '"attachAsIs", "fromSnapshot"',
    ],
    [
      "missing data strategy",
      (b) => delete b.rows[1].dataStrategy,
      "rows[1].dataStrategy",
      'Add "dataStrategy" with one of: "attachAsIs", "fromSnapshot"',
    ],
    ["duplicate row name, other case", (b) => (b.rows[1].name = "WEB1"), "rows[1].name", "already the name of rows[0]"],
    [
      "disk used by two rows",
      (b) => (b.rows[1].dataDisks[0].sourceDiskId = diskIdOf("web1-data1").toUpperCase()),
      "rows[1].dataDisks[0].sourceDiskId",
      "already used by rows[0].dataDisks[1].sourceDiskId",
    ],
    [
      "OS disk reused as data disk",
      (b) => (b.rows[0].dataDisks[0].sourceDiskId = b.rows[0].osDisk.sourceDiskId),
      "rows[0].dataDisks[0].sourceDiskId",
      "already used by rows[0].osDisk.sourceDiskId",
    ],
    ["target field problem surfaces with its path", (b) => (b.target.vmSizes = []), "target.vmSizes", "at least 1"],
  ];

  it.each(cases)("refuses %s", (_, change, path, ...hints) => {
    const blueprint = validBlueprint();
    change(blueprint);
    expectOneProblem(BlueprintSchema, blueprint, path, ...hints);
  });

  it("points a misspelt key at the right one and says the right one is missing", () => {
    const blueprint = validBlueprint();
    blueprint.rows[0].osDisk.sizeGib = 30;
    delete blueprint.rows[0].osDisk.sizeGiB;
    expect(problemsOf(BlueprintSchema, blueprint)).toEqual([
      { path: "rows[0].osDisk.sizeGiB", code: "invalid_type", message: 'is missing. Add "sizeGiB" (a number).' },
      {
        path: "rows[0].osDisk.sizeGib",
        code: "unrecognized_keys",
        message:
          'is not a recognised key. Did you mean "sizeGiB"? ' +
          "Allowed keys here: sourceDiskId, osType, sizeGiB, hyperVGeneration, securityType, uefiSettings.",
      },
    ]);
  });

  it("reports every problem at once, cross-field ones included", () => {
    const blueprint = validBlueprint();
    blueprint.rows[0].osDisk.osType = "linux";
    blueprint.rows[1].name = "web1";
    blueprint.rows[1].vmSize = "Standard_M8ms";
    const paths = problemsOf(BlueprintSchema, blueprint).map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(["rows[0].osDisk.osType", "rows[1].name", "rows[1].vmSize"]));
    expect(paths).toHaveLength(3);
  });

  it("formats the error as one line per problem under a heading", () => {
    const blueprint = validBlueprint();
    blueprint.rows[0].osStrategy = "attach";
    blueprint.extra = 1;
    expect(() => parseWith(BlueprintSchema, blueprint, { what: "blueprint 'web'" })).toThrow(
      [
        "Invalid blueprint 'web' (2 problems):",
        '  rows[0].osStrategy: "attach" is not allowed. Use one of: "attachAsIs", "fromSnapshot".',
        "  extra: is not a recognised key. Remove it; allowed keys here: name, target, rpoTargetSeconds, " +
          "rtoTargetSeconds, rows, retention.",
      ].join("\n"),
    );
  });
});

describe("BlueprintRowSchema", () => {
  it("accepts a row without optional fields and with no data disks", () => {
    const row = validRow();
    delete row.hostname;
    delete row.privateIpAddress;
    row.dataDisks = [];
    expect(parseWith(BlueprintRowSchema, row).dataDisks).toEqual([]);
  });
});

describe("hostnameProblem", () => {
  it("allows 15 characters on Windows and 64 on Linux", () => {
    expect(hostnameProblem("a".repeat(15), "Windows")).toBeUndefined();
    expect(hostnameProblem("a".repeat(16), "Windows")).toContain("(15)");
    expect(hostnameProblem("a".repeat(64), "Linux")).toBeUndefined();
    expect(hostnameProblem("a".repeat(65), "Linux")).toContain("(64)");
  });

  it("refuses leading or trailing hyphens and all-digit Windows names", () => {
    expect(hostnameProblem("-web", "Linux")).toContain("starting and ending");
    expect(hostnameProblem("web-", "Linux")).toContain("starting and ending");
    expect(hostnameProblem("12345", "Windows")).toContain("all digits");
    expect(hostnameProblem("12345", "Linux")).toBeUndefined();
  });
});
