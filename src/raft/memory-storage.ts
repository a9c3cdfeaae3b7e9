import assert from 'node:assert/strict';
import type { ConfState, Entry, HardState, NodeId, Snapshot, Storage } from './types.js';
import { EMPTY_BYTES, EMPTY_CONF, itemAt, limitBytes } from './util.js';
import { encodeConfChange } from './confchange.js';

/**
 * A Storage held in memory. The simulator uses it as a node's disk; the durable storage
 * keeps one as its read cache. `entries[0]` is a sentinel standing for the last compacted
 * entry (index and term only), so `term(firstIndex() - 1)` always answers.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  private snap: Snapshot;
  private log: Entry[];

  constructor(conf: ConfState = EMPTY_CONF) {
    this.snap = { meta: { index: 0, term: 0, conf }, data: EMPTY_BYTES };
    this.log = [{ index: 0, term: 0, kind: 'normal', data: EMPTY_BYTES }];
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.meta.conf };
  }

  firstIndex(): number {
    return this.sentinel().index + 1;
  }

  lastIndex(): number {
    return this.sentinel().index + this.log.length - 1;
  }

  term(index: number): number {
    const offset = this.sentinel().index;
    if (index < offset || index > this.lastIndex()) assert.fail(`term(${index}) outside [${offset}, ${this.lastIndex()}]`);
    return itemAt(this.log, index - offset).term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.sentinel().index;
    if (!(lo > offset && hi <= this.lastIndex() + 1 && lo <= hi)) assert.fail(`entries(${lo}, ${hi}) outside the log`);
    return limitBytes(this.log.slice(lo - offset, hi - offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  hardStateNow(): HardState {
    return this.hardState;
  }

  setHardState(hardState: HardState): void {
    assert.ok(hardState.term >= this.hardState.term, 'the persisted term never decreases');
    this.hardState = hardState;
  }

  /** Persists entries from a Ready; an entry at an existing index replaces it and all after. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const offset = this.sentinel().index;
    const last = first.index + entries.length - 1;
    if (last <= offset) return; // entirely compacted already
    const usable = first.index <= offset ? entries.slice(offset + 1 - first.index) : entries;
    const start = itemAt(usable, 0).index;
    if (start > this.lastIndex() + 1) assert.fail(`append at ${start} leaves a gap after ${this.lastIndex()}`);
    this.log.length = start - offset;
    for (const entry of usable) this.log.push(entry);
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    assert.ok(snapshot.meta.index >= this.snap.meta.index, 'a snapshot never replaces a newer one');
    this.snap = snapshot;
    this.log = [{ index: snapshot.meta.index, term: snapshot.meta.term, kind: 'normal', data: EMPTY_BYTES }];
  }

  /** Records the application's image at `index` (which it has applied) with its membership. */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    assert.ok(index >= this.snap.meta.index, 'a snapshot never goes back in the log');
    assert.ok(index <= this.lastIndex(), `snapshot index ${index} beyond the log ${this.lastIndex()}`);
    this.snap = { meta: { index, term: this.term(index), conf }, data };
    return this.snap;
  }

  /** Drops entries up to and including `index`, which the newest snapshot must cover. */
  compact(index: number): void {
    const offset = this.sentinel().index;
    if (index <= offset) return;
    assert.ok(index <= this.snap.meta.index, `compact(${index}) beyond the snapshot ${this.snap.meta.index}`);
    const kept = this.log.slice(index - offset);
    const at = itemAt(kept, 0);
    kept[0] = { index: at.index, term: at.term, kind: 'normal', data: EMPTY_BYTES };
    this.log = kept;
  }

  private sentinel(): Entry {
    return itemAt(this.log, 0);
  }
}

/**
 * Prepares the storage of one founding member of a new cluster: entries 1..N add each voter
 * (so a node that joins later learns the founding membership from the log) and are already
 * committed, and the membership as of index 0 is the full voter set, so the node can campaign
 * at once. Every founding member must be given the same list.
 */
export function bootstrapStorage(storage: MemoryStorage, voters: readonly { id: NodeId; context: string }[]): void {
  assert.ok(voters.length > 0, 'a cluster needs at least one voter');
  assert.equal(storage.lastIndex(), 0, 'bootstrap needs an empty storage');
  const ids = voters.map((v) => v.id);
  assert.equal(new Set(ids).size, ids.length, 'voter ids must be unique');
  storage.applySnapshot({ meta: { index: 0, term: 0, conf: { voters: ids, learners: [] } }, data: EMPTY_BYTES });
  storage.append(voters.map((v, i) => ({ index: i + 1, term: 1, kind: 'conf' as const, data: encodeConfChange({ type: 'addVoter', node: v.id, context: v.context }) })));
  storage.setHardState({ term: 1, vote: null, commit: voters.length });
}
