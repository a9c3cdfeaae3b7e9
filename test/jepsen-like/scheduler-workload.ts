// Scheduler jobs that append one line per execution to an outside sink, and the polling
// that remembers every run record the cluster acknowledged while the nemesis ran.
import type { JepsenCluster } from './cluster.js';
import type { RunRecord, SchedulerJob } from './scheduler-checker.js';

export const SCHEDULER_JOBS: readonly (SchedulerJob & { schedule: string })[] = [
  { id: 'sched-cron', schedule: '* * * * * *', periodMs: 1000, anchored: false, misfire: 'fire-all' },
  { id: 'sched-every', schedule: '@every 2s', periodMs: 2000, anchored: true, misfire: 'fire-once' },
  { id: 'sched-skip', schedule: '* * * * * *', periodMs: 1000, anchored: false, misfire: 'skip' },
  // Runs for 1.5 s after writing its line, so kills and pauses catch it running: a run whose
  // executor dies or goes silent must end lost and be retried, never run twice as one attempt.
  { id: 'sched-slow', schedule: '@every 3s', periodMs: 3000, anchored: true, misfire: 'fire-all' },
];

export function schedulerJobSpec(job: (typeof SCHEDULER_JOBS)[number], sink: string): Record<string, unknown> {
  return {
    schedule: job.schedule,
    concurrency: 'allow',
    misfire: { policy: job.misfire, windowMs: 600_000 },
    // A run whose executor dies ends lost and is retried as a new attempt (G3, at least once).
    retry: { max: 10, backoffMs: 200, maxBackoffMs: 2000 },
    history: 1000,
    executor: { type: 'shell', command: `echo "$CHIME_JOB_ID $CHIME_SCHEDULED_AT $CHIME_RUN_ID $CHIME_ATTEMPT $CHIME_NODE_ID $(date +%s%3N)" >> '${sink}'${job.id === 'sched-slow' ? '; sleep 1.5' : ''}` },
  };
}

/** Every run record of `jobId`, all pages, through `node`. */
export async function fetchRuns(cluster: JepsenCluster, node: string, jobId: string, timeoutMs = 5000): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const query: string = cursor === null ? 'limit=1000' : `limit=1000&cursor=${encodeURIComponent(cursor)}`;
    const answer = await cluster.processes.call(node, 'GET', `/v1/jobs/${jobId}/runs?${query}`, undefined, timeoutMs);
    if (answer.status !== 200) throw new Error(`runs of ${jobId} on ${node}: ${answer.status} ${answer.text.slice(0, 200)}`);
    const body = answer.body as { items: RunRecord[]; nextCursor: string | null };
    out.push(...body.items);
    cursor = body.nextCursor;
    if (cursor === null) return out;
  }
  throw new Error(`runs of ${jobId}: more than 100 pages`);
}

/** Every job id in the table, all pages, through `node`. */
export async function fetchJobIds(cluster: JepsenCluster, node: string, timeoutMs = 10_000): Promise<Set<string>> {
  const out = new Set<string>();
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const query: string = cursor === null ? 'limit=1000' : `limit=1000&cursor=${encodeURIComponent(cursor)}`;
    const answer = await cluster.processes.call(node, 'GET', `/v1/jobs?${query}`, undefined, timeoutMs);
    if (answer.status !== 200) throw new Error(`jobs on ${node}: ${answer.status} ${answer.text.slice(0, 200)}`);
    const body = answer.body as { items: { id: string }[]; nextCursor: string | null };
    for (const job of body.items) out.add(job.id);
    cursor = body.nextCursor;
    if (cursor === null) return out;
  }
  throw new Error('jobs: more than 1000 pages');
}
