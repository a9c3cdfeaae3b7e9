import { ChimeError } from '../errors/index.js';

/** How a waiting proposal is answered. */
export interface Settle<R> {
  resolve(result: R): void;
  reject(error: Error): void;
}

interface Pending<R> {
  readonly term: number;
  readonly startedAtMs: number;
  readonly deadlineMs: number;
  /** Set once this node stepped down: the proposal waits only for a short while more. */
  readonly leadershipLost: boolean;
  readonly settle: Settle<R>;
}

/**
 * Proposals waiting for their entry to apply, by log index, at most `max` of them. An entry
 * that applies at the index with the term we were given is ours; any other term means ours
 * was overwritten by a newer leader and will never apply.
 */
export class PendingProposals<R> {
  private readonly byIndex = new Map<number, Pending<R>>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.byIndex.size;
  }

  /** Whether a proposal waits for the entry at `index` (its result is read). */
  waits(index: number): boolean {
    return this.byIndex.has(index);
  }

  add(index: number, term: number, startedAtMs: number, timeoutMs: number, settle: Settle<R>): void {
    // A deposed leader's log can be cut back below entries it proposed (the next leader's log
    // was shorter); leading again, it proposes at those indexes anew. The earlier proposal
    // can no longer apply as itself here, and would otherwise never be answered at all. Its
    // entry may survive on another node and still commit, so its outcome is unknown.
    const earlier = this.byIndex.get(index);
    if (earlier !== undefined) {
      this.byIndex.delete(index);
      earlier.settle.reject(new ChimeError('LEADERSHIP_LOST', 'this node lost leadership and its log was cut back before the write was confirmed; it may or may not take effect — retry'));
    }
    if (this.byIndex.size >= this.max) {
      settle.reject(new ChimeError('PROPOSALS_FULL', `${this.max} proposals are pending`));
      return;
    }
    this.byIndex.set(index, { term, startedAtMs, deadlineMs: startedAtMs + timeoutMs, leadershipLost: false, settle });
  }

  /** The entry at `index` applied; returns when the matching proposal started, or null. */
  resolve(index: number, term: number, result: R): number | null {
    const pending = this.byIndex.get(index);
    if (pending === undefined) return null;
    this.byIndex.delete(index);
    if (pending.term === term) {
      pending.settle.resolve(result);
      return pending.startedAtMs;
    }
    pending.settle.reject(new ChimeError('PROPOSAL_DROPPED', 'leadership changed before the write committed; it did not take effect'));
    return null;
  }

  failUpTo(index: number, error: Error): void {
    for (const [at, pending] of this.byIndex) {
      if (at > index) continue;
      this.byIndex.delete(at);
      pending.settle.reject(error);
    }
  }

  /**
   * This node stepped down. Its pending entries may still be committed by the next leader
   * and then apply here with their term (a leadership transfer does exactly that), so they
   * keep waiting, but only until `deadlineMs`; then they fail as LEADERSHIP_LOST (retryable).
   */
  leadershipLost(deadlineMs: number): void {
    for (const [at, pending] of this.byIndex) {
      if (pending.deadlineMs > deadlineMs) this.byIndex.set(at, { ...pending, deadlineMs, leadershipLost: true });
    }
  }

  /** Timed-out proposals may still commit later: the caller learns only that it does not know. */
  expire(nowMs: number): void {
    for (const [at, pending] of this.byIndex) {
      if (pending.deadlineMs > nowMs) continue;
      this.byIndex.delete(at);
      pending.settle.reject(pending.leadershipLost
        ? new ChimeError('LEADERSHIP_LOST', 'this node lost leadership before the write was confirmed; it may or may not take effect — retry')
        : new ChimeError('TIMEOUT', 'the write was not confirmed in time; it may or may not take effect'));
    }
  }

  failAll(error: Error): void {
    for (const pending of this.byIndex.values()) pending.settle.reject(error);
    this.byIndex.clear();
  }
}
