// ESLint: typescript-eslint with the type-aware rules that catch real bugs, and the import
// boundaries of the design (product code never reaches the local Azure or the local harness).
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

/** Product code: what ferry ships. It never reaches the local Azure or the local harness. */
const productFolders = ["core", "adapters", "stacks", "policies", "sync", "runbooks"];

/**
 * How deep below the repository root the boundary rules look (`emulator/test/unit/x.ts` is 3).
 * no-restricted-imports matches a relative path as written, not resolved: a file `depth` folders
 * down leaves its top folder with exactly `depth` "../", so each depth gets its own block.
 */
const boundaryDepth = 8;

/** A regex source: a relative path that climbs `depth` folders (to the repository root). */
const climbs = (depth) => `^(\\./)?(\\.\\.(/|$)){${depth}}`;

/** The files exactly `depth` folders below the root, in `folder`. */
const filesAt = (folder, depth) => `${folder}/${"*/".repeat(depth - 1)}*`;

const restrict = (files, patterns) => ({ files, rules: { "no-restricted-imports": ["error", { patterns }] } });

/** The import boundaries of the design, one block per folder kind and depth. */
function importBoundaries() {
  const blocks = [];
  for (let depth = 1; depth <= boundaryDepth; depth++) {
    const noHarness = [
      {
        regex: "^@ferry/emulator(/|$)",
        message: "Product code never imports the local Azure: it reaches Azure through adapters/.",
      },
      {
        regex: `${climbs(depth)}(local|emulator)(/|$)`,
        message: "Product code never imports the local harness or the local Azure: inject what it needs instead.",
      },
    ];
    const noAdapters = {
      regex: `${climbs(depth)}adapters(/|$)`,
      message: "core/ is the domain and does no I/O: it never imports adapters/ (adapters import core/).",
    };
    const ownPackageOnly = [
      {
        regex: climbs(depth),
        message:
          "The emulator is a package of its own: nothing under emulator/ imports ferry's files outside it. " +
          "Share code through @ferry/emulator/testing instead.",
      },
      {
        regex: "^(ferry|@ferry/(?!(sparse|emulator)(/|$))[^/]+)(/|$)",
        message: "The emulator depends on nothing of ferry but @ferry/sparse.",
      },
    ];
    const products = productFolders.filter((f) => f !== "core").map((f) => filesAt(f, depth));
    blocks.push(restrict(products, noHarness));
    blocks.push(restrict([filesAt("core", depth)], [...noHarness, noAdapters]));
    blocks.push(restrict([filesAt("emulator", depth)], ownPackageOnly));
  }
  return blocks;
}

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", "policies/dist/", "drill-report/", ".ferry/", ".tmp/", "**/*.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-unsafe-assignment": "error",
      "@typescript-eslint/no-unsafe-call": "error",
      "@typescript-eslint/no-unsafe-member-access": "error",
      "@typescript-eslint/no-unsafe-return": "error",
      "@typescript-eslint/no-unsafe-argument": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Prettier keeps code within 120 columns; this holds comments to it too. Strings may run longer:
      // an operator's message split mid-sentence can no longer be found by searching for it.
      "max-len": [
        "error",
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
    },
  },
  {
    // Test fixtures are loose JSON on purpose (they build the malformed config the schemas must refuse),
    // so `any` is allowed there; promises are still checked.
    files: ["test/**/*.ts", "emulator/test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  ...importBoundaries(),
);
