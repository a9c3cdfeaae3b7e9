import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr, unpackMultiple } from 'msgpackr';
import { Driver, T0, scheduled, spec } from '../../test/support/job-table.js';
import { seededFloat as prng } from '../../test/support/prng.js';
import { JobTable } from './table.js';
import { encodeCommand } from './codec.js';
import type { Command } from './commands.js';
import { ChimeError } from '../errors/index.js';
import { SNAPSHOT_FORMAT, SNAPSHOT_VERSION } from './snapshot.js';
import { JOBS_PER_STEP } from './snapshot-jobs.js';

const MIN = 60_000;

/** Byte equality (msgpackr decorates buffers it decoded with a dataView property, so deepEqual would differ). */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, message?: string): void {
  assert.equal(Buffer.compare(actual, expected), 0, message);
}
const SCHEDULES = ['*/5 * * * *', '@every 90s', '0 30 2 * * *', '@hourly', '@manual', '@at 2026-01-01T03:00:00Z'];
const ZONES = ['UTC', 'Europe/Berlin', 'Australia/Lord_Howe'];
const NODES = ['n1', 'n2', 'n3'];

/** A random but replayable command stream over a few jobs; `view` is a table used to aim fires well. */
function randomCommand(next: () => number, view: JobTable, step: number): Command | Uint8Array {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const at = T0 + step * 20_000;
  const id = pick(['a', 'b', 'c', 'd']);
  const runIds = view.activeRuns().map((r) => r.runId);
  const runId = runIds.length > 0 && next() < 0.8 ? pick(runIds) : `r${Math.floor(next() * step + 1)}`;
  const roll = next();
  // A few write ids, re-sent now and then: repeats must decide the same on every replica and after a restore.
  const audit = { at, actor: 'ops', method: 'PUT', path: `/v1/jobs/${id}`, target: id, writeId: `w${Math.floor(next() * 8)}`, ...(next() < 0.5 ? { retrySince: Math.max(0, step - 1 - Math.floor(next() * 6)) } : {}) };
  if (roll < 0.1) {
    return { type: 'putJob', id, at, audit, spec: spec(id, {
      schedule: pick(SCHEDULES), timezone: pick(ZONES), concurrency: pick(['allow', 'forbid', 'replace']), history: 1 + Math.floor(next() * 4),
      retry: { max: Math.floor(next() * 3) }, target: next() < 0.3 ? { mode: 'all' } : { mode: 'any' }, after: id === 'a' ? [] : ['a'],
    }) };
  }
  if (roll < 0.13) return { type: pick(['deleteJob', 'pauseJob', 'resumeJob'] as const), id, at, audit };
  if (roll < 0.4) {
    const job = view.getJob(id);
    const instant = job?.nextFireAt ?? at;
    const trigger = next() < 0.8 ? 'schedule' : 'manual';
    return { type: 'fire', at, fires: [scheduled(id, `r${step}`, next() < 0.2 ? instant - 5 * MIN : instant, {
      trigger, outcome: next() < 0.2 ? 'skip' : 'run', executors: next() < 0.3 ? [...NODES] : [pick(NODES)], key: trigger === 'manual' ? pick(['k1', 'k2', null]) : null,
    })] };
  }
  const run = view.getRun(runId);
  const attempt = run?.attempt ?? 1;
  const node = run?.executors[0] ?? pick(NODES);
  if (roll < 0.55) return { type: 'runStarted', runId, attempt, node, at };
  if (roll < 0.75) {
    return { type: 'runFinished', runId, attempt, node, at, status: pick(['succeeded', 'failed', 'timed_out', 'killed'] as const),
      exitCode: Math.floor(next() * 3), output: 'x'.repeat(Math.floor(next() * 50)), outputTruncated: false, error: null };
  }
  if (roll < 0.82) return { type: 'runLost', runId, attempt, node, at };
  if (roll < 0.9) {
    // Retries aim at any recent run, so that finished ones get retried too.
    const recent = view.getRun(`r${step - 1 - Math.floor(next() * 10)}`);
    const target = recent ?? run;
    return { type: 'retryRun', runId: target?.runId ?? runId, attempt: (target?.attempt ?? 1) + 1, executors: [pick(NODES)], notBefore: at + 1000, at };
  }
  if (roll < 0.96) return { type: 'killRun', runId, reason: pick(['request', 'timeout', 'replace'] as const), at };
  return Uint8Array.from({ length: 1 + Math.floor(next() * 20) }, () => Math.floor(next() * 256));
}

function bytesOf(command: Command | Uint8Array): Uint8Array {
  return command instanceof Uint8Array ? command : encodeCommand(command);
}

