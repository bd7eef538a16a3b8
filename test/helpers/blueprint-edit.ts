import type { DrWorld } from "./dr-env";

/** A blueprint as a test edits it: rows and target as plain records. */
export type EditableBlueprint = { rows: Record<string, unknown>[]; target: { vmSizes: string[] } };

/** Changes a workload's blueprint with `edit` and stores it again in the stack's config. */
export async function editBlueprint<B = EditableBlueprint>(
  world: DrWorld,
  stack: string,
  edit: (b: B) => void,
): Promise<void> {
  const config = await world.ctx.deployer.getConfig(stack);
  const blueprint = config.blueprint as B;
  edit(blueprint);
  await world.ctx.deployer.setConfig(stack, { ...config, blueprint });
}
