import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { describe, expect, it } from "vitest";
import { isUserError } from "../../../core/errors";
import { createLogger } from "../../../core/logger";
import { exitCodeOf } from "../../../runbooks/cli";
import { PulumiDeployer } from "../../../runbooks/deployers/pulumi";
import { tempDir } from "../../helpers/emulator";
import { thrownBy } from "../../helpers/errors";

type Policy = { level: "mandatory" | "advisory"; message: string };

/**
 * A stand-in for the Automation API's Stack where the Pulumi CLI is absent: it reports the given
 * policy events as the engine does, fails a preview or an update on a mandatory one as the CLI
 * does, and records what was called.
 */
function fakeStack(policies: { preview?: Policy[]; up?: Policy[] }) {
  const calls: string[] = [];
  const emit = (list: Policy[] | undefined, onEvent?: (e: EngineEvent) => void) => {
    for (const p of list ?? [])
      onEvent?.({
        sequence: 0,
        timestamp: 0,
        policyEvent: {
          message: p.message,
          color: "never",
          policyName: "ferry-failover-precheck-passed",
          policyPackName: "ferry",
          policyPackVersion: "0.1.0",
          policyPackVersionTag: "0.1.0",
          enforcementLevel: p.level,
          resourceUrn: "urn:pulumi:web::ferry::ferry:dr:RecoveredVm$azure-native:compute:VirtualMachine::web1",
        },
      } as EngineEvent);
    if (list?.some((p) => p.level === "mandatory")) throw new Error("code: 255, stderr: error: policy violation");
  };
  const stack = {
    setAllConfig: async () => void calls.push("setAllConfig"),
    preview: async (o: { onEvent?: (e: EngineEvent) => void; policyPacks?: string[] }) => {
      calls.push(`preview ${o.policyPacks?.join(",")}`);
      emit(policies.preview, o.onEvent);
      return { changeSummary: { create: 4 }, stdout: "", stderr: "" };
    },
    up: async (o: { onEvent?: (e: EngineEvent) => void }) => {
      calls.push("up");
      emit(policies.up, o.onEvent);
      return { summary: { version: 7, resourceChanges: { create: 4 } }, outputs: {}, stdout: "", stderr: "" };
    },
  };
  return { calls, stack: stack as unknown as Stack };
}

/** A project folder whose policy pack is built (`built: false`: its entry is missing). */
function project(built = true): string {
  const workDir = tempDir("ferry-pulumi-deployer-");
  const pack = join(workDir, "policies");
  mkdirSync(join(pack, "dist"), { recursive: true });
  writeFileSync(join(pack, "package.json"), JSON.stringify({ name: "@ferry/policies", main: "dist/index.cjs" }));
  if (built) writeFileSync(join(pack, "dist", "index.cjs"), "");
  return workDir;
}

const deployerOn = (stack: Stack, workDir = project()) =>
  new PulumiDeployer({
    workDir,
    logger: createLogger({ level: "silent" }),
    openStack: async () => stack,
  });

describe("the Pulumi deployer's gate", () => {
  it("previews with the pack before every update", async () => {
    const { calls, stack } = fakeStack({ preview: [{ level: "advisory", message: "Prefer fromSnapshot." }] });
    const r = await deployerOn(stack).up("web", { message: "failover web op-1" });
    // No config to set: a blueprint's mode and points are the state store's, read by the program.
    expect(calls.map((c) => c.replace(/ \/.*\/policies$/, " <project>/policies"))).toEqual([
      "preview <project>/policies",
      "up",
    ]);
    expect(r.version).toBe(7);
  });

  it("refuses on a mandatory violation in the preview, before up, with exit 3", async () => {
    const { calls, stack } = fakeStack({ preview: [{ level: "mandatory", message: "No precheck facts." }] });
    const e = await thrownBy(deployerOn(stack).up("web", { message: "failover web op-1" }));
    expect(calls).not.toContain("up");
    expect(isUserError(e)).toBe(true);
    expect(exitCodeOf(e)).toBe(3);
    expect(e.message).toContain("nothing was changed");
    expect(e.message).toContain("[ferry-failover-precheck-passed] No precheck facts.");
  });

  it("turns a refusal the engine makes during the update into the same typed refusal", async () => {
    const { stack } = fakeStack({ up: [{ level: "mandatory", message: "Facts are stale." }] });
    const e = await thrownBy(deployerOn(stack).up("web", { message: "failover web op-1" }));
    expect(exitCodeOf(e)).toBe(3);
    expect(e.message).toContain("during the update");
  });

  it("returns a preview's violations rather than throwing them", async () => {
    const { stack } = fakeStack({ preview: [{ level: "mandatory", message: "No precheck facts." }] });
    const r = await deployerOn(stack).preview("web", {});
    expect(r.violations.map((v) => [v.enforcementLevel, v.message])).toEqual([["mandatory", "No precheck facts."]]);
  });

  it("refuses an update while the pack's entry is not built, saying to build it", async () => {
    const { calls, stack } = fakeStack({});
    const e = await thrownBy(deployerOn(stack, project(false)).up("web", { message: "failover" }));
    expect(isUserError(e)).toBe(true);
    expect(e.message).toContain("dist/index.cjs is missing");
    expect(e.message).toContain("npm run build");
    expect(calls.filter((c) => c !== "setAllConfig")).toEqual([]);
  });
});

describe("the Pulumi deployer's stacks", () => {
  it("lists the stack config files with their ferry:kind, read without the Pulumi CLI", async () => {
    const workDir = project();
    mkdirSync(join(workDir, "stacks"));
    writeFileSync(join(workDir, "stacks", "Pulumi.web.yaml"), "config:\n  ferry:kind: blueprint\n");
    writeFileSync(join(workDir, "stacks", "Pulumi.lz.yaml"), "config:\n  ferry:kind: landing-zone\n");
    writeFileSync(join(workDir, "stacks", "Pulumi.bare.yaml"), "config: {}\n");
    writeFileSync(join(workDir, "stacks", "notes.md"), "not a stack");
    const deployer = new PulumiDeployer({ workDir, logger: createLogger({ level: "silent" }) });
    expect(await deployer.stacks()).toEqual([
      { name: "bare" },
      { name: "lz", kind: "landing-zone" },
      { name: "web", kind: "blueprint" },
    ]);
  });
});
