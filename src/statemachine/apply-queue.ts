// Pull workers: claims and what happens to a claimed attempt (heartbeat, complete, fail, the
// leader's lease expiry), and kills of queue runs. A queue run has no node executions: it
// waits in its function's queue until a claim gives its current attempt to one worker, as
// an execution named by the worker id. Everything is decided here, from the log, so the
// worker learns of a claim only after it is recorded and two workers never hold one attempt.
import { assert } from './assert.js';
import type { ClaimReportCommand, ClaimRunsCommand } from './commands.js';
import { ERROR_CODES } from './errors.js';
import { CLAIM_SCAN_MAX, ERROR_CHARS_MAX, OUTPUT_BYTES_MAX, WORKERS_MAX, WORKER_HELD_MAX } from './limits.js';
import { rejected, type ApplyResult } from './results.js';
import { compareQueued, indexQueue, unindexQueue } from './run-indexes.js';
import { indexNewExecutions, setRunStatus } from './run-search.js';
import type { TableState } from './state.js';
import { tailOf } from './text-tail.js';
import { isActiveStatus, type Execution, type FinalExecutionStatus, type KillReason, type RunRecord } from './types.js';
import { runView } from './views.js';
import { attemptStarted, runEnded } from './run-outcome.js';

/** Remembers the worker as seen now (most recently seen last; the oldest is forgotten past WORKERS_MAX). */
export function sawWorker(state: TableState, worker: string, functions: readonly string[] | null, node: string | null, atMs: number): void {
  const known = state.workers.get(worker);
  state.workers.delete(worker);
  while (state.workers.size >= WORKERS_MAX) {
    const oldest = state.workers.keys().next();
    if (oldest.done === true) break;
    state.workers.delete(oldest.value);
  }
  state.workers.set(worker, { worker, functions: functions ?? known?.functions ?? [], node: node ?? known?.node ?? '', lastSeenAt: Math.max(atMs, known?.lastSeenAt ?? 0) });
}

export function applyClaimRuns(state: TableState, cmd: ClaimRunsCommand): ApplyResult {
  sawWorker(state, cmd.worker, [...cmd.functions], cmd.node, cmd.at);
  const claimed: RunRecord[] = [];
  const skipped = new Set<RunRecord>();
  // A worker that holds WORKER_HELD_MAX attempts gets no more until it lets some go.
  const room = Math.min(cmd.max, WORKER_HELD_MAX - (state.heldByWorker.get(cmd.worker) ?? 0));
  while (claimed.length < room) {
    const next = bestQueued(state, cmd.functions, cmd.at, skipped);
    if (next === null) break;
    const job = state.jobs.get(next.jobId);
    const q = next.queue;
    assert(q !== null && job !== undefined, 'a queued run is a queue run of a job');
    unindexQueue(state, next);
    q.worker = cmd.worker;
    q.node = cmd.node;
    q.leaseMs = job.spec.executor.type === 'queue' ? job.spec.executor.leaseMs : q.leaseMs;
    q.leaseUntil = cmd.at + q.leaseMs;
    q.progress = null;
    next.executions.push({
      node: cmd.worker, attempt: next.attempt, status: 'running', exitCode: null, output: '', outputTruncated: false, error: null, startedAt: cmd.at, finishedAt: null,
    });
    indexNewExecutions(state, next);
    setRunStatus(state, next, 'running');
    next.startedAt = cmd.at;
    indexQueue(state, next);
    // A claim is the attempt's start, as a runStarted report is for a node's run.
    attemptStarted(state, next, cmd.at);
    claimed.push(next);
  }
  return { ok: true, kind: 'claimed', runs: claimed.map(runView) };
}

/** The first due run over the named functions' queues: higher priority, then older. Bounded scan. */
function bestQueued(state: TableState, functions: readonly string[], atMs: number, skipped: Set<RunRecord>): RunRecord | null {
  let best: RunRecord | null = null;
  for (const fn of new Set(functions)) {
    const set = state.queued.get(fn);
    if (set === undefined) continue;
    let scanned = 0;
    for (const run of set.valuesAfter()) {
      if (++scanned > CLAIM_SCAN_MAX) break;
      // A scheduled run fired ahead of its instant is not claimed before it.
      if (skipped.has(run) || (run.notBefore !== null && run.notBefore > atMs)) {
        skipped.add(run);
        continue;
      }
      if (best === null || compareQueued(run, best) < 0) best = run;
      break;
    }
  }
  return best;
}

