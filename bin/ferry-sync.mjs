#!/usr/bin/env node
// `ferry-sync`: the sync daemon's command, run from its TypeScript sources.
import { register } from "tsx/esm/api";

register();
await import("../sync/cli.ts");
