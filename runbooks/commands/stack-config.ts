import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../core/errors";
import { contextFor, type CliIo, type GlobalArgs } from "./common";

/** Where a command reads a stack's config: its stack file when there is one, else the deployer's. */
export async function stackConfigOf(
  arg: string,
  args: GlobalArgs,
  io: CliIo,
  options: StackConfigOptions = {},
): Promise<{ stack: string; raw: Record<string, unknown>; from: string }> {
  const { readStackFile } = await import("../../stacks/config");
  if (/\.ya?ml$/i.test(arg)) return { ...readStackFile(arg), from: arg };
  const file = join("stacks", `Pulumi.${arg}.yaml`);
  if (existsSync(file)) return { ...readStackFile(file), from: file };
  if (options.offline) {
    // Offline reads stack files only: ferry.json (and the deployer behind it) is not needed, so not asked for.
    const known = stackFiles().map((f) => f.replace(/^stacks\/Pulumi\./, "").replace(/\.ya?ml$/, ""));
    throw new UserError(
      `There is no stack file ${file}. ${known.length ? `The stack files: ${known.join(", ")}.` : ""} ` +
        "Name a stack of stacks/ or a stack file (--offline reads stack files only).",
      { code: "UnknownBlueprint", details: { known } },
    );
  }
  const ctx = await contextFor(args, io);
  const raw = await ctx.deployer.getConfig(arg);
  if (Object.keys(raw).length === 0) {
    const { unknownBlueprint } = await import("../blueprints");
    throw await unknownBlueprint(ctx, arg);
  }
  return { stack: arg, raw, from: `the ${ctx.config.deployer.kind} deployer's stack ${arg}` };
}

export interface StackConfigOptions {
  /** Read stack files only, never the ferry config or the deployer. Default false. */
  offline?: boolean;
}

/** Every stack file in stacks/ (what `validate` checks when given none). */
export function stackFiles(): string[] {
  if (!existsSync("stacks")) return [];
  return readdirSync("stacks")
    .filter((f) => /^Pulumi\..+\.ya?ml$/.test(f))
    .sort()
    .map((f) => join("stacks", f));
}
