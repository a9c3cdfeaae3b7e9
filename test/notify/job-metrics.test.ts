// Per-job metrics from the replicated table, rendered by the process's registry and read
// back with a strict exposition parser: one family each, histograms cumulative and ending in
// +Inf, per-job series bounded with the rest under job="_other", equal after a snapshot restore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProcessMetrics } from '../../src/process/index.js';
import { NotifyPlane } from '../../src/notify/index.js';
import { silentLogger } from '../../src/log/index.js';
import { JOB_METRICS_JOBS_MAX, JobTable, type FinishedReport, type RunStatus } from '../../src/statemachine/index.js';
import { Driver, T0, scheduled } from '../support/job-table.js';
import { parseExposition, sampleValue } from '../support/prometheus-text.js';

function finished(runId: string, at: number, startedAt: number, status: RunStatus): FinishedReport {
  if (status === 'pending' || status === 'running' || status === 'skipped') throw new Error('not final');
  return { kind: 'finished', runId, attempt: 1, node: 'n1', at, startedAt, status, exitCode: 0, output: '', outputTruncated: false, error: null };
}

function render(table: JobTable): string {
  const metrics = new ProcessMetrics();
  const notify = new NotifyPlane({
    isLeader: () => false, term: () => 1, read: async () => undefined, table: () => table, propose: async () => ({ ok: true, kind: 'none' }),
  }, { key: null, cluster: 'test', logger: silentLogger });
  metrics.bindJobs(() => table, notify);
  return metrics.render();
}

test('the strict parser refuses what a scraper could misread', () => {
  const ok = '# HELP a_total x\n# TYPE a_total counter\na_total{job="x"} 1\n';
  assert.ok(parseExposition(ok).has('a_total'));
  assert.throws(() => parseExposition('a_total 1\n'), /no TYPE/);
  assert.throws(() => parseExposition(`${ok}# TYPE a_total counter\n`), /declared twice|after its samples/);
  assert.throws(() => parseExposition('# TYPE a counter\na 1\n'), /_total/);
  assert.throws(() => parseExposition(`${ok}a_total{job="x"} 2\n`), /duplicate series/);
  assert.throws(() => parseExposition('# TYPE a_total counter\na_total 1\n# TYPE b gauge\nb 1\na_total{x="1"} 1\n'), /continues after another family/);
  const h = (b1: number, inf: number, count: number, last = '+Inf') => `# TYPE h histogram\nh_bucket{le="1"} ${b1}\nh_bucket{le="${last}"} ${inf}\nh_sum 3\nh_count ${count}\n`;
  assert.ok(parseExposition(h(1, 2, 2)).has('h'));
  assert.throws(() => parseExposition(h(3, 2, 2)), /cumulative/);
  assert.throws(() => parseExposition(h(1, 2, 3)), /must equal _count/);
  assert.throws(() => parseExposition(h(1, 2, 2, '5')), /\+Inf/);
  assert.throws(() => parseExposition('# TYPE s_sum counter\n'), /_total/);
});

