// Reports from executors (started, finished, lost) and the leader's retry and kill
// decisions. A report names (runId, attempt, node); one for an older attempt, an unknown or
// evicted run, or an execution that already ended changes nothing.
import { assert } from './assert.js';
import type { FinishedReport, KillRunCommand, RetryRunCommand, RunFinishedCommand, RunLostCommand, RunReportsCommand, RunStartedCommand } from './commands.js';
import { tailOf } from './text-tail.js';
import { ERROR_CODES } from './errors.js';
import { ERROR_CHARS_MAX, OUTPUT_BYTES_MAX } from './limits.js';
import { noop, rejected, type ApplyResult } from './results.js';
import { unindexExecution } from './run-indexes.js';
import { indexNewExecutions, setRunStatus } from './run-search.js';
import { runBecameActive, type TableState } from './state.js';
import { isActiveStatus, type Execution, type FinalExecutionStatus, type RunRecord, type RunStatus } from './types.js';
import { runView } from './views.js';
import { killQueueRun } from './apply-queue.js';
import { attemptStarted, runEnded } from './run-outcome.js';

type Report = { readonly runId: string; readonly attempt: number; readonly node: string };
type Found = { run: RunRecord; execution: Execution } | ApplyResult;

function findExecution(state: TableState, report: Report): Found {
  const run = state.runs.get(report.runId);
  if (run === undefined) return noop(ERROR_CODES.RUN_NOT_FOUND, `run "${report.runId}" is unknown or evicted`);
  // A queue run's executions name workers: only claimReport commands change them.
  if (run.queue !== null) return noop(ERROR_CODES.NOT_AN_EXECUTOR, `run "${run.runId}" is held by pull workers, not nodes`);
  if (report.attempt !== run.attempt) return noop(ERROR_CODES.STALE_ATTEMPT, `run "${run.runId}" is at attempt ${run.attempt}, not ${report.attempt}`);
  const execution = run.executions.find((e) => e.attempt === report.attempt && e.node === report.node);
  if (execution === undefined) return noop(ERROR_CODES.NOT_AN_EXECUTOR, `node "${report.node}" does not execute run "${run.runId}" attempt ${run.attempt}`);
  return { run, execution };
}

export function applyRunStarted(state: TableState, cmd: RunStartedCommand): ApplyResult {
  const found = findExecution(state, cmd);
  if (!('execution' in found)) return found;
  const { run, execution } = found;
  if (execution.status !== 'pending') return noop(ERROR_CODES.DUPLICATE_REPORT, `execution on "${cmd.node}" is already ${execution.status}`);
  markStarted(state, run, execution, cmd.at);
  return { ok: true, kind: 'run', run: runView(run) };
}

function markStarted(state: TableState, run: RunRecord, execution: Execution, atMs: number): void {
  const firstStart = run.status === 'pending';
  execution.status = 'running';
  execution.startedAt = atMs;
  run.startedAt ??= atMs;
  setRunStatus(state, run, 'running');
  if (firstStart) attemptStarted(state, run, atMs);
}

/** Each report in order, exactly as runStarted / runFinished would apply it. */
export function applyRunReports(state: TableState, cmd: RunReportsCommand): ApplyResult {
  const results = cmd.reports.map((r): ApplyResult => {
    if (r.kind === 'started') return applyRunStarted(state, { type: 'runStarted', runId: r.runId, attempt: r.attempt, node: r.node, at: r.at });
    return applyFinishedReport(state, r);
  });
  return { ok: true, kind: 'reports', results };
}

/** A finished report that carries its start: a pending execution is started first, so the record shows startedAt. */
function applyFinishedReport(state: TableState, r: FinishedReport): ApplyResult {
  if (r.startedAt !== null) {
    const found = findExecution(state, r);
    if ('execution' in found && found.execution.status === 'pending') markStarted(state, found.run, found.execution, Math.min(r.startedAt, r.at));
  }
  return applyRunFinished(state, {
    type: 'runFinished', runId: r.runId, attempt: r.attempt, node: r.node, at: r.at, status: r.status, exitCode: r.exitCode,
    output: r.output, outputTruncated: r.outputTruncated, error: r.error,
  });
}

export function applyRunFinished(state: TableState, cmd: RunFinishedCommand): ApplyResult {
  const found = findExecution(state, cmd);
  if (!('execution' in found)) return found;
  const output = tailOf(cmd.output, OUTPUT_BYTES_MAX);
  const error = cmd.error === null ? null : cmd.error.slice(0, ERROR_CHARS_MAX);
  return finishExecution(state, found.run, found.execution, cmd.status, cmd.at, (e) => {
    e.exitCode = cmd.exitCode;
    e.output = output;
    e.outputTruncated = cmd.outputTruncated || output.length < cmd.output.length;
    e.error = error;
  });
}

export function applyRunLost(state: TableState, cmd: RunLostCommand): ApplyResult {
  const found = findExecution(state, cmd);
  if (!('execution' in found)) return found;
  return finishExecution(state, found.run, found.execution, 'lost', cmd.at, (e) => {
    e.error = 'the executor went silent past its lease';
  });
}

/**
 * A member's removal applied: every active execution on it of a node-run (not a queue run,
 * which a pull worker holds under its lease) ends `lost` here, at this point of the log on
 * every replica. Otherwise an execution whose start was never recorded would still look
 * pending, and a node re-added under the same id — with none of its old records — would be
 * sent it again and run it a second time. The time is the execution's own start (or the
 * fire's): the removal entry carries no clock.
 */
