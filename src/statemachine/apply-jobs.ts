// putJob, putJobs, deleteJob, pauseJob, resumeJob.
import { intern } from './defaults.js';
import { assert } from './assert.js';
import type { DeleteJobCommand, PauseJobCommand, PutJobCommand, PutJobsCommand, ResumeJobCommand } from './commands.js';
import { ERROR_CODES } from './errors.js';
import { packSpec } from './packed-spec.js';
import { rejected, type AppliedJob, type ApplyResult } from './results.js';
import type { JobSpec } from './types.js';
import type { FieldError } from './validate-helpers.js';
import { JobState } from './job-record.js';
import { addDependents, computeNextFireAt, evictJobHistory, forgetOwedAfter, removeDependents, setNextFireAt, type TableState } from './state.js';
import { unindexAllExecutions, updateRetryIndex } from './run-indexes.js';
import { notifyJobDeleted } from './notifications.js';
import { forgetJob } from './job-metrics.js';
import { unindexForSearch } from './run-search.js';
import { checkRawSpec, checkStoredSpec, type CheckedSpec } from './stored-spec.js';
import { jobView } from './views.js';

/** The requester a command's audit record names (interned: a few names for many jobs), or null. */
function actorOf(cmd: { readonly audit?: { readonly actor: string } }): string | null {
  return cmd.audit === undefined ? null : intern(cmd.audit.actor);
}

export function applyPutJob(state: TableState, cmd: PutJobCommand, index: number, answered: boolean): ApplyResult {
  // Every replica checks what the entry carries, so a corrupt or hostile entry never reaches
  // the table and every replica gives the same answer: an entry from this release carries
  // the spec validated and packed by its proposer (stored-spec.ts: its shape is checked); an
  // older one carries the user's spec, validated and packed here.
  if ('stored' in cmd) {
    const stored = checkStoredSpec(cmd.stored);
    if (!stored.ok) return rejected(ERROR_CODES.INVALID_SPEC, `invalid stored job spec: ${stored.message}`);
    return putChecked(state, cmd.id, stored.checked, cmd, index, answered);
  }
  const raw = checkRawSpec(cmd.id, cmd.spec);
  if (!raw.ok) return rejected(ERROR_CODES.INVALID_SPEC, 'invalid job spec', raw.errors);
  return putChecked(state, cmd.id, raw.checked, cmd, index, answered);
}

type PutContext = { readonly at: number; readonly audit?: { readonly actor: string } };

/** A job result: with a copy of the job when a caller reads it, without when none waits (a copy per write is most of a follower's apply). */
function jobResult(job: JobState, created: boolean, answered: boolean): ApplyResult {
  return answered ? { ok: true, kind: 'job', created, job: jobView(job) } : { ok: true, kind: 'jobUnread', created };
}

function putChecked(state: TableState, id: string, checked: CheckedSpec, cmd: PutContext, index: number, answered: boolean): ApplyResult {
  const existing = state.jobs.get(id);
  if (existing === undefined) {
    if (state.jobs.size >= state.limits.jobsMax) {
      return rejected(ERROR_CODES.TOO_MANY_JOBS, `the table holds ${state.limits.jobsMax} jobs, its limit`);
    }
    const job = JobState.ofChecked(id, checked, cmd.at, index);
    job.updatedBy = actorOf(cmd);
    state.jobs.add(job);
    addDependents(state, job.id, job.after);
    setNextFireAt(state, job, computeNextFireAt(job, cmd.at));
    return jobResult(job, true, answered);
  }
  const before = { enabled: existing.enabled, schedule: existing.schedule, timezone: existing.timezone, history: existing.history, retryMax: existing.retryMax };
  removeDependents(state, existing.id, existing.after);
  existing.setChecked(checked);
  existing.updatedAt = cmd.at;
  existing.revision = index;
  existing.updatedBy = actorOf(cmd);
  addDependents(state, existing.id, existing.after);
  // Same schedule and still enabled: the job owes exactly the instants it owed before.
  // Otherwise it owes the instants of the new schedule from now on, not the past ones.
  const sameTiming = before.enabled && existing.enabled && before.schedule === existing.schedule && before.timezone === existing.timezone;
  if (!sameTiming) setNextFireAt(state, existing, computeNextFireAt(existing, Math.max(cmd.at, existing.lastScheduledAt ?? cmd.at)));
  if (existing.history < before.history) evictJobHistory(state, existing);
  if (existing.retryMax !== before.retryMax) {
    const spec = existing.spec;
    for (const run of existing.runs ?? []) updateRetryIndex(state, run, spec);
  }
  return jobResult(existing, false, answered);
}

