import { build } from "esbuild";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `npm run build:sync`: the daemon as one JavaScript file for the appliance (`dist/ferry-sync.mjs`,
 * run with plain `node`). Bundling drops the TypeScript loader and the SDK code the daemon never
 * calls, which is about a quarter of its memory.
 */
export async function buildSync(
  outfile = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "ferry-sync.mjs"),
): Promise<string> {
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
    entryPoints: [join(dirname(fileURLToPath(import.meta.url)), "cli.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    logLevel: "warning",
    // Some dependencies still call require(); give the ES module one.
    banner: {
      js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);",
    },
  });
  return outfile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildSync().then(
    (out) => process.stdout.write(`${out}\n`),
    (e: unknown) => {
      process.stderr.write(`build failed: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
