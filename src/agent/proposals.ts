import { ChimeError } from './errors.js';

interface Pending {
  readonly term: number;
  readonly startedAt: number;
  readonly deadline: number;
  /** Set once this node stepped down: the proposal waits only for a short while more. */
  readonly leadershipLost?: boolean;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Proposals waiting for their entry to apply, by log index. An entry that applies at the
 * index with the term we were given is ours; any other term means ours was overwritten by
 * a newer leader and will never apply.
 */
export class PendingProposals {
  private readonly byIndex = new Map<number, Pending>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.byIndex.size;
  }

  add(index: number, term: number, startedAt: number, timeoutMs: number, resolve: (r: unknown) => void, reject: (e: Error) => void): void {
    if (this.byIndex.size >= this.max) {
      reject(new ChimeError('PROPOSALS_FULL', `${this.max} proposals are pending`));
      return;
    }
    this.byIndex.set(index, { term, startedAt, deadline: startedAt + timeoutMs, resolve, reject });
  }

  /** The entry at `index` applied; returns when the matching proposal started, or null. */
  resolve(index: number, term: number, result: unknown): number | null {
    const pending = this.byIndex.get(index);
    if (pending === undefined) return null;
    this.byIndex.delete(index);
    if (pending.term === term) {
      pending.resolve(result);
      return pending.startedAt;
    }
    pending.reject(new ChimeError('PROPOSAL_DROPPED', 'leadership changed before the write committed; it did not take effect'));
    return null;
  }

  failUpTo(index: number, error: Error): void {
    for (const [at, pending] of this.byIndex) {
      if (at > index) continue;
      this.byIndex.delete(at);
      pending.reject(error);
    }
  }

  /**
   * This node stepped down. Its pending entries may still be committed by the next leader
   * and then apply here with their term (a leadership transfer does exactly that), so they
   * keep waiting, but only until `deadline`; then they fail as LEADERSHIP_LOST (retryable).
   */
  leadershipLost(deadline: number): void {
    for (const [at, pending] of this.byIndex) {
      if (pending.deadline > deadline) this.byIndex.set(at, { ...pending, deadline, leadershipLost: true });
    }
  }

  /** Timed-out proposals may still commit later: the caller learns only that it does not know. */
  expire(now: number): void {
    for (const [at, pending] of this.byIndex) {
      if (pending.deadline > now) continue;
      this.byIndex.delete(at);
      pending.reject(pending.leadershipLost === true
        ? new ChimeError('LEADERSHIP_LOST', 'this node lost leadership before the write was confirmed; it may or may not take effect — retry')
        : new ChimeError('TIMEOUT', 'the write was not confirmed in time; it may or may not take effect'));
    }
  }

  failAll(error: Error): void {
    for (const pending of this.byIndex.values()) pending.reject(error);
    this.byIndex.clear();
  }
}
