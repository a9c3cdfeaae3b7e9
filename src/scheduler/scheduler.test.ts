import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from './scheduler.js';
import { DEFAULT_OPTIONS } from './options.js';
import { FakeHost, T0 } from '../../test/support/scheduler-host.js';

const SEC = 1000;

function setup(seed = 1): { host: FakeHost; scheduler: Scheduler } {
  const host = new FakeHost(seed);
  for (const id of ['n1', 'n2', 'n3']) host.addNode(id);
  const scheduler = new Scheduler(host);
  host.scheduler = scheduler;
  return { host, scheduler };
}

/** Every scheduled instant in (fromMs, toMs] has exactly one record, and no other record exists. */
function assertOneRecordPerInstant(host: FakeHost, jobId: string, fromMs: number, toMs: number, everyMs: number): void {
  const seen = new Map<number, number>();
  for (const r of host.records) if (r.jobId === jobId && (r.trigger === 'schedule' || r.trigger === 'misfire')) seen.set(r.scheduledAt, (seen.get(r.scheduledAt) ?? 0) + 1);
  for (const [at, count] of seen) assert.equal(count, 1, `${jobId}: ${count} records for ${new Date(at).toISOString()}`);
  for (let at = fromMs + everyMs; at <= toMs; at += everyMs) assert.ok(seen.has(at), `${jobId}: no record for ${new Date(at).toISOString()}`);
}

/** Every run record was sent once per executor, and every execution started once. */
function assertDispatchedOnce(host: FakeHost): void {
  const sent = new Set(host.executes.map((e) => `${e.order.runId}/${e.order.attempt}`));
  for (const r of host.records) if (r.status === 'run') assert.ok(sent.has(`${r.runId}/1`), `run ${r.runId} was never dispatched`);
  assert.equal(new Set(host.started).size, host.started.length, 'an execution started twice');
}

test('every-second jobs over a simulated hour: one record per instant, each dispatched and started once, before its instant', async () => {
  const { host, scheduler } = setup();
  for (let i = 0; i < 5; i++) host.putJob(`s${i}`, { schedule: '* * * * * *' });
  host.putJob('e7', { schedule: '@every 7s' });
  scheduler.start(1);
  await host.clock.advance(3600 * SEC + 500);
  for (let i = 0; i < 5; i++) assertOneRecordPerInstant(host, `s${i}`, T0, T0 + 3600 * SEC, SEC);
  assertOneRecordPerInstant(host, 'e7', T0, T0 + 3600 * SEC, 7 * SEC);
  assert.equal(host.records.filter((r) => r.status === 'skipped').length, 0);
  assertDispatchedOnce(host);
  assert.equal(host.executes.length, host.records.length, 'no execute was re-sent while executors answered');
  const m = scheduler.metricsNow();
  assert.equal(m.fires, host.records.length);
  assert.equal(m.duplicates, 0);
  assert.ok(m.latenessMaxMs <= 0, `fires commit before their instant (lead), max lateness ${m.latenessMaxMs}`);
  assert.ok(m.fireBatches <= 3600 + 600, `instants of a second share a batch (${m.fireBatches} batches)`);
  assert.equal(host.table().activeRunCount, 0);
});

