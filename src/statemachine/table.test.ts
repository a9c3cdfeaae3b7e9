import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Driver, T0, fireStatuses, scheduled, spec } from '../../test/support/job-table.js';
import { storedSpecOf } from './stored-spec.js';
import { JobTable } from './table.js';
import { DEFAULT_LIMITS, IDEMPOTENCY_TTL_MS } from './limits.js';
import { encodeCommand } from './codec.js';
import type { ApplyResult } from './results.js';

const MIN = 60_000;

function nextOf(d: Driver, id: string): number | null {
  const job = d.table.getJob(id);
  assert.ok(job);
  return job.nextFireAt;
}

test('putJob creates then replaces; revision is the entry index; nextFireAt follows the schedule', () => {
  const d = new Driver();
  const created = d.put('a', T0 + 1000);
  assert.ok(created.ok && created.kind === 'job');
  assert.equal(created.created, true);
  assert.equal(created.job.revision, 1);
  assert.equal(created.job.createRevision, 1);
  assert.equal(created.job.nextFireAt, T0 + 5 * MIN);
  const replaced = d.put('a', T0 + 2000, { description: 'x' });
  assert.ok(replaced.ok && replaced.kind === 'job');
  assert.equal(replaced.created, false);
  assert.equal(replaced.job.revision, 2);
  assert.equal(replaced.job.createRevision, 1);
  assert.equal(replaced.job.createdAt, T0 + 1000);
  assert.equal(replaced.job.updatedAt, T0 + 2000);
  assert.equal(replaced.job.nextFireAt, T0 + 5 * MIN);
});

test('a result no caller waits for carries no copy of the job, and the table changes the same', () => {
  const a = JobTable.create();
  const b = JobTable.create();
  const commands = [
    { type: 'putJob', id: 'a', stored: storedSpecOf(spec('a')), at: T0 },
    { type: 'pauseJob', id: 'a', at: T0 + 1 },
    { type: 'resumeJob', id: 'a', at: T0 + 2 },
    { type: 'putJob', id: 'a', stored: storedSpecOf(spec('a', { description: 'x' })), at: T0 + 3 },
  ] as const;
  commands.forEach((command, i) => {
    const read = a.apply(command, i + 1);
    const unread = b.apply(command, i + 1, false);
    assert.ok(read.ok && read.kind === 'job');
    assert.deepEqual(unread, { ok: true, kind: 'jobUnread', created: read.created });
  });
  assert.equal(Buffer.compare(a.snapshot(), b.snapshot()), 0, 'byte-identical tables');
  assert.deepEqual(a.getJob('a'), b.getJob('a'));
});

test('a changed schedule owes only instants after the change', () => {
  const d = new Driver();
  d.put('a', T0, { schedule: '@daily' });
  d.put('a', T0 + 90 * MIN, { schedule: '@hourly' });
  assert.equal(nextOf(d, 'a'), T0 + 120 * MIN);
});

test('invalid specs, unknown jobs and the job-count limit are rejected with codes', () => {
  const d = new Driver(JobTable.create({ ...DEFAULT_LIMITS, jobsMax: 2 }));
  const bad = d.apply({ type: 'putJob', id: 'x', spec: { schedule: 'nope' } as never, at: T0 });
  assert.ok(!bad.ok);
  assert.equal(bad.code, 'INVALID_SPEC');
  d.put('a', T0);
  d.put('b', T0);
  const full = d.put('c', T0);
  assert.ok(!full.ok);
  assert.equal(full.code, 'TOO_MANY_JOBS');
  assert.equal(d.put('a', T0 + 1).ok, true, 'replacing stays possible at the limit');
  const missing = d.apply({ type: 'deleteJob', id: 'zz', at: T0 });
  assert.ok(!missing.ok);
  assert.equal(missing.code, 'JOB_NOT_FOUND');
});

