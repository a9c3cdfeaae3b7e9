// fire: a batch of run records decided by the leader. A scheduled instant is accepted only
// if the job owes it (at or after nextFireAt, which is after lastScheduledAt); anything
// older is a duplicate from an old leader or a retried proposal, and a no-op (G2).
import type { Fire, FireCommand, QueueFiresCommand, QueuedManualFire } from './commands.js';
import { ERROR_CODES } from './errors.js';
import type { ApplyResult, FireOutcome, QueueFireOutcome } from './results.js';
import {
  addOwedManual, addRun, computeNextFireAt, downstreamRan, dropOwedManual, keyOf, lookupKey, payloadBytes, pruneKeys, rememberKey, setNextFireAt, type JobState, type TableState,
} from './state.js';
import { FUNCTION_QUEUED_MAX, OWED_MANUAL_FIRES_MAX, OWED_MANUAL_PAYLOAD_BYTES_MAX } from './limits.js';
import type { Execution, QueueState, RunRecord } from './types.js';
import { notifySkipped } from './notifications.js';
import { countOutcome } from './job-metrics.js';

export function applyFire(state: TableState, cmd: FireCommand): ApplyResult {
  pruneKeys(state, cmd.at);
  const fires = cmd.fires.map((fire) => {
    const outcome = applyOneFire(state, fire, cmd.at);
    // The owed fire is settled once a fire for its key is recorded (run, skipped, or recorded
    // before: duplicate) or its job is gone; a malformed fire settles nothing.
    const settled = outcome.status !== 'rejected' || !state.jobs.has(fire.jobId);
    if (fire.trigger === 'after' && typeof fire.key === 'string' && settled) state.owedAfter.delete(keyOf(fire.jobId, 'after', fire.key));
    if (fire.trigger === 'manual' && settled) dropOwedManual(state, fire.runId);
    return outcome;
  });
  return { ok: true, kind: 'fire', fires };
}

/**
 * Manual fires that wait for capacity, recorded so that a new leader proposes them too. A
 * fire whose run id or key is already recorded (a run, or another waiting fire) is a
 * duplicate naming that one, so a client's retry with its key still gives one run.
 */
export function applyQueueFires(state: TableState, cmd: QueueFiresCommand): ApplyResult {
  pruneKeys(state, cmd.at);
  return { ok: true, kind: 'queuedFires', fires: cmd.fires.map((fire) => queueOneFire(state, fire, cmd.at)) };
}

function queueOneFire(state: TableState, fire: QueuedManualFire, atMs: number): QueueFireOutcome {
  const refuse = (code: keyof typeof ERROR_CODES, message: string): QueueFireOutcome => ({ jobId: fire.jobId, runId: fire.runId, status: 'rejected', code: ERROR_CODES[code], message });
  const job = state.jobs.get(fire.jobId);
  if (job === undefined) return refuse('JOB_NOT_FOUND', `job "${fire.jobId}" does not exist`);
  if (state.runs.has(fire.runId) || state.owedManual.has(fire.runId)) return { jobId: fire.jobId, runId: fire.runId, status: 'duplicate' };
  if (fire.key !== null) {
    const known = lookupKey(state, job, keyOf(fire.jobId, 'manual', fire.key), atMs);
    if (known !== null) return { jobId: fire.jobId, runId: known, status: 'duplicate' };
    for (const owed of state.owedManual.values()) {
      if (owed.jobId === fire.jobId && owed.key === fire.key) return { jobId: fire.jobId, runId: owed.runId, status: 'duplicate' };
    }
  }
  if (state.owedManual.size >= OWED_MANUAL_FIRES_MAX || state.owedManualBytes + payloadBytes(fire.payload) > OWED_MANUAL_PAYLOAD_BYTES_MAX) {
    return refuse('QUEUE_FULL', `${OWED_MANUAL_FIRES_MAX} manual runs (or ${OWED_MANUAL_PAYLOAD_BYTES_MAX} payload bytes) already wait for capacity`);
  }
  addOwedManual(state, fire);
  return { jobId: fire.jobId, runId: fire.runId, status: 'queued' };
}

function reject(fire: Fire, code: keyof typeof ERROR_CODES, message: string): FireOutcome {
  return { jobId: fire.jobId, runId: fire.runId, status: 'rejected', code: ERROR_CODES[code], message };
}

