import { describe, expect, it } from "vitest";
import { BlueprintRowSchema, BlueprintSchema, hostnameProblem, rowNics } from "../../../core/schemas";
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
    [
      "a row-level address beside nics",
      (b) => (b.rows[0].nics = [{ subnet: "app" }, { primary: true }]),
      "rows[0].privateIpAddress",
      "is set beside nics",
      "Move it to nics[1].privateIpAddress (the primary NIC)",
    ],
    [
      "two primary NICs",
      (b) => {
        delete b.rows[0].privateIpAddress;
        b.rows[0].nics = [{ primary: true }, { primary: true }];
      },
      "rows[0].nics[1].primary",
      "nics[0] is the primary NIC already",
      "Mark one NIC primary: true",
    ],
    [
      "one address on two NICs",
      (b) => {
        delete b.rows[0].privateIpAddress;
        b.rows[0].nics = [{ privateIpAddress: "10.1.0.9" }, { subnet: "data", privateIpAddress: "10.1.0.9" }];
      },
      "rows[0].nics[1].privateIpAddress",
      "is nics[0].privateIpAddress too",
      "Give each NIC its own address",
    ],
    [
      "a NIC's subnet that is no subnet name",
      (b) => {
        delete b.rows[0].privateIpAddress;
        b.rows[0].nics = [{ subnet: "dr-vnet/app" }];
      },
      "rows[0].nics[0].subnet",
      "is not a subnet name",
    ],
    [
      "empty nics",
      (b) => {
        delete b.rows[0].privateIpAddress;
        b.rows[0].nics = [];
      },
      "rows[0].nics",
      "needs at least one NIC",
      "Remove nics for the default one",
    ],
    [
      "an unknown key of a NIC",
      (b) => {
        delete b.rows[0].privateIpAddress;
        b.rows[0].nics = [{ accelerated: true }];
      },
      "rows[0].nics[0].accelerated",
      "is not a recognised key",
      "acceleratedNetworking",
    ],
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
      "Windows licence on a Linux row",
      (b) => (b.rows[0].osDisk.licenseType = "Windows_Server"),
      "rows[0].osDisk.licenseType",
      "Windows_Server is a Windows licence and the row's OS is Linux",
    ],
    [
      "Linux licence on a Windows row",
      (b) => (b.rows[1].osDisk.licenseType = "RHEL_BYOS"),
      "rows[1].osDisk.licenseType",
      "RHEL_BYOS is not a Windows licence. Use Windows_Server or Windows_Client",
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
          "Allowed keys here: sourceDiskId, osType, sizeGiB, hyperVGeneration, securityType, uefiSettings, licenseType.",
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

describe("rowNics", () => {
  const row = (extra: Json) => parseWith(BlueprintRowSchema, { ...validRow(), ...extra });

  it("gives a row without nics one primary NIC with the row's own addresses", () => {
    expect(rowNics(row({ testPrivateIpAddress: "10.99.0.4" }))).toEqual([
      {
        index: 0,
        primary: true,
        privateIpAddress: "10.1.0.4",
        testPrivateIpAddress: "10.99.0.4",
        acceleratedNetworking: false,
        keyPrefix: "",
      },
    ]);
  });

  it("makes the first NIC primary when none says so", () => {
    const nics = rowNics(row({ privateIpAddress: undefined, nics: [{}, { subnet: "data" }] }));
    expect(nics.map((n) => [n.index, n.primary, n.keyPrefix])).toEqual([
      [0, true, "nics[0]."],
      [1, false, "nics[1]."],
    ]);
  });

  it("keeps the NIC that says primary, and each NIC's accelerated networking", () => {
    const nics = rowNics(
      row({ privateIpAddress: undefined, nics: [{}, { primary: true, acceleratedNetworking: true }] }),
    );
    expect(nics.map((n) => [n.primary, n.acceleratedNetworking])).toEqual([
      [false, false],
      [true, true],
    ]);
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

  it("refuses a name Windows reserves on Windows only, in any case", () => {
    expect(hostnameProblem("Server", "Windows")).toBe("is a name Windows reserves (KB 909264). Pick another");
    expect(hostnameProblem("server", "Linux")).toBeUndefined();
    expect(hostnameProblem("server1", "Windows")).toBeUndefined();
  });
});
