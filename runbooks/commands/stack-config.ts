import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { contextFor, type CliIo, type GlobalArgs } from "./common";

/** Where a command reads a stack's config: its stack file when there is one, else the deployer's. */
export async function stackConfigOf(
  arg: string,
  args: GlobalArgs,
  io: CliIo,
): Promise<{ stack: string; raw: Record<string, unknown>; from: string }> {
  const { readStackFile } = await import("../../stacks/config");
  if (/\.ya?ml$/i.test(arg)) return { ...readStackFile(arg), from: arg };
  const file = join("stacks", `Pulumi.${arg}.yaml`);
  if (existsSync(file)) return { ...readStackFile(file), from: file };
  const ctx = await contextFor(args, io);
  return {
    stack: arg,
    raw: await ctx.deployer.getConfig(arg),
    from: `the ${ctx.config.deployer.kind} deployer's stack ${arg}`,
  };
}

/** Every stack file in stacks/ (what `validate` checks when given none). */
export function stackFiles(): string[] {
  if (!existsSync("stacks")) return [];
  return readdirSync("stacks")
    .filter((f) => /^Pulumi\..+\.ya?ml$/.test(f))
    .sort()
    .map((f) => join("stacks", f));
}