test('putJobs applies many jobs in one entry: created, configured or unchanged, all or nothing', () => {
  const d = new Driver(JobTable.create({ ...DEFAULT_LIMITS, jobsMax: 3 }));
  d.put('a', T0);
  const a = spec('a');
  const first = d.apply({ type: 'putJobs', at: T0 + 1, jobs: [{ id: 'a', spec: a }, { id: 'b', spec: spec('b', { description: 'new' }) }] });
  assert.ok(first.ok && first.kind === 'jobs');
  assert.deepEqual(first.jobs.map((j) => `${j.id}:${j.outcome}`), ['a:unchanged', 'b:created']);
  assert.equal(d.table.getJob('a')?.revision, 1, 'an unchanged job keeps its revision');
  const second = d.apply({ type: 'putJobs', at: T0 + 2, jobs: [{ id: 'a', spec: spec('a', { description: 'changed' }) }, { id: 'b', spec: spec('b', { description: 'new' }) }] });
  assert.ok(second.ok && second.kind === 'jobs');
  assert.deepEqual(second.jobs.map((j) => `${j.id}:${j.outcome}`), ['a:configured', 'b:unchanged']);
  // One bad spec: nothing of the batch applies, and the error names the job's place.
  const bad = d.apply({ type: 'putJobs', at: T0 + 3, jobs: [{ id: 'c', spec: spec('c') }, { id: 'a', spec: { schedule: 'nope' } as never }] });
  assert.ok(!bad.ok && bad.code === 'INVALID_SPEC');
  assert.ok(bad.errors?.some((e) => e.path.startsWith('jobs[1].')), JSON.stringify(bad.errors));
  assert.equal(d.table.getJob('c'), null, 'nothing of a refused batch was applied');
  // Room for one new job, two asked: nothing applies.
  const full = d.apply({ type: 'putJobs', at: T0 + 4, jobs: [{ id: 'c', spec: spec('c') }, { id: 'd', spec: spec('d') }] });
  assert.ok(!full.ok && full.code === 'TOO_MANY_JOBS');
  assert.equal(d.table.getJob('c'), null);
  const twice = d.apply({ type: 'putJobs', at: T0 + 5, jobs: [{ id: 'c', spec: spec('c') }, { id: 'c', spec: spec('c') }] });
  assert.ok(!twice.ok && twice.code === 'INVALID_SPEC');
  assert.equal(d.table.outcomeOfPut(spec('a', { description: 'changed' })), 'unchanged');
  assert.equal(d.table.outcomeOfPut(spec('z')), 'created');
});

test('fire dedupe: the same instant twice, an older instant, an instant from an old leader', () => {
  const d = new Driver();
  d.put('a', T0);
  assert.deepEqual(fireStatuses(d.fire(T0 + 5 * MIN, scheduled('a', 'r1', T0 + 5 * MIN))), ['run']);
  assert.equal(nextOf(d, 'a'), T0 + 10 * MIN);
  // A retried proposal: same runId.
  assert.deepEqual(fireStatuses(d.fire(T0 + 5 * MIN, scheduled('a', 'r1', T0 + 5 * MIN))), ['duplicate']);
  // An old leader's proposal for the same instant with its own runId.
  assert.deepEqual(fireStatuses(d.fire(T0 + 5 * MIN, scheduled('a', 'old-leader-7', T0 + 5 * MIN))), ['duplicate']);
  d.fire(T0 + 10 * MIN, scheduled('a', 'r2', T0 + 10 * MIN));
  // An older instant arriving late.
  assert.deepEqual(fireStatuses(d.fire(T0 + 11 * MIN, scheduled('a', 'r0', T0 + 5 * MIN))), ['duplicate']);
  const runs = d.table.listRuns('a');
  assert.ok(runs.ok);
  assert.deepEqual(runs.items.map((r) => r.runId), ['r2', 'r1']);
  // An instant the job does not owe yet (before nextFireAt) is refused, not recorded.
  d.put('b', T0 + 10 * MIN);
  const r = d.fire(T0 + 10 * MIN, scheduled('b', 'rb', T0 + 5 * MIN));
  assert.ok(r.ok && r.kind === 'fire');
  assert.equal(r.fires[0]?.status, 'rejected');
});

