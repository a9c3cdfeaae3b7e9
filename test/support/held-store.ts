// Hand-driven ports for node runtime tests: a disk whose writes complete only when the test
// says so, and a clock whose deferred work runs only when the test says so.
import { MemoryStorage } from '../../src/raft/index.js';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMeta } from '../../src/raft/index.js';
import type { Clock, Done, LogStore, PersistBatch, TimerHandle } from '../../src/node/index.js';

/** A disk whose writes wait in a queue until `completeAll()`. */
export class HeldStore implements LogStore {
  readonly storage = new MemoryStorage();
  private held: { run: () => void; done: Done }[] = [];
  /** Writes issued so far (completed or not). */
  writesIssued = 0;
  readonly snapshotsTaken: { index: number; conf: ConfState }[] = [];

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.storage.initialState();
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.storage.entries(lo, hi, maxBytes);
  }
  term(index: number): number {
    return this.storage.term(index);
  }
  firstIndex(): number {
    return this.storage.firstIndex();
  }
  lastIndex(): number {
    return this.storage.lastIndex();
  }
  snapshot(): Snapshot {
    return this.storage.snapshot();
  }
  snapshotInfo(): { meta: SnapshotMeta; bytes: number } {
    const snap = this.storage.snapshot();
    return { meta: snap.meta, bytes: snap.data.length };
  }
  write(batch: PersistBatch, _sync: boolean, done: Done): void {
    this.writesIssued += 1;
    this.held.push({
      run: () => {
        if (batch.snapshot !== null) this.storage.applySnapshot(batch.snapshot);
        if (batch.entries.length > 0) this.storage.append(batch.entries);
        if (batch.hardState !== null) this.storage.setHardState(batch.hardState);
      },
      done,
    });
  }
  createSnapshot(index: number, conf: ConfState, data: Uint8Array, done: Done): void {
    this.snapshotsTaken.push({ index, conf });
    this.held.push({ run: () => this.storage.createSnapshot(index, conf, data), done });
  }
  compact(index: number, done: Done): void {
    this.held.push({ run: () => this.storage.compact(index), done });
  }
  /** Writes issued and not yet completed. */
  get writesHeld(): number {
    return this.held.length;
  }
  /** Completes the queued writes in order (and any their callbacks issue). */
  completeAll(clock: HandClock): void {
    while (this.held.length > 0) {
      const next = this.held.shift();
      if (next === undefined) break;
      next.run();
      next.done(null);
      clock.runDeferred();
    }
  }
}

/** Time stands still; deferred work runs when the test calls `runDeferred`; timers never fire. */
export class HandClock implements Clock {
  private deferred: (() => void)[] = [];
  nowMs(): number {
    return 0;
  }
  setTimer(): TimerHandle {
    return { cancel: () => {} };
  }
  defer(fn: () => void): void {
    this.deferred.push(fn);
  }
  runDeferred(): void {
    while (this.deferred.length > 0) this.deferred.shift()?.();
  }
}
