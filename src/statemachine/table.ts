// JobTable: the replicated state machine. apply() is the only way state changes; it is
// deterministic (no clock, no randomness, no iteration over unordered data) so every replica
// that applies the same log holds the same table and writes the same snapshot bytes.
import { assert, itemAt } from './assert.js';
import { applyFire, applyQueueFires } from './apply-fire.js';
import type { QueuedManualFire } from './commands.js';
import { applyDeleteJob, applyPause, applyPutJob, applyPutJobs, applyResume, sameSpec } from './apply-jobs.js';
import { applyKillRun, applyRetryRun, applyRunFinished, applyRunLost, applyRunReports, applyRunStarted, loseExecutionsOf } from './apply-runs.js';
import { applyClaimReport, applyClaimRuns } from './apply-queue.js';
import { decodeCommand } from './codec.js';
import { tokenCommandOf, type Command, type CreateTokenEntry, type RevokeTokenEntry } from './commands.js';
import type { AuditPage, AuditRecord, TokenLookup, TokenPage, TokenView } from '../access/index.js';
import { ChimeError } from '../errors/index.js';
import { ERROR_CODES } from './errors.js';
import { CLAIM_SCAN_MAX, DEFAULT_LIMITS, type TableLimits } from './limits.js';
import { noop, rejected, type AppliedJob, type ApplyResult, type Rejected } from './results.js';
import type { WriteEntry } from './write-ids.js';
import { assertRunIndexes } from './run-indexes.js';
import type { JobFigures } from './job-metrics.js';
import { assertSearchIndexes, searchRuns, type RunQuery } from './run-search.js';
import { applyNotifyResults, dueNotifications, listNotifications, notificationView, type NotificationFilter } from './notifications.js';
import { decodeSnapshot, encodeSnapshot, encodeSnapshotSteps } from './snapshot.js';
import { createState, type TableState } from './state.js';
import { isActiveStatus, type Job, type JobSpec, type NotificationRecord, type QueuePriority, type RunRecord, type WorkerEntry } from './types.js';
import { jobView, runView } from './views.js';

export type FunctionSummary = {
  readonly name: string;
  readonly queued: number;
  readonly queuedByPriority: Readonly<Record<QueuePriority, number>>;
  readonly running: number;
  readonly workers: number;
};
export type WorkerSummary = WorkerEntry & { readonly running: number; readonly runIds: readonly string[] };

export const LIST_LIMIT_DEFAULT = 100;
export const LIST_LIMIT_MAX = 1000;

export type ListOptions = { readonly limit?: number; readonly cursor?: string | null };
export type Page<T> = { readonly ok: true; readonly items: T[]; readonly nextCursor: string | null };

/** The audit record a request's command carries; commands the cluster makes itself carry none. */
function auditOf(command: Command): AuditRecord | undefined {
  switch (command.type) {
    case 'putJob': case 'putJobs': case 'deleteJob': case 'pauseJob': case 'resumeJob': case 'fire': case 'killRun':
    case 'createToken': case 'revokeToken':
      return command.audit;
    case 'runStarted': case 'runFinished': case 'runLost': case 'retryRun': case 'runReports': case 'audit':
    case 'notifyResults': case 'claimRuns': case 'claimReport': case 'queueFires':
      return undefined;
  }
}

const OUTCOME_LETTERS = { created: 'c', configured: 'f', unchanged: 'u' } as const;
const OUTCOMES_BY_LETTER: Readonly<Record<string, AppliedJob['outcome']>> = { c: 'created', f: 'configured', u: 'unchanged' };

/** What an accepted write's repeat needs of its result. */
function writeEntryOf(result: ApplyResult & { readonly ok: true }, index: number, atMs: number): WriteEntry {
  switch (result.kind) {
    case 'job': case 'jobUnread': return { index, atMs, created: result.created, outcomes: '' };
    case 'jobs': return { index, atMs, created: false, outcomes: result.jobs.map((j) => OUTCOME_LETTERS[j.outcome]).join('') };
    default: return { index, atMs, created: false, outcomes: '' };
  }
}

