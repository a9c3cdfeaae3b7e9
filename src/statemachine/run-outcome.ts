// What follows from a run's attempt starting or the run becoming final, whoever ran it (a node
// reporting, or a pull worker's claim and report): the retry index, notification events,
// per-job figures and the final-run bookkeeping. One place, so a new kind of executor cannot
// leave a run out of any of them.
import { countOutcome, countStart } from './job-metrics.js';
import { notifyFinal, notifyStarted } from './notifications.js';
import { owesRetry, updateRetryIndex } from './run-indexes.js';
import { runBecameFinal, type TableState } from './state.js';
import type { RunRecord } from './types.js';

/** The run's current attempt started (its first execution did): counted, and `started` owed. */
export function attemptStarted(state: TableState, run: RunRecord, atMs: number): void {
  if (run.attempt === 1) countStart(state.jobMetrics, run, atMs);
  const job = state.jobs.get(run.jobId);
  if (job !== undefined) notifyStarted(state.notify, job.spec, run, atMs);
}

/** The run just reached a final status at `atMs` (its status is already set). */
export function runEnded(state: TableState, run: RunRecord, atMs: number): void {
  run.finishedAt = atMs;
  const job = state.jobs.get(run.jobId);
  // Index first: becoming final may evict this very run from a short history.
  if (job !== undefined) {
    updateRetryIndex(state, run, job.spec);
    const retrying = owesRetry(run, job.spec);
    notifyFinal(state.notify, job.spec, run, retrying, atMs);
    if (!retrying) countOutcome(state.jobMetrics, run);
  }
  runBecameFinal(state, job, run);
}
