import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BUILD_INFO, versionLine } from "../../../core/version";

const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "..", "package.json"), "utf8")) as {
  version: string;
};

describe("version", () => {
  it("is package.json's, with the commit unknown when run from the sources", () => {
    expect(BUILD_INFO).toEqual({ version: pkg.version, commit: "unknown" });
  });

  it("is printed as the command, the version and the commit", () => {
    expect(versionLine("ferry-sync", { version: "1.2.3", commit: "0a1b2c-dirty" })).toBe(
      "ferry-sync 1.2.3 (commit 0a1b2c-dirty)",
    );
  });
});
