// Rows shared by every snapshot version: run records, executions and idempotency keys as
// msgpack arrays in a fixed order, the checks that read them back, and the error helper.
import { AuditLog, TokenRegistry } from '../access/index.js';
import { ChimeError } from '../errors/index.js';
import { updateRetryIndex } from './run-indexes.js';
import { AFTER_MAX, OWED_AFTER_FIRES_MAX, OWED_MANUAL_FIRES_MAX } from './limits.js';
import { addOwedManual, indexRun, keyOf, type TableState } from './state.js';
import { WriteIds, type WriteIdsSnapshot } from './write-ids.js';
import {
  KILL_REASONS, QUEUE_PRIORITIES, RUN_STATUSES, TRIGGERS,
  type Execution, type ExecutionStatus, type KillReason, type QueuePriority, type QueueState, type RunRecord, type RunStatus, type Trigger,
} from './types.js';

export type Row = readonly unknown[];

export function bad(message: string): ChimeError {
  return new ChimeError('INVALID_SNAPSHOT', `invalid snapshot: ${message}`);
}

export const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
export const isNullInt = (v: unknown): v is number | null => v === null || isInt(v);
const isNullStr = (v: unknown): v is string | null => v === null || typeof v === 'string';

export function rows(v: unknown, width: number, what: string): Row[] {
  if (!Array.isArray(v)) throw bad(`${what} is not a list`);
  if (!v.every((row: unknown): row is Row => Array.isArray(row) && row.length === width)) throw bad(`a ${what} row is malformed`);
  return v;
}

function executionRow(e: Execution): Row {
  return [e.node, e.attempt, e.status, e.exitCode, e.output, e.outputTruncated, e.error, e.startedAt, e.finishedAt];
}

/** 17 fields; an 18th, triggeredBy, only on manual runs that have one (older rows never do). */
function runRow(r: RunRecord): Row {
  const row = [r.runId, r.jobId, r.seq, r.scheduledAt, r.trigger, r.attempt, r.status, r.firedAt, r.startedAt, r.finishedAt,
    r.executions.map(executionRow), r.payload, r.key, r.executors, r.notBefore, r.killRequested, r.reason];
  return r.triggeredBy === undefined ? row : [...row, r.triggeredBy];
}

function queueRow(r: RunRecord, q: QueueState): Row {
  return [r.runId, q.function, q.priority, q.worker, q.node, q.leaseMs, q.leaseUntil, q.progress?.done ?? null, q.progress?.total ?? null, q.result, q.noRetry];
}

/** The tail's `access` key: tokens and audit log, each as its own plain snapshot. */
export type AccessRows = { readonly tokens: unknown; readonly audit: unknown };

/**
 * Runs by seq and keys by insertion: the order the log gave them. `queue` (an optional key:
 * a snapshot without it restores no queue state) holds the queue side of queue runs and the
 * workers, least recently seen first. `access` (optional too) holds tokens and the audit log:
 * written only when there are any, read as empty when absent.
 */
export function runAndKeyRows(state: TableState): { runs: Row[]; keys: Row[]; queue: { runs: Row[]; workers: Row[] }; access?: AccessRows; owedAfter?: Row[]; owedManual?: Row[]; afterSeen?: Row[]; writes?: WriteIdsSnapshot } {
  const queueRuns: Row[] = [];
  for (const run of state.runs.values()) if (run.queue !== null) queueRuns.push(queueRow(run, run.queue));
  const out: { runs: Row[]; keys: Row[]; queue: { runs: Row[]; workers: Row[] }; access?: AccessRows; owedAfter?: Row[]; owedManual?: Row[]; afterSeen?: Row[]; writes?: WriteIdsSnapshot } = {
    runs: [...state.runs.values()].map(runRow),
    keys: [...state.keys].map(([k, e]) => [k, e.jobId, e.createRevision, e.runId, e.atMs]),
    queue: { runs: queueRuns, workers: [...state.workers.values()].map((w) => [w.worker, [...w.functions], w.node, w.lastSeenAt]) },
  };
  if (state.tokens.size > 0 || state.audit.size > 0) out.access = { tokens: state.tokens.snapshot(), audit: state.audit.snapshot() };
  // Optional too: written only when an `after` fire is owed, read as none when absent.
  if (state.owedAfter.size > 0) out.owedAfter = [...state.owedAfter.values()].map((o) => [o.jobId, o.upstreamRunId, o.atMs]);
  if (state.afterSeen.size > 0) out.afterSeen = [...state.afterSeen].map(([jobId, seen]) => [jobId, [...seen]]);
  const writes = state.writes.snapshot();
  if (writes.rows.length > 0 || writes.forgottenIndex > 0) out.writes = writes;
  if (state.owedManual.size > 0) {
    out.owedManual = [...state.owedManual.values()].map((o) => [o.jobId, o.runId, o.scheduledAt, o.payload, o.key, o.priority, o.triggeredBy]);
  }
  return out;
}

