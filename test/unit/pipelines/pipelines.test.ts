import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { PassThrough } from "node:stream";
import yaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { runCli } from "../../../runbooks/cli";
import { EXIT } from "../../../runbooks/commands/common";

const ROOT = "pipelines";

function ymlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? ymlFiles(join(dir, e.name)) : e.name.endsWith(".yml") ? [join(dir, e.name)] : [],
  );
}

type Yaml = unknown;
const load = (file: string) => yaml.load(readFileSync(file, "utf8"), { filename: file }) as Record<string, Yaml>;

/** Every object in a YAML tree (conditional `${{ if }}` keys included), with the file it is in. */
function walk(node: Yaml, visit: (o: Record<string, Yaml>) => void): void {
  if (Array.isArray(node)) for (const n of node) walk(n, visit);
  else if (node && typeof node === "object") {
    visit(node as Record<string, Yaml>);
    for (const v of Object.values(node)) walk(v, visit);
  }
}

/** The `args` given to templates/ferry.yml, under whichever `${{ if }}` branch. */
function ferryArgs(params: Yaml): string[] {
  const out: string[] = [];
  walk(params, (o) => {
    if (typeof o.args === "string") out.push(o.args);
  });
  return out;
}

interface Parameter {
  name: string;
  type?: string;
  default?: Yaml;
  values?: string[];
}

/** The command lines an argument string stands for: one per allowed value of each parameter it uses. */
function expand(args: string, parameters: Parameter[], loopVar?: string): string[] {
  let lines = [args];
  for (const p of parameters) {
    const expr = new RegExp(`\\$\\{\\{\\s*parameters\\.${p.name}\\s*\\}\\}`, "g");
    const values = p.values ?? [typeof p.default === "string" ? p.default : "web-linux"];
    lines = lines.flatMap((l) => (expr.test(l) ? values.map((v) => l.replace(expr, v)) : [l]));
  }
  if (loopVar) lines = lines.map((l) => l.replace(new RegExp(`\\$\\{\\{\\s*${loopVar}\\s*\\}\\}`, "g"), "web-linux"));
  return lines.map((l) => l.replace(/\$\(([A-Za-z.]+)\)/g, "/tmp/$1"));
}

async function parses(line: string): Promise<{ code: number; err: string }> {
  const err = new PassThrough();
  const chunks: Buffer[] = [];
  err.on("data", (c: Buffer) => chunks.push(c));
  const words = line.trim().split(/\s+/);
  // The config does not exist: a command line that parses gets as far as reading it, and no further.
  const code = await runCli([...words, "--config", "/nonexistent/ferry.json", "--log-format", "json"], {
    out: () => undefined,
    logStream: err,
    logIsTty: false,
    env: {},
  });
  return { code, err: Buffer.concat(chunks).toString() };
}

const files = ymlFiles(ROOT);
const pipelines = files.filter((f) => !f.includes("/templates/"));

