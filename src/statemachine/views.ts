// Copies handed to callers, so nothing outside the table can change replicated state.
import type { JobState } from './state.js';
import type { Job, RunRecord } from './types.js';

export function jobView(job: JobState): Job {
  return {
    ...job.spec, createdAt: job.createdAt, updatedAt: job.updatedAt, createRevision: job.createRevision,
    revision: job.revision, lastScheduledAt: job.lastScheduledAt, nextFireAt: job.nextFireAt,
    ...(job.updatedBy === null ? {} : { updatedBy: job.updatedBy }),
  };
}

export function runView(run: RunRecord): RunRecord {
  return { ...run, executions: run.executions.map((e) => ({ ...e })), executors: [...run.executors], queue: run.queue === null ? null : { ...run.queue } };
}
