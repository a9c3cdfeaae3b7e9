// The leader-only scheduler. The agent starts it when this node leads (after an entry of
// the new term committed) and stops it when leadership ends. Everything it keeps in memory
// is a cache of the applied table: a new leader re-derives all of it. It acts on committed
// entries (onApplied), never on its own hopes: an execute is sent after the fire that names
// the node applied, a kill after the killRun applied, a retry's execute after the retryRun.
import assert from 'node:assert';
import {
  FUNCTION_QUEUED_MAX, IDEMPOTENCY_KEY_CHARS_MAX, PAYLOAD_BYTES_MAX, isActiveStatus,
  type ApplyResult, type ClaimReportCommand, type KillRunCommand, type Command, type FireOutcome, type Job, type QueuedManualFire, type RunRecord,
} from '../statemachine/index.js';
import { TermContext } from './context.js';
import { ChimeError } from '../errors/index.js';
import { queuedFire, waitingQueuedFire } from './batch.js';
import { FireLoop } from './fire-loop.js';
import { FollowUps } from './follow-ups.js';
import { SchedulerMetrics } from './metrics.js';
import { FOLLOW_UPS_MAX, REDISPATCH_PER_STEP_MAX, resolveOptions, type SchedulerOptions } from './options.js';
import { ReportBatcher } from './report-batch.js';
import { runReportOf } from './reports.js';
import { Retries } from './retries.js';
import type { AwaitRunResult, ExecuteRefusal, ExecutorReport, RunNowOptions, RunNowResult, SchedulerHost } from './types.js';
import { RunWaiters } from './waiters.js';
import { WorkQueue, type ClaimRequest } from './work-queue.js';

type Session = {
  readonly ctx: TermContext;
  readonly fires: FireLoop;
  readonly followUps: FollowUps;
  readonly retries: Retries;
  /** Nodes each active run was sent to, so a deleted job's runs can still be killed. */
  readonly dispatched: Map<string, { readonly attempt: number; readonly nodes: readonly string[] }>;
  /** Reports waiting for or in a runReports proposal; a resent copy joins the one in flight. */
  readonly reports: ReportBatcher;
  readonly work: WorkQueue;
};

/** Every command kind is handled above: a new kind does not compile until it is. */
function unhandled(command: never): never {
  throw new Error(`unhandled command ${JSON.stringify(command)}`);
}

/** When the attempt became claimable: its fire (or, for a retry, the previous attempt's end), or notBefore when later. */
function queuedSince(run: RunRecord): number {
  const previous = run.attempt === 1 ? undefined : run.executions.filter((e) => e.attempt === run.attempt - 1).map((e) => e.finishedAt ?? 0);
  const since = previous === undefined || previous.length === 0 ? run.firedAt : Math.max(...previous);
  return Math.max(since, run.notBefore ?? 0);
}

const notLeader = (): ChimeError => new ChimeError('NOT_LEADER', 'this node is not the leader');

export class Scheduler {
  readonly metrics = new SchedulerMetrics();
  readonly options: SchedulerOptions;
  private session: Session | null = null;
  private readonly waiters: RunWaiters;

  constructor(private readonly host: SchedulerHost, options: Partial<SchedulerOptions> = {}) {
    this.options = resolveOptions(options);
    this.waiters = new RunWaiters(host);
  }

  get leading(): boolean {
    return this.session !== null;
  }

  /** This node leads in `term` and has applied everything committed before its first entry. */
  start(term: number): void {
    assert.ok(Number.isSafeInteger(term) && term >= 0, 'term must be a non-negative integer');
    if (this.session !== null) this.stop();
    const ctx = new TermContext(this.host, this.options, this.metrics, term, this.host.nowMs());
    const s: Session = { ctx, fires: new FireLoop(ctx), followUps: new FollowUps(ctx), retries: new Retries(ctx), dispatched: new Map(), reports: new ReportBatcher(ctx), work: new WorkQueue(ctx) };
    this.session = s;
    this.metrics.leading = true;
    this.redispatch(s, 0);
    s.retries.load();
    s.retries.process();
    s.fires.pump();
    const tick = (): void => {
      this.maintain(s);
      s.ctx.timer(this.options.maintenanceMs, tick);
    };
    s.ctx.timer(this.options.maintenanceMs, tick);
  }

  /** Leadership ended: drop every timer, queue and waiter. Replicated state is untouched. */
  stop(): void {
    const s = this.session;
    if (s === null) return;
    this.session = null;
    s.ctx.close();
    s.reports.close();
    s.fires.close(notLeader());
    s.work.close(notLeader());
    s.followUps.clear();
    s.retries.clear();
    this.waiters.rejectAll(notLeader());
    this.metrics.leading = false;
    this.updateGauges(null);
  }