test('a batch can record several instants of one job in order (fire-all catch-up)', () => {
  const d = new Driver();
  d.put('a', T0);
  const statuses = fireStatuses(d.fire(T0 + 16 * MIN,
    scheduled('a', 'm1', T0 + 5 * MIN, { trigger: 'misfire', outcome: 'skip', executors: [], reason: 'misfire policy' }),
    scheduled('a', 'm2', T0 + 10 * MIN, { trigger: 'misfire' }),
    scheduled('a', 'm3', T0 + 15 * MIN, { trigger: 'misfire' }),
  ));
  // m3 is skipped by the table: concurrency forbid (the default) and m2 is still active.
  assert.deepEqual(statuses, ['skipped', 'run', 'skipped']);
  assert.equal(d.table.getRun('m1')?.status, 'skipped');
  assert.equal(d.table.getRun('m1')?.reason, 'misfire policy');
  assert.equal(d.table.getRun('m3')?.reason, 'concurrency forbid: a previous run is still active');
  assert.equal(d.table.getJob('a')?.lastScheduledAt, T0 + 15 * MIN);
});

test('concurrency allow lets instants overlap', () => {
  const d = new Driver();
  d.put('a', T0, { concurrency: 'allow' });
  assert.deepEqual(fireStatuses(d.fire(T0, scheduled('a', 'x1', T0 + 5 * MIN), scheduled('a', 'x2', T0 + 10 * MIN))), ['run', 'run']);
  assert.equal(d.table.activeRuns().length, 2);
});

test('manual runs: an idempotency key returns the first run for 24 h, judged by command time', () => {
  const d = new Driver();
  d.put('a', T0, { schedule: '@manual' });
  const manual = (runId: string, at: number) => d.fire(at, { jobId: 'a', runId, scheduledAt: at, trigger: 'manual', executors: ['n1'], outcome: 'run', key: 'k1' });
  assert.deepEqual(fireStatuses(manual('m1', T0)), ['run']);
  const again = manual('m2', T0 + IDEMPOTENCY_TTL_MS - 1);
  assert.ok(again.ok && again.kind === 'fire');
  assert.deepEqual(again.fires[0], { jobId: 'a', runId: 'm1', status: 'duplicate' });
  assert.deepEqual(fireStatuses(manual('m3', T0 + IDEMPOTENCY_TTL_MS)), ['run']);
  // A job deleted and created again does not inherit the old job's keys.
  d.apply({ type: 'deleteJob', id: 'a', at: T0 + IDEMPOTENCY_TTL_MS + 1 });
  d.put('a', T0 + IDEMPOTENCY_TTL_MS + 2, { schedule: '@manual' });
  assert.deepEqual(fireStatuses(manual('m4', T0 + IDEMPOTENCY_TTL_MS + 3)), ['run']);
});

test('idempotency keys are bounded: the oldest is evicted', () => {
  const d = new Driver(JobTable.create({ ...DEFAULT_LIMITS, keysMax: 2 }));
  d.put('a', T0, { schedule: '@manual', concurrency: 'allow' });
  const manual = (runId: string, key: string) => d.fire(T0, { jobId: 'a', runId, scheduledAt: T0, trigger: 'manual', executors: ['n1'], outcome: 'run', key });
  manual('r1', 'k1');
  manual('r2', 'k2');
  manual('r3', 'k3');
  assert.deepEqual(fireStatuses(manual('r4', 'k1')), ['run'], 'k1 was evicted');
  assert.deepEqual(fireStatuses(manual('r5', 'k3')), ['duplicate']);
});

test('after triggers are deduped by the upstream run id', () => {
  const d = new Driver();
  d.put('up', T0);
  d.put('down', T0, { schedule: '@manual', after: ['up'] });
  assert.deepEqual(d.table.dependentsOf('up'), ['down']);
  const after = (runId: string) => d.fire(T0, { jobId: 'down', runId, scheduledAt: T0, trigger: 'after', executors: ['n1'], outcome: 'run', key: 'up-run-1' });
  assert.deepEqual(fireStatuses(after('d1')), ['run']);
  assert.deepEqual(fireStatuses(after('d2')), ['duplicate']);
  d.put('down', T0, { schedule: '@manual' });
  assert.deepEqual(d.table.dependentsOf('up'), []);
});

