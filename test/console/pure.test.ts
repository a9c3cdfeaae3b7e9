// The console's pure modules under Node: formatting, the job form ↔ spec, error placement,
// the polling backoff. (The browser tests drive the rest.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countByStatus, failedFirst, formatDuration, formatRelative, formatTime, memberLag, pairsText, parsePairs, statusTone } from '../../src/console/format.js';
import { emptyForm, fieldForPath, formFromJob, specFromForm } from '../../src/console/spec-form.js';
import { backoffMs, POLL_MS_MAX } from '../../src/console/timing.js';
import { DecodeError, pageOf, readCluster, readRun } from '../../src/console/decode.js';

test('durations and relative times read as people say them', () => {
  assert.equal(formatDuration(null), '–');
  assert.equal(formatDuration(950), '950 ms');
  assert.equal(formatDuration(1234), '1.23 s');
  assert.equal(formatDuration(200_000), '3 min 20 s');
  assert.equal(formatDuration(7_500_000), '2 h 5 min');
  assert.equal(formatDuration(-1500), '−1.50 s');
  assert.equal(formatRelative(10_000 + 12_400, 10_000), 'in 12 s');
  assert.equal(formatRelative(0, 180_000), '3 min ago');
  assert.equal(formatRelative(500, 0), 'now');
});

test('times show in the zone asked for', () => {
  assert.equal(formatTime('2026-11-24T01:30:05.000Z', 'UTC'), '2026-11-24 01:30:05');
  assert.equal(formatTime('2026-11-24T01:30:05.000Z', 'Europe/Berlin'), '2026-11-24 02:30:05');
  assert.equal(formatTime(null), '–');
});

test('failed runs come first, then active ones, newest first within each', () => {
  const runs = [
    { id: 'a', status: 'succeeded', scheduledAt: '2026-01-01T00:00:03Z' },
    { id: 'b', status: 'failed', scheduledAt: '2026-01-01T00:00:01Z' },
    { id: 'c', status: 'running', scheduledAt: '2026-01-01T00:00:02Z' },
    { id: 'd', status: 'timed_out', scheduledAt: '2026-01-01T00:00:04Z' },
  ];
  assert.deepEqual(failedFirst(runs).map((r) => r.id), ['d', 'b', 'c', 'a']);
  assert.deepEqual(countByStatus(runs), { pending: 0, running: 1, succeeded: 1, failed: 1, timed_out: 1, killed: 0, lost: 0, skipped: 0 });
  assert.equal(statusTone('lost'), 'bad');
  assert.equal(memberLag(10, 7), 3);
  assert.equal(memberLag(10, null), null);
});

test('KEY=VALUE lines round-trip; a line without the separator is an error naming the line', () => {
  assert.deepEqual(parsePairs('A=1\n\n B = two words \n', '='), { ok: true, map: { A: '1', B: 'two words' } });
  assert.deepEqual(parsePairs('Authorization: Bearer x', ':'), { ok: true, map: { Authorization: 'Bearer x' } });
  assert.equal(parsePairs('A=1\nnope', '=').ok, false);
  assert.equal(pairsText({ A: '1', B: '2' }, '='), 'A=1\nB=2');
});

test('a stored job becomes a form and back into the same spec', () => {
  const job = {
    id: 'nightly', schedule: '0 30 2 * * *', timezone: 'Europe/Berlin', enabled: false,
    executor: { type: 'shell', command: 'pg_dump', env: { A: '1' }, cwd: '/srv', secretEnv: { PGPASSWORD: '***' } },
    target: { mode: 'tags', tags: { zone: 'a' }, count: 2 }, concurrency: 'replace', misfire: { policy: 'skip', windowMs: 1000 },
    timeoutMs: 60_000, retry: { max: 2, backoffMs: 500, maxBackoffMs: 5000 }, priority: 7, after: ['a', 'b'], history: 10,
    labels: { team: 'db' }, description: 'backup', notify: [{ on: ['failed'], url: 'https://hooks.example/x', secretHeaders: { 'X-Key': '***' } }],
    createdAt: '2026-01-01T00:00:00.000Z', nextFireAt: null,
  };
  const built = specFromForm(formFromJob(job));
  assert.ok(built.ok);
  assert.deepEqual(built.spec, {
    schedule: '0 30 2 * * *', timezone: 'Europe/Berlin', enabled: false,
    executor: { type: 'shell', command: 'pg_dump', cwd: '/srv', env: { A: '1' }, secretEnv: { PGPASSWORD: '***' } },
    target: { mode: 'tags', tags: { zone: 'a' }, count: 2 }, concurrency: 'replace', misfire: { policy: 'skip', windowMs: 1000 },
    retry: { max: 2, backoffMs: 500, maxBackoffMs: 5000 }, timeoutMs: 60_000, priority: 7, history: 10, after: ['a', 'b'],
    labels: { team: 'db' }, description: 'backup', notify: [{ on: ['failed'], url: 'https://hooks.example/x', secretHeaders: { 'X-Key': '***' } }],
  });
});

