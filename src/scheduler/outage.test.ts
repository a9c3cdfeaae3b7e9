import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from './scheduler.js';
import { FakeHost, T0 } from '../../test/support/scheduler-host.js';
import { SKIP_REASONS } from './plan.js';

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;

/** Jobs exist from T0; nobody leads for `outageMs`; then a leader starts and runs for a while. */
async function afterOutage(jobs: Record<string, Record<string, unknown>>, outageMs: number): Promise<{ host: FakeHost; scheduler: Scheduler }> {
  const host = new FakeHost(7);
  // Enough slots for every catch-up run at once (capacity waits are tested elsewhere).
  for (const id of ['n1', 'n2']) host.addNode(id, { slots: 64 });
  for (const [id, fields] of Object.entries(jobs)) host.putJob(id, fields);
  await host.clock.advance(outageMs);
  const scheduler = new Scheduler(host);
  host.scheduler = scheduler;
  scheduler.start(5);
  await host.clock.advance(10 * SEC);
  return { host, scheduler };
}

function recordsOf(host: FakeHost, jobId: string): FakeHost['records'] {
  const records = host.records.filter((r) => r.jobId === jobId);
  const instants = records.map((r) => r.scheduledAt);
  assert.equal(new Set(instants).size, instants.length, `${jobId}: one record per instant`);
  assert.deepEqual(instants, [...instants].sort((a, b) => a - b), `${jobId}: recorded in instant order`);
  return records;
}

test('a 2 h outage under each misfire policy (1 h window): fire-once, fire-all, skip; everything older than the window skipped', async () => {
  const every = { schedule: '* * * * *', misfire: { windowMs: HOUR } };
  const { host } = await afterOutage({
    once: { ...every, misfire: { policy: 'fire-once', windowMs: HOUR } },
    all: { ...every, misfire: { policy: 'fire-all', windowMs: HOUR }, concurrency: 'allow' },
    none: { ...every, misfire: { policy: 'skip', windowMs: HOUR } },
  }, 2 * HOUR);
  const missed = Array.from({ length: 120 }, (_, i) => T0 + (i + 1) * MIN);
  const outside = (at: number): boolean => at < T0 + 2 * HOUR - HOUR;

  const once = recordsOf(host, 'once');
  assert.deepEqual(once.map((r) => r.scheduledAt), missed);
  assert.deepEqual(once.filter((r) => r.status === 'run').map((r) => [r.scheduledAt, r.trigger]), [[T0 + 2 * HOUR, 'misfire']]);
  for (const r of once.filter((x) => x.status === 'skipped')) {
    assert.equal(r.trigger, 'misfire');
    assert.equal(r.reason, outside(r.scheduledAt) ? SKIP_REASONS.outsideWindow : SKIP_REASONS.fireOnce);
  }

  const all = recordsOf(host, 'all');
  assert.deepEqual(all.map((r) => r.scheduledAt), missed);
  assert.deepEqual(all.filter((r) => r.status === 'run').map((r) => r.scheduledAt), missed.filter((at) => !outside(at)));
  assert.ok(all.filter((r) => r.status === 'run').every((r) => r.trigger === 'misfire'));
  assert.ok(all.filter((r) => r.status === 'skipped').every((r) => r.reason === SKIP_REASONS.outsideWindow && outside(r.scheduledAt)));

  const none = recordsOf(host, 'none');
  assert.deepEqual(none.map((r) => r.scheduledAt), missed);
  assert.ok(none.every((r) => r.status === 'skipped' && r.reason === (outside(r.scheduledAt) ? SKIP_REASONS.outsideWindow : SKIP_REASONS.policySkip)));
  // After catch-up the jobs fire normally again, before their instants.
  assert.equal(host.table().getJob('once')?.nextFireAt, T0 + 2 * HOUR + MIN);
});

test('catch-up work is bounded per pass: 7,200 missed seconds go in several batches, one run, nothing twice', async () => {
  const { host, scheduler } = await afterOutage({ busy: { schedule: '* * * * * *', misfire: { policy: 'fire-once', windowMs: 3 * HOUR } } }, 2 * HOUR);
  const records = recordsOf(host, 'busy').filter((r) => r.scheduledAt <= T0 + 2 * HOUR);
  assert.equal(records.length, 7200);
  assert.deepEqual(records.filter((r) => r.status === 'run').map((r) => r.scheduledAt), [T0 + 2 * HOUR]);
  const m = scheduler.metricsNow();
  assert.ok(m.fireBatches >= 8, `at most 1,000 fires per batch (${m.fireBatches} batches)`);
  assert.ok(m.fireBatchMax <= 1000);
  // Then every second fires on time again.
  const after = recordsOf(host, 'busy').filter((r) => r.scheduledAt > T0 + 2 * HOUR + 2 * SEC);
  assert.ok(after.length >= 7 && after.every((r) => r.status === 'run' && r.trigger === 'schedule'));
});

test('an outage shorter than catchUpMs is a failover gap: every instant fires late as schedule, whatever the policy', async () => {
  const { host } = await afterOutage({ gap: { schedule: '*/5 * * * * *', misfire: { policy: 'skip', windowMs: 0 }, concurrency: 'allow' } }, 40 * SEC);
  const records = recordsOf(host, 'gap').filter((r) => r.scheduledAt <= T0 + 40 * SEC);
  assert.equal(records.length, 8);
  assert.ok(records.every((r) => r.status === 'run' && r.trigger === 'schedule'));
});
