import { readdirSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

// The import boundaries of eslint.config.js, each shown to fail the lint (and so `npm test`) once.
const ROOT = resolve(import.meta.dirname, "../../..");

// Only the boundary rule, without type information: the snippets exist in memory only, and the
// type-aware rules would load the whole program for nothing.
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
  ruleFilter: ({ ruleId }) => ruleId === "no-restricted-imports",
});

/** What the lint says of `code` placed at `path` (from the root); anything but the rule is kept too. */
async function lint(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  return result!.messages.map((m) => (m.ruleId === "no-restricted-imports" ? m.message : `${m.ruleId}: ${m.message}`));
}

const ESCAPES_EMULATOR = "The emulator is a package of its own";
const REACHES_HARNESS = "Product code never imports the local harness or the local Azure";
const IMPORTS_EMULATOR = "Product code never imports the local Azure";
const CORE_IMPORTS_ADAPTERS = "core/ is the domain and does no I/O";

describe("emulator/ imports nothing of ferry outside it", () => {
  it("refuses a relative import that climbs out of emulator/", async () => {
    const messages = await lint("emulator/arm/probe.ts", 'import { UserError } from "../../core/errors";\n');
    expect(messages).toEqual([expect.stringContaining(ESCAPES_EMULATOR)]);
  });

  it("refuses ferry's test helpers in the emulator's tests", async () => {
    const code = 'import { useEmulator } from "../../../test/helpers/emulator";\n';
    expect(await lint("emulator/test/unit/probe.test.ts", code)).toEqual([expect.stringContaining(ESCAPES_EMULATOR)]);
  });

  it("refuses ferry's packages other than @ferry/sparse", async () => {
    const messages = await lint("emulator/probe.ts", 'export * from "ferry/runbooks/cli";\n');
    expect(messages).toEqual([expect.stringContaining("depends on nothing of ferry but @ferry/sparse")]);
  });

  it("allows its own files, its own testing subpath, @ferry/sparse and npm packages", async () => {
    const code = [
      'import { ApiError } from "../errors";',
      'import { tempDir } from "../../testing";',
      'import { dataExtents } from "@ferry/sparse";',
      'import { startEmulator } from "@ferry/emulator";',
      'import type { Disk } from "@azure/arm-compute";',
      "",
    ].join("\n");
    expect(await lint("emulator/test/helpers/probe.ts", code)).toEqual([]);
  });
});

describe("product code never imports the local Azure or the local harness", () => {
  it("refuses @ferry/emulator and its subpaths, type-only imports too", async () => {
    const code = [
      'import type { RunningEmulator } from "@ferry/emulator";',
      'import { createVm } from "@ferry/emulator/testing";',
      "",
    ].join("\n");
    expect(await lint("adapters/azure/probe.ts", code)).toEqual([
      expect.stringContaining(IMPORTS_EMULATOR),
      expect.stringContaining(IMPORTS_EMULATOR),
    ]);
  });

  it("refuses local/ by relative path", async () => {
    const messages = await lint(
      "runbooks/commands/probe.ts",
      'import { localDeployer } from "../../local/deployer";\n',
    );
    expect(messages).toEqual([expect.stringContaining(REACHES_HARNESS)]);
  });

  it("refuses emulator/ by relative path", async () => {
    const messages = await lint("sync/probe.ts", 'import { startEmulator } from "../emulator";\n');
    expect(messages).toEqual([expect.stringContaining(REACHES_HARNESS)]);
  });

  it("allows core/, adapters/ and its own folder", async () => {
    const code = [
      'import { UserError } from "../../core/errors";',
      'import type { AzureClients } from "../../adapters/azure/clients";',
      'import { EXIT } from "./common";',
      "",
    ].join("\n");
    expect(await lint("runbooks/commands/probe.ts", code)).toEqual([]);
  });
});

describe("core/ never imports adapters/", () => {
  it("refuses adapters/ by relative path", async () => {
    const messages = await lint(
      "core/schemas/probe.ts",
      'import { createAzureClients } from "../../adapters/azure";\n',
    );
    expect(messages).toEqual([expect.stringContaining(CORE_IMPORTS_ADAPTERS)]);
  });

  it("allows the rest of core/", async () => {
    const code = 'import { UserError } from "../errors";\nimport { resourceIdSchema } from "./ids";\n';
    expect(await lint("core/schemas/probe.ts", code)).toEqual([]);
  });
});

/** The deepest source file below `folder` (node_modules and built `dist/` left out), relative to the root. */
function deepestFile(folder: string): string {
  let deepest = "";
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      // Build output (policies/dist) is not linted, so a probe there would be ignored, not judged.
      if (e.name === "node_modules" || e.name === "dist") continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (path.split(sep).length > deepest.split(sep).length) deepest = path;
    }
  };
  walk(folder);
  return deepest;
}

// The rule matches relative paths as written, one block per depth: a file deeper than the blocks
// go would escape it unnoticed.
describe("the boundaries reach the deepest file of each folder they guard", () => {
  it.each(["emulator", "core", "adapters", "stacks", "policies", "sync", "runbooks"])("%s/", async (folder) => {
    const probe = join(dirname(deepestFile(folder)), "probe.ts");
    const toRoot = relative(dirname(join(ROOT, probe)), ROOT)
      .split(sep)
      .join("/");
    const messages = await lint(probe, `import { createLocalWorld } from "${toRoot}/local/world";\n`);
    expect(messages).toEqual([expect.stringContaining(folder === "emulator" ? ESCAPES_EMULATOR : REACHES_HARNESS)]);
  });
});