test('afterMode round-trips through the form; a job without it sends none', () => {
  const job = { id: 'd', schedule: '@manual', executor: { type: 'shell', command: 'true' }, after: ['a', 'b'], afterMode: 'all' };
  const built = specFromForm(formFromJob(job));
  assert.ok(built.ok);
  assert.equal(built.spec['afterMode'], 'all');
  const plain = specFromForm(formFromJob({ ...job, afterMode: undefined }));
  assert.ok(plain.ok);
  assert.equal('afterMode' in plain.spec, false);
});

test('a new plain job sends no field an older server would refuse', () => {
  const form = { ...emptyForm(), id: 'x', schedule: '@hourly', command: 'true' };
  const built = specFromForm(form);
  assert.ok(built.ok);
  assert.equal('notify' in built.spec, false);
  assert.equal('secretEnv' in (built.spec['executor'] as object), false);
});

test('numbers that are not numbers and lines that are not pairs are caught with the server\'s paths', () => {
  const built = specFromForm({ ...emptyForm(), retryMax: 'two', labels: 'oops', executorType: 'http', expectLow: 'x' });
  assert.equal(built.ok, false);
  if (!built.ok) assert.deepEqual(built.errors.map((e) => e.path).sort(), ['executor.expectStatus[0]', 'labels', 'retry.max']);
});

test('an error path is shown at the field that owns it, or in the summary', () => {
  const known = ['schedule', 'executor.env', 'executor.expectStatus[0]', 'after', 'notify[0].on', 'retry.max'];
  assert.equal(fieldForPath('schedule', known), 'schedule');
  assert.equal(fieldForPath('executor.env.FOO', known), 'executor.env');
  assert.equal(fieldForPath('after[1]', known), 'after');
  assert.equal(fieldForPath('notify[0].on[2]', known), 'notify[0].on');
  assert.equal(fieldForPath('executor.expectStatus[0]', known), 'executor.expectStatus[0]');
  assert.equal(fieldForPath('(spec)', known), null);
  assert.equal(fieldForPath('scheduler', known), null);
});

test('polling backs off by doubling and never waits more than 8 s', () => {
  assert.deepEqual([0, 1, 2, 3, 10].map((n) => backoffMs(n)), [2000, 4000, 8000, 8000, 8000]);
  assert.equal(POLL_MS_MAX, 8000);
});

test('answers are checked into types at the edge: a wrong shape names its field', () => {
  const cluster = readCluster({ id: 'c', leader: null, term: 3, commitIndex: 9, appliedIndex: 9, members: [{ id: 'n1', rpc: 'r', http: 'h', role: 'voter', voter: true }] }, 'answer');
  assert.equal(cluster.members[0]?.matchIndex, null, 'a field older servers leave out reads as null');
  assert.throws(() => readCluster({ id: 'c', leader: null, term: '3', commitIndex: 9, appliedIndex: 9, members: [] }, 'answer'), (e: unknown) => e instanceof DecodeError && e.path === 'answer.term');
  const run = { runId: 'r1', jobId: 'j', scheduledAt: 't', trigger: 'manual', attempt: 1, status: 'running', startedAt: null, finishedAt: null, executions: [{ node: 'n1', status: 'running', output: 7 }] };
  assert.throws(() => pageOf(readRun)({ items: [run], nextCursor: null }, 'answer'), (e: unknown) => e instanceof DecodeError && e.path === 'answer.items[0].executions[0].output');
  assert.throws(() => pageOf(readRun)('<html>', 'answer'), /answer should be an object/);
});
