import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile } from "esbuild";

/**
 * The pack's entry as one CommonJS file (`npm run build`, `npm ci` through the root's `prepare`, and
 * `npm pack` in this folder through `prepack`): what `pulumi policy publish` packs and what the
 * Pulumi CLI runs from an installed copy of this folder, where `../core` and `../stacks` do not exist.
 * What the rules share with the program and the domain (core/, stacks/plan.ts, zod) is inside it;
 * `@pulumi/*` stays outside, installed from this folder's own package.json.
 */

const HERE = dirname(fileURLToPath(import.meta.url));

/** The pack's package.json, as much of it as the build reads. */
interface PackManifest {
  main: string;
  dependencies: Record<string, string>;
}

function manifest(): PackManifest {
  return JSON.parse(readFileSync(join(HERE, "package.json"), "utf8")) as PackManifest;
}

/** Options of {@link buildPolicyPack}. */
export interface PolicyPackBuildOptions {
  /** Where the entry goes. Default: the `main` of policies/package.json (`policies/dist/index.cjs`). */
  outFile?: string;
}

/** The pack's entry as built. */
export interface BuiltPolicyPack {
  /** The file written. */
  file: string;
  /** esbuild's account of the build: its inputs and the imports left outside it. */
  metafile: Metafile;
}

/**
 * Bundles `policies/index.ts` into one CommonJS file. CommonJS because the Pulumi CLI's policy
 * runner loads the pack with `require()` (`@pulumi/pulumi/cmd/run-policy-pack`), on any Node version,
 * without a TypeScript loader.
 */
export async function buildPolicyPack(options: PolicyPackBuildOptions = {}): Promise<BuiltPolicyPack> {
  const { main } = manifest();
  const file = options.outFile ?? join(HERE, main);
  const { metafile } = await build({
    absWorkingDir: HERE,
    metafile: true,
    entryPoints: [join(HERE, "index.ts")],
    outfile: file,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node22",
    logLevel: "warning",
    // The engine runs the pack against the @pulumi/policy and @pulumi/pulumi installed beside it
    // (the runner itself comes from @pulumi/pulumi); a bundled copy would be a second one.
    external: ["@pulumi/*"],
  });
  return { file, metafile };
}

/** The npm packages a built pack imports at run time (its externals), by name. */
export function runtimeImports(built: BuiltPolicyPack): string[] {
  const packages = new Set<string>();
  for (const output of Object.values(built.metafile.outputs)) {
    for (const i of output.imports) {
      if (!i.external || i.path.startsWith("node:")) continue;
      const parts = i.path.split("/");
      packages.add(parts.slice(0, i.path.startsWith("@") ? 2 : 1).join("/"));
    }
  }
  return [...packages].sort();
}

/** The dependencies policies/package.json declares, by name. */
export function declaredDependencies(): string[] {
  return Object.keys(manifest().dependencies).sort();
}
