import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { PrivateDnsManagementClient } from "@azure/arm-privatedns";
import { createDefaultHttpClient } from "@azure/core-rest-pipeline";
import { Agent } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isUserError } from "../../core/errors";
import { checkHook, hookAzureFor, runHook, type HookContext, type RunHookOptions } from "../../runbooks/hooks";
import { tempDir, useEmulator } from "../helpers/emulator";
import { createEmptyDisk, createGroup, createNic, createSubnet, createVm } from "@ferry/emulator/testing";

// Hooks run as real child processes (zx under Node), in a repository of their own per file; the example hooks
// run from this repository against a local Azure of the file's own.
const fixture = useEmulator();
const root = resolve(import.meta.dirname, "../..");
const repo = tempDir("ferry-hooks-repo-");
mkdirSync(join(repo, "hooks"));
afterAll(() => rmSync(repo, { recursive: true, force: true }));

let n = 0;
/** Writes a hook script into the test repository and returns its path from the root. */
function hook(body: string): string {
  const script = `hooks/h${++n}.mjs`;
  writeFileSync(join(repo, script), body);
  return script;
}

const context: HookContext = {
  plan: "three-tier",
  group: "web",
  operationId: "op-123",
  kind: "test",
  when: "after",
  vms: [
    {
      blueprint: "bp-web",
      row: "web",
      name: "web-vm",
      id: "/subscriptions/s/resourceGroups/dr/providers/Microsoft.Compute/virtualMachines/web-vm",
      privateIps: ["10.1.0.7"],
      region: "northeurope",
    },
  ],
};

function collect(): { lines: { line: string; stream: string }[]; options: RunHookOptions } {
  const lines: { line: string; stream: string }[] = [];
  return {
    lines,
    options: {
      repoRoot: repo,
      context,
      log: (line, stream) => lines.push({ line, stream }),
      env: { PATH: process.env.PATH },
    },
  };
}

