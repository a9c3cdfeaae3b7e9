// What the parts of one leadership term share: the host, options, metrics, the term, and
// helpers that every part needs (bounded side proposals, sending orders, term-scoped timers).
// A closed context ignores every late callback: results that arrive after leadership ended
// must not act.
import type { ApplyResult, Command, Job, KillReason, RunRecord } from '../statemachine/index.js';
import { isActiveStatus } from '../statemachine/index.js';
import type { SchedulerMetrics } from './metrics.js';
import { PROPOSALS_IN_FLIGHT_MAX, type SchedulerOptions } from './options.js';
import type { SchedulerHost, TimerHandle } from './types.js';

export class TermContext {
  private closedFlag = false;
  private inFlight = 0;
  private readonly timers = new Set<TimerHandle>();

  constructor(
    readonly host: SchedulerHost,
    readonly options: SchedulerOptions,
    readonly metrics: SchedulerMetrics,
    readonly term: number,
    readonly startedAtMs: number,
  ) {}

  get closed(): boolean {
    return this.closedFlag;
  }

  now(): number {
    return this.host.nowMs();
  }

  /** The leader started less than a lease ago: silent nodes may not have reported yet. */
  young(nowMs: number): boolean {
    return nowMs - this.startedAtMs < this.options.leaseMs;
  }

  close(): void {
    this.closedFlag = true;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }

  /** A timer that dies with the term. */
  timer(delayMs: number, fn: () => void): TimerHandle {
    const handle = this.host.setTimer(Math.max(0, delayMs), () => {
      this.timers.delete(handle);
      if (!this.closedFlag) fn();
    });
    this.timers.add(handle);
    return {
      cancel: () => {
        this.timers.delete(handle);
        handle.cancel();
      },
    };
  }

  /**
   * A proposal other than a fire batch (report, kill, lost, retry). Bounded in flight; null
   * when refused, failed, or the term ended before it applied.
   */
  async propose(command: Command): Promise<ApplyResult | null> {
    if (this.closedFlag || this.inFlight >= PROPOSALS_IN_FLIGHT_MAX) {
      this.metrics.proposalFailures += 1;
      return null;
    }
    this.inFlight += 1;
    this.metrics.proposalsInFlight = this.inFlight;
    try {
      const result = await this.host.propose(command);
      return this.closedFlag ? null : result;
    } catch {
      this.metrics.proposalFailures += 1;
      return null;
    } finally {
      this.inFlight -= 1;
      this.metrics.proposalsInFlight = this.inFlight;
    }
  }

  /** Nodes of the run's current attempt whose execution has not ended. */
  activeNodes(run: RunRecord): string[] {
    // A queue run's executions name pull workers, which take no orders from the leader.
    if (run.queue !== null) return [];
    return run.executions.filter((e) => e.attempt === run.attempt && isActiveStatus(e.status)).map((e) => e.node);
  }

  sendExecute(run: RunRecord, job: Job, nodes: readonly string[]): void {
    for (const node of nodes) {
      const startedOnNode = run.executions.some((e) => e.node === node && e.attempt === run.attempt && e.startedAt !== null);
      this.host.sendExecute(node, {
        runId: run.runId, attempt: run.attempt, term: this.term, jobId: run.jobId, scheduledAtMs: run.scheduledAt,
        payload: run.payload ?? '', notBeforeMs: run.notBefore, sentAtMs: this.host.nowMs(), timeoutMs: job.timeoutMs, spec: job.executor, startedOnNode,
      });
    }
  }

  sendKill(runId: string, attempt: number, nodes: readonly string[], reason: KillReason): void {
    for (const node of nodes) this.host.sendKill(node, runId, attempt, reason);
    this.metrics.killsSent += nodes.length;
  }
}

/** One timer for the earliest of many due times. */
export class Alarm {
  private handle: TimerHandle | null = null;
  private dueMs = Infinity;

  constructor(private readonly ctx: TermContext, private readonly fn: () => void) {}

  /** When it wakes next (Infinity when it is not set). */
  get due(): number {
    return this.dueMs;
  }

  /** Wakes at `dueMs` unless already due to wake earlier. */
  at(dueMs: number): void {
    if (dueMs >= this.dueMs) return;
    this.handle?.cancel();
    this.dueMs = dueMs;
    this.handle = this.ctx.timer(dueMs - this.ctx.now(), () => {
      this.handle = null;
      this.dueMs = Infinity;
      this.fn();
    });
  }

  cancel(): void {
    this.handle?.cancel();
    this.handle = null;
    this.dueMs = Infinity;
  }
}