/**
 * The answer to a write that already took effect at `earlier.index`, changing nothing: the
 * first one's outcome with the table as it is now. When what it wrote is gone since (a job
 * deleted meanwhile), a WRITE_REPEATED no-op says so.
 */
function repeatOf(state: TableState, command: Command, earlier: WriteEntry, answered: boolean): ApplyResult {
  const gone = noop(ERROR_CODES.WRITE_REPEATED, `this write took effect earlier (log index ${earlier.index}) and what it wrote changed since`);
  switch (command.type) {
    case 'putJob': case 'pauseJob': case 'resumeJob': {
      const job = state.jobs.get(command.id);
      if (job === undefined) return gone;
      return answered ? { ok: true, kind: 'job', created: earlier.created, job: jobView(job) } : { ok: true, kind: 'jobUnread', created: earlier.created };
    }
    case 'putJobs': {
      const jobs: AppliedJob[] = [];
      for (const [i, item] of command.jobs.entries()) {
        const job = state.jobs.get(item.id);
        const outcome = OUTCOMES_BY_LETTER[earlier.outcomes.charAt(i)];
        if (job === undefined || outcome === undefined) return gone;
        jobs.push({ id: item.id, outcome, job: jobView(job) });
      }
      return { ok: true, kind: 'jobs', jobs };
    }
    case 'deleteJob':
      return { ok: true, kind: 'deleted', id: command.id, activeRunIds: [] };
    default:
      return noop(ERROR_CODES.WRITE_REPEATED, `this write took effect earlier (log index ${earlier.index})`);
  }
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return LIST_LIMIT_DEFAULT;
  return Math.min(LIST_LIMIT_MAX, Math.max(1, Math.floor(limit)));
}

export class JobTable {
  private constructor(private readonly state: TableState) {}

  static create(limits: TableLimits = DEFAULT_LIMITS): JobTable {
    return new JobTable(createState(limits));
  }

  /** Rebuilds a table from snapshot bytes; throws ChimeError for bad bytes. */
  static restore(bytes: Uint8Array): JobTable {
    return new JobTable(decodeSnapshot(bytes));
  }

  /**
   * The snapshot bytes. With `frame`, they come after frame(snapshot length) in one buffer,
   * so a wrapper's header costs no copy of the whole snapshot.
   */
  snapshot(frame?: (snapshotBytes: number) => Uint8Array): Uint8Array {
    return encodeSnapshot(this.state, frame);
  }

  /**
   * The same bytes in steps, for a caller that gives the event loop a turn between them (a
   * million jobs take seconds to encode). Nothing may be applied until it returns.
   */
  snapshotSteps(frame?: (snapshotBytes: number) => Uint8Array): Generator<void, Uint8Array, void> {
    return encodeSnapshotSteps(this.state, frame);
  }

  get appliedIndex(): number {
    return this.state.appliedIndex;
  }

  get limits(): TableLimits {
    return this.state.limits;
  }

  /** Applies one committed log entry's bytes. Garbage becomes an INVALID_COMMAND result. */
  applyEntry(bytes: Uint8Array, index: number): ApplyResult {
    let command: Command;
    try {
      command = decodeCommand(bytes);
    } catch (error) {
      if (!(error instanceof ChimeError && error.code === 'INVALID_COMMAND')) throw error;
      this.advance(index);
      return rejected(ERROR_CODES.INVALID_COMMAND, error.message);
    }
    return this.apply(command, index);
  }

