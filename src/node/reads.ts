import { ChimeError } from '../errors/index.js';

interface PendingRead {
  index: number | null;
  readonly deadlineMs: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Linearizable reads, at most `max` at once: first the leader confirms an index, then we wait to apply it. */
export class PendingReads {
  private readonly byContext = new Map<string, PendingRead>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.byContext.size;
  }

  add(context: string, deadlineMs: number): Promise<void> {
    if (this.byContext.size >= this.max) return Promise.reject(new ChimeError('READS_FULL', `${this.max} reads are pending`));
    return new Promise((resolve, reject) => this.byContext.set(context, { index: null, deadlineMs, resolve, reject }));
  }

  indexKnown(context: string, index: number): void {
    const read = this.byContext.get(context);
    if (read !== undefined) read.index = index;
  }

  releaseUpTo(applied: number): void {
    for (const [context, read] of this.byContext) {
      if (read.index === null || read.index > applied) continue;
      this.byContext.delete(context);
      read.resolve();
    }
  }

  fail(context: string, error: Error): void {
    const read = this.byContext.get(context);
    if (read === undefined) return;
    this.byContext.delete(context);
    read.reject(error);
  }

  expire(nowMs: number): void {
    for (const [context, read] of this.byContext) {
      if (read.deadlineMs > nowMs) continue;
      this.byContext.delete(context);
      read.reject(new ChimeError('TIMEOUT', 'the read could not be confirmed by a quorum in time'));
    }
  }

  failAll(error: Error): void {
    for (const read of this.byContext.values()) read.reject(error);
    this.byContext.clear();
  }
}
