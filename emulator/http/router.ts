import type { IncomingMessage } from "node:http";

/** Path parameters captured by `{name}` segments of a route pattern. */
export type Params = Record<string, string>;

export interface Route<C> {
  method: string;
  /** Segments; `{name}` captures one segment. Literal segments match case-insensitively, as ARM does. */
  segments: string[];
  /** Azure's operation id (e.g. `Disks_CreateOrUpdate`): fault rules and the request log name operations by it. */
  operationId: string;
  /** Query parameter that must be present with this value (e.g. `comp=pagelist`). */
  query?: Record<string, string>;
  handle: (ctx: C, params: Params) => Promise<void> | void;
}

export class Router<C> {
  private readonly routes: Route<C>[] = [];

  add(
    method: string,
    pattern: string,
    operationId: string,
    handle: Route<C>["handle"],
    query?: Record<string, string>,
  ): void {
    this.routes.push({ method, segments: split(pattern), operationId, handle, ...(query ? { query } : {}) });
  }

  /** The first route that matches, or `undefined`; `methodMismatch` tells a known path with another verb. */
  match(req: IncomingMessage, url: URL): { route: Route<C>; params: Params } | { methodMismatch: boolean } {
    const parts = split(url.pathname);
    let methodMismatch = false;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.query && !Object.entries(route.query).every(([k, v]) => url.searchParams.get(k)?.toLowerCase() === v))
        continue;
      if (route.method !== req.method) {
        methodMismatch = true;
        continue;
      }
      return { route, params };
    }
    return { methodMismatch };
  }
}

function split(path: string): string[] {
  return path
    .split("/")
    .filter((s) => s.length > 0)
    .map((s) => decodeURIComponent(s));
}

function matchSegments(pattern: string[], parts: string[]): Params | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const v = parts[i]!;
    if (p.startsWith("{") && p.endsWith("}")) params[p.slice(1, -1)] = v;
    else if (p.toLowerCase() !== v.toLowerCase()) return undefined;
  }
  return params;
}
