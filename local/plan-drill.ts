import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { drillPlan } from "../runbooks/drill";
import type { DrillResult } from "../runbooks/drill";
import type { RunbookContext } from "../runbooks/context";
import { DR, type LocalWorld } from "./world";

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
 * gate, and a DNS hook after the web tier. The hooks are the repository's examples, against the local Azure:
 * hooks/health-check.mjs waits for the application tier's VM agent (the emulator's guests serve no HTTP), and
 * hooks/dns-switch.mjs points `web.drill.internal`, a Private DNS record in the DR group, at the web tier's VM.
 */
const DNS_ZONE = "drill.internal";

export async function runLocalPlanDrill(o: LocalPlanDrillOptions): Promise<DrillResult> {
  const { world } = o;
  const stacks: string[] = [];
  for (const tier of ["db", "app", "web"]) {
    const w = await world.workload(tier, { readiness: { os: true, timeoutSeconds: 600 } });
    o.print(`        ${w.stack}: VM ${w.vm}, protecting`);
    await world.protect(w, 600_000);
    stacks.push(w.stack);
  }
  // The zone the DNS hook switches a record in (a drill's own: a real plan's test run would name a test zone).
  const zoneId =
    `/subscriptions/${world.ctx.azure.subscriptionId}/resourceGroups/${DR.rg}` +
    `/providers/Microsoft.Network/privateDnsZones/${DNS_ZONE}`;
  // The by-id operations take the id without its leading "/" (their path is "/{resourceId}").
  await world.ctx.azure.resources.resources.beginCreateOrUpdateByIdAndWait(
    zoneId.slice(1),
    "2024-06-01",
    { location: "global" },
    world.ctx.poll,
  );
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
      "    gate:",
      "      kind: hook",
      "      script: hooks/health-check.mjs",
      '      args: ["--vm-agent", "--no-http", "--timeout", "300"]',
      "      timeoutSeconds: 360",
      `  - name: web`,
      `    blueprints: [${stacks[2]}]`,
      "    after:",
      "      - script: hooks/dns-switch.mjs",
      `        args: ["--resource-group", "${DR.rg}", "--zone", "${DNS_ZONE}", "--record", "web"]`,
      "        timeoutSeconds: 120",
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
  const result = await drillPlan(ctx, "three-tier", {
    reportDir: o.reportDir,
    emulation: { profile: "azure", speedup: o.speedup },
    onStep: (name, ok, secs, detail) =>
      o.print(ok ? `  ok    ${name} (${secs.toFixed(1)} s)` : `  FAIL  ${name}: ${detail ?? ""}`),
  });
  // What the DNS hook left: the record's addresses, read back through ARM.
  const record = await world.ctx.azure.resources.resources
    .getById(`${zoneId.slice(1)}/A/web`, "2024-06-01")
    .then((r) => (r.properties as { aRecords?: { ipv4Address?: string }[] } | undefined)?.aRecords ?? [])
    .catch(() => []);
  o.print(`        web.${DNS_ZONE} → ${record.map((a) => a.ipv4Address).join(", ") || "(no record)"}`);
  return result;
}
