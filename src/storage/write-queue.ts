import assert from 'node:assert/strict';
import { ChimeError } from '../errors/index.js';

/**
 * Runs async writes one at a time, in call order. LevelDB would accept concurrent batches,
 * but the in-memory cache is updated after each write, and each write is planned against
 * the cache state its predecessors left, so they must not overlap.
 */
export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(private readonly pendingMax: number) {
    assert.ok(Number.isInteger(pendingMax) && pendingMax >= 1, 'pendingMax must be a positive integer');
  }

  get size(): number {
    return this.pending;
  }

  /** Queues `task`; it starts after every task queued before it has settled. */
  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.pending >= this.pendingMax) {
      return Promise.reject(new ChimeError('STORAGE_QUEUE_FULL', `${this.pending} writes already queued (limit ${this.pendingMax})`));
    }
    this.pending += 1;
    const result = this.tail.then(task).finally(() => {
      this.pending -= 1;
    });
    // The chain continues whether a task fails or not; the failure goes to its caller.
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has settled. */
  async drain(): Promise<void> {
    await this.tail;
  }
}