test('run lifecycle: started, finished, status and reports for stale attempts', () => {
  const d = new Driver();
  d.put('a', T0, { retry: { max: 1 } });
  d.fire(T0, scheduled('a', 'r1', T0 + 5 * MIN));
  assert.equal(d.table.getRun('r1')?.status, 'pending');
  assert.equal(ok(d.apply({ type: 'runStarted', runId: 'r1', attempt: 1, node: 'n1', at: T0 + 5 * MIN })).status, 'running');
  const dup = d.apply({ type: 'runStarted', runId: 'r1', attempt: 1, node: 'n1', at: T0 + 5 * MIN });
  assert.ok(dup.ok && dup.kind === 'noop' && dup.code === 'DUPLICATE_REPORT');
  const wrongNode = d.apply({ type: 'runStarted', runId: 'r1', attempt: 1, node: 'n9', at: T0 });
  assert.ok(wrongNode.ok && wrongNode.kind === 'noop' && wrongNode.code === 'NOT_AN_EXECUTOR');
  const finished = ok(d.apply({ type: 'runFinished', runId: 'r1', attempt: 1, node: 'n1', at: T0 + 6 * MIN, status: 'failed', exitCode: 3, output: 'boom', outputTruncated: false, error: null }));
  assert.equal(finished.status, 'failed');
  assert.equal(finished.finishedAt, T0 + 6 * MIN);
  assert.equal(d.table.activeRuns().length, 0);
  // A retry is the same record with attempt 2.
  const retried = ok(d.apply({ type: 'retryRun', runId: 'r1', attempt: 2, executors: ['n2'], notBefore: T0 + 7 * MIN, at: T0 + 6 * MIN }));
  assert.equal(retried.attempt, 2);
  assert.equal(retried.status, 'pending');
  assert.deepEqual(retried.executors, ['n2']);
  assert.equal(retried.executions.length, 2);
  // Reports for attempt 1 are now stale.
  const stale = d.apply({ type: 'runFinished', runId: 'r1', attempt: 1, node: 'n1', at: T0 + 8 * MIN, status: 'succeeded', exitCode: 0, output: '', outputTruncated: false, error: null });
  assert.ok(stale.ok && stale.kind === 'noop' && stale.code === 'STALE_ATTEMPT');
  d.apply({ type: 'runLost', runId: 'r1', attempt: 2, node: 'n2', at: T0 + 9 * MIN });
  assert.equal(d.table.getRun('r1')?.status, 'lost');
  const limit = d.apply({ type: 'retryRun', runId: 'r1', attempt: 3, executors: ['n1'], notBefore: null, at: T0 + 10 * MIN });
  assert.ok(!limit.ok && limit.code === 'RETRY_LIMIT');
  const skipAhead = d.apply({ type: 'retryRun', runId: 'r1', attempt: 5, executors: ['n1'], notBefore: null, at: T0 + 10 * MIN });
  assert.ok(!skipAhead.ok && skipAhead.code === 'ATTEMPT_MISMATCH');
  const unknown = d.apply({ type: 'runStarted', runId: 'nope', attempt: 1, node: 'n1', at: T0 });
  assert.ok(unknown.ok && unknown.kind === 'noop' && unknown.code === 'RUN_NOT_FOUND');
});

function ok(result: ApplyResult) {
  assert.ok(result.ok && result.kind === 'run', JSON.stringify(result));
  return result.run;
}

