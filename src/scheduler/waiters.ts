// awaitRun: callers waiting for a run to reach its final status after all its retries (POST
// /run?wait=…). Bounded; each waiter has its own timeout; all are released when leadership
// ends.
import { isActiveStatus, owesRetry, type RunRecord } from '../statemachine/index.js';
import { RUN_WAITERS_MAX } from './options.js';
import { ChimeError } from '../errors/index.js';
import type { AwaitRunResult, SchedulerHost, TimerHandle } from './types.js';

type Waiter = { readonly resolve: (r: AwaitRunResult) => void; readonly reject: (e: Error) => void; readonly timer: TimerHandle };

export class RunWaiters {
  private readonly byRun = new Map<string, Set<Waiter>>();
  private count = 0;

  constructor(private readonly host: SchedulerHost) {}

  get size(): number {
    return this.count;
  }

  wait(runId: string, timeoutMs: number): Promise<AwaitRunResult> {
    const run = this.host.table().getRun(runId);
    // A run waiting for a slot has no record until it fires: it is waited for like one that runs.
    if (run === null && this.host.table().waitingManualFire(runId) === null) return Promise.resolve({ done: false, run: null });
    if (run !== null && this.isDone(run)) return Promise.resolve({ done: true, run });
    if (this.count >= RUN_WAITERS_MAX) return Promise.reject(new ChimeError('WAITERS_FULL', `${RUN_WAITERS_MAX} callers are already waiting for runs`));
    return new Promise<AwaitRunResult>((resolve, reject) => {
      const waiter: Waiter = {
        resolve, reject,
        timer: this.host.setTimer(Math.max(0, timeoutMs), () => {
          this.remove(runId, waiter);
          resolve({ done: false, run: this.host.table().getRun(runId) });
        }),
      };
      let set = this.byRun.get(runId);
      if (set === undefined) this.byRun.set(runId, (set = new Set()));
      set.add(waiter);
      this.count += 1;
    });
  }

  /**
   * Final after every retry: not active, and no retry owed (a failed attempt whose job retries
   * it is about to become the next attempt of the same run). A deleted job owes nothing.
   */
  private isDone(run: RunRecord): boolean {
    if (isActiveStatus(run.status)) return false;
    const job = this.host.table().getJob(run.jobId);
    return job === null || !owesRetry(run, job);
  }

  /** A run changed: release its waiters if it is final after all its retries. */
  onRun(run: RunRecord): void {
    if (!this.isDone(run)) return;
    const set = this.byRun.get(run.runId);
    if (set === undefined) return;
    for (const waiter of [...set]) {
      this.remove(run.runId, waiter);
      waiter.resolve({ done: true, run });
    }
  }

  /** The run is gone (job deleted): release its waiters with what is known. */
  onGone(runId: string): void {
    for (const waiter of [...(this.byRun.get(runId) ?? [])]) {
      this.remove(runId, waiter);
      waiter.resolve({ done: false, run: null });
    }
  }

  rejectAll(error: Error): void {
    for (const [runId, set] of [...this.byRun]) for (const waiter of [...set]) {
      this.remove(runId, waiter);
      waiter.reject(error);
    }
  }

  private remove(runId: string, waiter: Waiter): void {
    const set = this.byRun.get(runId);
    if (set === undefined || !set.delete(waiter)) return;
    waiter.timer.cancel();
    this.count -= 1;
    if (set.size === 0) this.byRun.delete(runId);
  }
}
