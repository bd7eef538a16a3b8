import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { JsonFileWriter, JsonText } from "./storage/files";
import type { GrantRecord, OperationRecord, ResourceGroupRecord, ResourceRecord } from "./model";

interface Saved {
  version: 1;
  subscriptionId: string;
  sasSecret: string;
  resourceGroups: ResourceGroupRecord[];
  resources: ResourceRecord[];
  operations: OperationRecord[];
  grants: GrantRecord[];
  snapshotTimes: [string, number[]][];
}

/**
 * Everything the emulator knows, kept in memory and written to `<data>/state.json` (atomically, off the event
 * loop, coalesced) after each change, so a restart with the same data folder finds it again.
 */
export class State {
  readonly resourceGroups = new Map<string, ResourceGroupRecord>();
  readonly resources = new Map<string, ResourceRecord>();
  readonly operations = new Map<string, OperationRecord>();
  readonly grants = new Map<string, GrantRecord>();
  /** Creation times of incremental snapshots per family, for Azure's rate limit. */
  readonly snapshotTimes = new Map<string, number[]>();
  private readonly file: JsonFileWriter;
  /**
   * The JSON of each finished operation. Finished operations make most of the state (a day of them is kept) and
   * never change again (settling is an operation's last change), so each is serialised once, not at every write:
   * with ten failovers at once, serialising the whole state at each change took a fifth of the event loop.
   */
  private readonly finishedJson = new WeakMap<OperationRecord, string>();

  private constructor(
    readonly dataDir: string,
    readonly subscriptionId: string,
    readonly sasSecret: Buffer,
  ) {
    this.file = new JsonFileWriter(join(dataDir, "state.json"), () => this.serialised());
  }

  static load(dataDir: string, subscriptionId?: string): State {
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, "state.json");
    if (!existsSync(path)) {
      // Written by the caller's first save (startEmulator's, before it listens).
      return new State(dataDir, subscriptionId ?? randomUUID(), randomBytes(32));
    }
    const saved = JSON.parse(readFileSync(path, "utf8")) as Saved;
    if (subscriptionId && subscriptionId !== saved.subscriptionId) {
      throw new Error(
        `The data folder ${dataDir} belongs to subscription ${saved.subscriptionId}, not ${subscriptionId}. Use another folder or drop the subscription option.`,
      );
    }
    const state = new State(dataDir, saved.subscriptionId, Buffer.from(saved.sasSecret, "base64"));
    for (const rg of saved.resourceGroups) state.resourceGroups.set(rg.name.toLowerCase(), rg);
    for (const r of saved.resources) state.resources.set(r.id.toLowerCase(), r);
    for (const op of saved.operations) state.operations.set(op.id, op);
    for (const g of saved.grants) state.grants.set(g.id, g);
    for (const [family, times] of saved.snapshotTimes) state.snapshotTimes.set(family, times);
    return state;
  }

  /**
   * Records that the state changed; resolves once `state.json` holds the change. Saves are coalesced (see
   * JsonFileWriter), so calling it after every change is cheap.
   */
  save(): Promise<void> {
    return this.file.save();
  }

  /**
   * Saves without a caller to wait for it (a timer settling an operation): a failed write is reported on standard
   * error, and the next save writes the change again.
   */
  saveInBackground(): void {
    this.save().catch((e: unknown) =>
      process.stderr.write(`ferry emulator: cannot write ${join(this.dataDir, "state.json")}: ${String(e)}\n`),
    );
  }

  /** Resolves once every change saved so far is on disk: an answer that may show a change waits for this. */
  durable(): Promise<void> {
    return this.file.durable();
  }

  /** Whether a saved change is not yet on disk. */
  get dirty(): boolean {
    return this.file.dirty;
  }

  /** {@link serialisable} as JSON, each finished operation's text reused. */
  private serialised(): JsonText {
    const { operations, ...rest } = this.serialisable();
    const ops = operations.map((op) => {
      if (op.status === "InProgress") return JSON.stringify(op);
      let text = this.finishedJson.get(op);
      if (text === undefined) {
        text = JSON.stringify(op);
        this.finishedJson.set(op, text);
      }
      return text;
    });
    // `rest` is an object with keys: its closing brace makes way for the operations.
    return new JsonText(`${JSON.stringify(rest).slice(0, -1)},"operations":[${ops.join(",")}]}`);
  }

  private serialisable(): Saved {
    return {
      version: 1,
      subscriptionId: this.subscriptionId,
      sasSecret: this.sasSecret.toString("base64"),
      resourceGroups: [...this.resourceGroups.values()],
      resources: [...this.resources.values()],
      operations: [...this.operations.values()],
      grants: [...this.grants.values()],
      snapshotTimes: [...this.snapshotTimes.entries()],
    };
  }

  get<K extends ResourceRecord["kind"]>(id: string, kind: K): Extract<ResourceRecord, { kind: K }> | undefined {
    const r = this.resources.get(id.toLowerCase());
    return r && r.kind === kind ? (r as Extract<ResourceRecord, { kind: K }>) : undefined;
  }

  list<K extends ResourceRecord["kind"]>(kind: K, resourceGroup?: string): Extract<ResourceRecord, { kind: K }>[] {
    const out: Extract<ResourceRecord, { kind: K }>[] = [];
    for (const r of this.resources.values()) {
      if (r.kind !== kind) continue;
      if (resourceGroup !== undefined && r.resourceGroup.toLowerCase() !== resourceGroup.toLowerCase()) continue;
      out.push(r as Extract<ResourceRecord, { kind: K }>);
    }
    return out;
  }

  put(r: ResourceRecord): void {
    this.resources.set(r.id.toLowerCase(), r);
  }

  delete(id: string): void {
    this.resources.delete(id.toLowerCase());
  }

  resourceGroup(name: string): ResourceGroupRecord | undefined {
    return this.resourceGroups.get(name.toLowerCase());
  }

  /** Grants on a resource that have not expired. */
  activeGrants(resourceId: string, now: number): GrantRecord[] {
    const key = resourceId.toLowerCase();
    return [...this.grants.values()].filter((g) => g.resourceId.toLowerCase() === key && g.expiresAt > now);
  }
}