export function loseExecutionsOf(state: TableState, node: string): RunRecord[] {
  const active = state.activeByNode.get(node);
  if (active === undefined) return [];
  const changed: RunRecord[] = [];
  for (const run of [...active.valuesAfter()]) {
    if (run.queue !== null) continue;
    const execution = run.executions.find((e) => e.node === node && e.attempt === run.attempt && isActiveStatus(e.status));
    if (execution === undefined) continue;
    const result = finishExecution(state, run, execution, 'lost', execution.startedAt ?? run.firedAt, (e) => {
      e.error = 'its node was removed from the cluster';
    });
    if (result.ok && result.kind === 'run') changed.push(result.run);
  }
  return changed;
}

function finishExecution(
  state: TableState, run: RunRecord, execution: Execution, status: FinalExecutionStatus, atMs: number, fill: (e: Execution) => void,
): ApplyResult {
  if (!isActiveStatus(execution.status)) return noop(ERROR_CODES.DUPLICATE_REPORT, `execution on "${execution.node}" already ended ${execution.status}`);
  assert(isActiveStatus(run.status), 'a run with an active execution must be active');
  execution.status = status;
  execution.finishedAt = atMs;
  fill(execution);
  unindexExecution(state, run, execution.node);
  setRunStatus(state, run, deriveRunStatus(run));
  if (!isActiveStatus(run.status)) runEnded(state, run, atMs);
  return { ok: true, kind: 'run', run: runView(run) };
}

const FAILURE_PRECEDENCE: readonly RunStatus[] = ['killed', 'timed_out', 'failed', 'lost'];

/**
 * A run's status from the executions of its current attempt: pending while none has
 * started, running while any is unfinished, succeeded when all succeeded, otherwise the
 * most telling failure: killed, then timed_out, then failed, then lost.
 */
export function deriveRunStatus(run: RunRecord): RunStatus {
  const current = run.executions.filter((e) => e.attempt === run.attempt);
  assert(current.length > 0, 'an active attempt has executions');
  if (current.some((e) => isActiveStatus(e.status))) return current.every((e) => e.status === 'pending') ? 'pending' : 'running';
  if (current.every((e) => e.status === 'succeeded')) return 'succeeded';
  for (const status of FAILURE_PRECEDENCE) if (current.some((e) => e.status === status)) return status;
  assert(false, 'unreachable: every final status is listed');
}

export function applyRetryRun(state: TableState, cmd: RetryRunCommand): ApplyResult {
  const run = state.runs.get(cmd.runId);
  if (run === undefined) return rejected(ERROR_CODES.RUN_NOT_FOUND, `run "${cmd.runId}" is unknown or evicted`);
  const job = state.jobs.get(run.jobId);
  assert(job !== undefined, 'a recorded run belongs to a job');
  if (cmd.attempt !== run.attempt + 1) return rejected(ERROR_CODES.ATTEMPT_MISMATCH, `run "${run.runId}" is at attempt ${run.attempt}; a retry is attempt ${run.attempt + 1}`);
  if (isActiveStatus(run.status) || run.status === 'succeeded' || run.status === 'skipped') {
    return rejected(ERROR_CODES.RUN_NOT_RETRYABLE, `run "${run.runId}" is ${run.status}`);
  }
  if (cmd.attempt - 1 > job.spec.retry.max) return rejected(ERROR_CODES.RETRY_LIMIT, `job "${job.spec.id}" allows ${job.spec.retry.max} retries`);
  if (job.activeCount >= state.limits.activeRunsPerJobMax || state.activeRuns.size >= state.limits.activeRunsMax) {
    return rejected(ERROR_CODES.ACTIVE_RUNS_FULL, 'too many active runs to retry now');
  }
  if ((run.queue === null) !== (cmd.executors.length > 0)) {
    return rejected(ERROR_CODES.INVALID_COMMAND, run.queue === null ? 'a retry names its executors' : 'a queue run is retried through its queue, on no node');
  }
  // Out of the retry index before finishedAt, its sort key, changes.
  state.awaitingRetry.delete(run);
  run.attempt = cmd.attempt;
  setRunStatus(state, run, 'pending');
  run.executors = [...cmd.executors];
  run.notBefore = cmd.notBefore;
  run.startedAt = null;
  run.finishedAt = null;
  run.killRequested = null;
  if (run.queue !== null) {
    const q = run.queue;
    q.worker = null;
    q.node = null;
    q.leaseUntil = null;
    q.progress = null;
    q.result = null;
    q.noRetry = false;
  }
  for (const node of cmd.executors) {
    run.executions.push({ node, attempt: cmd.attempt, status: 'pending', exitCode: null, output: '', outputTruncated: false, error: null, startedAt: null, finishedAt: null });
  }
  indexNewExecutions(state, run);
  runBecameActive(state, job, run);
  return { ok: true, kind: 'run', run: runView(run) };
}

export function applyKillRun(state: TableState, cmd: KillRunCommand): ApplyResult {
  const run = state.runs.get(cmd.runId);
  if (run === undefined) return rejected(ERROR_CODES.RUN_NOT_FOUND, `run "${cmd.runId}" is unknown or evicted`);
  if (!isActiveStatus(run.status)) return rejected(ERROR_CODES.RUN_NOT_ACTIVE, `run "${run.runId}" is already ${run.status}`);
  if (run.queue !== null) return killQueueRun(state, run, cmd.reason, cmd.at);
  // The first reason sticks: it is why the run will end; the status itself arrives with the executor's report.
  run.killRequested ??= cmd.reason;
  return { ok: true, kind: 'run', run: runView(run) };
}
