import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isUserError } from "../../core/errors";
import type { RunbookContext } from "../../runbooks/context";
import { formatPlanRun } from "../../runbooks/commands/plan";
import { latestPlanRun, planPartition, resumePlan, runPlan } from "../../runbooks/plan";
import { useDrWorld, type DrWorld, type Workload } from "../helpers/dr-env";
import { tempDir } from "../helpers/emulator";

// Recovery plans against the local Azure: groups in order behind their gates, hooks with the recovered
// VMs, a stopped plan resumed, a manual step approved. Hooks are plain Node scripts in a temp repository.

const env = useDrWorld();
let world: DrWorld;

beforeAll(() => {
  world = env.world;
});

/** The context of a test: its own plans folder and hook repository (a temp folder). */
function planContext(): { ctx: RunbookContext; repo: string } {
  const repo = tempDir("ferry-plan-repo-");
  mkdirSync(join(repo, "plans"));
  mkdirSync(join(repo, "hooks"));
  const ctx = { ...world.ctx, config: { ...world.ctx.config, plans: { dir: join(repo, "plans"), repoDir: repo } } };
  return { ctx, repo };
}

/** A hook printing its context (from the environment or the file the hook runner names) and exiting `code`. */
function writeHook(repo: string, name: string, code: number): void {
  writeFileSync(
    join(repo, "hooks", name),
    [
      'import { readFileSync } from "node:fs";',
      "const raw = process.env.FERRY_HOOK_CONTEXT ?? readFileSync(process.env.FERRY_HOOK_CONTEXT_FILE, 'utf8');",
      "const c = JSON.parse(raw);",
      `console.log("hook ${name} " + JSON.stringify({ group: c.group, when: c.when, kind: c.kind, vms: c.vms }));`,
      `process.exit(${code});`,
      "",
    ].join("\n"),
  );
}

async function protectedWorkloads(prefix: string, names: string[], os = false): Promise<Workload[]> {
  // One at a time: each is a stack update of the local deployer.
  const ws: Workload[] = [];
  for (const n of names) {
    const w = await world.workload(`${prefix}${n}`, os ? { readiness: { os: true, timeoutSeconds: 60 } } : {});
    await world.protect(w);
    ws.push(w);
  }
  return ws;
}

/** When each VM of a blueprint operation was created (ms since the epoch, no later than it was). */
async function vmCreatedAt(ctx: RunbookContext, blueprint: string, operationId: string): Promise<number[]> {
  const op = (await ctx.journal.get(blueprint, operationId))!;
  return (op.events ?? [])
    .filter((e) => e.resource === "VM" && e.action === "created")
    .map((e) => Date.parse(op.startedAt) + e.atSeconds * 1000);
}

