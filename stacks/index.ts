import * as pulumi from "@pulumi/pulumi";
import { CONFIG_KEYS, parseStackConfig, RETIRED_KEYS } from "./config";
import { ferryProgram } from "./program";

// The edge: Pulumi's Config is read here, once, and everything below works on the parsed object.
const cfg = new pulumi.Config("ferry");
const raw: Record<string, unknown> = {};
for (const [key, shape] of Object.entries(CONFIG_KEYS)) {
  const value = shape === "object" ? cfg.getObject<unknown>(key) : cfg.get(key);
  if (value !== undefined) raw[key] = value;
}
// Read only to be refused: run-time facts come from the state store, never from the stack file.
for (const key of RETIRED_KEYS) {
  const value = cfg.get(key);
  if (value !== undefined) raw[key] = value;
}

/** Everything the stack exposes to runbooks and blueprints, under one output. */
export const outputs = ferryProgram(parseStackConfig(raw, pulumi.getStack()));