function notHeld(message: string): ApplyResult {
  return rejected(ERROR_CODES.ATTEMPT_NOT_HELD, message);
}

export function applyClaimReport(state: TableState, cmd: ClaimReportCommand): ApplyResult {
  const run = state.runs.get(cmd.runId);
  if (run === undefined) return rejected(ERROR_CODES.RUN_NOT_FOUND, `run "${cmd.runId}" is unknown or evicted`);
  const q = run.queue;
  if (q === null) return notHeld(`run "${run.runId}" is not a queue run`);
  if (run.attempt !== cmd.attempt || q.worker !== cmd.worker || !isActiveStatus(run.status)) {
    return notHeld(`worker "${cmd.worker}" does not hold attempt ${cmd.attempt} of run "${run.runId}" (it is at attempt ${run.attempt}, ${run.status})`);
  }
  const execution = run.executions.find((e) => e.attempt === run.attempt && e.node === cmd.worker && isActiveStatus(e.status));
  assert(execution !== undefined && q.leaseUntil !== null, 'a held attempt has a running execution and a lease');
  if (cmd.kind !== 'expire') sawWorker(state, cmd.worker, null, null, cmd.at);
  if (cmd.output.length > 0) appendOutput(execution, cmd.output);
  switch (cmd.kind) {
    case 'heartbeat':
      unindexQueue(state, run);
      q.leaseUntil = Math.max(q.leaseUntil, cmd.at + q.leaseMs);
      if (cmd.progress !== null) q.progress = cmd.progress;
      indexQueue(state, run);
      return { ok: true, kind: 'run', run: runView(run) };
    case 'complete':
      q.result = cmd.result;
      if (cmd.progress !== null) q.progress = cmd.progress;
      return finishQueueRun(state, run, execution, 'succeeded', cmd.at, null);
    case 'fail':
      q.noRetry = !cmd.retry;
      return finishQueueRun(state, run, execution, 'failed', cmd.at, cmd.error ?? 'the worker reported a failure');
    case 'expire':
      // Judged by the command's time: a heartbeat applied before this renewed the lease.
      if (q.leaseUntil > cmd.at) return notHeld(`the lease of run "${run.runId}" runs until ${q.leaseUntil}`);
      return finishQueueRun(state, run, execution, 'lost', cmd.at, `worker "${cmd.worker}" went silent past its lease`);
  }
}

function appendOutput(execution: Execution, chunk: string): void {
  const joined = execution.output + chunk;
  const kept = tailOf(joined, OUTPUT_BYTES_MAX);
  execution.outputTruncated ||= kept.length < joined.length;
  execution.output = kept;
}

/** The held (or queued) attempt ends with `status`; the run is final, and the retry policy decides from there. */
function finishQueueRun(
  state: TableState, run: RunRecord, execution: Execution | null, status: FinalExecutionStatus, atMs: number, error: string | null,
): ApplyResult {
  unindexQueue(state, run);
  if (execution !== null) {
    execution.status = status;
    execution.finishedAt = atMs;
    execution.error = error === null ? null : error.slice(0, ERROR_CHARS_MAX);
  }
  setRunStatus(state, run, status);
  if (run.queue !== null) run.queue.leaseUntil = null;
  runEnded(state, run, atMs);
  return { ok: true, kind: 'run', run: runView(run) };
}

const KILL_STATUS: Readonly<Record<KillReason, FinalExecutionStatus>> = { request: 'killed', replace: 'killed', timeout: 'timed_out' };

/** A kill of a queue run ends it at once: no node has to stop anything, and its worker's next call gets ATTEMPT_NOT_HELD. */
export function killQueueRun(state: TableState, run: RunRecord, reason: KillReason, atMs: number): ApplyResult {
  const worker = run.queue?.worker ?? null;
  const execution = worker === null ? null : (run.executions.find((e) => e.attempt === run.attempt && e.node === worker && isActiveStatus(e.status)) ?? null);
  run.killRequested ??= reason;
  return finishQueueRun(state, run, execution, KILL_STATUS[reason], atMs, reason === 'timeout' ? 'the run timed out' : `killed (${reason})`);
}
