import assert from 'node:assert/strict';
import { runKey } from './run-key.js';

/**
 * active: accepted, not ended. ended: its finished/lost report waits for acknowledgement.
 * settled: that report was acknowledged; kept only so a re-sent execute is a duplicate.
 */
export type LedgerState = 'active' | 'ended' | 'settled';

const ORDER: Readonly<Record<LedgerState, number>> = { active: 0, ended: 1, settled: 2 };

export interface LedgerEntry {
  readonly runId: string;
  readonly attempt: number;
  readonly state: LedgerState;
}

/**
 * The remembered set of (runId, attempt) this node accepted, oldest first, bounded by
 * `entriesMax`. Only settled entries are evicted: an active or ended run must stay a
 * duplicate for as long as the leader might still re-send it.
 */
export class RunLedger {
  private readonly entries = new Map<string, LedgerEntry>();

  constructor(readonly entriesMax: number) {
    assert.ok(Number.isSafeInteger(entriesMax) && entriesMax > 0);
  }

  get size(): number {
    return this.entries.size;
  }

  has(runId: string, attempt: number): boolean {
    return this.entries.has(runKey(runId, attempt));
  }

  state(runId: string, attempt: number): LedgerState | undefined {
    return this.entries.get(runKey(runId, attempt))?.state;
  }

  /** Adds a new pair or moves a known one forward; states never go back. */
  record(runId: string, attempt: number, state: LedgerState): void {
    const key = runKey(runId, attempt);
    const known = this.entries.get(key);
    if (known !== undefined) {
      if (ORDER[state] > ORDER[known.state]) this.entries.set(key, { runId, attempt, state });
      return;
    }
    this.entries.set(key, { runId, attempt, state });
    if (this.entries.size > this.entriesMax) this.evictOldestSettled();
  }

  forget(runId: string, attempt: number): void {
    this.entries.delete(runKey(runId, attempt));
  }

  all(): IterableIterator<LedgerEntry> {
    return this.entries.values();
  }

  private evictOldestSettled(): void {
    // The scan passes at most the unsettled entries (bounded by slots + outbox) before it
    // finds a settled one.
    for (const [key, entry] of this.entries) {
      if (entry.state === 'settled') {
        this.entries.delete(key);
        return;
      }
    }
    // Only reachable when a journal written under larger limits is recovered: keep every
    // unsettled pair rather than forget one (G3); the set shrinks again as reports settle.
  }
}