  /**
   * Applies a command at a log index. Indexes must increase: applying one twice is a bug.
   * `answered` false: no caller waits for this result here, so it may leave out the copies
   * only a caller reads (a job result becomes `jobUnread`); the table changes the same.
   */
  apply(command: Command, index: number, answered = true): ApplyResult {
    this.advance(index);
    const audit = auditOf(command);
    const writeId = audit?.writeId;
    if (writeId !== undefined && audit !== undefined) {
      // A write re-sent after its outcome was lost: once is all it takes effect.
      const earlier = this.state.writes.get(writeId);
      if (earlier !== undefined) return repeatOf(this.state, command, earlier, answered);
      if (audit.retrySince !== undefined && this.state.writes.unsure(audit.retrySince)) {
        return rejected(ERROR_CODES.OUTCOME_UNKNOWN, 'this write was first sent too long ago (or too many came since) to tell whether it took effect; it was not applied again');
      }
    }
    const result = this.applyCommand(command, index, answered);
    // Only accepted writes are audited (api.md): a refused one changed nothing.
    if (result.ok && audit !== undefined) {
      this.state.audit.append(audit);
      if (writeId !== undefined) this.state.writes.remember(writeId, writeEntryOf(result, index, audit.at));
    }
    return result;
  }

  /** A member left the cluster: its node-run executions end lost now (apply-runs.ts loseExecutionsOf). Returns the runs changed. */
  memberRemoved(node: string): RunRecord[] {
    return loseExecutionsOf(this.state, node);
  }

  private applyCommand(command: Command, index: number, answered: boolean): ApplyResult {
    switch (command.type) {
      case 'putJob': return applyPutJob(this.state, command, index, answered);
      case 'putJobs': return applyPutJobs(this.state, command, index);
      case 'deleteJob': return applyDeleteJob(this.state, command);
      case 'pauseJob': return applyPause(this.state, command, index, answered);
      case 'resumeJob': return applyResume(this.state, command, index, answered);
      case 'fire': return applyFire(this.state, command);
      case 'queueFires': return applyQueueFires(this.state, command);
      case 'runStarted': return applyRunStarted(this.state, command);
      case 'runFinished': return applyRunFinished(this.state, command);
      case 'runLost': return applyRunLost(this.state, command);
      case 'retryRun': return applyRetryRun(this.state, command);
      case 'killRun': return applyKillRun(this.state, command);
      case 'runReports': return applyRunReports(this.state, command);
      case 'notifyResults': return applyNotifyResults(this.state.notify, command);
      case 'claimRuns': return applyClaimRuns(this.state, command);
      case 'claimReport': return applyClaimReport(this.state, command);
      case 'createToken': case 'revokeToken': return this.applyToken(command);
      case 'audit': {
        const appended = this.state.audit.append(command.record);
        return appended.ok ? { ok: true, kind: 'audited' } : rejected('INVALID_AUDIT_RECORD', appended.message);
      }
    }
  }

  private applyToken(command: CreateTokenEntry | RevokeTokenEntry): ApplyResult {
    const result = this.state.tokens.apply(tokenCommandOf(command));
    if (!result.ok) return rejected(result.code, result.message);
    return result.kind === 'tokenCreated'
      ? { ok: true, kind: 'tokenCreated', created: result.created, token: result.token }
      : { ok: true, kind: 'tokenRevoked', token: result.token };
  }

  /** What authorize() needs: whether tokens exist, and the record of a secret's hash. */
  get tokens(): TokenLookup {
    return this.state.tokens;
  }

  getToken(id: string): TokenView | null {
    return this.state.tokens.get(id);
  }

  /** Tokens oldest first, without hashes. */
  listTokens(options: ListOptions = {}): TokenPage | Rejected {
    const page = this.state.tokens.list(options);
    return page.ok ? page : rejected(page.code, page.message);
  }

  /** The audit log, newest first. */
  listAudit(options: ListOptions = {}): AuditPage | Rejected {
    const page = this.state.audit.list(options);
    return page.ok ? page : rejected(page.code, page.message);
  }

  private advance(index: number): void {
    if (!Number.isSafeInteger(index) || index <= this.state.appliedIndex) assert(false, `apply index ${index} must exceed ${this.state.appliedIndex}`);
    this.state.appliedIndex = index;
  }

  get jobCount(): number {
    return this.state.jobs.size;
  }

  get runCount(): number {
    return this.state.runs.size;
  }

