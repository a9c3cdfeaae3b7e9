// The table's data and the bookkeeping every apply shares: the next-fire index, the run
// ring per job, global run eviction and idempotency keys. Everything here is deterministic:
// iteration orders are insertion orders fixed by the log, or explicit sorts.
import { AuditLog, TokenRegistry } from '../access/index.js';
import { assert, itemAt } from './assert.js';
import { IDEMPOTENCY_TTL_MS, OWED_AFTER_FIRES_MAX, type TableLimits } from './limits.js';
import type { QueuedManualFire } from './commands.js';
import { compiledSchedule, nextFireAt } from './schedule.js';
import { compareByFinish, compareBySeq, compareLeases, indexActiveExecutions, type FinishKey, type LeaseKey, type QueueKey, type SeqKey } from './run-indexes.js';
import { SortedSet } from './sorted-set.js';
import { createNotifyState, type NotifyState } from './notifications.js';
import { createJobMetrics, type JobMetricsState } from './job-metrics.js';
import { createRunSearchIndexes, indexForSearch, unindexForSearch, type RunSearchIndexes } from './run-search.js';
import { JobsById, compareIds } from './jobs-by-id.js';
import type { JobState } from './job-record.js';
import { WriteIds } from './write-ids.js';
import { isActiveStatus, type RunRecord, type WorkerEntry } from './types.js';

export { JobState } from './job-record.js';

/**
 * An `after` fire the table owes: `upstreamRunId` succeeded at `atMs` and the downstream job
 * `jobId` has no fire recorded for it yet. Decided at apply, so every leader sees the same
 * list; the fire that carries the key (the upstream runId) clears it, whatever its outcome.
 */
export type OwedAfter = { readonly jobId: string; readonly upstreamRunId: string; readonly atMs: number };

export type KeyEntry = { readonly jobId: string; readonly createRevision: number; readonly runId: string; readonly atMs: number };

export type TableState = RunSearchIndexes & {
  readonly limits: TableLimits;
  appliedIndex: number;
  /** Sequence number of the newest run record. */
  runSeq: number;
  /** Every job, in id order. */
  readonly jobs: JobsById;
  /** Enabled jobs with a next instant, by (nextFireAt, id). */
  readonly fireIndex: SortedSet<JobState>;
  /** Every run record in creation (seq) order; the front holds the oldest. */
  readonly runs: Map<string, RunRecord>;
  readonly activeRuns: SortedSet<RunRecord, SeqKey>;
  /** node id → runs with an active execution of their current attempt on it (run-indexes.ts). */
  readonly activeByNode: Map<string, SortedSet<RunRecord, SeqKey>>;
  /** Final runs that still owe an automatic retry, by (finishedAt, seq) (run-indexes.ts). */
  readonly awaitingRetry: SortedSet<RunRecord, FinishKey>;
  /** function → active queue runs no worker holds (run-indexes.ts). */
  readonly queued: Map<string, SortedSet<RunRecord, QueueKey>>;
  /** Active queue runs a worker holds, by lease end (run-indexes.ts). */
  readonly leases: SortedSet<RunRecord, LeaseKey>;
  /** worker → runs of the lease index it holds (run-indexes.ts). */
  readonly heldByWorker: Map<string, number>;
  /** Pull workers by id, least recently seen first (at most WORKERS_MAX). */
  readonly workers: Map<string, WorkerEntry>;
  /** upstream job id → ids of jobs that list it in `after`. */
  readonly dependents: Map<string, Set<string>>;
  /** Idempotency keys in insertion order (oldest first). */
  readonly keys: Map<string, KeyEntry>;
  /** `after` fires owed, by keyOf(jobId, 'after', upstreamRunId), oldest first (at most OWED_AFTER_FIRES_MAX). */
  readonly owedAfter: Map<string, OwedAfter>;
  /** afterMode `all` jobs → upstream job ids that succeeded since the job's last run (each at most AFTER_MAX current ones). */
  readonly afterSeen: Map<string, Set<string>>;
  /** Manual fires recorded waiting for capacity, by runId, oldest first (queueFires; at most OWED_MANUAL_FIRES_MAX). */
  readonly owedManual: Map<string, QueuedManualFire>;
  /** Payload bytes of owedManual together (derived; at most OWED_MANUAL_PAYLOAD_BYTES_MAX). */
  owedManualBytes: number;
  /** Notification events owed and their delivery state (notifications.ts). A restore replaces it. */
  notify: NotifyState;
  /** Per-job outcome figures for metrics (job-metrics.ts). A restore replaces it. */
  jobMetrics: JobMetricsState;
  /** API tokens (hashes only): every node checks every request against its own copy. Replaced on restore. */
  tokens: TokenRegistry;
  /** Accepted writes, newest last, bounded. Replaced on restore. */
  audit: AuditLog;
  /** Write ids of accepted writes lately, so a re-sent write takes effect once (write-ids.ts). Replaced on restore. */
  writes: WriteIds;
};

