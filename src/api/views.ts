import type { Job, RunRecord } from '../statemachine/index.js';

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** A stored job as the API shows it: the spec plus metadata, times as ISO-8601 UTC. */
export function jobView(job: Job): Record<string, unknown> {
  return {
    ...job,
    createdAt: iso(job.createdAt),
    updatedAt: iso(job.updatedAt),
    lastScheduledAt: iso(job.lastScheduledAt),
    nextFireAt: iso(job.nextFireAt),
  };
}

/** A run record as the API shows it (api.md's Run shape); a queue run's state shows at the top level. */
export function runView(run: RunRecord): Record<string, unknown> {
  const { queue, ...rest } = run;
  const queueFields = queue === null ? {} : {
    function: queue.function, priority: queue.priority, worker: queue.worker, leaseUntil: iso(queue.leaseUntil), progress: queue.progress,
    result: queue.result,
  };
  return {
    ...rest,
    ...queueFields,
    scheduledAt: iso(run.scheduledAt),
    firedAt: iso(run.firedAt),
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    notBefore: iso(run.notBefore),
    executions: run.executions.map((e) => ({ ...e, startedAt: iso(e.startedAt), finishedAt: iso(e.finishedAt) })),
  };
}