/** The local Azure as ferry's config states it, handed to a hook as ferry hands it. */
const localAzure = () =>
  hookAzureFor({
    subscriptionId: fixture.emu.subscriptionId,
    armEndpoint: fixture.emu.endpoint,
    caCertPath: fixture.emu.caCertPath,
    credential: { kind: "emulator" },
    pollIntervalInMs: 10,
  });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("runHook", () => {
  it("hands the context over as a JSON file named by FERRY_HOOK_CONTEXT_FILE", async () => {
    const script = hook(
      'import { readFileSync } from "node:fs";\n' +
        "console.log(JSON.stringify(JSON.parse(readFileSync(process.env.FERRY_HOOK_CONTEXT_FILE, 'utf8'))));\n",
    );
    const { lines, options } = collect();
    const result = await runHook({ script }, options);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(lines[0]!.line)).toEqual(context);
  });

  it("hands the context over as FERRY_* environment variables", async () => {
    const script = hook(
      "const e = process.env;\n" +
        "console.log(JSON.stringify([e.FERRY_PLAN, e.FERRY_GROUP, e.FERRY_OPERATION_ID, e.FERRY_KIND, e.FERRY_WHEN, " +
        "JSON.parse(e.FERRY_VMS)]));\n",
    );
    const { lines, options } = collect();
    await runHook({ script }, options);
    expect(JSON.parse(lines[0]!.line)).toEqual(["three-tier", "web", "op-123", "test", "after", context.vms]);
  });

  it("gives the hook only allow-listed variables: no connection string, client secret or job token", async () => {
    const script = hook("console.log(Object.keys(process.env).sort().join(' '));\n");
    const { lines, options } = collect();
    await runHook(
      { script },
      {
        ...options,
        env: {
          PATH: process.env.PATH,
          AZURE_CLIENT_ID: "app",
          AZURE_FEDERATED_TOKEN_FILE: "/tmp/token",
          AZURE_CLIENT_SECRET: "s3cret",
          SYSTEM_ACCESSTOKEN: "job-token",
          FERRY_LOCAL_TABLE: "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=k",
        },
      },
    );
    const names = lines[0]!.line.split(" ");
    expect(names).toEqual(expect.arrayContaining(["PATH", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE"]));
    for (const secret of ["AZURE_CLIENT_SECRET", "SYSTEM_ACCESSTOKEN", "FERRY_LOCAL_TABLE"]) {
      expect(names).not.toContain(secret);
    }
  });

  it("passes each output line to the log in order, stdout and stderr apart, and counts them", async () => {
    const script = hook(
      "for (let i = 1; i <= 200; i++) console.log(`line ${i}`);\nconsole.error('a warning');\n" +
        // A child's own output goes through the same pipe.
        'await $({ stdio: ["ignore", "inherit", "inherit"] })`echo from a child`;\n',
    );
    const { lines, options } = collect();
    const result = await runHook({ script }, options);
    const stdout = lines.filter((l) => l.stream === "stdout").map((l) => l.line);
    expect(stdout).toEqual([...Array.from({ length: 200 }, (_, i) => `line ${i + 1}`), "from a child"]);
    expect(lines.filter((l) => l.stream === "stderr").map((l) => l.line)).toEqual(["a warning"]);
    expect(result.outputLines).toBe(202);
  });

  it("redacts SAS signatures and bearer tokens before a line reaches the log", async () => {
    const sas = "https://md-x.blob.core.windows.net/abc/abcd?sv=2018-03-28&sr=b&sig=SECRETSIGNATURE%3D";
    const script = hook(`console.log(${JSON.stringify(`url ${sas}`)});\nconsole.error("Bearer eyJabc.def.ghi");\n`);
    const { lines, options } = collect();
    await runHook({ script }, options);
    const all = lines.map((l) => l.line).join("\n");
    expect(all).not.toContain("SECRETSIGNATURE");
    expect(all).not.toContain("eyJabc");
    expect(all).toContain("https://md-x.blob.core.windows.net/abc/abcd?<redacted>");
  });

  it("reports the script's exit code", async () => {
    const script = hook("console.log('failing');\nprocess.exit(7);\n");
    const { options } = collect();
    const result = await runHook({ script }, options);
    expect(result).toMatchObject({ exitCode: 7, timedOut: false, outputLines: 1 });
  });

  it("stops a hook past its timeout, with the children it started", async () => {
    const pidFile = join(repo, `child-${n + 1}.pid`);
    // A child the script started, in the script's process group.
    const script = hook(
      'import { spawn } from "node:child_process";\nimport { writeFileSync } from "node:fs";\n' +
        'const child = spawn("sleep", ["60"], { stdio: "ignore" });\n' +
        `writeFileSync(${JSON.stringify(pidFile)}, String(child.pid));\nawait sleep(60_000);\n`,
    );
    const { options } = collect();
    const started = Date.now();
    // Long enough for Node and zx to start (about 2 s on a busy machine) and write the pid.
    const result = await runHook({ script, timeoutSeconds: 4 }, { ...options, killGraceInMs: 500 });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBeNull();
    expect(Date.now() - started).toBeLessThan(4000 + 4000);
    const childPid = Number(readFileSync(pidFile, "utf8").trim());
    await expect.poll(() => alive(childPid), { timeout: 3000 }).toBe(false);
  });

  it("stops a hook when the caller aborts (Ctrl-C)", async () => {
    const script = hook("console.log('started');\nawait sleep(60_000);\n");
    const { lines, options } = collect();
    const abort = new AbortController();
    const running = runHook({ script }, { ...options, abortSignal: abort.signal, killGraceInMs: 500 });
    await expect.poll(() => lines.length, { timeout: 10_000 }).toBe(1);
    abort.abort();
    const result = await running;
    expect(result).toMatchObject({ aborted: true, timedOut: false, exitCode: null });
  });

  it("refuses a script outside the repository", async () => {
    const { options } = collect();
    const thrown = await runHook({ script: "../elsewhere.mjs" }, options).catch((e: unknown) => e);
    expect(isUserError(thrown) && thrown.code).toBe("HookOutsideRepository");
  });

  it("refuses a link in the repository that points out of it", async () => {
    const outside = tempDir("ferry-hooks-outside-");
    writeFileSync(join(outside, "x.mjs"), "console.log('outside');\n");
    symlinkSync(join(outside, "x.mjs"), join(repo, "hooks", "link.mjs"));
    const { options } = collect();
    const thrown = await runHook({ script: "hooks/link.mjs" }, options).catch((e: unknown) => e);
    rmSync(outside, { recursive: true, force: true });
    expect(isUserError(thrown) && thrown.code).toBe("HookOutsideRepository");
  });
});

describe("checkHook", () => {
  it("finds nothing wrong with a script that parses", async () => {
    expect(await checkHook({ script: hook("console.log('ok');\n") }, repo)).toEqual([]);
  });

  it("says a missing script is missing", async () => {
    expect(await checkHook({ script: "hooks/none.mjs" }, repo)).toEqual([
      expect.stringContaining("hooks/none.mjs does not exist"),
    ]);
  });

  it("says a script that does not parse does not, with Node's reason", async () => {
    const problems = await checkHook({ script: hook("const = 1;\n") }, repo);
    expect(problems).toEqual([expect.stringMatching(/does not parse: .*SyntaxError/)]);
  });

  it("says a script outside the repository is", async () => {
    expect(await checkHook({ script: "/etc/hostname" }, repo)).toEqual([expect.stringContaining("outside")]);
  });
});

describe("hooks/health-check.mjs", () => {
  let app: Server;
  let healthy = true;
  let port: number;
  beforeAll(async () => {
    app = createServer((req, res) => {
      res.writeHead(req.url === "/health" && healthy ? 200 : 503).end();
    });
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    port = (app.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => app.close(() => r())));

  const args = () => ["--host", "127.0.0.1", "--port", String(port), "--path", "/health", "--interval", "0.2"];

  it("passes (exit 0) when the recovered VM's application answers", async () => {
    healthy = true;
    const lines: string[] = [];
    const result = await runHook(
      { script: "hooks/health-check.mjs", args: [...args(), "--timeout", "10"] },
      { repoRoot: root, context, log: (l) => lines.push(l), env: { PATH: process.env.PATH } },
    );
    expect(result.exitCode).toBe(0);
    expect(lines.join("\n")).toContain("web (web-vm): healthy");
  });

  it("fails (exit 1) within its timeout when the application never answers healthy", async () => {
    healthy = false;
    const lines: string[] = [];
    const result = await runHook(
      { script: "hooks/health-check.mjs", args: [...args(), "--timeout", "2"] },
      { repoRoot: root, context, log: (l) => lines.push(l), env: { PATH: process.env.PATH } },
    );
    expect(result.exitCode).toBe(1);
    // Its own timeout, plus the start of Node and zx (seconds on a busy machine), not a wait without end.
    expect(result.durationMs).toBeLessThan(2000 + 8000);
    expect(lines.join("\n")).toContain("not healthy within 2 s");
  });
});

describe("hooks/dns-switch.mjs", () => {
  let dns: PrivateDnsManagementClient;
  const zone = "contoso.internal";
  let rg = "";
  let k = 0;
  beforeAll(async () => {
    const agent = new Agent({ ca: fixture.emu.caCertPem, keepAlive: true });
    const inner = createDefaultHttpClient();
    dns = new PrivateDnsManagementClient(
      { getToken: async () => ({ token: "t", expiresOnTimestamp: Date.now() + 3_600_000 }) },
      fixture.emu.subscriptionId,
      {
        endpoint: fixture.emu.endpoint,
        credentials: { scopes: [`${fixture.emu.endpoint}/.default`] },
        httpClient: { sendRequest: (r) => ((r.agent ??= agent), inner.sendRequest(r)) },
      },
    );
  });

  /** A zone of its own per test, in a group of its own. */
  async function newZone(): Promise<void> {
    rg = `dns-${++k}`;
    await fixture.azure.resources.resourceGroups.createOrUpdate(rg, { location: "northeurope" });
    await dns.privateZones.createOrUpdate(rg, zone, { location: "global" }).pollUntilDone();
  }

  /** Runs the hook against the local Azure as ferry would: its endpoint, CA and subscription handed over. */
  const switchRecord = (args: string[], lines: string[] = []) =>
    runHook(
      { script: "hooks/dns-switch.mjs", args: ["--resource-group", rg, "--zone", zone, ...args] },
      {
        repoRoot: root,
        context,
        log: (l) => lines.push(l),
        env: { PATH: process.env.PATH },
        azure: localAzure(),
      },
    );

  it("points an existing A record at the recovered VM's private IP", async () => {
    await newZone();
    await dns.recordSets.createOrUpdate(rg, zone, "A", "app", { ttl: 30, aRecords: [{ ipv4Address: "10.0.0.7" }] });
    const lines: string[] = [];
    const result = await switchRecord(["--record", "app", "--row", "web"], lines);
    expect(result.exitCode).toBe(0);
    const record = await dns.recordSets.get(rg, zone, "A", "app");
    expect(record).toMatchObject({ ttl: 30, aRecords: [{ ipv4Address: "10.1.0.7" }] });
    expect(lines.join("\n")).toContain("A app.contoso.internal switched from 10.0.0.7 to 10.1.0.7");
  });

  it("creates the A record when the zone has none", async () => {
    await newZone();
    const result = await switchRecord(["--record", "app", "--ttl", "10"]);
    expect(result.exitCode).toBe(0);
    expect(await dns.recordSets.get(rg, zone, "A", "app")).toMatchObject({
      ttl: 10,
      aRecords: [{ ipv4Address: "10.1.0.7" }],
    });
  });

  it("fails (exit ≠ 0) and says why when the zone does not exist", async () => {
    rg = `dns-${++k}`;
    await fixture.azure.resources.resourceGroups.createOrUpdate(rg, { location: "northeurope" });
    const lines: string[] = [];
    const result = await switchRecord(["--record", "app"], lines);
    expect(result.exitCode).not.toBe(0);
    expect(lines.join("\n")).toContain("ResourceNotFound");
  });

  it("refuses a run without --record (exit 2)", async () => {
    await newZone();
    const result = await switchRecord([]);
    expect(result.exitCode).toBe(2);
  });
});

describe("hooks/health-check.mjs --vm-agent", () => {
  const rg = "agent-rg";
  const vms: Record<string, string> = {};
  beforeAll(async () => {
    await createGroup(fixture.azure, rg, "northeurope");
    const subnet = await createSubnet(fixture.azure, rg, "northeurope", "v", { subnetPrefix: "10.0.1.0/24" });
    for (const name of ["up", "down"]) {
      const vm = await createVm(fixture.azure, rg, "northeurope", name, {
        osDiskId: await createEmptyDisk(fixture.azure, rg, "northeurope", `${name}-os`, 1, { osType: "Linux" }),
        nicId: await createNic(fixture.azure, rg, "northeurope", `${name}-nic`, subnet),
      });
      vms[name] = vm.id!;
    }
    await fixture.azure.compute.virtualMachines.beginDeallocateAndWait(rg, "down");
  });

  const check = (vm: string, lines: string[]) =>
    runHook(
      { script: "hooks/health-check.mjs", args: ["--vm-agent", "--no-http", "--timeout", "3", "--interval", "0.2"] },
      {
        repoRoot: root,
        context: { ...context, vms: [{ ...context.vms[0]!, name: vm, id: vms[vm]! }] },
        log: (l) => lines.push(l),
        env: { PATH: process.env.PATH },
        azure: localAzure(),
      },
    );

  it("passes when the recovered VM's agent reports Ready", async () => {
    const lines: string[] = [];
    expect((await check("up", lines)).exitCode).toBe(0);
    expect(lines.join("\n")).toContain("healthy, its VM agent answered");
  });

  it("fails within its timeout for a VM that is not running", async () => {
    const lines: string[] = [];
    const result = await check("down", lines);
    expect(result.exitCode).toBe(1);
    // Its own timeout, plus the start of Node, zx and the Azure SDK on a busy machine.
    expect(result.durationMs).toBeLessThan(3000 + 8000);
    expect(lines.join("\n")).toContain("last: VM agent Not Ready");
  });
});
