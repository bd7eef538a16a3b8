import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPolicyPack, declaredDependencies, runtimeImports, type BuiltPolicyPack } from "../../policies/build";
import { createFerryPolicies } from "../../policies/pack";

// The policy pack as `pulumi policy publish` ships it: the CLI runs `npm pack` in policies/, and
// whoever runs an update installs that tarball into a folder of its own (`npm install` there) and
// loads its package.json main with require(). Nothing beside the folder exists there.

const run = promisify(execFile);
const repo = join(import.meta.dirname, "../..");
const policiesDir = join(repo, "policies");

/** What the child process reports after loading the pack. */
interface Loaded {
  /** Whether a package the pack must not need (zod) could be resolved from the copy: it must not. */
  zodReachable: boolean;
  name: string;
  policies: { name: string; enforcementLevel?: string }[];
}

// Runs in the copy: PolicyPack is replaced before the entry loads, since constructing the real one
// starts the engine's gRPC server. The entry reads PolicyPack from @pulumi/policy when it runs.
const LOAD = `
const policy = require("@pulumi/policy/policy");
let zodReachable = true;
try { require.resolve("zod"); } catch { zodReachable = false; }
policy.PolicyPack = class {
  constructor(name, args) {
    const policies = args.policies.map((p) => ({ name: p.name, enforcementLevel: p.enforcementLevel }));
    process.stdout.write(JSON.stringify({ zodReachable, name, policies }));
  }
};
require("./");
`;

describe("the policy pack as a package of its own", () => {
  let tmp: string;
  let copy: string;
  let built: BuiltPolicyPack;

  beforeAll(async () => {
    // Outside the repository: no node_modules or ../core above it.
    tmp = mkdtempSync(join(tmpdir(), "ferry-pack-"));
    copy = join(tmp, "policies");
    built = await buildPolicyPack({ outFile: join(copy, "dist", "index.cjs") });
    for (const f of ["package.json", "PulumiPolicy.yaml"]) copyFileSync(join(policiesDir, f), join(copy, f));
    // Only the packages policies/package.json declares, as `npm install` in the copy would put them.
    mkdirSync(join(copy, "node_modules", "@pulumi"), { recursive: true });
    for (const dep of declaredDependencies())
      symlinkSync(join(repo, "node_modules", dep), join(copy, "node_modules", dep));
  });

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("imports at run time only packages its own package.json declares, and not azure-native", () => {
    const imports = runtimeImports(built);
    expect(imports).toEqual(["@pulumi/policy"]);
    for (const pkg of imports) expect(declaredDependencies()).toContain(pkg);
    expect(declaredDependencies()).not.toContain("@pulumi/azure-native");
  });

  it("bundles what it shares with the program and the domain (core/, stacks/plan.ts, zod)", () => {
    const inputs = Object.keys(built.metafile.inputs).map((i) => relative(repo, join(policiesDir, i)));
    expect(inputs).toEqual(
      expect.arrayContaining(["core/errors.ts", "stacks/plan.ts", "policies/facts.ts", "policies/pack.ts"]),
    );
    expect(inputs.some((i) => i.startsWith("node_modules/zod/"))).toBe(true);
  });

  it("loads from a copy of its folder alone and registers exactly the rules of createFerryPolicies()", async () => {
    const env = { ...process.env };
    delete env.NODE_PATH;
    const { stdout } = await run(process.execPath, ["-e", LOAD], { cwd: copy, env });
    const loaded = JSON.parse(stdout) as Loaded;
    expect(loaded.zodReachable).toBe(false);
    expect(loaded.name).toBe("ferry");
    expect(loaded.policies).toEqual(
      createFerryPolicies().map((p) => ({ name: p.name, enforcementLevel: p.enforcementLevel })),
    );
  });

  it("packs (npm pack, as pulumi policy publish does) only files inside its folder, the built entry included", async () => {
    // Runs the folder's prepack, which builds policies/dist/index.cjs in place.
    const { stdout } = await run("npm", ["pack", "--dry-run", "--json"], { cwd: policiesDir });
    // The prepack's own output comes first; npm's JSON report starts at a line "[".
    const report = JSON.parse(stdout.slice(stdout.search(/^\[/m))) as { files: { path: string }[] }[];
    const files = report[0]!.files.map((f) => f.path).sort();
    expect(files).toEqual(["PulumiPolicy.yaml", "README.md", "dist/index.cjs", "package.json"]);
  });
});
