import { readFileSync } from "node:fs";

/** What a fault rule does to a request it matches. */
export type FaultAction =
  /** 429 with Retry-After (seconds) and, when `retryAfterMs` is set, `x-ms-retry-after-ms`. */
  | { kind: "throttle"; retryAfterSeconds?: number; retryAfterMs?: number; code?: string }
  /** An HTTP error answer, e.g. 500 or 503. */
  | { kind: "error"; status: number; code?: string; message?: string }
  /** The long-running operation starts, then ends `Failed` with this error. */
  | { kind: "lroFail"; code?: string; message?: string }
  /** The connection is destroyed after `afterBytes` bytes of the response body (0: before any answer). */
  | { kind: "drop"; afterBytes?: number }
  /** The answer comes `ms` milliseconds late (a slow region or a saturated disk). */
  | { kind: "delay"; ms: number };

export interface FaultMatch {
  /** Azure operation ids, e.g. `Disks_GrantAccess`, `VirtualMachines_CreateOrUpdate`, `Blob_Download`. */
  operation?: string | string[];
  method?: string;
  /** Substring of the request path (case-insensitive). */
  pathIncludes?: string;
  /** Region of the resource the request touches. */
  region?: string;
  plane?: "arm" | "data";
}

export interface FaultRule {
  id?: string;
  match?: FaultMatch;
  action: FaultAction;
  /** Fire this many times, then retire. Default: every time. */
  times?: number;
  /** Let this many matching requests through before firing. Default 0. */
  skip?: number;
}

export interface FaultFile {
  rules?: FaultRule[];
  /** Regions that are down: every control- and data-plane call touching them fails. */
  regionOutages?: string[];
}

export interface RequestFacts {
  operationId: string;
  method: string;
  path: string;
  plane: "arm" | "data";
  region?: string;
}

interface LiveRule extends FaultRule {
  id: string;
  fired: number;
  seen: number;
}

/** Fault injection: rules from a file or added at run time, and whole-region outages. */
export class Faults {
  private rules: LiveRule[] = [];
  private readonly outages = new Set<string>();
  private counter = 0;
  /** Called when a region goes down or comes back (the guests of its VMs go down or come back). */
  onOutageChange?: (region: string) => void;

  constructor(file?: FaultFile) {
    for (const rule of file?.rules ?? []) this.add(rule);
    for (const region of file?.regionOutages ?? []) this.setRegionOutage(region, true);
  }

  static fromFile(path: string): Faults {
    let parsed: FaultFile;
    try {
      parsed = JSON.parse(readFileSync(path, "utf8")) as FaultFile;
    } catch (e) {
      throw new Error(
        `Cannot read the fault file ${path}: ${(e as Error).message}. It must be JSON: {"rules":[…],"regionOutages":[…]}.`,
        { cause: e },
      );
    }
    return new Faults(parsed);
  }

  add(rule: FaultRule): string {
    validateRule(rule);
    const id = rule.id ?? `fault-${++this.counter}`;
    this.rules.push({ ...rule, id, fired: 0, seen: 0 });
    return id;
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length < before;
  }

  clear(): void {
    this.rules = [];
    for (const region of [...this.outages]) this.setRegionOutage(region, false);
  }

  /** How many times each rule has fired. */
  stats(): { id: string; fired: number }[] {
    return this.rules.map((r) => ({ id: r.id, fired: r.fired }));
  }

  setRegionOutage(region: string, down: boolean): void {
    const key = normalizeRegion(region);
    if (down === this.outages.has(key)) return;
    if (down) this.outages.add(key);
    else this.outages.delete(key);
    this.onOutageChange?.(key);
  }

  isRegionDown(region: string | undefined): boolean {
    return region !== undefined && this.outages.has(normalizeRegion(region));
  }

  get regionOutages(): string[] {
    return [...this.outages];
  }

  /**
   * The action for a request, or undefined. Rules that name a region are only considered once the
   * region is known (`facts.region` set); rules without one are considered when it is not.
   */
  check(facts: RequestFacts): FaultAction | undefined {
    for (const rule of this.rules) {
      const m = rule.match ?? {};
      if ((m.region !== undefined) !== (facts.region !== undefined)) continue;
      if (m.region !== undefined && normalizeRegion(m.region) !== normalizeRegion(facts.region!)) continue;
      if (m.plane && m.plane !== facts.plane) continue;
      if (m.method && m.method.toUpperCase() !== facts.method) continue;
      if (m.pathIncludes && !facts.path.toLowerCase().includes(m.pathIncludes.toLowerCase())) continue;
      if (m.operation) {
        const ops = Array.isArray(m.operation) ? m.operation : [m.operation];
        if (!ops.some((o) => o.toLowerCase() === facts.operationId.toLowerCase())) continue;
      }
      if (rule.times !== undefined && rule.fired >= rule.times) continue;
      rule.seen++;
      if (rule.seen <= (rule.skip ?? 0)) continue;
      rule.fired++;
      return rule.action;
    }
    return undefined;
  }
}

export function normalizeRegion(region: string): string {
  return region.replace(/\s+/g, "").toLowerCase();
}

function validateRule(rule: FaultRule): void {
  const kinds = ["throttle", "error", "lroFail", "drop", "delay"];
  if (!rule || typeof rule !== "object" || !rule.action || !kinds.includes(rule.action.kind)) {
    throw new Error(
      `A fault rule needs an action whose kind is one of ${kinds.join(", ")}; got ${JSON.stringify(rule)}.`,
    );
  }
  if (rule.action.kind === "delay" && !(rule.action.ms >= 0)) {
    throw new Error(`A delay fault needs ms ≥ 0; got ${JSON.stringify(rule.action.ms)}.`);
  }
  if (rule.action.kind === "error" && !(rule.action.status >= 400 && rule.action.status <= 599)) {
    throw new Error(`An error fault needs a status between 400 and 599; got ${JSON.stringify(rule.action.status)}.`);
  }
}