const KEYS_PRUNED_PER_APPLY_MAX = 1000;

/** Next-fire order: by instant, then id. Only jobs with an instant are in the index. */
export function compareByNextFire(a: JobState, b: JobState): number {
  return ((a.nextFireAt ?? 0) - (b.nextFireAt ?? 0)) || compareIds(a.id, b.id);
}

export function createState(limits: TableLimits): TableState {
  return {
    limits, appliedIndex: 0, runSeq: 0, jobs: new JobsById(),
    fireIndex: new SortedSet<JobState>(compareByNextFire),
    runs: new Map(), activeRuns: new SortedSet<RunRecord, SeqKey>(compareBySeq),
    activeByNode: new Map(), awaitingRetry: new SortedSet<RunRecord, FinishKey>(compareByFinish),
    queued: new Map(), leases: new SortedSet<RunRecord, LeaseKey>(compareLeases), heldByWorker: new Map(), workers: new Map(),
    dependents: new Map(), keys: new Map(), owedAfter: new Map(), afterSeen: new Map(), owedManual: new Map(), owedManualBytes: 0, notify: createNotifyState(), jobMetrics: createJobMetrics(), ...createRunSearchIndexes(),
    tokens: TokenRegistry.create(), audit: AuditLog.create(), writes: new WriteIds(),
  };
}

export function setNextFireAt(state: TableState, job: JobState, next: number | null): void {
  if (job.nextFireAt !== null) assert(state.fireIndex.delete(job), 'job missing from the next-fire index');
  job.nextFireAt = next;
  if (next !== null) assert(state.fireIndex.add(job), 'job already in the next-fire index');
}

/** The first instant the job owes after `afterMs` (null when disabled or none left). */
export function computeNextFireAt(job: JobState, afterMs: number): number | null {
  if (!job.enabled) return null;
  return nextFireAt(compiledSchedule(job.schedule), job.timezone, afterMs, job.createdAt);
}

export function addDependents(state: TableState, id: string, after: readonly string[]): void {
  for (const upstream of after) {
    let set = state.dependents.get(upstream);
    if (set === undefined) state.dependents.set(upstream, (set = new Set()));
    set.add(id);
  }
}

export function removeDependents(state: TableState, id: string, after: readonly string[]): void {
  for (const upstream of after) {
    const set = state.dependents.get(upstream);
    set?.delete(id);
    if (set?.size === 0) state.dependents.delete(upstream);
  }
}

/** Puts a run into the table and its indexes (new or restored); true when it is active. */
export function indexRun(state: TableState, job: JobState, run: RunRecord): boolean {
  state.runs.set(run.runId, run);
  indexForSearch(state, run);
  (job.runs ??= []).push(run);
  if (!isActiveStatus(run.status)) return false;
  job.activeCount += 1;
  state.activeRuns.add(run);
  indexActiveExecutions(state, run);
  return true;
}

/** Records a new run for a job; evicts old finished records to keep every bound. */
export function addRun(state: TableState, job: JobState, run: RunRecord): void {
  assert(!state.runs.has(run.runId), 'run id already recorded');
  assert(run.seq === state.runSeq, 'run seq must be the newest');
  indexRun(state, job, run);
  evictJobHistory(state, job);
  evictGlobal(state);
}

/** Bookkeeping when a run leaves pending/running. */
export function runBecameFinal(state: TableState, job: JobState | undefined, run: RunRecord): void {
  assert(state.activeRuns.delete(run), 'finished run was not active');
  if (job === undefined) return;
  job.activeCount -= 1;
  assert(job.activeCount >= 0, 'active count went negative');
  if (run.status === 'succeeded') oweAfterFires(state, run);
  evictJobHistory(state, job);
}

/**
 * An upstream run succeeded: every enabled dependent is owed one fire for it. A paused
 * dependent is not triggered (like its schedule); a full list records no more.
 */
function oweAfterFires(state: TableState, upstream: RunRecord): void {
  const ids = state.dependents.get(upstream.jobId);
  if (ids === undefined) return;
  for (const id of [...ids].sort(compareIds)) {
    const job = state.jobs.get(id);
    if (job === undefined || !job.enabled || state.owedAfter.size >= OWED_AFTER_FIRES_MAX) continue;
    const spec = job.spec;
    if (spec.afterMode === 'all') {
      let seen = state.afterSeen.get(id);
      if (seen === undefined) state.afterSeen.set(id, (seen = new Set()));
      seen.add(upstream.jobId);
      const current = seen;
      if (!spec.after.every((u) => current.has(u))) {
        // An upstream dropped from `after` since it succeeded no longer counts.
        for (const u of current) if (!spec.after.includes(u)) current.delete(u);
        continue;
      }
      state.afterSeen.delete(id);
    }
    state.owedAfter.set(keyOf(id, 'after', upstream.runId), { jobId: id, upstreamRunId: upstream.runId, atMs: upstream.finishedAt ?? 0 });
  }
}

