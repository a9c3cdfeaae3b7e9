import assert from 'node:assert/strict';
import type { Entry, Snapshot } from './types.js';

/**
 * The part of the log not yet persisted: entries from `offset` on, and possibly a snapshot
 * received from the leader. It supersedes whatever storage holds at the same indexes.
 */
export class UnstableLog {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  /** Index of entries[0]; storage is authoritative strictly below it. */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  firstIndexIfKnown(): number | null {
    return this.snapshot === null ? null : this.snapshot.meta.index + 1;
  }

  lastIndexIfKnown(): number | null {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === null ? null : this.snapshot.meta.index;
  }

  termIfKnown(index: number): number | null {
    if (index < this.offset) {
      if (this.snapshot !== null && this.snapshot.meta.index === index) return this.snapshot.meta.term;
      return null;
    }
    const entry = this.entries[index - this.offset];
    return entry === undefined ? null : entry.term;
  }

  /** Entries up to (index, term) reached disk; a mismatch means they were replaced meanwhile. */
  stableTo(index: number, term: number): void {
    if (index < this.offset || this.termIfKnown(index) !== term) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  stableSnapshotTo(index: number): void {
    if (this.snapshot !== null && this.snapshot.meta.index === index) this.snapshot = null;
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.meta.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }

  /** Appends entries, replacing any unstable entries at or after the first new index. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      for (const entry of entries) this.entries.push(entry);
    } else if (after <= this.offset) {
      // Replaces everything unstable, and shadows storage from `after` on.
      this.offset = after;
      this.entries = entries.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset);
      for (const entry of entries) this.entries.push(entry);
    }
  }

  slice(lo: number, hi: number): Entry[] {
    if (!(lo >= this.offset && hi <= this.offset + this.entries.length && lo <= hi)) assert.fail(`unstable slice [${lo}, ${hi}) outside [${this.offset}, ${this.offset + this.entries.length})`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