/** Restores the tail's optional `afterSeen` key (afterMode `all` progress, after the jobs); absent means none. */
export function restoreAfterSeen(state: TableState, seen: unknown): void {
  if (seen === undefined) return;
  for (const row of rows(seen, 2, 'after seen')) {
    const [jobId, ids] = row;
    if (typeof jobId !== 'string' || !Array.isArray(ids) || !ids.every(isString) || ids.length > AFTER_MAX) throw bad('an after-seen row is malformed');
    if (!state.jobs.has(jobId) || state.afterSeen.has(jobId)) throw bad(`after-seen job ${jobId} does not exist or is listed twice`);
    state.afterSeen.set(jobId, new Set(ids));
  }
}

/** Restores the tail's optional `owedManual` key (after the jobs): manual fires waiting for capacity; absent means none. */
export function restoreOwedManual(state: TableState, owed: unknown): void {
  if (owed === undefined) return;
  for (const row of rows(owed, 7, 'waiting manual fire')) {
    const [jobId, runId, scheduledAt, payload, key, priority, triggeredBy] = row;
    if (typeof jobId !== 'string' || typeof runId !== 'string' || !isInt(scheduledAt) || !isNullStr(payload) || !isNullStr(key)
      || !(priority === null || isQueuePriority(priority)) || !isNullStr(triggeredBy)) throw bad('a waiting manual fire is malformed');
    if (!state.jobs.has(jobId) || state.owedManual.has(runId)) throw bad(`waiting manual fire ${runId} has no job or is listed twice`);
    if (state.owedManual.size >= OWED_MANUAL_FIRES_MAX) throw bad('more waiting manual fires than the limit');
    addOwedManual(state, { jobId, runId, scheduledAt, payload, key, priority, triggeredBy });
  }
}

/** Restores the tail's optional `writes` key (write ids lately accepted); absent means none. */
export function restoreWriteIds(state: TableState, writes: unknown): void {
  if (writes !== undefined) state.writes = WriteIds.restore(writes, bad);
}

/** Restores the tail's optional `owedAfter` key (after the jobs); absent means nothing is owed. */
export function restoreOwedAfter(state: TableState, owed: unknown): void {
  if (owed === undefined) return;
  for (const row of rows(owed, 3, 'owed after fire')) {
    const [jobId, upstreamRunId, atMs] = row;
    if (typeof jobId !== 'string' || typeof upstreamRunId !== 'string' || !isInt(atMs)) throw bad('an owed after fire is malformed');
    if (!state.jobs.has(jobId)) throw bad(`an after fire is owed to job ${jobId}, which does not exist`);
    if (state.owedAfter.size >= OWED_AFTER_FIRES_MAX) throw bad('more owed after fires than the limit');
    state.owedAfter.set(keyOf(jobId, 'after', upstreamRunId), { jobId, upstreamRunId, atMs });
  }
}

/** Restores the tail's optional `access` key (tokens and audit log) into `state`; absent means empty. */
export function restoreAccess(state: TableState, access: unknown): void {
  if (access === undefined) return;
  if (typeof access !== 'object' || access === null) throw bad('access is malformed');
  const tokens = TokenRegistry.restore(Reflect.get(access, 'tokens'));
  if (!tokens.ok) throw bad(tokens.message);
  const audit = AuditLog.restore(Reflect.get(access, 'audit'));
  if (!audit.ok) throw bad(audit.message);
  state.tokens = tokens.registry;
  state.audit = audit.log;
}

const QUEUE_PRIORITY: ReadonlySet<unknown> = new Set(QUEUE_PRIORITIES);
const isQueuePriority = (v: unknown): v is QueuePriority => QUEUE_PRIORITY.has(v);

function restoreQueueStates(queue: unknown): Map<string, QueueState> {
  const out = new Map<string, QueueState>();
  if (queue === undefined || queue === null) return out;
  if (typeof queue !== 'object' || Array.isArray(queue)) throw bad('queue is not a map');
  for (const row of rows(Reflect.get(queue, 'runs'), 11, 'queue run')) {
    const [runId, fn, priority, worker, node, leaseMs, leaseUntil, done, total, result, noRetry] = row;
    if (typeof runId !== 'string' || typeof fn !== 'string' || !isQueuePriority(priority) || !isNullStr(worker) || !isNullStr(node)
      || !isInt(leaseMs) || !isNullInt(leaseUntil) || !isNullInt(done) || !isNullInt(total) || !isNullStr(result) || typeof noRetry !== 'boolean') {
      throw bad('a queue run is malformed');
    }
    // A finished run keeps the worker that ended it but no lease; only a lease without a holder is wrong.
    if (worker === null && leaseUntil !== null) throw bad(`queue run ${runId} has a lease without a worker`);
    out.set(runId, {
      function: fn, priority, worker, node, leaseMs, leaseUntil, progress: done === null || total === null ? null : { done, total }, result, noRetry,
    });
  }
  return out;
}