  get activeRunCount(): number {
    return this.state.activeRuns.size;
  }

  /** What putting this validated spec would do to the stored job (chime apply's dry run). */
  outcomeOfPut(spec: JobSpec): 'created' | 'configured' | 'unchanged' {
    const existing = this.state.jobs.get(spec.id);
    if (existing === undefined) return 'created';
    return sameSpec(existing.spec, spec) ? 'unchanged' : 'configured';
  }

  getJob(id: string): Job | null {
    const job = this.state.jobs.get(id);
    return job === undefined ? null : jobView(job);
  }

  /** Jobs in id order. The cursor is the last id of the previous page, so deletes never skip a job. */
  listJobs(options: ListOptions = {}): Page<Job> | Rejected {
    let after: string | undefined;
    if (options.cursor !== undefined && options.cursor !== null) {
      if (!options.cursor.startsWith('j1.') || options.cursor.length <= 3) return rejected(ERROR_CODES.INVALID_CURSOR, 'invalid cursor');
      after = options.cursor.slice(3);
    }
    const limit = clampLimit(options.limit);
    const items: Job[] = [];
    let more = false;
    for (const job of this.state.jobs.valuesAfter(after)) {
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(jobView(job));
    }
    const last = items[items.length - 1];
    return { ok: true, items, nextCursor: more && last !== undefined ? `j1.${last.id}` : null };
  }

  getRun(runId: string): RunRecord | null {
    const run = this.state.runs.get(runId);
    return run === undefined ? null : runView(run);
  }

