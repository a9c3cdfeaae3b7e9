// Write ids: a client's write that a node re-sends after its outcome was lost (the leader it
// went to died before answering) must not take effect twice. The node that took the request
// names it once (`audit.writeId`); the table remembers the ids of accepted writes for a while,
// and an entry whose id it remembers changes nothing and answers like the first one did.
// A re-send also carries `retrySince`: an index the first try's entry is known to lie
// beyond (what the sending node had applied when it first sent the write). When an id was
// forgotten (its time was up, or the count limit pushed it out) at an index past that, the
// first try may have been that one: the re-send is refused rather than risk a second effect.
// Everything is judged by command time and log index, and is in the snapshot: every replica
// makes the same decision for the same entry.
import { WRITE_IDS_MAX, WRITE_ID_TTL_MS } from './limits.js';

/** What an accepted write answered, enough to answer its repeat: putJob's `created`, putJobs' outcomes ('c'reated, 'f' configured, 'u'nchanged, one letter per job). */
export type WriteEntry = { readonly index: number; readonly atMs: number; readonly created: boolean; readonly outcomes: string };

/** Ids pruned per apply at most, so one entry never pays for a long idle stretch all at once. */
const PRUNED_PER_APPLY_MAX = 1000;

export type WriteIdRow = readonly [string, number, number, boolean, string];
export type WriteIdsSnapshot = { readonly rows: readonly WriteIdRow[]; readonly forgottenIndex: number };

/**
 * Invariants: at most `max` ids, in insertion (log) order, oldest first; `forgottenIndex` is
 * the highest log index of an id no longer remembered (0: none forgotten yet).
 */
export class WriteIds {
  private readonly byId = new Map<string, WriteEntry>();
  private forgottenIndex = 0;

  constructor(private readonly max: number = WRITE_IDS_MAX) {}

  get(id: string): WriteEntry | undefined {
    return this.byId.get(id);
  }

  /**
   * Whether a re-sent write whose id is not remembered may still have taken effect: an id
   * was forgotten at an index past `retrySince`, where its first try lies.
   */
  unsure(retrySince: number): boolean {
    return this.forgottenIndex > retrySince;
  }

  /** Remembers an accepted write; forgets those whose time is up at `entry.atMs`, and the oldest beyond the count limit. */
  remember(id: string, entry: WriteEntry): void {
    let pruned = 0;
    for (const [oldId, old] of this.byId) {
      const expired = pruned < PRUNED_PER_APPLY_MAX && entry.atMs - old.atMs >= WRITE_ID_TTL_MS;
      if (!expired && this.byId.size < this.max) break;
      this.byId.delete(oldId);
      this.forgottenIndex = Math.max(this.forgottenIndex, old.index);
      pruned += 1;
    }
    this.byId.set(id, entry);
  }

  snapshot(): WriteIdsSnapshot {
    return { rows: [...this.byId].map(([id, e]) => [id, e.index, e.atMs, e.created, e.outcomes]), forgottenIndex: this.forgottenIndex };
  }

  /** Rebuilds from snapshot(); throws `bad(reason)` for a malformed value. */
  static restore(value: unknown, bad: (reason: string) => Error, max: number = WRITE_IDS_MAX): WriteIds {
    const ids = new WriteIds(max);
    if (typeof value !== 'object' || value === null) throw bad('write ids are malformed');
    const rows: unknown = Reflect.get(value, 'rows');
    const forgotten: unknown = Reflect.get(value, 'forgottenIndex');
    if (!Array.isArray(rows) || rows.length > max) throw bad('write id rows are malformed');
    if (typeof forgotten !== 'number' || !Number.isSafeInteger(forgotten) || forgotten < 0) throw bad('write ids: forgottenIndex is malformed');
    ids.forgottenIndex = forgotten;
    for (const row of rows) {
      if (!Array.isArray(row) || row.length !== 5) throw bad('a write id row is malformed');
      const [id, index, atMs, created, outcomes] = row;
      if (typeof id !== 'string' || typeof index !== 'number' || !Number.isSafeInteger(index) || typeof atMs !== 'number' || !Number.isSafeInteger(atMs)
        || typeof created !== 'boolean' || typeof outcomes !== 'string') {
        throw bad('a write id row is malformed');
      }
      ids.byId.set(id, { index, atMs, created, outcomes });
    }
    return ids;
  }
}