test('random command streams: two tables give identical results and byte-identical snapshots', () => {
  for (let seed = 1; seed <= 25; seed++) {
    const next = prng(seed);
    const a = JobTable.create();
    const b = JobTable.create();
    let restored: JobTable | null = null;
    for (let step = 1; step <= 400; step++) {
      const bytes = bytesOf(randomCommand(next, a, step));
      const resultA = a.applyEntry(bytes, step);
      assert.deepEqual(b.applyEntry(bytes, step), resultA, `seed ${seed} step ${step}`);
      if (restored !== null) assert.deepEqual(restored.applyEntry(bytes, step), resultA, `restored, seed ${seed} step ${step}`);
      a.assertIndexesConsistent();
      if (step === 200) restored = JobTable.restore(a.snapshot());
    }
    const snapA = a.snapshot();
    assertSameBytes(b.snapshot(), snapA, `seed ${seed}`);
    assert.ok(restored);
    restored.assertIndexesConsistent();
    assert.deepEqual(restored.runsAwaitingRetry(1000), a.runsAwaitingRetry(1000));
    assert.deepEqual(restored.nodesWithActiveRuns(), a.nodesWithActiveRuns());
    assertSameBytes(restored.snapshot(), snapA, `a table restored mid-stream and fed the rest matches, seed ${seed}`);
    assert.ok(a.runCount > 0, 'the stream records runs');
  }
});

test('restore(snapshot(t)) equals t and snapshots identically', () => {
  const d = new Driver();
  d.put('a', T0, { timezone: 'Europe/Berlin', labels: { team: 'x' } });
  d.put('b', T0, { after: ['a'], schedule: '@every 30s' });
  d.fire(T0, scheduled('a', 'r1', T0 + 5 * MIN));
  d.fire(T0, { jobId: 'b', runId: 'm1', scheduledAt: T0, trigger: 'manual', executors: ['n1'], outcome: 'run', key: 'k' });
  d.apply({ type: 'runFinished', runId: 'm1', attempt: 1, node: 'n1', at: T0, status: 'failed', exitCode: 1, output: 'o', outputTruncated: false, error: 'e' });
  const bytes = d.table.snapshot();
  const copy = JobTable.restore(bytes);
  assertSameBytes(copy.snapshot(), bytes);
  assert.deepEqual(copy.getJob('a'), d.table.getJob('a'));
  assert.deepEqual(copy.getRun('m1'), d.table.getRun('m1'));
  assert.deepEqual(copy.activeRuns(), d.table.activeRuns());
  assert.deepEqual(copy.jobsDueBy(Infinity, 10), d.table.jobsDueBy(Infinity, 10));
  assert.deepEqual(copy.dependentsOf('a'), ['b']);
  assert.equal(copy.appliedIndex, d.index);
  // Keys survive: the same manual key is still a duplicate after restore.
  const again = copy.apply({ type: 'fire', at: T0 + 1, fires: [{ jobId: 'b', runId: 'm2', scheduledAt: T0, trigger: 'manual', executors: ['n1'], outcome: 'run', key: 'k' }] }, d.index + 1);
  assert.ok(again.ok && again.kind === 'fire' && again.fires[0]?.status === 'duplicate');
});

test('an owed after fire is decided at apply, survives a snapshot, and the fire with its key settles it', () => {
  const d = new Driver();
  d.put('a', T0);
  d.put('b', T0, { after: ['a'] });
  d.put('c', T0, { after: ['a'], enabled: false });
  d.fire(T0, { jobId: 'a', runId: 'u1', scheduledAt: T0, trigger: 'manual', executors: ['n1'], outcome: 'run' });
  assert.equal(d.table.owedAfterCount, 0);
  d.apply({ type: 'runFinished', runId: 'u1', attempt: 1, node: 'n1', at: T0 + 5, status: 'succeeded', exitCode: 0, output: '', outputTruncated: false, error: null });
  // Only the enabled dependent is owed, from the upstream's finish.
  assert.deepEqual(d.table.owedAfterFires(10), [{ jobId: 'b', upstreamRunId: 'u1', atMs: T0 + 5 }]);
  const bytes = d.table.snapshot();
  const copy = JobTable.restore(bytes);
  assertSameBytes(copy.snapshot(), bytes);
  assert.deepEqual(copy.owedAfterFires(10), d.table.owedAfterFires(10));
  const fired = copy.apply({ type: 'fire', at: T0 + 6, fires: [{ jobId: 'b', runId: 'd1', scheduledAt: T0 + 5, trigger: 'after', executors: ['n1'], outcome: 'run', key: 'u1' }] }, d.index + 1);
  assert.ok(fired.ok && fired.kind === 'fire' && fired.fires[0]?.status === 'run');
  assert.equal(copy.owedAfterCount, 0);
});

