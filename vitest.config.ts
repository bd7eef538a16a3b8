import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration suites start servers and write sparse disk files; forks isolate them.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
