#!/usr/bin/env node
// `ferry-sync`: the sync daemon's command. It runs the bundle `npm run build` makes (dist/ferry-sync.mjs;
// `npm ci` builds it too; on the appliance that one file is installed alone). Without one, the TypeScript
// sources run through tsx, compiled at every start. A bundle does not follow later edits of the sources:
// build again after them.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/ferry-sync.mjs", import.meta.url);
if (existsSync(bundle)) {
  await import(bundle.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../sync/cli.ts");
}
