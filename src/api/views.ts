import { redactSpec } from '../access/index.js';
import type { Job, JobSpec, NotificationRecord, QueuedManualFire, RunRecord } from '../statemachine/index.js';
import { redactedNotify } from './notify-secrets.js';

// The last time formatted, with its text: an answer shows createdAt and updatedAt (often the
// same), and writes answered in the same millisecond share their times.
let lastIsoMs = Number.NaN;
let lastIsoText = '';

function iso(ms: number | null): string | null {
  if (ms === null) return null;
  if (ms !== lastIsoMs) {
    lastIsoText = new Date(ms).toISOString();
    lastIsoMs = ms;
  }
  return lastIsoText;
}

/** A spec as any answer shows it: every secret value "***" (api.md, "Secrets"), the executor's and the notify targets'. */
export function specView(spec: JobSpec): Record<string, unknown> {
  return { ...redactSpec(spec), notify: redactedNotify(spec) };
}

/** A stored job as the API shows it: the spec plus metadata (secrets as "***"), times as ISO-8601 UTC. */
export function jobView(job: Job): Record<string, unknown> {
  return {
    ...specView(job),
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
    lastScheduledAt: iso(job.lastScheduledAt),
    nextFireAt: iso(job.nextFireAt),
  };
}

/** When the run first started: the record's startedAt is the current attempt's, a retry resets it. */
export function firstStartOf(run: RunRecord): number | null {
  let first: number | null = null;
  for (const e of run.executions) if (e.startedAt !== null && (first === null || e.startedAt < first)) first = e.startedAt;
  return first ?? run.startedAt;
}

/**
 * A run record as the API shows it (api.md's Run shape), with `durationMs` (first start to
 * finish, across every attempt; null until both are known) and `lateMs` (first start minus
 * the scheduled instant; null until it started). A queue run's state shows at the top level.
 */
export function runView(run: RunRecord): Record<string, unknown> {
  const firstStart = firstStartOf(run);
  const { queue, ...rest } = run;
  const queueFields = queue === null ? {} : {
    function: queue.function, priority: queue.priority, worker: queue.worker, leaseUntil: iso(queue.leaseUntil), progress: queue.progress,
    result: queue.result,
  };
  return {
    ...rest,
    ...queueFields,
    durationMs: firstStart !== null && run.finishedAt !== null ? Math.max(0, run.finishedAt - firstStart) : null,
    lateMs: firstStart === null ? null : firstStart - run.scheduledAt,
    scheduledAt: iso(run.scheduledAt),
    firedAt: iso(run.firedAt),
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    notBefore: iso(run.notBefore),
    executions: run.executions.map((e) => ({ ...e, startedAt: iso(e.startedAt), finishedAt: iso(e.finishedAt) })),
  };
}


/**
 * A manual run recorded waiting for a free executor slot, in the shape of a run: pending,
 * attempt 0, no executions yet. It has no record until it fires (under the same run id).
 */
export function waitingRunView(fire: QueuedManualFire): Record<string, unknown> {
  return {
    runId: fire.runId, jobId: fire.jobId, seq: null, scheduledAt: iso(fire.scheduledAt), trigger: 'manual', attempt: 0, status: 'pending',
    reason: 'waiting for a free executor slot', firedAt: null, startedAt: null, finishedAt: null, notBefore: null, executions: [],
    payload: fire.payload, key: fire.key, ...(fire.priority === null ? {} : { priority: fire.priority }), ...(fire.triggeredBy === null ? {} : { triggeredBy: fire.triggeredBy }),
    durationMs: null, lateMs: null,
  };
}

/** One delivery as GET /v1/notifications shows it (api.md). */
export function notificationView(n: NotificationRecord): Record<string, unknown> {
  return {
    eventId: n.eventId, event: n.event, jobId: n.jobId, runId: n.runId, url: n.url, status: n.status, attempts: n.attempts,
    lastError: n.lastError, lastAttemptAt: iso(n.lastAttemptAt), createdAt: iso(n.createdAt),
    nextAttemptAt: n.status === 'pending' ? iso(n.nextAttemptAt) : null, runStatus: n.runStatus,
  };
}