  /** The agent calls this for every command applied while this scheduler runs, with its result. */
  onApplied(command: Command, result: ApplyResult): void {
    const s = this.session;
    if (s === null || !result.ok) return;
    switch (command.type) {
      case 'fire':
        if (result.kind === 'fire') this.firesApplied(s, result.fires);
        return;
      case 'runStarted':
        this.runStarted(s, result);
        return;
      case 'runFinished': case 'runLost':
        if (result.kind === 'run') this.runChanged(s, result.run);
        return;
      case 'runReports':
        if (result.kind !== 'reports') return;
        command.reports.forEach((report, i) => {
          const one = result.results[i];
          if (one === undefined || !one.ok) return;
          if (report.kind === 'started') this.runStarted(s, one);
          else if (one.kind === 'run') this.runChanged(s, one.run);
        });
        return;
      case 'retryRun':
        if (result.kind === 'run') {
          this.metrics.retriesRecorded += 1;
          this.dispatch(s, result.run);
          if (result.run.queue !== null) s.work.wake();
        }
        return;
      case 'claimRuns':
        if (result.kind === 'claimed') this.claimed(s, result.runs);
        return;
      case 'claimReport':
        if (result.kind === 'run') this.runChanged(s, result.run);
        return;
      case 'killRun':
        if (result.kind === 'run' && result.run.queue !== null) {
          // A queue run ends with its kill (apply-queue.ts): nothing to send or wait for.
          if (command.reason === 'request') this.metrics.requestKills += 1;
          this.runChanged(s, result.run);
        } else if (result.kind === 'run') {
          if (command.reason === 'request') this.metrics.requestKills += 1;
          s.ctx.sendKill(result.run.runId, result.run.attempt, s.ctx.activeNodes(result.run), command.reason);
          s.followUps.afterKill(result.run);
        }
        return;
      case 'deleteJob':
        if (result.kind === 'deleted') this.jobDeleted(s, result.activeRunIds);
        return;
      case 'putJob':
        if ((result.kind === 'job' || result.kind === 'jobUnread') && result.created) s.fires.jobCreated(this.host.table().nextFireAtOf(command.id));
        else s.fires.wake();
        return;
      case 'putJobs': case 'pauseJob': case 'resumeJob':
        s.fires.wake();
        return;
      case 'queueFires':
        // The fire loop settles its own proposal; the waiting fires are now the table's.
        return;
      case 'notifyResults':
        // Delivery state is the notifier's business, not the scheduler's.
      // Tokens and audit records change nothing the scheduler keeps.
      case 'createToken': case 'revokeToken': case 'audit':
        return;
      default:
        return unhandled(command);
    }
  }

  /** Runs whose executions the table declared lost without a command (their node's removal applied). */
  onRunsLost(runs: readonly RunRecord[]): void {
    const s = this.session;
    if (s === null) return;
    for (const run of runs) this.runChanged(s, run);
  }

  /** An executor's report: resolves true once its command applied (the agent then acknowledges), false when it could not be recorded. */
  async onReport(report: ExecutorReport): Promise<boolean> {
    const s = this.session;
    if (s === null) return false;
    const runReport = runReportOf(report, s.ctx.now());
    if (runReport === null) {
      this.metrics.reportsRefused += 1;
      return false;
    }
    // Executors resend unacknowledged reports every second; when commits are slower than that
    // (an overloaded cluster), proposing each copy again multiplied the load that made them slow.
    return s.reports.submit(runReport);
  }

  /** An executor refused an execute. A stale term means we no longer lead; anything else fails the execution (the retry policy decides). */
  onExecuteRefused(node: string, runId: string, attempt: number, refusal: ExecuteRefusal): void {
    const s = this.session;
    if (s === null || refusal === 'stale_term') return;
    void s.reports.submit({
      kind: 'finished', runId, attempt, node, at: s.ctx.now(), startedAt: null, status: 'failed', exitCode: null, output: '', outputTruncated: false,
      error: `executor ${node} refused the run: ${refusal}`,
    });
  }

