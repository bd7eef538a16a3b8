import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile, type Plugin } from "esbuild";
import { buildPolicyPack } from "./policies/build";

/**
 * `npm run build [-- ferry|ferry-sync|policies]` (and `npm ci`, through `prepare`): the commands as
 * JavaScript bundles in `dist/`, run with plain `node` by `bin/ferry.mjs` and `bin/ferry-sync.mjs`.
 * Neither pays for the TypeScript loader at start; `--version` reports the commit they were built
 * from. `policies` is the policy pack's entry, `policies/dist/index.cjs` (see policies/build.ts).
 */

const ROOT = dirname(fileURLToPath(import.meta.url));

export type BundleName = "ferry" | "ferry-sync";
export const BUNDLES: readonly BundleName[] = ["ferry", "ferry-sync"];

interface BundleSpec {
  entry: string;
  /**
   * Each module a command loads with `import()` becomes a chunk file in `dist/<name>-chunks/`, read
   * only when that command runs: `--help` reads yargs and the command declarations alone. Without
   * splitting, esbuild puts those modules in the one file: `--help` took 2 s of CPU instead of 0.2 s.
   */
  split: boolean;
  /** npm packages (by name) left in node_modules instead of bundled. */
  external: (pkg: string) => boolean;
}

const SPECS: Record<BundleName, BundleSpec> = {
  // The CLI runs in a clone of this project (the Pulumi program, stack files and policy pack are there),
  // so it can leave packages to node_modules. Only Pulumi's are: bundled, they fail (they read files
  // beside their own at run time, and the program must share one @pulumi/pulumi with azure-native).
  // Bundling the rest starts faster than leaving every package to node_modules: `ferry sources list`
  // took 1.0 s of CPU so, 1.9 s with every package left there, 3.5 s from the sources through tsx.
  ferry: { entry: "runbooks/main.ts", split: true, external: (pkg) => pkg.startsWith("@pulumi/") },
  // The daemon is installed on the appliance as this one file: everything inside.
  "ferry-sync": { entry: "sync/cli.ts", split: false, external: () => false },
};

/**
 * Leaves packages to node_modules. One without an `exports` map is imported by the file it resolves
 * to: Node's ES module loader does not import a folder (`@pulumi/pulumi/automation`) the way tsx and
 * CommonJS do.
 */
function externalPackages(external: (pkg: string) => boolean): Plugin {
  const resolving = Symbol("resolving");
  return {
    name: "external-packages",
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === resolving || args.path.startsWith("node:")) return undefined;
        const pkg = args.path
          .split("/")
          .slice(0, args.path.startsWith("@") ? 2 : 1)
          .join("/");
        if (!external(pkg)) return undefined;
        const found = await b.resolve(args.path, {
          resolveDir: args.resolveDir,
          kind: args.kind,
          pluginData: resolving,
        });
        if (found.errors.length) return { errors: found.errors };
        const at = found.path.lastIndexOf(`/node_modules/${pkg}/`);
        if (at < 0) return { path: args.path, external: true };
        const modules = found.path.slice(0, at + "/node_modules/".length);
        const manifest = JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")) as { exports?: unknown };
        const path = manifest.exports === undefined ? found.path.slice(modules.length) : args.path;
        return { path, external: true };
      });
    },
  };
}

/** Options of {@link buildBundle}. */
export interface BuildOptions {
  /**
   * Where the bundle goes. Default: the project's `dist/`. A `ferry` bundle must stay inside the project:
   * it imports Pulumi's packages from node_modules.
   */
  outDir?: string;
  /** The commit `--version` reports. Default: {@link gitCommit} of the project. */
  commit?: string;
}

/**
 * The project's git commit, with `-dirty` when tracked files have uncommitted changes, or `unknown`
 * outside a git checkout (a copy of the files, no git installed).
 */
export function gitCommit(dir = ROOT): string {
  try {
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const head = git("rev-parse", "HEAD");
    return git("status", "--porcelain", "--untracked-files=no") ? `${head}-dirty` : head;
  } catch {
    return "unknown";
  }
}

/** A bundle as built. */
export interface BuiltBundle {
  /** The file to run: `<outDir>/<name>.mjs`. */
  file: string;
  /** esbuild's account of the build: every output file with its inputs and imports (paths relative to the project). */
  metafile: Metafile;
}

/** Builds one bundle. */
export async function buildBundle(name: BundleName, options: BuildOptions = {}): Promise<BuiltBundle> {
  const spec = SPECS[name];
  const outDir = options.outDir ?? join(ROOT, "dist");
  const chunkDir = `${name}-chunks`;
  mkdirSync(outDir, { recursive: true });
  // Chunk names carry a hash of their content: those of an earlier build would pile up.
  rmSync(join(outDir, chunkDir), { recursive: true, force: true });
  const { metafile } = await build({
    absWorkingDir: ROOT,
    metafile: true,
    entryPoints: { [name]: join(ROOT, spec.entry) },
    outdir: outDir,
    outExtension: { ".js": ".mjs" },
    splitting: spec.split,
    chunkNames: `${chunkDir}/[name]-[hash]`,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    logLevel: "warning",
    plugins: [externalPackages(spec.external)],
    // core/version.ts reads it; from the sources it stays undefined.
    define: { FERRY_BUILD_COMMIT: JSON.stringify(options.commit ?? gitCommit()) },
    // Some dependencies still call require(); give the ES module one.
    banner: {
      js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);",
    },
  });
  return { file: join(outDir, `${name}.mjs`), metafile };
}

/**
 * The source files a bundle evaluates before its first `import()`: what every start of the command
 * pays for, `--help` included (paths relative to the project, `node_modules/…` for packages).
 */
export function startupInputs(bundle: BuiltBundle): string[] {
  const seen = new Set<string>();
  const inputs = new Set<string>();
  const visit = (output: string) => {
    if (seen.has(output)) return;
    seen.add(output);
    const o = bundle.metafile.outputs[output];
    if (!o) return;
    for (const input of Object.keys(o.inputs)) inputs.add(input);
    for (const i of o.imports) if (i.kind === "import-statement" && !i.external) visit(i.path);
  };
  visit(relative(ROOT, bundle.file));
  return [...inputs].sort();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const names = process.argv.slice(2);
  const targets: readonly string[] = [...BUNDLES, "policies"];
  const unknown = names.filter((n) => !targets.includes(n));
  if (unknown.length) {
    process.stderr.write(`build: no bundle ${unknown.join(", ")}; the bundles are ${targets.join(", ")}.\n`);
    process.exit(2);
  }
  const commit = gitCommit();
  const wanted = names.length ? names : targets;
  Promise.all(
    wanted.map((n) => (n === "policies" ? buildPolicyPack() : buildBundle(n as BundleName, { commit }))),
  ).then(
    (built) => process.stdout.write(`${built.map((b) => relative(process.cwd(), b.file)).join("\n")}\n`),
    (e: unknown) => {
      process.stderr.write(`build failed: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