function restoreWorkers(state: TableState, queue: unknown): void {
  if (queue === undefined || queue === null || typeof queue !== 'object') return;
  for (const row of rows(Reflect.get(queue, 'workers'), 4, 'worker')) {
    const [worker, functions, node, lastSeenAt] = row;
    if (typeof worker !== 'string' || !Array.isArray(functions) || !functions.every(isString) || typeof node !== 'string' || !isInt(lastSeenAt)) {
      throw bad('a worker row is malformed');
    }
    state.workers.set(worker, { worker, functions, node, lastSeenAt });
  }
}

/** Restores run records (after the jobs), keys and the queue side into `state`. */
export function restoreRunsAndKeys(state: TableState, runRows: unknown, keyRows: unknown, queue?: unknown): void {
  let lastSeq = 0;
  const queueStates = restoreQueueStates(queue);
  restoreWorkers(state, queue);
  for (const row of runRowsOf(runRows)) {
    const run = restoreRun(row, queueStates.get(String(row[0])) ?? null);
    if (run.seq <= lastSeq || run.seq > state.runSeq) throw bad(`run ${run.runId} is out of order`);
    lastSeq = run.seq;
    const job = state.jobs.get(run.jobId);
    if (job === undefined || state.runs.has(run.runId)) throw bad(`run ${run.runId} has no job or is listed twice`);
    if (!indexRun(state, job, run)) updateRetryIndex(state, run, job.spec);
  }
  for (const row of rows(keyRows, 5, 'key')) {
    const [k, jobId, createRevision, runId, atMs] = row;
    if (typeof k !== 'string' || typeof jobId !== 'string' || !isInt(createRevision) || typeof runId !== 'string' || !isInt(atMs)) throw bad('a key row is malformed');
    state.keys.set(k, { jobId, createRevision, runId, atMs });
  }
}

// Sets built from the literal tuples of types.ts, so each guard admits exactly its union.
const RUN_STATUS: ReadonlySet<unknown> = new Set(RUN_STATUSES);
const TRIGGER: ReadonlySet<unknown> = new Set(TRIGGERS);
const KILL: ReadonlySet<unknown> = new Set(KILL_REASONS);
const isRunStatus = (v: unknown): v is RunStatus => RUN_STATUS.has(v);
const isExecutionStatus = (v: unknown): v is ExecutionStatus => v !== 'skipped' && RUN_STATUS.has(v);
const isTrigger = (v: unknown): v is Trigger => TRIGGER.has(v);
const isKillReason = (v: unknown): v is KillReason => KILL.has(v);
const isString = (v: unknown): v is string => typeof v === 'string';

function restoreExecution(row: unknown): Execution {
  if (!Array.isArray(row) || row.length !== 9) throw bad('an execution row is malformed');
  const tuple: Row = row;
  const [node, attempt, status, exitCode, output, outputTruncated, error, startedAt, finishedAt] = tuple;
  if (typeof node !== 'string' || !isInt(attempt) || !isExecutionStatus(status)
    || !isNullInt(exitCode) || typeof output !== 'string' || typeof outputTruncated !== 'boolean' || !isNullStr(error)
    || !isNullInt(startedAt) || !isNullInt(finishedAt)) throw bad('an execution is malformed');
  return { node, attempt, status, exitCode, output, outputTruncated, error, startedAt, finishedAt };
}

/** Run rows: 17 fields, or 18 with triggeredBy. */
function runRowsOf(v: unknown): Row[] {
  if (!Array.isArray(v)) throw bad('run is not a list');
  if (!v.every((row: unknown): row is Row => Array.isArray(row) && (row.length === 17 || row.length === 18))) throw bad('a run row is malformed');
  return v;
}

function restoreRun(row: Row, queue: QueueState | null): RunRecord {
  const [runId, jobId, seq, scheduledAt, trigger, attempt, status, firedAt, startedAt, finishedAt, executions, payload, key, executors,
    notBefore, killRequested, reason, triggeredBy] = row;
  if (triggeredBy !== undefined && typeof triggeredBy !== 'string') throw bad('a run is malformed');
  if (typeof runId !== 'string' || typeof jobId !== 'string' || !isInt(seq) || !isInt(scheduledAt)
    || !isTrigger(trigger) || !isInt(attempt) || !isRunStatus(status) || !isInt(firedAt)
    || !isNullInt(startedAt) || !isNullInt(finishedAt) || !Array.isArray(executions) || !isNullStr(payload) || !isNullStr(key)
    || !Array.isArray(executors) || !executors.every(isString) || !isNullInt(notBefore)
    || !(killRequested === null || isKillReason(killRequested)) || !isNullStr(reason)) {
    throw bad('a run is malformed');
  }
  return {
    runId, jobId, seq, scheduledAt, trigger, attempt, status, firedAt,
    startedAt, finishedAt, executions: executions.map(restoreExecution), payload, key, executors, notBefore,
    killRequested, reason, queue, ...(typeof triggeredBy === 'string' ? { triggeredBy } : {}),
  };
}