test('target all: the run succeeds only when every execution succeeds; failures rank killed > timed_out > failed > lost', () => {
  const d = new Driver();
  d.put('a', T0, { target: { mode: 'all' }, concurrency: 'allow' });
  const finish = (runId: string, node: string, status: 'succeeded' | 'failed' | 'timed_out' | 'killed') =>
    d.apply({ type: 'runFinished', runId, attempt: 1, node, at: T0 + MIN, status, exitCode: null, output: '', outputTruncated: false, error: null });
  d.fire(T0, scheduled('a', 'r1', T0 + 5 * MIN, { executors: ['n1', 'n2', 'n3'] }));
  d.apply({ type: 'runStarted', runId: 'r1', attempt: 1, node: 'n1', at: T0 });
  assert.equal(ok(finish('r1', 'n1', 'succeeded')).status, 'running');
  assert.equal(ok(finish('r1', 'n2', 'succeeded')).status, 'running');
  assert.equal(ok(finish('r1', 'n3', 'succeeded')).status, 'succeeded');
  d.fire(T0, scheduled('a', 'r2', T0 + 10 * MIN, { executors: ['n1', 'n2', 'n3'] }));
  finish('r2', 'n1', 'failed');
  d.apply({ type: 'runLost', runId: 'r2', attempt: 1, node: 'n2', at: T0 });
  assert.equal(ok(finish('r2', 'n3', 'timed_out')).status, 'timed_out');
});

test('a member\'s removal ends its executions lost at that point of the log, started or not, so a node re-added under its id is never sent them again', () => {
  const d = new Driver();
  d.put('a', T0, { concurrency: 'allow' });
  d.fire(T0, scheduled('a', 'r1', T0 + 5 * MIN, { executors: ['n1'] }));
  d.fire(T0, scheduled('a', 'r2', T0 + 10 * MIN, { executors: ['n1', 'n2'] }));
  d.apply({ type: 'runStarted', runId: 'r2', attempt: 1, node: 'n1', at: T0 + 10 * MIN });
  d.fire(T0, scheduled('a', 'r3', T0 + 15 * MIN, { executors: ['n2'] }));
  // r1's start on n1 was never recorded (its report died with the node): it looks pending.
  const lost = d.table.memberRemoved('n1');
  assert.deepEqual(lost.map((r) => [r.runId, r.status]), [['r1', 'lost'], ['r2', 'running']]);
  const r1 = d.table.getRun('r1');
  assert.deepEqual(r1?.executions.map((e) => [e.node, e.status, e.error]), [['n1', 'lost', 'its node was removed from the cluster']]);
  assert.deepEqual(d.table.getRun('r2')?.executions.map((e) => [e.node, e.status]), [['n1', 'lost'], ['n2', 'pending']]);
  assert.equal(d.table.getRun('r3')?.status, 'pending', 'other nodes\' runs are untouched');
  assert.equal(d.table.activeCountOnNode('n1'), 0);
  assert.deepEqual(d.table.memberRemoved('n1'), [], 'a second removal finds nothing');
  d.table.assertIndexesConsistent();
  // Every replica decides the same: the snapshot carries it.
  assert.equal(JobTable.restore(d.table.snapshot()).getRun('r1')?.status, 'lost');
});

test('killRun marks the request; the executor report settles the status', () => {
  const d = new Driver();
  d.put('a', T0);
  d.fire(T0, scheduled('a', 'r1', T0 + 5 * MIN));
  assert.equal(ok(d.apply({ type: 'killRun', runId: 'r1', reason: 'timeout', at: T0 })).killRequested, 'timeout');
  assert.equal(ok(d.apply({ type: 'killRun', runId: 'r1', reason: 'request', at: T0 })).killRequested, 'timeout');
  d.apply({ type: 'runFinished', runId: 'r1', attempt: 1, node: 'n1', at: T0, status: 'timed_out', exitCode: null, output: '', outputTruncated: false, error: 'timeout' });
  const late = d.apply({ type: 'killRun', runId: 'r1', reason: 'request', at: T0 });
  assert.ok(!late.ok && late.code === 'RUN_NOT_ACTIVE');
});

