import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../runbooks/commands/common";
import { currentMode } from "../../runbooks/mode";
import { useCliWorld, type CliRun } from "../helpers/cli-world";
import type { DrWorld } from "../helpers/dr-env";
import { tempDir } from "../helpers/emulator";

// `ferry … --plan` and `ferry plan …` as an operator runs them, on a ferry.json whose plans are in a temp repository.

const cli = useCliWorld();
let world: DrWorld;
let repo: string;
let configPath: string;

beforeAll(() => {
  world = cli.world;
  repo = tempDir("ferry-plan-cli-");
  mkdirSync(join(repo, "plans"));
  mkdirSync(join(repo, "hooks"));
  configPath = join(repo, "ferry.json");
  writeFileSync(configPath, JSON.stringify({ ...world.config, plans: { dir: join(repo, "plans"), repoDir: repo } }));
});

const ferry = (...args: string[]): Promise<CliRun> => cli.ferry([...args, "--config", configPath]);

describe("ferry with recovery plans", () => {
  it("prechecks, drills and cleans up a plan: precheck --plan, failover --plan --test, plan status, cleanup --plan", async () => {
    const db = await world.workload("cdb");
    await world.protect(db);
    const web = await world.workload("cweb");
    await world.protect(web);
    writeFileSync(join(repo, "hooks", "ok.mjs"), 'console.log("switched");\n');
    writeFileSync(
      join(repo, "plans", "shop.yaml"),
      [
        "groups:",
        `  - { name: database, blueprints: [${db.stack}] }`,
        `  - { name: web, blueprints: [${web.stack}], after: [{ script: hooks/ok.mjs }] }`,
      ].join("\n"),
    );
    const junit = join(repo, "precheck.xml");
    const pre = await ferry("precheck", "--plan", "shop", "--test", "--junit", junit);
    expect(pre.code).toBe(EXIT.ok);
    expect(pre.out).toMatch(/precheck of plan shop for test: PASSED/);
    expect(readFileSync(junit, "utf8")).toMatch(
      /<testsuites>[\s\S]*ferry precheck plan shop[\s\S]*ferry precheck bp-cweb/,
    );

    const run = await world.whileSyncing(() => ferry("failover", "--plan", "shop", "--test", "--yes"));
    expect(run.code).toBe(EXIT.ok);
    expect(run.out).toMatch(/plan shop, failover-test: succeeded/);
    expect(run.out).toMatch(/web\s+succeeded\s+bp-cweb succeeded .*after hooks\/ok\.mjs exit 0/);

    const status = await ferry("plan", "status", "shop", "--json");
    expect(JSON.parse(status.out)).toMatchObject({ plan: "shop", kind: "failover-test", phase: "succeeded" });

    const clean = await ferry("cleanup", "--plan", "shop", "--yes");
    expect(clean.code).toBe(EXIT.ok);
    expect(await currentMode(world.ctx, db.stack)).toBe("standby");
    expect(await currentMode(world.ctx, web.stack)).toBe("standby");
  });

  it("refuses a blueprint and --plan together, and neither, with exit 2", async () => {
    const both = await ferry("failover", "bp-x", "--plan", "shop", "--test");
    expect(both.code).toBe(EXIT.usage);
    expect(both.err).toMatch(/ferry failover: name a blueprint, or a plan with --plan <plan> \(one of the two\)/);
    expect((await ferry("cleanup")).code).toBe(EXIT.usage);
  });

  it("names the known plans for an unknown one, exit 2", async () => {
    const r = await ferry("plan", "status", "nosuch");
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/There is no plan nosuch in .*plans\//);
  });
});
