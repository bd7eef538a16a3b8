#!/usr/bin/env node
// `ferry`: the runbooks' command. It runs the bundle `npm run build` makes (dist/ferry.mjs; `npm ci` builds
// it too), which starts in a fraction of the time. Without one, the TypeScript sources run through tsx,
// compiled at every start. A bundle does not follow later edits of the sources: build again after them.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/ferry.mjs", import.meta.url);
if (existsSync(bundle)) {
  await import(bundle.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../runbooks/main.ts");
}