test('per-job outcomes, last success, duration and lateness histograms; bounded series; the same after a restore', () => {
  const d = new Driver();
  const jobs = JOB_METRICS_JOBS_MAX + 5;
  for (let j = 0; j < jobs; j++) d.put(`j${j}`, T0, { schedule: '@manual', retry: { max: 1, backoffMs: 1000 } });
  let n = 0;
  const run = (jobId: string, status: RunStatus, lateMs: number, durationMs: number): string => {
    n += 1;
    const at = T0 + n * 60_000;
    const runId = `r${n}`;
    d.fire(at, { ...scheduled(jobId, runId, at), trigger: 'manual', key: runId });
    d.apply({ type: 'runReports', at: at + lateMs + durationMs, reports: [finished(runId, at + lateMs + durationMs, at + lateMs, status)] });
    return runId;
  };
  run('j0', 'succeeded', 20, 1500);
  run('j0', 'succeeded', 700, 40);
  run('j0', 'killed', 3, 2000);
  // A failure with a retry left is not an outcome yet.
  const retried = run('j1', 'failed', 1, 1);
  for (let j = 2; j < jobs; j++) run(`j${j}`, 'succeeded', 1, 1);
  const families = parseExposition(render(d.table));
  assert.equal(sampleValue(families, 'chime_job_runs_total', { job: 'j0', status: 'succeeded' }), 2);
  assert.equal(sampleValue(families, 'chime_job_runs_total', { job: 'j0', status: 'killed' }), 1);
  assert.equal(sampleValue(families, 'chime_job_runs_total', { job: 'j1', status: 'failed' }), 0, 'owed a retry: not counted yet');
  assert.equal(sampleValue(families, 'chime_job_last_success_timestamp_seconds', { job: 'j0' }), (T0 + 2 * 60_000 + 740) / 1000);
  assert.equal(sampleValue(families, 'chime_job_run_duration_seconds_count', { job: 'j0' }), 3);
  assert.equal(sampleValue(families, 'chime_job_run_duration_seconds_bucket', { job: 'j0', le: '1' }), 1);
  assert.equal(sampleValue(families, 'chime_job_run_duration_seconds_bucket', { job: 'j0', le: '5' }), 3);
  assert.equal(sampleValue(families, 'chime_job_run_duration_seconds_sum', { job: 'j0' }), 3.54);
  assert.equal(sampleValue(families, 'chime_fire_lateness_seconds_bucket', { job: 'j0', le: '0.005' }), 1);
  assert.equal(sampleValue(families, 'chime_fire_lateness_seconds_bucket', { job: 'j0', le: '0.025' }), 2);
  assert.equal(sampleValue(families, 'chime_fire_lateness_seconds_count', { job: 'j0' }), 3);
  // j0 and j1 took two slots, j2 … j999 the rest; the last five jobs are summed as _other.
  const jobLabels = new Set(families.get('chime_job_runs_total')?.samples.map((s) => s.labels['job']));
  assert.equal(jobLabels.size, JOB_METRICS_JOBS_MAX + 1);
  assert.equal(sampleValue(families, 'chime_job_runs_total', { job: '_other', status: 'succeeded' }), 5);
  // The retry's outcome counts once it is final.
  d.apply({ type: 'retryRun', runId: retried, attempt: 2, executors: ['n1'], notBefore: null, at: T0 + 1e9 });
  d.apply({ type: 'runReports', at: T0 + 1e9 + 10, reports: [{ ...finished(retried, T0 + 1e9 + 10, T0 + 1e9 + 5, 'failed'), attempt: 2 }] });
  const after = render(d.table);
  assert.equal(sampleValue(parseExposition(after), 'chime_job_runs_total', { job: 'j1', status: 'failed' }), 1);
  assert.equal(render(JobTable.restore(d.table.snapshot())), after, 'a node restored from a snapshot shows the same figures');
  // Deleting a job removes its series and frees its slot.
  d.apply({ type: 'deleteJob', id: 'j0', at: T0 + 2e9 });
  assert.equal(sampleValue(parseExposition(render(d.table)), 'chime_job_runs_total', { job: 'j0', status: 'succeeded' }), undefined);
});

test('per-function gauges from the table: runs queued and held by workers', () => {
  const d = new Driver();
  d.put('q', T0, { schedule: '@manual', executor: { type: 'queue', function: 'resize' } });
  d.put('p', T0, { schedule: '@manual', executor: { type: 'queue', function: 'print' } });
  for (let i = 0; i < 5; i++) d.fire(T0, { jobId: 'q', runId: `q${i}`, scheduledAt: T0, trigger: 'manual', executors: [], outcome: 'run' });
  d.fire(T0, { jobId: 'p', runId: 'p0', scheduledAt: T0, trigger: 'manual', executors: [], outcome: 'run' });
  d.apply({ type: 'claimRuns', worker: 'w', node: 'n1', functions: ['resize'], max: 2, at: T0 + 1 });
  const text = render(d.table);
  const families = parseExposition(text);
  assert.ok(families.has('chime_function_queued') && families.has('chime_function_running'));
  assert.equal(sampleValue(families, 'chime_function_queued', { function: 'resize' }), 3);
  assert.equal(sampleValue(families, 'chime_function_running', { function: 'resize' }), 2);
  assert.equal(sampleValue(families, 'chime_function_queued', { function: 'print' }), 1);
  assert.equal(sampleValue(families, 'chime_function_running', { function: 'print' }), 0);
});
