import { createHash } from "node:crypto";
import { normalizeResourceId } from "./resource-id";

/**
 * The fingerprint of a whole set of recovery points (source disk id → incremental snapshot id): the
 * SHA-256 of the pairs, ids normalised (ARM ids are case-insensitive) and sorted by disk, in hex.
 *
 * Every recovered resource of a stack carries the fingerprint of all its blueprint's points (tag
 * `ferry-recovery-set`), and the precheck facts carry the points they approved. A resource policy
 * sees one resource at a time, so without it a stack whose points differ from the facts on one
 * disk would have the resources of its other rows judged fine, and created, before the first
 * resource of that disk is refused. With it, the first recovered resource the engine judges is
 * refused, and nothing is created.
 */
export function recoverySetFingerprint(points: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(points)
    .map(([disk, snapshot]) => [normalizeResourceId(disk), normalizeResourceId(snapshot)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash("sha256").update(JSON.stringify(pairs)).digest("hex");
}