/** A run of the job was recorded: for afterMode `all`, every upstream has to succeed again. */
export function downstreamRan(state: TableState, jobId: string): void {
  state.afterSeen.delete(jobId);
}

/** A deleted job is owed nothing (a new job under its id was not asked for). */
export function forgetOwedAfter(state: TableState, jobId: string): void {
  state.afterSeen.delete(jobId);
  for (const [mapKey, owed] of state.owedAfter) if (owed.jobId === jobId) state.owedAfter.delete(mapKey);
  for (const owed of [...state.owedManual.values()]) if (owed.jobId === jobId) dropOwedManual(state, owed.runId);
}

const utf8 = new TextEncoder();

export function payloadBytes(payload: string | null): number {
  return payload === null ? 0 : utf8.encode(payload).length;
}

export function addOwedManual(state: TableState, fire: QueuedManualFire): void {
  state.owedManual.set(fire.runId, fire);
  state.owedManualBytes += payloadBytes(fire.payload);
}

export function dropOwedManual(state: TableState, runId: string): void {
  const owed = state.owedManual.get(runId);
  if (owed === undefined) return;
  state.owedManual.delete(runId);
  state.owedManualBytes -= payloadBytes(owed.payload);
}

export function runBecameActive(state: TableState, job: JobState, run: RunRecord): void {
  assert(state.activeRuns.add(run), 'run was already active');
  job.activeCount += 1;
  indexActiveExecutions(state, run);
}

function removeRun(state: TableState, job: JobState | undefined, run: RunRecord): void {
  state.runs.delete(run.runId);
  unindexForSearch(state, run);
  state.awaitingRetry.delete(run);
  const list = job?.runs;
  if (list == null) return;
  const at = list.indexOf(run);
  assert(at >= 0, 'run missing from its job');
  list.splice(at, 1);
}

/** Keeps at most `history` finished runs per job; active runs are never evicted. */
export function evictJobHistory(state: TableState, job: JobState): void {
  const list = job.runs;
  if (list === null) return;
  let excess = list.length - job.activeCount - job.history;
  for (let i = 0; excess > 0 && i < list.length;) {
    const run = itemAt(list, i);
    if (isActiveStatus(run.status)) {
      i++;
      continue;
    }
    state.runs.delete(run.runId);
    unindexForSearch(state, run);
    state.awaitingRetry.delete(run);
    list.splice(i, 1);
    excess -= 1;
  }
}

/** Keeps the total number of records under runsMax by evicting the oldest finished ones. */
function evictGlobal(state: TableState): void {
  if (state.runs.size <= state.limits.runsMax) return;
  for (const run of state.runs.values()) {
    if (state.runs.size <= state.limits.runsMax) return;
    if (!isActiveStatus(run.status)) removeRun(state, state.jobs.get(run.jobId), run);
  }
  assert(state.runs.size <= state.limits.runsMax, 'run records over the limit with every record active');
}

export function keyOf(jobId: string, kind: 'manual' | 'after', key: string): string {
  return `${jobId}\u0000${kind}\u0000${key}`;
}

/** The run a live key names, or null. Expiry is judged by the command's time. */
export function lookupKey(state: TableState, job: JobState, mapKey: string, atMs: number): string | null {
  const entry = state.keys.get(mapKey);
  if (entry === undefined || entry.createRevision !== job.createRevision) return null;
  return atMs - entry.atMs < IDEMPOTENCY_TTL_MS ? entry.runId : null;
}

export function rememberKey(state: TableState, job: JobState, mapKey: string, runId: string, atMs: number): void {
  state.keys.delete(mapKey);
  while (state.keys.size >= state.limits.keysMax) {
    const oldest = state.keys.keys().next();
    if (oldest.done === true) break;
    state.keys.delete(oldest.value);
  }
  state.keys.set(mapKey, { jobId: job.id, createRevision: job.createRevision, runId, atMs });
}

/** Drops expired keys from the front (bounded work per apply). */
export function pruneKeys(state: TableState, atMs: number): void {
  let pruned = 0;
  for (const [mapKey, entry] of state.keys) {
    if (pruned >= KEYS_PRUNED_PER_APPLY_MAX || atMs - entry.atMs < IDEMPOTENCY_TTL_MS) return;
    state.keys.delete(mapKey);
    pruned++;
  }
}