  /** Manual run: resolves once the fire applied with the run id (a key seen within 24 h returns the first run). */
  runNow(jobId: string, options: RunNowOptions = {}): Promise<RunNowResult> {
    const s = this.session;
    if (s === null) return Promise.reject(notLeader());
    const job = this.host.table().getJob(jobId);
    if (job === null) return Promise.reject(new ChimeError('JOB_NOT_FOUND', `job "${jobId}" does not exist`));
    const payload = options.payload ?? null;
    const key = options.key ?? null;
    const priority = options.priority ?? null;
    if (payload !== null && new TextEncoder().encode(payload).length > PAYLOAD_BYTES_MAX) {
      return Promise.reject(new ChimeError('INVALID_INPUT', `payload is larger than ${PAYLOAD_BYTES_MAX} bytes`));
    }
    if (key !== null && (key.length === 0 || key.length > IDEMPOTENCY_KEY_CHARS_MAX)) {
      return Promise.reject(new ChimeError('INVALID_INPUT', `key must be 1 to ${IDEMPOTENCY_KEY_CHARS_MAX} characters`));
    }
    const executor = job.executor;
    if (executor.type === 'queue' && this.host.table().queuedCount(executor.function) >= FUNCTION_QUEUED_MAX) {
      this.metrics.functionQueueRefused += 1;
      return Promise.reject(new ChimeError('FUNCTION_QUEUE_FULL', `function ${executor.function} has ${FUNCTION_QUEUED_MAX} queued runs, its limit; try again later`));
    }
    return new Promise<RunNowResult>((resolve, reject) => {
      const queued = { jobId, runId: this.host.newRunId(), trigger: 'manual', scheduledAt: s.ctx.now(), payload, key, priority, triggeredBy: options.triggeredBy ?? null } as const;
      if (!s.fires.enqueue(queued, { resolve, reject })) reject(new ChimeError('QUEUE_FULL', 'too many manual runs are waiting; try again later'));
    });
  }

  /** Resolves when the run is final ({done: true}) or after timeoutMs with the record as it stands. */
  awaitRun(runId: string, timeoutMs: number): Promise<AwaitRunResult> {
    if (this.session === null) return Promise.reject(notLeader());
    return this.waiters.wait(runId, timeoutMs);
  }

  /** A pull worker's long-poll: resolves with the runs the log gave it (their current attempts), empty when none came in time. */
  claim(request: ClaimRequest): Promise<readonly RunRecord[]> {
    const s = this.session;
    if (s === null) return Promise.reject(notLeader());
    return s.work.claim(request);
  }

  /** A pull worker's heartbeat, complete or fail, recorded in the log; the result says whether the worker still held the attempt. */
  async claimReport(command: ClaimReportCommand): Promise<ApplyResult> {
    const s = this.session;
    if (s === null) throw notLeader();
    return s.work.report(command);
  }

  /** Claims waiting per function on this leader (empty when not leading). */
  claimWaitersByFunction(): Map<string, number> {
    return this.session?.work.waitingByFunction() ?? new Map();
  }

  /** Kill on request: records killRun(request); the kill is sent once it applied. */
  async killRun(runId: string, audit?: KillRunCommand['audit']): Promise<ApplyResult> {
    if (this.session === null) throw notLeader();
    const run = this.host.table().getRun(runId);
    const waiting = run === null ? this.host.table().waitingManualFire(runId) : null;
    if (waiting !== null) return this.killWaiting(waiting, audit);
    if (run === null) return { ok: false, code: 'RUN_NOT_FOUND', message: `run "${runId}" does not exist` };
    if (!isActiveStatus(run.status)) return { ok: false, code: 'RUN_NOT_ACTIVE', message: `run "${runId}" is already ${run.status}` };
    return this.host.propose(audit === undefined ? { type: 'killRun', runId, reason: 'request', at: this.host.nowMs() } : { type: 'killRun', runId, reason: 'request', at: this.host.nowMs(), audit });
  }

  /**
   * A manual run still waiting for a free slot has nothing to kill: it is recorded skipped,
   * with the reason, by the fire that would have started it (which also ends its wait on every
   * leader). Had a slot freed and the run fired first, that fire wins and the run is killed.
   */
  private async killWaiting(waiting: QueuedManualFire, audit?: KillRunCommand['audit']): Promise<ApplyResult> {
    const fire = queuedFire(waitingQueuedFire(waiting), { kind: 'none', reason: 'killed by request while it waited for a free executor slot' });
    const result = await this.host.propose(audit === undefined ? { type: 'fire', at: this.host.nowMs(), fires: [fire] } : { type: 'fire', at: this.host.nowMs(), fires: [fire], audit });
    if (!result.ok || result.kind !== 'fire') return result;
    if (result.fires[0]?.status === 'duplicate') return this.killRun(waiting.runId, audit);
    const run = this.host.table().getRun(waiting.runId);
    return run === null ? result : { ok: true, kind: 'run', run };
  }

  /** Refreshes the gauges and returns the metrics object. */
  metricsNow(): SchedulerMetrics {
    this.updateGauges(this.session);
    return this.metrics;
  }

  private updateGauges(s: Session | null): void {
    this.metrics.queuedFires = s?.fires.queued ?? 0;
    this.metrics.owedAfterFires = this.host.table().owedAfterCount;
    this.metrics.owedManualFires = this.host.table().owedManualCount;
    this.metrics.fireLeadMs = s?.fires.leadMs() ?? 0;
    this.metrics.retryQueue = s?.retries.size ?? 0;
    this.metrics.followUps = s?.followUps.size ?? 0;
    this.metrics.runWaiters = this.waiters.size;
    this.metrics.claimWaiters = s?.work.waiting ?? 0;
  }

