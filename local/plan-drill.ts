import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { drillPlan } from "../runbooks/drill";
import type { DrillResult } from "../runbooks/drill";
import type { RunbookContext } from "../runbooks/context";
import type { LocalWorld } from "./world";

/** Options for {@link runLocalPlanDrill}. */
export interface LocalPlanDrillOptions {
  world: LocalWorld;
  /** A folder of the drill's own (the plan file goes to `<dir>/plans`). */
  dir: string;
  reportDir: string;
  speedup: number;
  print: (line: string) => void;
}

/**
 * `npm run drill -- --plan`: a plan of three groups — a database, an application and a web blueprint, one VM each —
 * drilled by `ferry drill --plan`: the database behind an OS-ready gate, the application behind a health-check hook
 * gate, and a DNS hook after the web tier. Hooks are the stand-ins in test/fixtures/hooks/ (the repository's own
 * hooks/ replace them once they work against the local Azure).
 */
export async function runLocalPlanDrill(o: LocalPlanDrillOptions): Promise<DrillResult> {
  const { world } = o;
  const stacks: string[] = [];
  for (const tier of ["db", "app", "web"]) {
    const w = await world.workload(tier, { readiness: { os: true, timeoutSeconds: 600 } });
    o.print(`        ${w.stack}: VM ${w.vm}, protecting`);
    await world.protect(w, 600_000);
    stacks.push(w.stack);
  }
  const plans = join(o.dir, "plans");
  mkdirSync(plans, { recursive: true });
  writeFileSync(
    join(plans, "three-tier.yaml"),
    [
      "description: The local drill's three tiers.",
      "groups:",
      `  - { name: database, blueprints: [${stacks[0]}], gate: { kind: osReady } }`,
      `  - name: application`,
      `    blueprints: [${stacks[1]}]`,
      `    gate: { kind: hook, script: test/fixtures/hooks/health-check.mjs, timeoutSeconds: 60 }`,
      `  - name: web`,
      `    blueprints: [${stacks[2]}]`,
      `    after: [{ script: test/fixtures/hooks/dns-switch.mjs, timeoutSeconds: 60 }]`,
      "",
    ].join("\n"),
  );
  // The hooks are the repository's: ferry runs at its root, as in a pipeline.
  const ctx: RunbookContext = {
    ...world.ctx,
    config: { ...world.ctx.config, plans: { dir: plans, repoDir: resolve(".") } },
  };
  // The daemon rests between the cycles it was given (protect): no disk is torn mid-apply when the precheck reads it,
  // and each failover's pause finds every disk at an apply boundary.
  return drillPlan(ctx, "three-tier", {
    reportDir: o.reportDir,
    emulation: { profile: "azure", speedup: o.speedup },
    onStep: (name, ok, secs, detail) =>
      o.print(ok ? `  ok    ${name} (${secs.toFixed(1)} s)` : `  FAIL  ${name}: ${detail ?? ""}`),
  });
}
