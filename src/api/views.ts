import { redactSpec } from '../access/index.js';
import type { Job, JobSpec, RunRecord } from '../statemachine/index.js';

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** A spec as any answer shows it: every secret value "***" (api.md, "Secrets"). */
export function specView(spec: JobSpec): JobSpec {
  return redactSpec(spec);
}

/** A stored job as the API shows it: the spec plus metadata (secrets as "***"), times as ISO-8601 UTC. */
export function jobView(job: Job): Record<string, unknown> {
  return {
    ...redactSpec(job),
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
