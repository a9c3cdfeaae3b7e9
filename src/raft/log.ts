import assert from 'node:assert/strict';
import type { Entry, Snapshot, Storage } from './types.js';
import { UnstableLog } from './log-unstable.js';
import { limitBytes } from './util.js';

/**
 * A node's log: storage (persisted) followed by the unstable tail, with the commit and
 * apply positions. Invariant: applied <= committed <= lastIndex(), and committed entries
 * are never replaced.
 */
export class RaftLog {
  readonly storage: Storage;
  readonly unstable: UnstableLog;
  committed: number;
  applied: number;

  constructor(storage: Storage, applied: number) {
    this.storage = storage;
    this.unstable = new UnstableLog(storage.lastIndex() + 1);
    const compacted = storage.firstIndex() - 1;
    const hardCommit = storage.initialState().hardState.commit;
    this.committed = Math.max(compacted, hardCommit);
    this.applied = Math.max(compacted, applied);
    assert.ok(this.applied <= this.committed, `applied ${this.applied} beyond committed ${this.committed} on restart`);
    assert.ok(this.committed <= this.lastIndex(), `committed ${this.committed} beyond the stored log ${this.lastIndex()}`);
  }

  firstIndex(): number {
    return this.unstable.firstIndexIfKnown() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.lastIndexIfKnown() ?? this.storage.lastIndex();
  }

  /** The term of entry `index`, or null when it is compacted away or beyond the log. */
  term(index: number): number | null {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return null;
    const unstableTerm = this.unstable.termIfKnown(index);
    if (unstableTerm !== null) return unstableTerm;
    if (index < this.storage.firstIndex() - 1) return null;
    return this.storage.term(index);
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert.ok(term !== null, 'the last entry always has a term');
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** The highest index that is persisted and not superseded by unstable entries. */
  stableLastIndex(): number {
    if (this.unstable.snapshot !== null) return 0;
    return Math.min(this.storage.lastIndex(), this.unstable.offset - 1);
  }

  /** Whether a candidate's log (lastIndex, lastTerm) is at least as up to date as ours (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Index of the first entry that is missing or disagrees in term, or 0 if all match. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`: where a leader and follower can
   * next hope to agree, skipping a whole conflicting term at once.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i >= 0; i--) {
      const ourTerm = this.term(i);
      if (ourTerm === null) return { index: i, term: 0 };
      if (ourTerm <= term) return { index: i, term: ourTerm };
    }
    return { index: 0, term: 0 };
  }

  /**
   * A follower's append: if (prevIndex, prevTerm) matches, keep what agrees, replace from the
   * first conflict on (a stale or duplicate append truncates nothing), and learn the commit
   * index. Returns the last index now known to match the leader, or null on mismatch.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNewIndex = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert.ok(conflict > this.committed, `conflict at ${conflict} would replace committed entries up to ${this.committed}`);
      this.append(entries.slice(conflict - (prevIndex + 1)));
    }
    this.commitTo(Math.min(leaderCommit, lastNewIndex));
    return lastNewIndex;
  }

  append(entries: readonly Entry[]): number {
    const first = entries[0];
    if (first === undefined) return this.lastIndex();
    assert.ok(first.index - 1 >= this.committed, `append at ${first.index} would replace committed ${this.committed}`);
    assert.ok(first.index <= this.lastIndex() + 1, `append at ${first.index} leaves a gap after ${this.lastIndex()}`);
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /** Entries in [lo, hi) within `maxBytes` (at least one), or null when lo is compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] | null {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) return null;
    assert.ok(hi <= this.lastIndex() + 1, `slice to ${hi} beyond the log ${this.lastIndex()}`);
    const out: Entry[] = [];
    const unstableFrom = this.unstable.offset;
    if (lo < unstableFrom) {
      const stored = this.storage.entries(lo, Math.min(hi, unstableFrom), maxBytes);
      if (stored.length < Math.min(hi, unstableFrom) - lo) return stored;
      out.push(...stored);
    }
    if (hi > unstableFrom) out.push(...this.unstable.slice(Math.max(lo, unstableFrom), hi));
    return limitBytes(out, maxBytes);
  }

  entriesFrom(lo: number, maxBytes: number): Entry[] | null {
    return this.slice(lo, this.lastIndex() + 1, maxBytes);
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  nextCommittedEntries(maxBytes: number): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (lo > this.committed) return [];
    const entries = this.slice(lo, this.committed + 1, maxBytes);
    assert.ok(entries !== null, 'unapplied committed entries are never compacted');
    return entries;
  }

  snapshot(): Snapshot | null {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert.ok(index <= this.lastIndex(), `commit ${index} beyond the log ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Commits `index` if it is of `term`: the leader's rule that only current-term entries count. */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    if (index <= this.applied) return;
    assert.ok(index <= this.committed, `applied ${index} beyond committed ${this.committed}`);
    this.applied = index;
  }

  /** Replaces the log with a leader's snapshot; everything before it is gone. */
  restore(snapshot: Snapshot): void {
    assert.ok(snapshot.meta.index > this.committed, 'a snapshot never rewinds the commit index');
    this.unstable.restore(snapshot);
    this.committed = snapshot.meta.index;
  }
}
