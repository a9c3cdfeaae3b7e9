import type { Job, JobSpec, NotificationRecord, RunRecord } from '../statemachine/index.js';
import { redactedNotify } from './notify-secrets.js';

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** A stored job as the API shows it: the spec plus metadata, times as ISO-8601 UTC. */
export function jobView(job: Job): Record<string, unknown> {
  return {
    ...job,
    notify: redactedNotify(job),
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
    lastScheduledAt: iso(job.lastScheduledAt),
    nextFireAt: iso(job.nextFireAt),
  };
}

/** A run record as the API shows it (api.md's Run shape). */
export function runView(run: RunRecord): Record<string, unknown> {
  return {
    ...run,
    scheduledAt: iso(run.scheduledAt),
    firedAt: iso(run.firedAt),
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    notBefore: iso(run.notBefore),
    executions: run.executions.map((e) => ({ ...e, startedAt: iso(e.startedAt), finishedAt: iso(e.finishedAt) })),
  };
}

/** A validated spec as a dry run shows it: secrets as "***". */
export function specView(spec: JobSpec): Record<string, unknown> {
  return { ...spec, notify: redactedNotify(spec) };
}

/** One delivery as GET /v1/notifications shows it (api.md). */
export function notificationView(n: NotificationRecord): Record<string, unknown> {
  return {
    eventId: n.eventId, event: n.event, jobId: n.jobId, runId: n.runId, url: n.url, status: n.status, attempts: n.attempts,
    lastError: n.lastError, lastAttemptAt: iso(n.lastAttemptAt), createdAt: iso(n.createdAt),
    nextAttemptAt: n.status === 'pending' ? iso(n.nextAttemptAt) : null, runStatus: n.runStatus,
  };
}