test('leader change with a 3 s gap: the gap fires late, nothing twice, active runs re-dispatched with the same (runId, attempt)', async () => {
  const { host, scheduler: first } = setup(2);
  host.putJob('tick', { schedule: '* * * * * *', concurrency: 'allow' });
  host.putJob('long', { schedule: '*/10 * * * * *', concurrency: 'allow' });
  host.behaviour = (order) => (order.jobId === 'long' ? { durationMs: 25 * SEC, status: 'succeeded' } : { durationMs: 10, status: 'succeeded' });
  first.start(1);
  await host.clock.advance(30 * SEC + 500);
  first.stop();
  const activeAtStop = host.table().activeRuns().filter((r) => r.jobId === 'long');
  assert.ok(activeAtStop.length >= 2, 'long runs are active when the leader stops');
  await host.clock.advance(3 * SEC);
  const second = new Scheduler(host);
  host.scheduler = second;
  const startMs = host.clock.nowMs;
  second.start(2);
  await host.clock.advance(60 * SEC);
  assertOneRecordPerInstant(host, 'tick', T0, T0 + 90 * SEC, SEC);
  assertOneRecordPerInstant(host, 'long', T0, T0 + 90 * SEC, 10 * SEC);
  assertDispatchedOnce(host);
  const gap = host.records.filter((r) => r.jobId === 'tick' && r.scheduledAt > T0 + 30 * SEC + 600 && r.scheduledAt <= startMs);
  assert.equal(gap.length, 3, 'three instants fell in the gap');
  for (const r of gap) {
    assert.equal(r.trigger, 'schedule', 'a failover gap fires late as schedule');
    assert.equal(r.status, 'run');
    assert.ok(r.atMs >= startMs);
  }
  for (const run of activeAtStop) {
    const resent = host.executes.filter((e) => e.order.runId === run.runId && e.atMs >= startMs);
    assert.ok(resent.length >= 1, `run ${run.runId} re-sent by the new leader`);
    for (const e of resent) {
      assert.equal(e.order.attempt, run.attempt);
      assert.equal(e.order.term, 2);
      assert.deepEqual([e.node], run.executors);
    }
    assert.equal(host.started.filter((s) => s.startsWith(`${run.runId}/`)).length, 1, 'the executor ran it once');
    assert.equal(host.table().getRun(run.runId)?.status, 'succeeded', 'the result reached the new leader');
  }
  assert.equal(second.metricsNow().duplicates, 0);
});

test('failed proposals (not leader, timeout that commits anyway) neither lose nor duplicate instants', async () => {
  const { host, scheduler } = setup(3);
  host.putJob('a', { schedule: '* * * * * *' });
  host.putJob('b', { schedule: '*/2 * * * * *' });
  scheduler.start(1);
  await host.clock.advance(10 * SEC);
  host.refuseNext = 4;
  await host.clock.advance(5 * SEC);
  host.timeoutNext = 3;
  await host.clock.advance(5 * SEC);
  host.applyDelayMs = 1500; // slower than an instant: batches overlap instants
  await host.clock.advance(10 * SEC);
  host.applyDelayMs = 5;
  await host.clock.advance(10 * SEC + 500);
  assertOneRecordPerInstant(host, 'a', T0, T0 + 40 * SEC, SEC);
  assertOneRecordPerInstant(host, 'b', T0, T0 + 40 * SEC, 2 * SEC);
  assertDispatchedOnce(host);
  const m = scheduler.metricsNow();
  assert.ok(m.proposalFailures >= 7, `failures counted (${m.proposalFailures})`);
  assert.equal(host.table().activeRunCount, 0);
});

test('a job added while the scheduler sleeps is fired at its first instant', async () => {
  const { host, scheduler } = setup(4);
  scheduler.start(1);
  await host.clock.advance(5 * SEC);
  host.putJob('late', { schedule: '@every 3s' });
  await host.clock.advance(10 * SEC);
  const late = host.records.filter((r) => r.jobId === 'late');
  assert.equal(late.length, 3);
  assert.ok(scheduler.metricsNow().latenessMaxMs <= 0);
});

test('a new manual job costs the fire loop no pass; a new scheduled one wakes it before its first instant', async () => {
  const { host, scheduler } = setup(5);
  scheduler.start(1);
  await host.clock.advance(5 * SEC);
  const passes = (): number => scheduler.metricsNow().firePasses;
  const idle = passes();
  for (let i = 0; i < 50; i++) host.putJob(`manual-${i}`, { schedule: '@manual' });
  await host.clock.advance(100);
  assert.equal(passes(), idle, 'manual jobs owe no instant, so nothing is planned for them');

  host.putJob('soon', { schedule: '@every 2s' });
  await host.clock.advance(3 * SEC);
  assert.ok(passes() > idle);
  assert.equal(host.records.filter((r) => r.jobId === 'soon').length, 1);
  assert.ok(scheduler.metricsNow().latenessMaxMs <= 0, 'fired before its instant');

  // A change of an existing job (here: a manual job given a schedule) still wakes the loop.
  const beforeChange = passes();
  host.putJob('manual-0', { schedule: '@every 1s' });
  await host.clock.advance(10);
  assert.ok(passes() > beforeChange);
  await host.clock.advance(2 * SEC);
  assert.ok(host.records.some((r) => r.jobId === 'manual-0'));
});

