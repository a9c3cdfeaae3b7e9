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
  private starting = false;

  constructor(private readonly pendingMax: number) {
    assert.ok(Number.isInteger(pendingMax) && pendingMax >= 1, 'pendingMax must be a positive integer');
  }

  get size(): number {
    return this.pending;
  }

  /**
   * Queues `task`; it starts after every task queued before it has settled — at once, before
   * `run` returns, when none is pending, so a caller can overlap its own work with the
   * write's I/O (the Ready loop applies committed entries while the fdatasync runs).
   */
  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.pending >= this.pendingMax) {
      return Promise.reject(new ChimeError('STORAGE_QUEUE_FULL', `${this.pending} writes already queued (limit ${this.pendingMax})`));
    }
    // A task started at once has not yet become the tail: one it queued before its first
    // await would start beside it.
    assert.ok(!this.starting, 'a write task queues no other write before its first await');
    const idle = this.pending === 0;
    this.pending += 1;
    let started: Promise<T>;
    if (idle) {
      this.starting = true;
      started = startNow(task);
      this.starting = false;
    } else {
      started = this.tail.then(task);
    }
    const result = started.finally(() => {
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

function startNow<T>(task: () => Promise<T>): Promise<T> {
  try {
    return task();
  } catch (error) {
    return Promise.reject(error);
  }
}