  /** A job's runs, newest first. The cursor is the seq of the last run of the previous page. */
  listRuns(jobId: string, options: ListOptions = {}): Page<RunRecord> | Rejected {
    const job = this.state.jobs.get(jobId);
    if (job === undefined) return rejected(ERROR_CODES.JOB_NOT_FOUND, `job "${jobId}" does not exist`);
    let beforeSeq = Infinity;
    if (options.cursor !== undefined && options.cursor !== null) {
      const m = /^r1\.(\d{1,15})$/.exec(options.cursor);
      if (m === null) return rejected(ERROR_CODES.INVALID_CURSOR, 'invalid cursor');
      beforeSeq = Number(m[1]);
    }
    const runs = job.runs ?? [];
    // Binary search: the first position whose seq is >= beforeSeq; walk down from there.
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (itemAt(runs, mid).seq < beforeSeq) lo = mid + 1;
      else hi = mid;
    }
    const limit = clampLimit(options.limit);
    const items: RunRecord[] = [];
    for (let i = lo - 1; i >= 0 && items.length < limit; i--) items.push(runView(itemAt(runs, i)));
    const last = items[items.length - 1];
    const more = last !== undefined && lo - items.length > 0;
    return { ok: true, items, nextCursor: more ? `r1.${last.seq}` : null };
  }

  /** Pending and running runs, oldest first; `afterSeq` continues a walk after that run's seq. */
  activeRuns(limit: number = this.state.limits.activeRunsMax, afterSeq: number = 0): RunRecord[] {
    return this.viewsOf(this.state.activeRuns.valuesAfter(afterSeq > 0 ? { seq: afterSeq } : undefined), limit);
  }

  /** A job's pending and running runs, oldest first (scans the job's records only). */
  activeRunsOfJob(jobId: string, limit: number): RunRecord[] {
    const out: RunRecord[] = [];
    for (const run of this.state.jobs.get(jobId)?.runs ?? []) {
      if (out.length >= limit) break;
      if (isActiveStatus(run.status)) out.push(runView(run));
    }
    return out;
  }

  /** Runs with an active execution of their current attempt on `node`, oldest first. */
  activeRunsOnNode(node: string, limit: number, afterSeq: number = 0): RunRecord[] {
    const set = this.state.activeByNode.get(node);
    if (set === undefined) return [];
    return this.viewsOf(set.valuesAfter(afterSeq > 0 ? { seq: afterSeq } : undefined), limit);
  }

  /** How many active executions `node` holds: what its slots are measured against. */
  activeCountOnNode(node: string): number {
    return this.state.activeByNode.get(node)?.size ?? 0;
  }

  /** Nodes that hold at least one active execution, in id order. */
  nodesWithActiveRuns(): string[] {
    return [...this.state.activeByNode.keys()].sort();
  }

  /**
   * Final runs that still owe an automatic retry (failed, timed_out or lost with attempts
   * left), oldest finish first. `after` continues a walk after the given run.
   */
  runsAwaitingRetry(limit: number, after?: { readonly finishedAt: number; readonly seq: number }): RunRecord[] {
    return this.viewsOf(this.state.awaitingRetry.valuesAfter(after), limit);
  }

  get awaitingRetryCount(): number {
    return this.state.awaitingRetry.size;
  }

  /** Ids of jobs that other jobs list in `after`, in id order, at most `limit`. */
  upstreamJobIds(limit: number): string[] {
    return [...this.state.dependents.keys()].sort().slice(0, limit);
  }

  /** Asserts that the derived run indexes match the records (used by tests). */
  assertIndexesConsistent(): void {
    assertRunIndexes(this.state);
    assertSearchIndexes(this.state, this.state.runs.values());
  }

  /**
   * Runs across jobs matching every filter, newest first. The walk follows the most selective
   * index (the job's runs, a status, a node) and looks at a bounded number of records per
   * page: a page may hold fewer than `limit` items and still carry a cursor to go on.
   */
  searchRuns(query: Omit<RunQuery, 'jobRuns'>, options: ListOptions = {}): Page<RunRecord> | Rejected {
    let beforeSeq = Infinity;
    if (options.cursor !== undefined && options.cursor !== null) {
      const m = /^s1\.(\d{1,15})$/.exec(options.cursor);
      if (m === null) return rejected(ERROR_CODES.INVALID_CURSOR, 'invalid cursor');
      beforeSeq = Number(m[1]);
    }
    let jobRuns: readonly RunRecord[] | null = null;
    if (query.jobId != null) {
      const job = this.state.jobs.get(query.jobId);
      if (job === undefined) return { ok: true, items: [], nextCursor: null };
      jobRuns = job.runs ?? [];
    }
    const { items, continueBeforeSeq } = searchRuns(this.state, { ...query, jobRuns }, beforeSeq, clampLimit(options.limit));
    return { ok: true, items: items.map(runView), nextCursor: continueBeforeSeq === null ? null : `s1.${continueBeforeSeq}` };
  }

  private viewsOf(runs: Iterable<RunRecord>, limit: number): RunRecord[] {
    const out: RunRecord[] = [];
    for (const run of runs) {
      if (out.length >= limit) break;
      out.push(runView(run));
    }
    return out;
  }

  /** Enabled jobs whose next instant is at or before `timeMs`, earliest first, at most `limit`. */
  jobsDueBy(timeMs: number, limit: number): Job[] {
    const out: Job[] = [];
    for (const job of this.state.fireIndex.valuesAfter()) {
      if (out.length >= limit || (job.nextFireAt ?? Infinity) > timeMs) break;
      out.push(jobView(job));
    }
    return out;
  }

  /** The job's next instant, or null (no such job, manual, paused): a scheduler's look at one job without a copy of it. */
  nextFireAtOf(id: string): number | null {
    return this.state.jobs.get(id)?.nextFireAt ?? null;
  }

  /** The earliest next instant of any enabled job, or null: what the scheduler's timer waits for. */
  earliestNextFireAt(): number | null {
    return this.state.fireIndex.first()?.nextFireAt ?? null;
  }

  /** Kept notifications newest first, filtered by job and delivery status; the cursor is the last seq of the previous page. */
  listNotifications(filter: NotificationFilter, options: ListOptions = {}): Page<NotificationRecord> | Rejected {
    let beforeSeq = Infinity;
    if (options.cursor !== undefined && options.cursor !== null) {
      const m = /^n1\.(\d{1,15})$/.exec(options.cursor);
      if (m === null) return rejected(ERROR_CODES.INVALID_CURSOR, 'invalid cursor');
      beforeSeq = Number(m[1]);
    }
    const { items, more } = listNotifications(this.state.notify, filter, beforeSeq, clampLimit(options.limit));
    const last = items[items.length - 1];
    return { ok: true, items, nextCursor: more && last !== undefined ? `n1.${last.seq}` : null };
  }

  getNotification(eventId: string): NotificationRecord | null {
    const record = this.state.notify.records.get(eventId);
    return record === undefined ? null : notificationView(record);
  }

  /** Pending deliveries due at or before `nowMs`, earliest first: what the leader's notifier sends. */
  dueNotifications(nowMs: number, limit: number): NotificationRecord[] {
    return dueNotifications(this.state.notify, nowMs, limit);
  }

  /** The earliest instant a pending delivery is due, or null when none is pending. */
  earliestNotificationDueAt(): number | null {
    return this.state.notify.due.first()?.nextAttemptAt ?? null;
  }

  /** Per-job outcome figures (copies), in slot order; `_other` sums the jobs beyond the series limit. */
  jobFigures(): { jobId: string; figures: JobFigures }[] {
    return [...this.state.jobMetrics.byJob].map(([jobId, f]) => ({
      jobId,
      figures: { runs: { ...f.runs }, lastSuccessAt: f.lastSuccessAt, duration: { ...f.duration, buckets: [...f.duration.buckets] }, lateness: { ...f.lateness, buckets: [...f.lateness.buckets] } },
    }));
  }

  /** Replicated notification counters: the same on every node. */
  notificationStats(): { pending: number; delivered: number; failed: number; dropped: number } {
    const n = this.state.notify;
    return { pending: n.pending.size, delivered: n.deliveredTotal, failed: n.failedTotal, dropped: n.droppedTotal };
  }

  /**
   * Whether a claim for `functions` at `nowMs` would find a run, and otherwise the earliest
   * instant a queued run becomes due (a scheduled run fired ahead of its instant), or null.
   */
  queueHead(functions: readonly string[], nowMs: number): { readonly claimable: boolean; readonly nextDueAt: number | null } {
    let nextDueAt: number | null = null;
    for (const fn of functions) {
      let scanned = 0;
      for (const run of this.state.queued.get(fn)?.valuesAfter() ?? []) {
        if (++scanned > CLAIM_SCAN_MAX) break;
        if (run.notBefore === null || run.notBefore <= nowMs) return { claimable: true, nextDueAt: null };
        nextDueAt = Math.min(nextDueAt ?? run.notBefore, run.notBefore);
      }
    }
    return { claimable: false, nextDueAt };
  }

  /** How many runs of `fn` a claim at `nowMs` could take, counting at most `limit`. */
  claimableCount(fn: string, nowMs: number, limit: number): number {
    let n = 0;
    let scanned = 0;
    for (const run of this.state.queued.get(fn)?.valuesAfter() ?? []) {
      if (n >= limit || ++scanned > CLAIM_SCAN_MAX) break;
      if (run.notBefore === null || run.notBefore <= nowMs) n++;
    }
    return n;
  }

  /** Held queue runs whose lease ended at or before `nowMs`, earliest first. */
  expiredLeases(nowMs: number, limit: number): RunRecord[] {
    const out: RunRecord[] = [];
    for (const run of this.state.leases.valuesAfter()) {
      if (out.length >= limit || (run.queue?.leaseUntil ?? Infinity) > nowMs) break;
      out.push(runView(run));
    }
    return out;
  }

  /** Held queue runs, lease ending first (for a new leader that restarts lease clocks). */
  heldRuns(limit: number): RunRecord[] {
    return this.viewsOf(this.state.leases.valuesAfter(), limit);
  }

  /**
   * Per function (those with queued or held runs, or a worker that asked for it), in name
   * order: queued runs by priority, runs held by workers, and workers seen since `seenSinceMs`.
   */
  functionSummaries(seenSinceMs: number): FunctionSummary[] {
    const byName = new Map<string, { queued: Record<QueuePriority, number>; running: number; workers: number }>();
    const entry = (fn: string): { queued: Record<QueuePriority, number>; running: number; workers: number } => {
      let e = byName.get(fn);
      if (e === undefined) byName.set(fn, (e = { queued: { high: 0, normal: 0, low: 0 }, running: 0, workers: 0 }));
      return e;
    };
    for (const [fn, set] of this.state.queued) for (const run of set.valuesAfter()) entry(fn).queued[run.queue?.priority ?? 'normal'] += 1;
    for (const run of this.state.leases.valuesAfter()) if (run.queue !== null) entry(run.queue.function).running += 1;
    for (const w of this.state.workers.values()) {
      if (w.lastSeenAt < seenSinceMs) continue;
      for (const fn of w.functions) entry(fn).workers += 1;
    }
    return [...byName.keys()].sort().map((name) => {
      const e = entry(name);
      return { name, queued: e.queued.high + e.queued.normal + e.queued.low, queuedByPriority: { ...e.queued }, running: e.running, workers: e.workers };
    });
  }

  /** Workers the log saw, in id order, with the runs each holds now. */
  listWorkers(): WorkerSummary[] {
    const held = new Map<string, string[]>();
    for (const run of this.state.leases.valuesAfter()) {
      const w = run.queue?.worker;
      if (w !== null && w !== undefined) held.set(w, [...(held.get(w) ?? []), run.runId]);
    }
    return [...this.state.workers.values()].sort((a, b) => (a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0))
      .map((w) => ({ ...w, functions: [...w.functions], running: held.get(w.worker)?.length ?? 0, runIds: held.get(w.worker) ?? [] }));
  }

  /** `after` fires owed (upstream succeeded, no fire recorded for it yet), oldest first, at most `limit`. */
  owedAfterFires(limit: number): { readonly jobId: string; readonly upstreamRunId: string; readonly atMs: number }[] {
    const out: { readonly jobId: string; readonly upstreamRunId: string; readonly atMs: number }[] = [];
    for (const owed of this.state.owedAfter.values()) {
      if (out.length >= limit) break;
      out.push(owed);
    }
    return out;
  }

  get owedAfterCount(): number {
    return this.state.owedAfter.size;
  }

  /** Manual fires recorded waiting for capacity (queueFires), oldest first, at most `limit`. */
  owedManualFires(limit: number): QueuedManualFire[] {
    const out: QueuedManualFire[] = [];
    for (const owed of this.state.owedManual.values()) {
      if (out.length >= limit) break;
      out.push(owed);
    }
    return out;
  }

  get owedManualCount(): number {
    return this.state.owedManual.size;
  }

  /** Manual runs waiting for capacity that `match`, newest first, at most `limit`. */
  waitingManualFiresWhere(match: (fire: QueuedManualFire) => boolean, limit: number): QueuedManualFire[] {
    const out: QueuedManualFire[] = [];
    for (const owed of this.state.owedManual.values()) if (match(owed)) out.push(owed);
    return out.reverse().slice(0, Math.max(0, limit));
  }

  /** A manual run recorded waiting for capacity (it has a run id, and no run record until it fires). */
  waitingManualFire(runId: string): QueuedManualFire | null {
    return this.state.owedManual.get(runId) ?? null;
  }

  /** Runs waiting in the function's queue (no worker holds them). */
  queuedCount(fn: string): number {
    return this.state.queued.get(fn)?.size ?? 0;
  }

  /** Attempts the worker holds now. */
  heldBy(worker: string): number {
    return this.state.heldByWorker.get(worker) ?? 0;
  }

  /** Ids of jobs that list `jobId` in `after`, in id order. */
  dependentsOf(jobId: string): string[] {
    return [...(this.state.dependents.get(jobId) ?? [])].sort();
  }
}
