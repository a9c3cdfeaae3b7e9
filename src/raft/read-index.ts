import type { NodeId } from './types.js';
import { quorumValue } from './quorum.js';
import { itemAt } from './util.js';

/** A read waiting for the leader to confirm it still leads after the read arrived. */
export interface PendingRead {
  readonly context: string;
  /** The commit index when the read arrived: the state it must at least observe. */
  readonly index: number;
  /** The heartbeat round whose quorum answer confirms this read. */
  readonly round: number;
  /** The follower that asked, or null for a read on the leader itself. */
  readonly from: NodeId | null;
}

/**
 * ReadIndex on the leader (Raft thesis §6.4). A read is confirmed by a quorum answering a
 * heartbeat round that was sent after the read arrived. Only one round is in flight at a
 * time; reads that arrive meanwhile share the next round, so many reads cost one round trip.
 */
export class ReadIndexTracker {
  /** The newest round sent. */
  round = 0;
  /** The newest round a quorum answered. */
  confirmedRound = 0;
  private readonly acks = new Map<NodeId, number>();
  private pending: PendingRead[] = [];
  /** Reads that arrived before the leader committed an entry of its term. */
  private waiting: { context: string; from: NodeId | null }[] = [];

  get size(): number {
    return this.pending.length + this.waiting.length;
  }

  /** Queues a read whose index is not yet known (the leader's term has no committed entry). */
  wait(context: string, from: NodeId | null): void {
    this.waiting.push({ context, from });
  }

  takeWaiting(): { context: string; from: NodeId | null }[] {
    const out = this.waiting;
    this.waiting = [];
    return out;
  }

  /** Registers a read at `index`; true when a new round must be sent for it now. */
  add(context: string, index: number, from: NodeId | null): boolean {
    this.pending.push({ context, index, round: this.round + 1, from });
    return this.round === this.confirmedRound;
  }

  startRound(): number {
    this.round++;
    return this.round;
  }

  /** The newest round `from` answered (0 for none). */
  ackedRound(from: NodeId): number {
    return this.acks.get(from) ?? 0;
  }

  ack(from: NodeId, round: number): void {
    if (round > (this.acks.get(from) ?? 0)) this.acks.set(from, Math.min(round, this.round));
  }

  /**
   * Releases the reads a quorum of `voters` has confirmed. `needsRound` is true when reads
   * are left that wait for a round not yet sent.
   */
  confirm(voters: readonly NodeId[], self: NodeId): { released: PendingRead[]; needsRound: boolean } {
    const confirmed = quorumValue(voters, (id) => (id === self ? this.round : (this.acks.get(id) ?? 0)));
    if (confirmed > this.confirmedRound) this.confirmedRound = confirmed;
    let count = 0;
    while (count < this.pending.length && itemAt(this.pending, count).round <= this.confirmedRound) count++;
    const released = this.pending.slice(0, count);
    if (count > 0) this.pending = this.pending.slice(count);
    const last = this.pending[this.pending.length - 1];
    return { released, needsRound: last !== undefined && last.round > this.round && this.round === this.confirmedRound };
  }

  /** Everything still pending, for failing it when leadership is lost. */
  drain(): { context: string; from: NodeId | null }[] {
    const out = [...this.waiting, ...this.pending.map((r) => ({ context: r.context, from: r.from }))];
    this.pending = [];
    this.waiting = [];
    this.acks.clear();
    this.round = 0;
    this.confirmedRound = 0;
    return out;
  }
}