  private maintain(s: Session): void {
    s.work.expireLeases();
    s.followUps.detectLost();
    s.followUps.process();
    s.retries.process();
    s.fires.pump();
    this.updateGauges(s);
  }

  private firesApplied(s: Session, outcomes: readonly FireOutcome[]): void {
    const table = this.host.table();
    const now = s.ctx.now();
    let queued = false;
    for (const outcome of outcomes) {
      if (outcome.status === 'duplicate') this.metrics.duplicates += 1;
      else if (outcome.status === 'rejected') this.metrics.rejectedFires += 1;
      else if (outcome.status === 'skipped') {
        this.metrics.skipped += 1;
        // A skip may already be evicted by a short history when a batch records many.
        const run = table.getRun(outcome.runId);
        if (run !== null) this.waiters.onRun(run);
      } else {
        this.metrics.fires += 1;
        const run = table.getRun(outcome.runId);
        assert.ok(run !== null, 'a run just recorded as run is active, and active runs are never evicted');
        if (run.trigger === 'schedule' || run.trigger === 'misfire') this.metrics.recordLateness(now - run.scheduledAt);
        this.dispatch(s, run);
        if (run.queue !== null) queued = true;
      }
    }
    if (queued) s.work.wake();
  }

  /** Sends the run's current attempt to its nodes and follows it up. */
  private dispatch(s: Session, run: RunRecord, job: Job | null = this.host.table().getJob(run.jobId)): void {
    if (job === null) return;
    const nodes = s.ctx.activeNodes(run);
    s.ctx.sendExecute(run, job, nodes);
    this.metrics.executesSent += nodes.length;
    if (s.dispatched.size < FOLLOW_UPS_MAX) s.dispatched.set(run.runId, { attempt: run.attempt, nodes });
    s.followUps.track(run, job);
  }

  /** On start: the same execute (or kill) again for every active run an earlier leader committed, a bounded step at a time. */
  private redispatch(s: Session, afterSeq: number): void {
    if (s.ctx.closed) return;
    const table = this.host.table();
    const runs = table.activeRuns(REDISPATCH_PER_STEP_MAX, afterSeq);
    for (const run of runs) {
      const job = table.getJob(run.jobId);
      if (job === null) continue;
      const nodes = s.ctx.activeNodes(run);
      if (s.dispatched.size < FOLLOW_UPS_MAX) s.dispatched.set(run.runId, { attempt: run.attempt, nodes });
      if (run.killRequested !== null) {
        s.ctx.sendKill(run.runId, run.attempt, nodes, run.killRequested);
        s.followUps.afterKill(run);
        continue;
      }
      s.ctx.sendExecute(run, job, nodes);
      this.metrics.executesResent += nodes.length;
      s.followUps.track(run, job);
    }
    const last = runs[runs.length - 1];
    if (runs.length === REDISPATCH_PER_STEP_MAX && last !== undefined) s.ctx.timer(0, () => this.redispatch(s, last.seq));
  }

  /** Claimed attempts run: their time limit counts from now. */
  private claimed(s: Session, runs: readonly RunRecord[]): void {
    const table = this.host.table();
    for (const run of runs) {
      if (run.queue !== null && run.startedAt !== null) this.metrics.recordClaimLatency(run.queue.function, Math.max(0, run.startedAt - queuedSince(run)));
      const job = table.getJob(run.jobId);
      if (job !== null) s.followUps.track(run, job);
    }
  }

  private runStarted(s: Session, result: ApplyResult): void {
    const job = result.ok && result.kind === 'run' ? this.host.table().getJob(result.run.jobId) : null;
    if (result.ok && result.kind === 'run' && job !== null) s.followUps.track(result.run, job);
  }

  private runChanged(s: Session, run: RunRecord): void {
    if (!isActiveStatus(run.status)) {
      s.dispatched.delete(run.runId);
      this.waiters.onRun(run);
      s.retries.onFinal(run);
    }
    // An execution ended: its slot is free, so waiting fires may now be placed; a success may
    // also have made the table owe `after` fires, which the next pass proposes.
    s.fires.wake();
  }

  private jobDeleted(s: Session, activeRunIds: readonly string[]): void {
    for (const runId of activeRunIds) {
      const sent = s.dispatched.get(runId);
      if (sent !== undefined) s.ctx.sendKill(runId, sent.attempt, sent.nodes, 'request');
      s.dispatched.delete(runId);
      this.waiters.onGone(runId);
    }
  }
}