test('a manual fire recorded waiting survives a snapshot; its key and id dedupe; the fire with its run id settles it', () => {
  const d = new Driver();
  d.put('a', T0);
  const waiting = { jobId: 'a', runId: 'm1', scheduledAt: T0, payload: 'p', key: 'k', priority: null, triggeredBy: 'alice' };
  const queued = d.apply({ type: 'queueFires', at: T0, fires: [waiting] });
  assert.ok(queued.ok && queued.kind === 'queuedFires' && queued.fires[0]?.status === 'queued');
  const bytes = d.table.snapshot();
  const copy = JobTable.restore(bytes);
  assertSameBytes(copy.snapshot(), bytes);
  assert.deepEqual(copy.owedManualFires(10), [waiting]);
  const again = copy.apply({ type: 'queueFires', at: T0 + 1, fires: [{ ...waiting, runId: 'm2' }, waiting, { ...waiting, jobId: 'nope', runId: 'm3' }] }, d.index + 1);
  assert.ok(again.ok && again.kind === 'queuedFires');
  assert.deepEqual(again.fires.map((f) => [f.runId, f.status]), [['m1', 'duplicate'], ['m1', 'duplicate'], ['m3', 'rejected']]);
  const fired = copy.apply({ type: 'fire', at: T0 + 2, fires: [{ jobId: 'a', runId: 'm1', scheduledAt: T0, trigger: 'manual', executors: ['n1'], outcome: 'run', key: 'k', payload: 'p' }] }, d.index + 2);
  assert.ok(fired.ok && fired.kind === 'fire' && fired.fires[0]?.status === 'run');
  assert.equal(copy.owedManualCount, 0);
  // Deleting the job drops what waits for it.
  d.apply({ type: 'deleteJob', id: 'a', at: T0 + 3 });
  assert.equal(d.table.owedManualCount, 0);
});

test('garbage, foreign and future-version snapshots are refused with a clear error', () => {
  const packr = new Packr({ useRecords: false });
  const refuse = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(() => JobTable.restore(bytes), (e: unknown) => e instanceof ChimeError && e.code === 'INVALID_SNAPSHOT' && pattern.test(e.message));
  refuse(new Uint8Array([0xc1, 0x00]), /not a chime job-table snapshot|not msgpack/);
  refuse(new Uint8Array(0), /not msgpack/);
  refuse(packr.pack({ format: 'other', version: 1 }), /not a chime job-table snapshot/);
  const future = SNAPSHOT_VERSION + 1;
  refuse(packr.pack({ format: SNAPSHOT_FORMAT, version: future, body: {} }), new RegExp(`version ${future} is newer than this build reads \\(up to ${SNAPSHOT_VERSION}\\)`));
  refuse(packr.pack({ format: SNAPSHOT_FORMAT, version: 1, body: { limits: [1, 1, 1, 1, 1], appliedIndex: 0, runSeq: 0, jobs: [[{ id: 'a' }, 0, 0, 0, 0, null, null]], runs: [], keys: [] } }), /job a: schedule: is required/);
  refuse(packr.pack({ format: SNAPSHOT_FORMAT, version: 1, body: { limits: [1, 1, 1, 1, 1], appliedIndex: 0, runSeq: 0, jobs: 'x', runs: [], keys: [] } }), /job is not a list/);
  const good = new Driver();
  good.put('a', T0);
  const bytes = good.table.snapshot();
  refuse(bytes.subarray(0, bytes.length - 3), /invalid snapshot/);
});

test('a snapshot made in steps yields between slices of jobs and has the bytes of one made at once', () => {
  const d = new Driver();
  for (let i = 0; i < 2 * JOBS_PER_STEP + 7; i++) d.put(`job-${i}`, T0 + i, { schedule: SCHEDULES[i % SCHEDULES.length], timezone: ZONES[i % ZONES.length] });
  const steps = d.table.snapshotSteps();
  let yields = 0;
  let step = steps.next();
  while (step.done !== true) {
    yields++;
    step = steps.next();
  }
  assert.equal(yields, 4, 'two passes over 2 steps of jobs each');
  assertSameBytes(step.value, d.table.snapshot());
  assertSameBytes(JobTable.restore(step.value).snapshot(), step.value);
});

test('a version-2 snapshot (the layout before the optional queue, notify, metrics and access keys) is still read', () => {
  const d = new Driver();
  d.put('a', T0);
  d.put('b', T0, { schedule: '@manual' });
  const bytes = d.table.snapshot();
  let headerEnd = 0;
  let header: unknown = null;
  unpackMultiple(bytes, (value: unknown, _start?: number, end?: number) => {
    header = value;
    headerEnd = end ?? 0;
    return false;
  });
  assert.ok(typeof header === 'object' && header !== null && Reflect.get(header, 'version') === SNAPSHOT_VERSION);
  const older = new Packr({ useRecords: false }).pack({ ...header, version: 2 });
  const restored = JobTable.restore(new Uint8Array(Buffer.concat([older, bytes.subarray(headerEnd)])));
  assert.deepEqual(Buffer.from(restored.snapshot()), Buffer.from(bytes), 'the same table, written back as the current version');
});
