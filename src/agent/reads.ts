import { ChimeError } from './errors.js';

interface PendingRead {
  index: number | null;
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Linearizable reads: first the leader confirms an index, then we wait to apply it. */
export class PendingReads {
  private readonly byContext = new Map<string, PendingRead>();

  constructor(private readonly max: number) {}

  add(context: string, deadline: number): Promise<void> {
    if (this.byContext.size >= this.max) return Promise.reject(new ChimeError('READS_FULL', `${this.max} reads are pending`));
    return new Promise((resolve, reject) => this.byContext.set(context, { index: null, deadline, resolve, reject }));
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

  expire(now: number): void {
    for (const [context, read] of this.byContext) {
      if (read.deadline > now) continue;
      this.byContext.delete(context);
      read.reject(new ChimeError('TIMEOUT', 'the read could not be confirmed by a quorum in time'));
    }
  }

  failAll(error: Error): void {
    for (const read of this.byContext.values()) read.reject(error);
    this.byContext.clear();
  }
}