export function applyDeleteJob(state: TableState, cmd: DeleteJobCommand): ApplyResult {
  const job = state.jobs.get(cmd.id);
  if (job === undefined) return rejected(ERROR_CODES.JOB_NOT_FOUND, `job "${cmd.id}" does not exist`);
  setNextFireAt(state, job, null);
  removeDependents(state, job.id, job.after);
  const activeRunIds: string[] = [];
  for (const run of job.runs ?? []) {
    state.runs.delete(run.runId);
    unindexForSearch(state, run);
    state.awaitingRetry.delete(run);
    if (state.activeRuns.delete(run)) {
      unindexAllExecutions(state, run);
      activeRunIds.push(run.runId);
    }
  }
  state.jobs.delete(job);
  forgetOwedAfter(state, job.id);
  notifyJobDeleted(state.notify, job.id);
  forgetJob(state.jobMetrics, job.id);
  // Idempotency keys of the job expire on their own: they carry the job's createRevision,
  // so a new job under the same id never matches them.
  return { ok: true, kind: 'deleted', id: cmd.id, activeRunIds };
}

export function applyPause(state: TableState, cmd: PauseJobCommand, index: number, answered: boolean): ApplyResult {
  const job = state.jobs.get(cmd.id);
  if (job === undefined) return rejected(ERROR_CODES.JOB_NOT_FOUND, `job "${cmd.id}" does not exist`);
  if (job.enabled) {
    job.enabled = false;
    job.updatedAt = cmd.at;
    job.updatedBy = actorOf(cmd);
    job.revision = index;
    setNextFireAt(state, job, null);
  }
  return jobResult(job, false, answered);
}

export function applyResume(state: TableState, cmd: ResumeJobCommand, index: number, answered: boolean): ApplyResult {
  const job = state.jobs.get(cmd.id);
  if (job === undefined) return rejected(ERROR_CODES.JOB_NOT_FOUND, `job "${cmd.id}" does not exist`);
  if (!job.enabled) {
    job.enabled = true;
    job.updatedAt = cmd.at;
    job.updatedBy = actorOf(cmd);
    job.revision = index;
    // A resumed job does not owe the instants that fell while it was paused.
    setNextFireAt(state, job, computeNextFireAt(job, Math.max(cmd.at, job.lastScheduledAt ?? cmd.at)));
  }
  return jobResult(job, false, answered);
}

/** Whether two validated specs store the same: the packed form is canonical. */
export function sameSpec(a: JobSpec, b: JobSpec): boolean {
  if (a.schedule !== b.schedule || a.timezone !== b.timezone || a.enabled !== b.enabled) return false;
  const pa = packSpec(a);
  const pb = packSpec(b);
  return pa.packed === pb.packed && pa.shared === pb.shared;
}

/**
 * Many jobs in one entry, all or nothing: every spec is checked, ids must be distinct and the
 * table must have room for the new ones before anything changes. A job whose stored spec is
 * already the same is left untouched (`unchanged`, no new revision).
 */
export function applyPutJobs(state: TableState, cmd: PutJobsCommand, index: number): ApplyResult {
  const errors: FieldError[] = [];
  const specs: { readonly id: string; readonly checked: CheckedSpec }[] = [];
  const seen = new Set<string>();
  cmd.jobs.forEach((item, i) => {
    if (seen.has(item.id)) errors.push({ path: `jobs[${i}].id`, message: `job ${item.id} appears twice` });
    seen.add(item.id);
    if ('stored' in item) {
      const stored = checkStoredSpec(item.stored);
      if (stored.ok) specs.push({ id: item.id, checked: stored.checked });
      else errors.push({ path: `jobs[${i}].stored`, message: stored.message });
      return;
    }
    const raw = checkRawSpec(item.id, item.spec);
    if (raw.ok) specs.push({ id: item.id, checked: raw.checked });
    else for (const e of raw.errors) errors.push({ path: `jobs[${i}].${e.path}`, message: e.message });
  });
  if (errors.length > 0) return rejected(ERROR_CODES.INVALID_SPEC, 'invalid job specs: nothing was applied', errors);
  const added = specs.filter(({ id }) => state.jobs.get(id) === undefined).length;
  if (state.jobs.size + added > state.limits.jobsMax) {
    return rejected(ERROR_CODES.TOO_MANY_JOBS, `${added} new jobs would pass the table's limit of ${state.limits.jobsMax}: nothing was applied`);
  }
  const jobs: AppliedJob[] = [];
  for (const { id, checked } of specs) {
    const existing = state.jobs.get(id);
    if (existing !== undefined && storesSame(existing, checked)) {
      jobs.push({ id, outcome: 'unchanged', job: jobView(existing) });
      continue;
    }
    const result = putChecked(state, id, checked, cmd, index, true);
    assert(result.ok && result.kind === 'job', 'a job checked before the batch applies');
    jobs.push({ id, outcome: result.created ? 'created' : 'configured', job: result.job });
  }
  return { ok: true, kind: 'jobs', jobs };
}

/** Whether a stored job already holds this checked spec (the packed form is canonical; traits carry `enabled`). */
function storesSame(job: JobState, checked: CheckedSpec): boolean {
  return job.packed === checked.packed && job.shared === checked.shared && job.schedule === checked.schedule && job.timezone === checked.timezone && job.traits === checked.traits;
}
