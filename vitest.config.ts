import { defineConfig } from "vitest/config";

// Three tiers (`npm run test:unit`, `test:integration`, `test:drill`); `npm test` runs them all.
// The emulator package's tests (emulator/test) run in the first two; emulator/vitest.config.ts runs them alone.
export default defineConfig({
  test: {
    // Integration suites start servers and write sparse disk files; forks isolate them.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          // Threads: no process per file, so the fast loop stays fast.
          pool: "threads",
          isolate: false,
          // No servers, no child processes: pure logic and the program under Pulumi's mocks.
          include: ["test/unit/**/*.test.ts", "emulator/test/unit/**/*.test.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          // The emulator, Azurite and the sync daemon over real connections.
          include: [
            "test/{sync,runbooks,stacks,live}/**/*.test.ts",
            "emulator/test/*.test.ts",
            "emulator/test/conformance/*.test.ts",
          ],
        },
      },
      {
        extends: true,
        test: { name: "drill", include: ["test/drill/**/*.test.ts"] },
      },
    ],
  },
});