describe("Azure DevOps pipelines", () => {
  it("are the seven the runbooks need, and every file parses as YAML", () => {
    expect(pipelines.map((f) => relative(ROOT, f)).sort()).toEqual([
      "cleanup.yml",
      "drill.yml",
      "failback.yml",
      "failover.yml",
      "plan.yml",
      "precheck.yml",
      "protect.yml",
    ]);
    for (const f of files) expect(() => load(f), f).not.toThrow();
  });

  it("reference templates that exist, and call only ferry commands and options the CLI has", async () => {
    const calls: { file: string; line: string }[] = [];
    for (const f of pipelines) {
      const doc = load(f);
      const parameters = (doc.parameters ?? []) as Parameter[];
      const loopVar = /\$\{\{\s*each\s+(\w+)\s+in/.exec(readFileSync(f, "utf8"))?.[1];
      walk(doc, (o) => {
        if (typeof o.template !== "string") return;
        const target = join(dirname(f), o.template);
        expect(files, `${f} uses ${o.template}`).toContain(target);
        if (target.endsWith("templates/ferry.yml")) {
          const args = ferryArgs(o.parameters);
          expect(args.length, `${f}: a ferry step without args`).toBeGreaterThan(0);
          for (const a of args) for (const line of expand(a, parameters, loopVar)) calls.push({ file: f, line });
        }
      });
    }
    expect(new Set(calls.map((c) => c.line.split(" ")[0]))).toEqual(
      new Set(["precheck", "failover", "history", "drill", "cleanup", "failback", "plan", "protect"]),
    );
    // Each kind of failover the pipeline offers is a command line of its own.
    const failovers = calls.filter((c) => c.file === join(ROOT, "failover.yml") && c.line.startsWith("failover"));
    expect(new Set(failovers.map((c) => c.line.split(" ")[2]))).toEqual(
      new Set(["--planned", "--unplanned", "--test"]),
    );
    for (const c of calls) {
      const r = await parses(c.line);
      expect(r.code, `${c.file}: ferry ${c.line}\n${r.err}`).toBe(EXIT.usage);
      expect(r.err, `${c.file}: ferry ${c.line}`).toContain("No ferry config at /nonexistent/ferry.json");
    }
    // And the check does catch a command line the CLI refuses.
    expect((await parses("failover web-linux --planned --sideways --yes")).err).toMatch(/Unknown argument: sideways/);
    expect((await parses("drill")).err).toMatch(/ferry drill: name a blueprint, or a plan with --plan <plan>/);
  });

  it("sign in by workload identity federation through a service connection parameter, never a secret", () => {
    const template = load(join(ROOT, "templates/ferry.yml"));
    const tasks: Record<string, Yaml>[] = [];
    walk(template, (o) => {
      if (o.task === "AzureCLI@2") tasks.push(o);
    });
    // One: the step that runs ferry (the task gives it the connection's ids; its CLI session is not used).
    expect(tasks).toHaveLength(1);
    expect((tasks[0]!.inputs as Record<string, string>).azureSubscription).toBe("${{ parameters.serviceConnection }}");
    for (const f of files)
      expect(readFileSync(f, "utf8"), f).not.toMatch(
        /servicePrincipalKey|clientSecret|ARM_CLIENT_SECRET|addSpnToEnvironment/,
      );
    // Pulumi is installed by the pipeline, at a pinned version.
    expect(JSON.stringify(template)).toMatch(/get\.pulumi\.com \| sh -s -- --version/);
  });

  it("give the job's token to the ferry command alone", () => {
    const template = load(join(ROOT, "templates/ferry.yml"));
    const mapping: Record<string, Yaml>[] = [];
    walk(template, (o) => {
      const env = o.env as Record<string, string> | undefined;
      if (env && Object.values(env).some((v) => String(v).includes("System.AccessToken"))) mapping.push(o);
    });
    expect(mapping).toHaveLength(1);
    expect(mapping[0]!.env).toMatchObject({ SYSTEM_ACCESSTOKEN: "$(System.AccessToken)" });
    // The step runs one command, ferry: no other program of the step sees the token.
    const script = String((mapping[0]!.inputs as Record<string, string>).inlineScript).trim();
    expect(script.split("\n")).toHaveLength(1);
    expect(script).toMatch(/^npx ferry \$\{\{ parameters\.args \}\} /);
    for (const f of pipelines) expect(readFileSync(f, "utf8"), f).not.toContain("System.AccessToken");
  });

  it("keep nothing on the agent between runs: the state store is the record", () => {
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      expect(text, f).not.toMatch(/\.ferry\/|FERRY_JOURNAL|journalStorageAccount|download-batch|blob upload/);
    }
  });

  it("let the failover accept an older recovery point in its precheck and its failover alike", () => {
    const failover = load(join(ROOT, "failover.yml"));
    const parameters = (failover.parameters ?? []) as Parameter[];
    expect(parameters.find((p) => p.name === "acceptOlderPoint")).toMatchObject({ type: "boolean", default: false });
    const lines = ferryArgs(failover).map((a) => a.replace(/\s+/g, " ").trim());
    const accepting = lines.filter((l) => l.includes("--accept-older-point"));
    expect(new Set(accepting.map((l) => l.split(" ")[0]))).toEqual(new Set(["precheck", "failover"]));
    // Without the parameter, neither passes the option: the RPO target still fails a stale point.
    expect(lines.filter((l) => !l.includes("--accept-older-point")).map((l) => l.split(" ")[0])).toEqual(
      expect.arrayContaining(["precheck", "failover"]),
    );
  });

  it("protect every blueprint on a push to main that changes a stack file, and one blueprint by hand", () => {
    const protect = load(join(ROOT, "protect.yml"));
    expect(protect.trigger).toMatchObject({
      batch: true,
      branches: { include: ["main"] },
      paths: { include: ["stacks/Pulumi.*.yaml"] },
    });
    expect(protect.pr).toBe("none");
    // A push runs with the parameters' defaults: the default is the branch that protects every blueprint.
    const blueprint = ((protect.parameters ?? []) as Parameter[]).find((p) => p.name === "blueprint")!;
    const steps: Record<string, Yaml>[] = [];
    walk(protect, (o) => {
      if (o.template === "templates/ferry.yml") steps.push(o);
    });
    expect(steps).toHaveLength(1);
    const branches = steps[0]!.parameters as Record<string, Record<string, string>>;
    expect(branches[`\${{ if eq(parameters.blueprint, '${String(blueprint.default)}') }}`]?.args).toBe("protect --all");
    expect(branches["${{ else }}"]?.args).toBe("protect ${{ parameters.blueprint }}");
  });

  it("run a plan up to its manual step, then resume it in a stage behind the approval environment", () => {
    const text = readFileSync(join(ROOT, "plan.yml"), "utf8");
    const deployments: Record<string, Yaml>[] = [];
    walk(load(join(ROOT, "plan.yml")), (o) => {
      if (typeof o.deployment === "string") deployments.push(o);
    });
    expect(deployments.map((d) => [d.deployment, d.environment])).toEqual([
      ["failover", "ferry-failover"],
      ["resume", "ferry-plan-approval"],
    ]);
    // One resume stage per manual step the pipeline is given.
    expect(text).toMatch(
      /\$\{\{ each group in parameters\.manualSteps \}\}:[\s\S]*args: plan resume \$\{\{ parameters\.plan \}\}/,
    );
  });

  it("gate the failover on an approval environment and publish the precheck's JUnit result and the drill report", () => {
    const failover = load(join(ROOT, "failover.yml"));
    const deployments: Record<string, Yaml>[] = [];
    walk(failover, (o) => {
      if (typeof o.deployment === "string") deployments.push(o);
    });
    expect(deployments.map((d) => d.environment)).toEqual(["ferry-failover"]);
    // The failback's complete too, and its sync and complete run on the primary region's appliance.
    const failback = load(join(ROOT, "failback.yml"));
    const fb: Record<string, Yaml>[] = [];
    walk(failback, (o) => {
      if (typeof o.deployment === "string") fb.push(o);
    });
    expect(fb.map((d) => d.environment)).toEqual(["ferry-failback"]);
    const stages = failback.stages as { stage: string; pool: Record<string, string> }[];
    expect(stages.filter((st) => st.stage !== "prepare").map((st) => st.pool.name)).toEqual([
      "${{ parameters.primaryAppliancePool }}",
      "${{ parameters.primaryAppliancePool }}",
    ]);
    for (const f of ["precheck.yml", "failover.yml"]) {
      const publish: Record<string, Yaml>[] = [];
      walk(load(join(ROOT, f)), (o) => {
        if (o.task === "PublishTestResults@2") publish.push(o);
      });
      expect(publish, f).toHaveLength(1);
      expect(publish[0]).toMatchObject({
        condition: "always()",
        inputs: { testResultsFormat: "JUnit", testResultsFiles: "$(Common.TestResultsDirectory)/precheck.xml" },
      });
    }
    const drill = load(join(ROOT, "drill.yml"));
    expect((drill.schedules as { cron: string }[])[0]!.cron).toMatch(/^\S+ \S+ \S+ \S+ \S+$/);
    expect(readFileSync(join(ROOT, "drill.yml"), "utf8")).toMatch(
      /PublishPipelineArtifact@1[\s\S]*condition: always\(\)[\s\S]*drill-report/,
    );
  });
});
