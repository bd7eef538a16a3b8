import { randomBytes } from "node:crypto";

/** Options of {@link SnapshotGroup}. */
export interface SnapshotGroupOptions {
  /** How long the first member to arrive waits for the others, in milliseconds. Default 5000. */
  timeoutInMs?: number;
}

/**
 * The disks of one blueprint row whose source snapshots the daemon requests together, so that their times differ
 * as little as Azure allows: each member's cycle calls {@link SnapshotGroup.arrive} just before it asks for its
 * snapshot, and all go when every member has arrived (or left: a cycle that ends without a snapshot), or when the
 * first has waited `timeoutInMs` (a member that is slow to reach that point must not hold the others up for
 * long). The group id names the row-level recovery point (`DrPoint.group`).
 */
export class SnapshotGroup {
  readonly id: string;
  private readonly pending: Set<string>;
  private readonly arrived = new Set<string>();
  private readonly times = new Map<string, number>();
  private released = false;
  private release!: () => void;
  private readonly gate: Promise<void>;
  private timer: NodeJS.Timeout | undefined;
  private readonly timeoutInMs: number;

  constructor(id: string, members: Iterable<string>, options: SnapshotGroupOptions = {}) {
    this.id = id;
    this.pending = new Set([...members].map((m) => m.toLowerCase()));
    this.timeoutInMs = options.timeoutInMs ?? 5000;
    this.gate = new Promise<void>((resolve) => (this.release = resolve));
  }

  /**
   * Resolves when the member may take its snapshot: every member is there, or the wait is over. False for a member
   * that came after the others went (or was never one): its point is its own, not the group's.
   */
  async arrive(member: string): Promise<boolean> {
    const m = member.toLowerCase();
    if (this.released || !this.pending.delete(m)) return false;
    this.arrived.add(m);
    this.timer ??= setTimeout(() => this.open(), this.timeoutInMs);
    this.timer.unref();
    this.check();
    await this.gate;
    return true;
  }

  /** The member's snapshot exists: its time (ISO 8601) counts in the spread. */
  report(member: string, createdAt: string): void {
    const m = member.toLowerCase();
    if (this.arrived.delete(m)) this.times.set(m, Date.parse(createdAt));
  }

  /** The member will not take a snapshot in this group (its cycle ended, failed, or re-applies an old point). */
  leave(member: string): void {
    const m = member.toLowerCase();
    this.pending.delete(m);
    this.arrived.delete(m);
    this.check();
  }

  /**
   * How far apart the members' snapshot times are (max - min, in milliseconds), once every member that took part
   * has reported; undefined while one has not.
   */
  spreadInMs(): number | undefined {
    if (this.times.size === 0 || this.arrived.size > 0 || (!this.released && this.pending.size > 0)) return undefined;
    const t = [...this.times.values()];
    return Math.max(...t) - Math.min(...t);
  }

  private check(): void {
    if (this.pending.size === 0) this.open();
  }

  private open(): void {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearTimeout(this.timer);
    // Who did not arrive by now takes its snapshot on its own, outside the group.
    this.pending.clear();
    this.release();
  }
}

/** A row-level point id: the row's name, the UTC second, and 4 hex digits (`web-20261202T020501Z-a1b2`). */
export function groupId(row: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${row}-${stamp}-${randomBytes(2).toString("hex")}`;
}