test('output keeps the last 64 KiB and is marked truncated', () => {
  const d = new Driver();
  d.put('a', T0);
  d.fire(T0, scheduled('a', 'r1', T0 + 5 * MIN));
  const output = 'a'.repeat(70 * 1024) + 'END';
  const run = ok(d.apply({ type: 'runFinished', runId: 'r1', attempt: 1, node: 'n1', at: T0, status: 'succeeded', exitCode: 0, output, outputTruncated: false, error: null }));
  const execution = run.executions[0];
  assert.ok(execution);
  assert.equal(execution.output.length, 64 * 1024);
  assert.ok(execution.output.endsWith('END'));
  assert.equal(execution.outputTruncated, true);
});

test('history ring: at most `history` finished runs per job, active runs never evicted', () => {
  const d = new Driver();
  d.put('a', T0, { history: 3, concurrency: 'allow' });
  d.fire(T0, scheduled('a', 'active', T0 + 5 * MIN));
  for (let i = 2; i <= 7; i++) d.fire(T0, scheduled('a', `s${i}`, T0 + i * 5 * MIN, { outcome: 'skip', executors: [] }));
  const page = d.table.listRuns('a');
  assert.ok(page.ok);
  assert.deepEqual(page.items.map((r) => r.runId), ['s7', 's6', 's5', 'active']);
  assert.equal(d.table.getRun('s2'), null);
  // Lowering history evicts at once.
  d.put('a', T0, { history: 1, concurrency: 'allow' });
  const after = d.table.listRuns('a');
  assert.ok(after.ok);
  assert.deepEqual(after.items.map((r) => r.runId), ['s7', 'active']);
});

test('global run cap evicts the oldest finished record of any job', () => {
  const d = new Driver(JobTable.create({ ...DEFAULT_LIMITS, runsMax: 3 }));
  d.put('a', T0, { concurrency: 'allow' });
  d.put('b', T0, { concurrency: 'allow' });
  d.fire(T0, scheduled('a', 'a1', T0 + 5 * MIN, { outcome: 'skip', executors: [] }));
  d.fire(T0, scheduled('b', 'b1', T0 + 5 * MIN));
  d.fire(T0, scheduled('a', 'a2', T0 + 10 * MIN, { outcome: 'skip', executors: [] }));
  d.fire(T0, scheduled('b', 'b2', T0 + 10 * MIN, { outcome: 'skip', executors: [] }));
  assert.equal(d.table.runCount, 3);
  assert.equal(d.table.getRun('a1'), null);
  assert.ok(d.table.getRun('b1'), 'active runs are kept');
});

test('active-run limits turn a fire into a recorded skip', () => {
  const d = new Driver(JobTable.create({ ...DEFAULT_LIMITS, activeRunsPerJobMax: 1 }));
  d.put('a', T0, { concurrency: 'allow' });
  assert.deepEqual(fireStatuses(d.fire(T0, scheduled('a', 'r1', T0 + 5 * MIN), scheduled('a', 'r2', T0 + 10 * MIN))), ['run', 'skipped']);
});

test('pause drops the job from the due index; resume owes only instants after the resume', () => {
  const d = new Driver();
  d.put('a', T0);
  d.put('b', T0, { schedule: '*/10 * * * *' });
  assert.deepEqual(d.table.jobsDueBy(T0 + 10 * MIN, 10).map((j) => [j.id, j.nextFireAt]), [['a', T0 + 5 * MIN], ['b', T0 + 10 * MIN]]);
  d.apply({ type: 'pauseJob', id: 'a', at: T0 + MIN });
  assert.deepEqual(d.table.jobsDueBy(T0 + 10 * MIN, 10).map((j) => j.id), ['b']);
  const paused = d.fire(T0 + 5 * MIN, scheduled('a', 'r1', T0 + 5 * MIN));
  assert.ok(paused.ok && paused.kind === 'fire' && paused.fires[0]?.status === 'rejected');
  d.apply({ type: 'resumeJob', id: 'a', at: T0 + 32 * MIN });
  assert.equal(nextOf(d, 'a'), T0 + 35 * MIN);
  assert.equal(d.table.earliestNextFireAt(), T0 + 10 * MIN, 'b still owes +10 min');
  assert.equal(d.table.jobsDueBy(T0 + 40 * MIN, 1).length, 1, 'limit is respected');
});