test('slow fire commits lengthen the lead, so fires still apply before their instant', async () => {
  const { host, scheduler } = setup();
  host.putJob('s', { schedule: '* * * * * *', concurrency: 'allow' });
  scheduler.start(1);
  await host.clock.advance(5 * SEC);
  assert.equal(scheduler.metricsNow().fireLeadMs, DEFAULT_OPTIONS.allowFireLeadMs, 'fast commits keep the configured lead of allow jobs');
  host.applyDelayMs = 400;
  await host.clock.advance(30 * SEC);
  const lead = scheduler.metricsNow().fireLeadMs;
  assert.ok(lead >= 300 && lead <= 500, `lead ${lead} ms follows 400 ms commits`);
  const recent = scheduler.metrics.latenessSamplesMs.slice(-10);
  assert.ok(recent.every((ms) => ms < 0), `recent fires applied after their instant: ${recent.join(', ')}`);
  assertOneRecordPerInstant(host, 's', T0, T0 + 35 * SEC, SEC);
  host.applyDelayMs = 5000;
  await host.clock.advance(60 * SEC);
  assert.equal(scheduler.metricsNow().fireLeadMs, 500, 'the lead stops at fireLeadMaxMs');
  scheduler.stop();
});

test('the longer lead never takes more than a quarter of the slots for runs waiting for their instant', async () => {
  const { host, scheduler } = setup();
  // 3 nodes x 8 slots; 20 runs per second: waiting runs may hold 6 slots, i.e. a 300 ms lead.
  for (let i = 0; i < 20; i++) host.putJob(`s${i}`, { schedule: '* * * * * *', concurrency: 'allow' });
  scheduler.start(1);
  host.applyDelayMs = 300;
  await host.clock.advance(30 * SEC);
  const lead = scheduler.metricsNow().fireLeadMs;
  assert.ok(lead >= 250 && lead <= 300, `lead ${lead} ms is capped by capacity, not 470 ms`);
  assert.equal(host.records.filter((r) => r.status === 'skipped').length, 0);
  scheduler.stop();
});

test('a longer lead does not move forbid decisions: they are still taken within the configured lead', async () => {
  const { host, scheduler } = setup();
  host.putJob('tick', { schedule: '* * * * * *', concurrency: 'allow' });
  host.putJob('forbid', { schedule: '* * * * * *', concurrency: 'forbid' });
  // forbid runs last 1,650 ms: each instant is owed while the previous run is active or just ended.
  host.behaviour = (order) => ({ durationMs: order.jobId === 'forbid' ? 1650 : 10, status: 'succeeded' });
  host.applyDelayMs = 300;
  scheduler.start(1);
  await host.clock.advance(30 * SEC);
  assert.ok(scheduler.metricsNow().fireLeadMs >= 400, 'slow commits lengthened the lead');
  const fires = host.proposed.flatMap((c) => (c.type === 'fire' ? c.fires.map((f) => ({ ...f, at: c.at })) : []));
  const forbid = fires.filter((f) => f.jobId === 'forbid');
  assert.ok(forbid.some((f) => f.outcome === 'skip') && forbid.some((f) => f.outcome === 'run'));
  for (const f of forbid) assert.ok(f.scheduledAt - f.at <= 150, `forbid instant decided ${f.scheduledAt - f.at} ms ahead`);
  assert.ok(fires.some((f) => f.jobId === 'tick' && f.scheduledAt - f.at > 300), 'allow instants use the longer lead');
  scheduler.stop();
});
