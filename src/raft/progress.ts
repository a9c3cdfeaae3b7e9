import assert from 'node:assert/strict';
import type { ProgressState, Snapshot } from './types.js';
import { itemAt } from './util.js';

/**
 * Appends sent to a follower in the replicate state and not yet acknowledged, bounded by
 * count and bytes so a slow follower cannot make the leader buffer without limit.
 */
export class Inflights {
  private readonly lastIndexes: number[] = [];
  private readonly sizes: number[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly maxCount: number,
    private readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.lastIndexes.length - this.head;
  }

  add(lastIndex: number, bytes: number): void {
    assert.ok(!this.full(), 'inflights full');
    const previous = this.lastIndexes[this.lastIndexes.length - 1];
    assert.ok(previous === undefined || this.count === 0 || lastIndex > previous, 'inflight indexes increase');
    this.lastIndexes.push(lastIndex);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every append whose last index is <= `index` (acknowledged). */
  freeUpTo(index: number): void {
    while (this.head < this.lastIndexes.length && itemAt(this.lastIndexes, this.head) <= index) {
      this.bytes -= itemAt(this.sizes, this.head);
      this.head++;
    }
    this.compactArrays();
  }

  /** Frees the oldest append: used when a heartbeat answer shows the follower is alive but acks were lost. */
  freeFirst(): void {
    if (this.count === 0) return;
    this.bytes -= itemAt(this.sizes, this.head);
    this.head++;
    this.compactArrays();
  }

  full(): boolean {
    return this.count >= this.maxCount || (this.count > 0 && this.bytes >= this.maxBytes);
  }

  reset(): void {
    this.lastIndexes.length = 0;
    this.sizes.length = 0;
    this.head = 0;
    this.bytes = 0;
  }

  private compactArrays(): void {
    if (this.head === this.lastIndexes.length) {
      this.reset();
    } else if (this.head > 1024 && this.head * 2 > this.lastIndexes.length) {
      this.lastIndexes.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** A snapshot being streamed to one follower in chunks. */
export interface OutgoingSnapshot {
  readonly snapshot: Snapshot;
  /** Bytes sent so far, and bytes the follower confirmed holding contiguously. */
  sentBytes: number;
  ackedBytes: number;
  /** The final chunk is out (reset when a resend starts). */
  doneSent: boolean;
  /** We already went back to `ackedBytes` for a reported gap. */
  rewound: boolean;
  idleTicks: number;
}

/**
 * The leader's view of one follower. `match` is the highest index known to be replicated
 * there; `next` the next index to send. Invariant: match < next.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append is out and we wait for its answer (or a heartbeat's). */
  probeSent = false;
  /** Heard from within the current election timeout (check-quorum). */
  recentActive = false;
  /** The commit index carried by the last append sent (for the `tick` commit broadcast). */
  commitSent = 0;
  /** An append went out since the last heartbeat round (a batched learner then needs no heartbeat). */
  appendedSinceHeartbeat = false;
  learner: boolean;
  readonly inflights: Inflights;
  outgoingSnapshot: OutgoingSnapshot | null = null;

  constructor(next: number, learner: boolean, maxInflightMsgs: number, maxInflightBytes: number) {
    this.next = next;
    this.learner = learner;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  becomeProbe(): void {
    const snapshotIndex = this.outgoingSnapshot?.snapshot.meta.index ?? 0;
    this.next = this.state === 'snapshot' ? Math.max(this.match + 1, snapshotIndex + 1) : this.match + 1;
    this.state = 'probe';
    this.probeSent = false;
    this.inflights.reset();
    this.outgoingSnapshot = null;
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.state = 'replicate';
    this.probeSent = false;
    this.inflights.reset();
    this.outgoingSnapshot = null;
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.state = 'snapshot';
    this.probeSent = false;
    this.inflights.reset();
    this.outgoingSnapshot = { snapshot, sentBytes: 0, ackedBytes: 0, idleTicks: 0, doneSent: false, rewound: false };
  }

  /** Records an acknowledgement of `index`; false when it tells nothing new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** Replicate state sends ahead without waiting: next moves as soon as entries are sent. */
  sentEntries(lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      this.next = lastIndex + 1;
      this.inflights.add(lastIndex, bytes);
    } else {
      this.probeSent = true;
    }
  }

  /**
   * Handles a rejected append of prevIndex `rejected`; `matchHint` is where the follower's
   * log may agree. False when the rejection is stale (answers an older send).
   */
  maybeDecreaseTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