function applyOneFire(state: TableState, fire: Fire, atMs: number): FireOutcome {
  const job = state.jobs.get(fire.jobId);
  if (job === undefined) return reject(fire, 'JOB_NOT_FOUND', `job "${fire.jobId}" does not exist`);
  const existing = state.runs.get(fire.runId);
  if (existing !== undefined) {
    if (existing.jobId === fire.jobId && existing.scheduledAt === fire.scheduledAt) return { jobId: fire.jobId, runId: fire.runId, status: 'duplicate' };
    return reject(fire, 'RUN_EXISTS', `run id "${fire.runId}" is taken`);
  }
  const scheduled = fire.trigger === 'schedule' || fire.trigger === 'misfire';
  let mapKey: string | null = null;
  if (scheduled) {
    if (job.lastScheduledAt !== null && fire.scheduledAt <= job.lastScheduledAt) return { jobId: fire.jobId, runId: fire.runId, status: 'duplicate' };
    if (job.nextFireAt === null || fire.scheduledAt < job.nextFireAt) {
      return reject(fire, 'NOT_DUE', `job "${fire.jobId}" does not owe the instant ${fire.scheduledAt}`);
    }
  } else if (fire.trigger === 'retry') {
    return reject(fire, 'INVALID_COMMAND', 'a retry is a retryRun command, not a fire');
  } else {
    const key = fire.key ?? null;
    if (fire.trigger === 'after' && key === null) return reject(fire, 'INVALID_COMMAND', 'an after fire carries the upstream runId as key');
    if (key !== null) {
      mapKey = keyOf(fire.jobId, fire.trigger === 'after' ? 'after' : 'manual', key);
      const known = lookupKey(state, job, mapKey, atMs);
      if (known !== null) return { jobId: fire.jobId, runId: known, status: 'duplicate' };
    }
  }
  const executor = job.spec.executor;
  if (fire.outcome === 'run' && executor.type !== 'queue' && fire.executors.length === 0) return reject(fire, 'INVALID_COMMAND', 'a run fire names its executors');
  const skipReason = fire.outcome === 'skip' ? (fire.reason ?? 'skipped by the scheduler') : forcedSkip(state, job, scheduled);
  state.runSeq += 1;
  // A queue job's run waits in its function's queue, whatever nodes the fire named.
  const queue: QueueState | null = executor.type !== 'queue' || skipReason !== null ? null : {
    function: executor.function, priority: fire.priority ?? 'normal', worker: null, node: null, leaseMs: executor.leaseMs, leaseUntil: null,
    progress: null, result: null, noRetry: false,
  };
  const run = newRun(state.runSeq, queue === null ? fire : { ...fire, executors: [] }, atMs, skipReason, queue);
  addRun(state, job, run);
  if (skipReason === null) downstreamRan(state, job.id);
  if (skipReason !== null) {
    notifySkipped(state.notify, job.spec, run, atMs);
    countOutcome(state.jobMetrics, run);
  }
  if (mapKey !== null) rememberKey(state, job, mapKey, fire.runId, atMs);
  if (scheduled) {
    job.lastScheduledAt = fire.scheduledAt;
    setNextFireAt(state, job, computeNextFireAt(job, fire.scheduledAt));
  }
  return skipReason === null
    ? { jobId: fire.jobId, runId: fire.runId, status: 'run' }
    : { jobId: fire.jobId, runId: fire.runId, status: 'skipped', reason: skipReason };
}

/** A run fire the table records as skipped anyway: the concurrency policy or a full table. */
function forcedSkip(state: TableState, job: JobState, scheduled: boolean): string | null {
  if (scheduled && job.spec.concurrency === 'forbid' && job.activeCount > 0) return 'concurrency forbid: a previous run is still active';
  const executor = job.spec.executor;
  if (executor.type === 'queue' && (state.queued.get(executor.function)?.size ?? 0) >= FUNCTION_QUEUED_MAX) {
    return `the function ${executor.function} has ${FUNCTION_QUEUED_MAX} queued runs, its limit`;
  }
  if (job.activeCount >= state.limits.activeRunsPerJobMax) return `the job has ${state.limits.activeRunsPerJobMax} active runs, its limit`;
  if (state.activeRuns.size >= state.limits.activeRunsMax) return `the cluster has ${state.limits.activeRunsMax} active runs, its limit`;
  return null;
}

function newRun(seq: number, fire: Fire, atMs: number, skipReason: string | null, queue: QueueState | null): RunRecord {
  const skipped = skipReason !== null;
  const executors = skipped ? [] : [...fire.executors];
  const executions: Execution[] = executors.map((node) => ({
    node, attempt: 1, status: 'pending', exitCode: null, output: '', outputTruncated: false, error: null, startedAt: null, finishedAt: null,
  }));
  const run: RunRecord = {
    runId: fire.runId, jobId: fire.jobId, seq, scheduledAt: fire.scheduledAt, trigger: fire.trigger, attempt: 1,
    status: skipped ? 'skipped' : 'pending', firedAt: atMs, startedAt: null, finishedAt: skipped ? atMs : null, executions,
    payload: fire.payload ?? null, key: fire.key ?? null, executors, notBefore: skipped ? null : (fire.notBefore ?? null),
    killRequested: null, reason: skipReason, queue,
  };
  return fire.trigger === 'manual' && typeof fire.triggeredBy === 'string' ? { ...run, triggeredBy: fire.triggeredBy } : run;
}
