import { defineConfig } from "vitest/config";

// `npm test -w @ferry/emulator`: the package's tests on their own. From the repository root, the
// root config's projects run the same files in ferry's unit and integration tiers instead.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Each file starts its own emulators and writes sparse disk files; forks isolate them.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