test('delete removes the job, its runs, and reports the active ones', () => {
  const d = new Driver();
  d.put('a', T0);
  d.fire(T0, scheduled('a', 'r1', T0 + 5 * MIN));
  const result = d.apply({ type: 'deleteJob', id: 'a', at: T0 });
  assert.ok(result.ok && result.kind === 'deleted');
  assert.deepEqual(result.activeRunIds, ['r1']);
  assert.equal(d.table.getRun('r1'), null);
  assert.equal(d.table.activeRuns().length, 0);
  assert.deepEqual(d.table.jobsDueBy(Infinity, 10), []);
});

test('listJobs pages in id order with an opaque cursor', () => {
  const d = new Driver();
  for (const id of ['c', 'a', 'e', 'b', 'd']) d.put(id, T0);
  const first = d.table.listJobs({ limit: 2 });
  assert.ok(first.ok);
  assert.deepEqual(first.items.map((j) => j.id), ['a', 'b']);
  d.apply({ type: 'deleteJob', id: 'c', at: T0 });
  const second = d.table.listJobs({ limit: 2, cursor: first.nextCursor });
  assert.ok(second.ok);
  assert.deepEqual(second.items.map((j) => j.id), ['d', 'e']);
  assert.equal(second.nextCursor, null);
  const badCursor = d.table.listJobs({ cursor: 'garbage' });
  assert.ok(!badCursor.ok && badCursor.code === 'INVALID_CURSOR');
});

test('listRuns pages newest first', () => {
  const d = new Driver();
  d.put('a', T0, { concurrency: 'allow' });
  for (let i = 1; i <= 5; i++) d.fire(T0, scheduled('a', `r${i}`, T0 + i * 5 * MIN));
  const first = d.table.listRuns('a', { limit: 2 });
  assert.ok(first.ok);
  assert.deepEqual(first.items.map((r) => r.runId), ['r5', 'r4']);
  const second = d.table.listRuns('a', { limit: 2, cursor: first.nextCursor });
  assert.ok(second.ok);
  assert.deepEqual(second.items.map((r) => r.runId), ['r3', 'r2']);
  const third = d.table.listRuns('a', { limit: 2, cursor: second.nextCursor });
  assert.ok(third.ok);
  assert.deepEqual(third.items.map((r) => r.runId), ['r1']);
  assert.equal(third.nextCursor, null);
  const missing = d.table.listRuns('zz');
  assert.ok(!missing.ok && missing.code === 'JOB_NOT_FOUND');
});

test('garbage log entries become INVALID_COMMAND results, never a crash', () => {
  const table = JobTable.create();
  const inputs = [new Uint8Array([0xc1]), new Uint8Array([0xdd, 0xff, 0xff]), new Uint8Array([1, 2, 3]), new Uint8Array(0),
    encodeCommand({ type: 'nope', at: 1 } as never), encodeCommand({ type: 'fire', at: 1, fires: [] } as never),
    encodeCommand({ type: 'putJob', id: 'a b', spec: {}, at: 1 } as never)];
  inputs.forEach((bytes, i) => {
    const r = table.applyEntry(bytes, i + 1);
    assert.ok(!r.ok && r.code === 'INVALID_COMMAND', `input ${i}: ${JSON.stringify(r)}`);
  });
  assert.equal(table.appliedIndex, inputs.length, 'a rejected entry still advances the applied index');
  assert.throws(() => table.applyEntry(new Uint8Array([0xc0]), 1), /must exceed/, 'applying an old index is a bug');
});

