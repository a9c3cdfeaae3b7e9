// Automatic retries. The table indexes final runs that owe a retry (failed, timed_out, lost
// with attempts left); this queue holds when each is due: finishedAt + backoff, so a new
// leader continues the wait where the old one stopped. At most RETRY_QUEUE_MAX are held;
// when the queue was ever full, the rest are loaded from the index as it drains.
import { owesRetry, type Job, type RunRecord } from '../statemachine/index.js';
import { retryDelayMs } from './backoff.js';
import { Alarm, type TermContext } from './context.js';
import { TimedHeap } from './heap.js';
import { RETRY_QUEUE_MAX } from './options.js';
import { LoadView, place } from './placement.js';

type RetryEntry = { readonly dueMs: number; readonly runId: string; readonly attempt: number };

export class Retries {
  private readonly heap = new TimedHeap<RetryEntry>(RETRY_QUEUE_MAX);
  private readonly alarm: Alarm;
  private readonly inFlight = new Set<string>();
  /** Where the next load from the table's index starts, or null when everything is loaded. */
  private cursor: { finishedAt: number; seq: number } | null = null;
  private loadPending = true;

  constructor(private readonly ctx: TermContext) {
    this.alarm = new Alarm(ctx, () => this.process());
  }

  get size(): number {
    return this.heap.size;
  }

  /** Fills the queue from the table's index (on start, and when a full queue drains). */
  load(): void {
    if (!this.loadPending) return;
    const table = this.ctx.host.table();
    const room = RETRY_QUEUE_MAX - this.heap.size;
    if (room <= 0) return;
    const runs = table.runsAwaitingRetry(room, this.cursor ?? undefined);
    for (const run of runs) {
      const job = table.getJob(run.jobId);
      if (job !== null) this.add(run, job);
    }
    const last = runs[runs.length - 1];
    this.loadPending = runs.length === room && last !== undefined;
    this.cursor = this.loadPending && last !== undefined ? { finishedAt: last.finishedAt ?? 0, seq: last.seq } : null;
  }

  /** A run reached a final status: queue its retry if it owes one. */
  onFinal(run: RunRecord): void {
    const job = this.ctx.host.table().getJob(run.jobId);
    if (job !== null && owesRetry(run, job)) this.add(run, job);
  }

  private add(run: RunRecord, job: Job): void {
    if (run.finishedAt === null) return;
    const dueMs = run.finishedAt + retryDelayMs(job.retry, run.attempt, this.ctx.options.retryJitter, () => this.ctx.host.random());
    this.push({ dueMs, runId: run.runId, attempt: run.attempt });
  }

  private push(entry: RetryEntry): void {
    if (!this.heap.push(entry)) {
      // The table still indexes the run; a later load picks it up.
      this.ctx.metrics.queueDrops += 1;
      this.loadPending = true;
      return;
    }
    this.ctx.metrics.retryQueue = this.heap.size;
    this.alarm.at(entry.dueMs);
  }

  process(): void {
    const now = this.ctx.now();
    for (let entry = this.heap.popDue(now); entry !== undefined; entry = this.heap.popDue(now)) this.retry(entry, now);
    if (this.heap.size < RETRY_QUEUE_MAX / 2) this.load();
    this.ctx.metrics.retryQueue = this.heap.size;
    const next = this.heap.peek();
    if (next !== undefined) this.alarm.at(next.dueMs);
  }

  private retry(entry: RetryEntry, now: number): void {
    const table = this.ctx.host.table();
    const run = table.getRun(entry.runId);
    const job = run === null ? null : table.getJob(run.jobId);
    if (run === null || job === null || run.attempt !== entry.attempt || !owesRetry(run, job) || this.inFlight.has(run.runId)) return;
    if (run.queue !== null) return this.propose(entry, run, [], now);
    const view = new LoadView({
      nodes: this.ctx.host.executors(), activeCountOf: (n) => table.activeCountOnNode(n), selfId: this.ctx.host.selfNodeId(),
      young: this.ctx.young(now), random: () => this.ctx.host.random(),
    });
    const placement = place(job.target, view);
    // No slot, or no eligible node for now: look again later; the run stays final and indexed meanwhile.
    if (placement.kind !== 'nodes') return this.push({ ...entry, dueMs: now + this.ctx.options.maintenanceMs });
    this.propose(entry, run, placement.nodes, now);
  }

  /** A queue run is retried on no node: the retryRun puts it back in its function's queue. */
  private propose(entry: RetryEntry, run: RunRecord, nodes: readonly string[], now: number): void {
    this.inFlight.add(run.runId);
    this.ctx.metrics.retriesProposed += 1;
    const command = { type: 'retryRun', runId: run.runId, attempt: run.attempt + 1, executors: [...nodes], notBefore: null, at: now } as const;
    // The execute is sent when the retryRun applies (Scheduler.onApplied), like any fire.
    void this.ctx.propose(command).then((result) => {
      this.inFlight.delete(run.runId);
      if (this.ctx.closed) return;
      if (result === null || (!result.ok && result.code === 'ACTIVE_RUNS_FULL')) this.push({ ...entry, dueMs: this.ctx.now() + this.ctx.options.proposeRetryMs });
    });
  }

  clear(): void {
    this.heap.clear();
    this.alarm.cancel();
  }
}

