import { invalidParameter } from "../errors";

/** Reads of a request body that answer as Azure does when a field is missing or of the wrong type. */
export type Json = Record<string, unknown>;

export function missing(path: string): Error {
  return invalidParameter(`Required parameter '${path}' is missing (null).`);
}

export function invalid(path: string, why?: string): Error {
  return invalidParameter(`The value of parameter ${path} is invalid.${why ? ` ${why}` : ""}`);
}

export function get(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    const rec = cur as Json;
    // ARM property names are case-insensitive on input.
    const found = Object.keys(rec).find((k) => k.toLowerCase() === key.toLowerCase());
    cur = found === undefined ? undefined : rec[found];
  }
  return cur;
}

export function optString(obj: unknown, path: string): string | undefined {
  const v = get(obj, path);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalid(path, "A string is expected.");
  return v;
}

export function reqString(obj: unknown, path: string): string {
  const v = optString(obj, path);
  if (v === undefined || v === "") throw missing(path);
  return v;
}

export function optNumber(obj: unknown, path: string): number | undefined {
  const v = get(obj, path);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw invalid(path, "A number is expected.");
  return v;
}

export function optInteger(obj: unknown, path: string): number | undefined {
  const v = optNumber(obj, path);
  if (v !== undefined && !Number.isInteger(v)) throw invalid(path, "An integer is expected.");
  return v;
}

export function optBoolean(obj: unknown, path: string): boolean | undefined {
  const v = get(obj, path);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw invalid(path, "A boolean is expected.");
  return v;
}

export function optArray(obj: unknown, path: string): unknown[] | undefined {
  const v = get(obj, path);
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw invalid(path, "An array is expected.");
  return v as unknown[];
}

export function optObject(obj: unknown, path: string): Json | undefined {
  const v = get(obj, path);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw invalid(path, "An object is expected.");
  return v as Json;
}

export function optTags(obj: unknown): Record<string, string> | undefined {
  const tags = optObject(obj, "tags");
  if (!tags) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) {
    if (typeof v !== "string") throw invalid(`tags.${k}`, "Tag values are strings.");
    if (k.length > 512 || v.length > 256)
      throw invalid(`tags.${k}`, "Tag names are at most 512 characters and values at most 256.");
    out[k] = v;
  }
  return out;
}

export function oneOf<T extends string>(value: string | undefined, path: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  const hit = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (!hit) throw invalid(path, `Allowed values are: ${allowed.join(", ")}.`);
  return hit;
}