test('scheduler indexes: active runs by node, runs awaiting a retry, active runs of a job, cursors', () => {
  const d = new Driver();
  d.put('a', T0, { concurrency: 'allow', retry: { max: 1 } });
  d.put('b', T0, { concurrency: 'allow' });
  d.fire(T0, scheduled('a', 'r1', T0 + 5 * MIN, { executors: ['n1', 'n2'] }), scheduled('b', 'r2', T0 + 5 * MIN, { executors: ['n2'] }));
  d.fire(T0, { jobId: 'a', runId: 'm1', scheduledAt: T0, trigger: 'manual', executors: ['n3'], outcome: 'run' });
  assert.deepEqual(d.table.nodesWithActiveRuns(), ['n1', 'n2', 'n3']);
  assert.deepEqual(d.table.activeRunsOnNode('n2', 10).map((r) => r.runId), ['r1', 'r2']);
  assert.deepEqual(d.table.activeRunsOnNode('n2', 10, d.table.getRun('r1')?.seq).map((r) => r.runId), ['r2']);
  assert.equal(d.table.activeCountOnNode('n2'), 2);
  assert.deepEqual(d.table.activeRunsOfJob('a', 10).map((r) => r.runId), ['r1', 'm1']);
  assert.deepEqual(d.table.activeRuns(10, d.table.getRun('r1')?.seq).map((r) => r.runId), ['r2', 'm1']);
  // One execution of r1 ends: n1 is free of it though the run is still active on n2.
  d.apply({ type: 'runFinished', runId: 'r1', attempt: 1, node: 'n1', at: T0 + 6 * MIN, status: 'failed', exitCode: 1, output: '', outputTruncated: false, error: null });
  assert.deepEqual(d.table.nodesWithActiveRuns(), ['n2', 'n3']);
  assert.equal(d.table.runsAwaitingRetry(10).length, 0, 'still active, not yet retryable');
  d.apply({ type: 'runLost', runId: 'r1', attempt: 1, node: 'n2', at: T0 + 7 * MIN });
  d.apply({ type: 'runFinished', runId: 'r2', attempt: 1, node: 'n2', at: T0 + 6 * MIN, status: 'failed', exitCode: 1, output: '', outputTruncated: false, error: null });
  d.apply({ type: 'runFinished', runId: 'm1', attempt: 1, node: 'n3', at: T0 + 8 * MIN, status: 'killed', exitCode: null, output: '', outputTruncated: false, error: null });
  // b has no retries and a kill is never retried automatically: only r1 owes one.
  assert.deepEqual(d.table.runsAwaitingRetry(10).map((r) => r.runId), ['r1']);
  assert.deepEqual(d.table.nodesWithActiveRuns(), []);
  d.apply({ type: 'retryRun', runId: 'r1', attempt: 2, executors: ['n3'], notBefore: null, at: T0 + 9 * MIN });
  assert.deepEqual(d.table.runsAwaitingRetry(10), []);
  assert.deepEqual(d.table.activeRunsOnNode('n3', 10).map((r) => `${r.runId}/${r.attempt}`), ['r1/2']);
  d.apply({ type: 'runFinished', runId: 'r1', attempt: 2, node: 'n3', at: T0 + 10 * MIN, status: 'failed', exitCode: 1, output: '', outputTruncated: false, error: null });
  assert.deepEqual(d.table.runsAwaitingRetry(10), [], 'attempt 2 of retry.max 1 owes nothing');
  // Raising retry.max brings the run back into the index; deleting the job clears everything.
  d.put('a', T0 + 11 * MIN, { concurrency: 'allow', retry: { max: 3 } });
  assert.deepEqual(d.table.runsAwaitingRetry(10).map((r) => r.runId), ['r1']);
  d.fire(T0, { jobId: 'a', runId: 'm2', scheduledAt: T0, trigger: 'manual', executors: ['n1'], outcome: 'run' });
  d.apply({ type: 'deleteJob', id: 'a', at: T0 + 12 * MIN });
  assert.deepEqual(d.table.runsAwaitingRetry(10), []);
  assert.deepEqual(d.table.nodesWithActiveRuns(), []);
  assert.deepEqual(d.table.upstreamJobIds(10), []);
  d.table.assertIndexesConsistent();
});