describe("recovery plans", () => {
  it("fails over group after group: no VM of a group is created before the previous group's gate passed", async () => {
    const { ctx, repo } = planContext();
    const [db, app, web] = await protectedWorkloads("o", ["db", "app", "web"], true);
    writeHook(repo, "health.mjs", 0);
    writeHook(repo, "dns.mjs", 0);
    writeFileSync(
      join(repo, "plans", "shop.yaml"),
      [
        "groups:",
        `  - { name: database, blueprints: [${db!.stack}], gate: { kind: hook, script: hooks/health.mjs } }`,
        `  - { name: application, blueprints: [${app!.stack}], gate: { kind: osReady } }`,
        `  - { name: web, blueprints: [${web!.stack}], after: [{ script: hooks/dns.mjs }] }`,
      ].join("\n"),
    );
    const { state } = await world.whileSyncing(() => runPlan(ctx, "shop", { kind: "failover-test" }));
    expect(state.phase).toBe("succeeded");
    for (const [n, next] of [
      [0, 1],
      [1, 2],
    ] as const) {
      const gatePassed = Date.parse(state.groups[n]!.gate!.endedAt!);
      const m = state.groups[next]!.members[0]!;
      const created = await vmCreatedAt(ctx, m.blueprint, m.operationId!);
      expect(created.length).toBe(1);
      expect(Math.min(...created)).toBeGreaterThanOrEqual(gatePassed);
    }
  });

  it("hands an after hook the group's recovered VMs: name, id, private IP, region", async () => {
    const { ctx, repo } = planContext();
    const [web] = await protectedWorkloads("h", ["web"]);
    writeHook(repo, "dns.mjs", 0);
    writeFileSync(
      join(repo, "plans", "web.yaml"),
      `groups:\n  - { name: web, blueprints: [${web!.stack}], after: [{ script: hooks/dns.mjs }] }\n`,
    );
    const { state, op } = await world.whileSyncing(() => runPlan(ctx, "web", { kind: "failover-test" }));
    expect(state.groups[0]!.hooks[0]).toMatchObject({ when: "after", passed: true, result: { exitCode: 0 } });
    const line = world.logLines.find((l) => l.includes(op.id) && l.includes("hook dns.mjs {"))!;
    const printed = JSON.parse(/hook dns\.mjs (\{.*\})/.exec(JSON.parse(line).msg as string)![1]!) as {
      kind: string;
      vms: { blueprint: string; row: string; name: string; id: string; privateIps: string[]; region: string }[];
    };
    expect(printed.kind).toBe("test");
    expect(printed.vms).toEqual([
      {
        blueprint: web!.stack,
        row: web!.vm,
        name: `${web!.vm}-test`,
        id: expect.stringMatching(new RegExp(`/virtualMachines/${web!.vm}-test$`, "i")) as unknown,
        privateIps: [expect.stringMatching(/^10\.99\./) as unknown],
        region: "northeurope",
      },
    ]);
  });

  it("stops at a failing hook with onFailure stop, resumable; resume after the fix completes without re-running what succeeded", async () => {
    const { ctx, repo } = planContext();
    const [a, b] = await protectedWorkloads("s", ["a", "b"]);
    writeHook(repo, "flaky.mjs", 3);
    writeFileSync(
      join(repo, "plans", "p.yaml"),
      [
        "groups:",
        `  - { name: first, blueprints: [${a!.stack}], after: [{ script: hooks/flaky.mjs, onFailure: stop }] }`,
        `  - { name: second, blueprints: [${b!.stack}] }`,
      ].join("\n"),
    );
    const failed = await world
      .whileSyncing(() => runPlan(ctx, "p", { kind: "failover-test" }))
      .catch((e: unknown) => e as Error);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toMatch(
      /after hook hooks\/flaky\.mjs of group first exited 3[\s\S]*plan resume p/,
    );
    const stopped = (await latestPlanRun(ctx, "p"))!.state;
    expect(stopped.phase).toBe("failed");
    expect(stopped.groups.map((g) => g.status)).toEqual(["failed", "notStarted"]);
    const firstOp = stopped.groups[0]!.members[0]!.operationId;

    writeHook(repo, "flaky.mjs", 0);
    const { state } = await world.whileSyncing(() => resumePlan(ctx, "p"));
    expect(state.phase).toBe("succeeded");
    expect(state.groups.map((g) => g.status)).toEqual(["succeeded", "succeeded"]);
    expect(state.groups[0]!.members[0]!.operationId).toBe(firstOp);
    expect(state.operations).toHaveLength(2);
  });

  it("waits at a manual step: a re-run is refused, resume records who approved and goes on", async () => {
    const { ctx } = planContext();
    const [a, b] = await protectedWorkloads("m", ["a", "b"]);
    writeFileSync(
      join((ctx.config.plans as { dir: string }).dir, "m.yaml"),
      [
        "groups:",
        `  - name: first`,
        `    blueprints: [${a!.stack}]`,
        `    manualStep: { waitFor: approval, message: check the database replicas }`,
        `  - { name: second, blueprints: [${b!.stack}] }`,
      ].join("\n"),
    );
    const first = await world.whileSyncing(() => runPlan(ctx, "m", { kind: "failover-test" }));
    expect(first.state.phase).toBe("awaitingApproval");
    expect(first.state.groups[1]!.status).toBe("notStarted");
    const again = await runPlan(ctx, "m", { kind: "failover-test" }).catch((e: unknown) => e);
    expect(isUserError(again) && again.code).toBe("AwaitingApproval");

    const { state } = await world.whileSyncing(() => resumePlan(ctx, "m", { approvedBy: "alice" }));
    expect(state.phase).toBe("succeeded");
    expect(state.groups[0]!.approval).toMatchObject({ by: "alice", message: "check the database replicas" });
  });

  it("records a run stopped at a manual step as waiting: neither succeeded nor failed", async () => {
    const { ctx } = planContext();
    const [a, b] = await protectedWorkloads("w", ["a", "b"]);
    writeFileSync(
      join((ctx.config.plans as { dir: string }).dir, "w.yaml"),
      [
        "groups:",
        `  - name: first`,
        `    blueprints: [${a!.stack}]`,
        `    manualStep: { waitFor: approval, message: check the replicas }`,
        `  - { name: second, blueprints: [${b!.stack}] }`,
      ].join("\n"),
    );
    const { op } = await world.whileSyncing(() => runPlan(ctx, "w", { kind: "failover-test" }));
    const recorded = (await ctx.journal.get(planPartition("w"), op.id))!;
    expect({ status: recorded.status, phase: recorded.phase }).toEqual({
      status: "waiting",
      phase: "awaitingApproval",
    });
    const latest = (await latestPlanRun(ctx, "w"))!;
    expect(formatPlanRun(latest.state, latest.op).split("\n")[0]).toBe(
      `plan w, failover-test: waiting, awaitingApproval (${op.id})`,
    );
  });

  it("fails over the blueprints of one group at once, each into its own stack", async () => {
    const { ctx } = planContext();
    const [a, b] = await protectedWorkloads("c", ["a", "b"]);
    writeFileSync(
      join((ctx.config.plans as { dir: string }).dir, "c.yaml"),
      `groups:\n  - { name: both, concurrency: 2, blueprints: [${a!.stack}, ${b!.stack}] }\n`,
    );
    const { state } = await world.whileSyncing(() => runPlan(ctx, "c", { kind: "failover-test" }));
    expect(state.groups[0]!.members.map((m) => m.status)).toEqual(["succeeded", "succeeded"]);
    for (const [m, w] of [
      [state.groups[0]!.members[0]!, a!],
      [state.groups[0]!.members[1]!, b!],
    ] as const) {
      const op = (await ctx.journal.get(m.blueprint, m.operationId!))!;
      expect(op.rto.map((r) => r.vm)).toEqual([`${w.vm}-test`]);
    }
  });

  it("refuses a plan naming an unknown blueprint, an unknown row and a missing hook, each with its key", async () => {
    const { ctx } = planContext();
    const [a] = await protectedWorkloads("v", ["a"]);
    writeFileSync(
      join((ctx.config.plans as { dir: string }).dir, "bad.yaml"),
      [
        "groups:",
        `  - { name: one, blueprints: [bp-nosuch, { blueprint: ${a!.stack}, rows: [nosuchrow] }] }`,
        `  - { name: two, blueprints: [${a!.stack}x], before: [{ script: hooks/missing.mjs }] }`,
      ].join("\n"),
    );
    const e = await runPlan(ctx, "bad", { kind: "failover-test" }).catch((x: unknown) => x);
    expect(isUserError(e) && e.code).toBe("InvalidPlan");
    const message = (e as Error).message;
    expect(message).toMatch(/groups\[0\]\.blueprints\[0\]: There is no blueprint bp-nosuch/);
    expect(message).toMatch(/groups\[0\]\.blueprints\[1\]\.rows: nosuchrow is not a row of blueprint/);
    expect(message).toMatch(/group two, before hook hooks\/missing\.mjs: .*missing|does not exist/);
  });
});
