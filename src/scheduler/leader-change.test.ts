// Nothing owed is lost on a leader change: `after` fires are decided from committed results
// (the table owes them), so a new leader proposes every pending downstream exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from './scheduler.js';
import { FakeHost } from '../../test/support/scheduler-host.js';
import type { Command } from '../statemachine/index.js';

const SEC = 1000;

function setup(seed: number): { host: FakeHost; scheduler: Scheduler } {
  const host = new FakeHost(seed);
  const scheduler = new Scheduler(host);
  host.scheduler = scheduler;
  return { host, scheduler };
}

function newLeader(host: FakeHost, term: number): Scheduler {
  const next = new Scheduler(host);
  host.scheduler = next;
  next.start(term);
  return next;
}

/** One node with one slot, taken for 20 s by a run of `blocker`; `job` (manual) waits for it. */
async function slotTaken(seed: number): Promise<{ host: FakeHost; scheduler: Scheduler }> {
  const { host, scheduler } = setup(seed);
  host.addNode('b', { slots: 1 });
  host.behaviour = (order) => ({ durationMs: order.jobId === 'blocker' ? 20 * SEC : 50, status: 'succeeded' });
  host.putJob('blocker', { schedule: '@manual' });
  host.putJob('job', { schedule: '@manual' });
  scheduler.start(1);
  await host.settle(scheduler.runNow('blocker'));
  return { host, scheduler };
}

const afterFiresProposed = (host: FakeHost): number =>
  host.proposed.filter((c: Command) => c.type === 'fire' && c.fires.some((f) => f.trigger === 'after')).length;

test('after: the leader stops right after the upstream success applied; the next leader fires the downstream exactly once', async () => {
  const { host, scheduler } = setup(31);
  host.addNode('n1');
  host.behaviour = () => ({ durationMs: 50, status: 'succeeded' });
  host.putJob('up', { schedule: '@manual' });
  host.putJob('down', { schedule: '@manual', after: ['up'] });
  scheduler.start(1);
  // The leader dies in the same step that applied the upstream's success: before any pass.
  const apply = host.apply.bind(host);
  let upstreamRunId: string | null = null;
  host.apply = (command) => {
    const result = apply(command);
    const run = upstreamRunId === null ? null : host.table().getRun(upstreamRunId);
    if (run?.status === 'succeeded' && host.scheduler === scheduler) {
      scheduler.stop();
      host.scheduler = null;
    }
    return result;
  };
  upstreamRunId = (await host.settle(scheduler.runNow('up'))).runId;
  await host.clock.advance(2 * SEC);
  assert.equal(host.scheduler, null, 'the first leader stopped on the success');
  assert.equal(afterFiresProposed(host), 0, 'the downstream fire was never proposed by the first leader');
  assert.equal(host.table().owedAfterCount, 1, 'the table owes it');

  const second = newLeader(host, 2);
  await host.clock.advance(2 * SEC);
  const downRuns = host.records.filter((r) => r.jobId === 'down');
  assert.equal(downRuns.length, 1);
  assert.equal(downRuns[0]?.trigger, 'after');
  assert.equal(host.table().getRun(downRuns[0]?.runId ?? '')?.key, upstreamRunId);
  assert.equal(host.table().owedAfterCount, 0, 'the recorded fire settled what was owed');
  assert.equal(second.metricsNow().owedAfterFires, 0);

  // Later leaders owe nothing and propose nothing: exactly once.
  second.stop();
  newLeader(host, 3).stop();
  newLeader(host, 4);
  await host.clock.advance(5 * SEC);
  assert.equal(host.records.filter((r) => r.jobId === 'down').length, 1);
  assert.equal(host.started.filter((s) => s.startsWith(downRuns[0]?.runId ?? '?')).length, 1, 'the downstream executed once');
});

test('after: a downstream waiting for capacity longer than catchUpMs survives two leader changes and runs once', async () => {
  const { host, scheduler } = setup(32);
  host.addNode('a', { tags: { pool: 'a' } });
  host.addNode('b', { tags: { pool: 'b' }, slots: 1 });
  host.behaviour = (order) => ({ durationMs: order.jobId === 'blocker' ? 150 * SEC : 50, status: 'succeeded' });
  host.putJob('blocker', { schedule: '@manual', target: { mode: 'tags', tags: { pool: 'b' } } });
  host.putJob('up', { schedule: '@manual', target: { mode: 'tags', tags: { pool: 'a' } } });
  host.putJob('down', { schedule: '@manual', after: ['up'], target: { mode: 'tags', tags: { pool: 'b' } } });
  scheduler.start(1);
  await host.settle(scheduler.runNow('blocker'));
  const up = await host.settle(scheduler.runNow('up'));
  await host.clock.advance(2 * SEC);
  assert.equal(host.table().getRun(up.runId)?.status, 'succeeded');
  assert.equal(host.records.filter((r) => r.jobId === 'down').length, 0, 'down waits for the busy node');
  assert.ok(scheduler.metricsNow().waitingForCapacity >= 1);

  // Two leader changes, the second well past catchUpMs (60 s) after the upstream finished.
  await host.clock.advance(30 * SEC);
  scheduler.stop();
  const second = newLeader(host, 2);
  await host.clock.advance(50 * SEC);
  second.stop();
  const third = newLeader(host, 3);
  assert.equal(host.table().owedAfterCount, 1, 'still owed, in the table');
  assert.equal(host.records.filter((r) => r.jobId === 'down').length, 0);

  // The blocker ends at ~150 s: the owed fire takes the slot, once.
  await host.clock.advance(90 * SEC);
  const down = host.records.filter((r) => r.jobId === 'down');
  assert.deepEqual(down.map((r) => [r.trigger, r.status]), [['after', 'run']]);
  assert.equal(host.table().getRun(down[0]?.runId ?? '')?.status, 'succeeded');
  assert.equal(host.table().owedAfterCount, 0);
  assert.equal(third.metricsNow().owedAfterFires, 0);
});

test('after: a downstream deleted while its fire is owed is owed nothing, also under a new job of the same id', async () => {
  const { host, scheduler } = setup(33);
  host.addNode('a', { tags: { pool: 'a' } });
  host.addNode('b', { tags: { pool: 'b' }, slots: 1 });
  host.behaviour = (order) => ({ durationMs: order.jobId === 'blocker' ? 20 * SEC : 50, status: 'succeeded' });
  host.putJob('blocker', { schedule: '@manual', target: { mode: 'tags', tags: { pool: 'b' } } });
  host.putJob('up', { schedule: '@manual', target: { mode: 'tags', tags: { pool: 'a' } } });
  host.putJob('down', { schedule: '@manual', after: ['up'], target: { mode: 'tags', tags: { pool: 'b' } } });
  scheduler.start(1);
  await host.settle(scheduler.runNow('blocker'));
  await host.settle(scheduler.runNow('up'));
  await host.clock.advance(2 * SEC);
  assert.equal(host.table().owedAfterCount, 1);
  host.apply({ type: 'deleteJob', id: 'down', at: host.clock.nowMs });
  assert.equal(host.table().owedAfterCount, 0);
  host.putJob('down', { schedule: '@manual', after: ['up'], target: { mode: 'tags', tags: { pool: 'b' } } });
  await host.clock.advance(30 * SEC);
  assert.equal(host.records.filter((r) => r.jobId === 'down').length, 0);
});

test('manual: a run waiting for capacity is recorded in the log, answered at once with its run id, outlives its leader, and runs once under that id', async () => {
  const { host, scheduler } = await slotTaken(34);
  const first = await host.settle(scheduler.runNow('job', { key: 'k1', payload: 'p', triggeredBy: 'alice' }));
  assert.equal(host.table().owedManualCount, 1, 'recorded waiting');
  assert.equal(scheduler.metricsNow().manualFiresRecordedWaiting, 1);
  assert.equal(scheduler.metricsNow().queuedFires, 0, 'it left the in-memory queue');
  const [waiting] = host.table().owedManualFires(10);
  assert.ok(waiting);
  // The caller has the run id while the run waits: a client need not hold its request open.
  assert.deepEqual(first, { runId: waiting.runId, duplicate: false, status: 'waiting' });
  assert.equal(host.table().waitingManualFire(waiting.runId)?.jobId, 'job');
  assert.equal(host.table().getRun(waiting.runId), null, 'no run record until it fires');

  scheduler.stop();
  await host.clock.advance(1);
  const second = newLeader(host, 2);
  await host.clock.advance(2 * SEC);
  assert.equal(host.records.filter((r) => r.jobId === 'job').length, 0, 'still waiting for the slot');
  assert.equal(second.metricsNow().owedManualFires, 1);
  // The client retries with its key: the waiting fire answers, no second one is recorded.
  const retried = await host.settle(second.runNow('job', { key: 'k1', payload: 'p' }));
  assert.deepEqual(retried, { runId: waiting.runId, duplicate: true, status: 'duplicate' });
  assert.equal(host.table().owedManualCount, 1);
  // ?wait= on a waiting run waits for it to fire and finish.
  const awaited = second.awaitRun(waiting.runId, 60 * SEC);

  await host.clock.advance(25 * SEC);
  const result = await awaited;
  assert.equal(result.done, true);
  assert.equal(result.run?.status, 'succeeded');
  const runs = host.records.filter((r) => r.jobId === 'job');
  assert.deepEqual(runs.map((r) => [r.runId, r.trigger, r.status]), [[waiting.runId, 'manual', 'run']]);
  const run = host.table().getRun(waiting.runId);
  assert.equal(run?.status, 'succeeded');
  assert.equal(run?.payload, 'p');
  assert.equal(run?.key, 'k1');
  assert.equal(run?.triggeredBy, 'alice');
  assert.equal(host.table().owedManualCount, 0);
  assert.equal(host.started.filter((s) => s.startsWith(`${waiting.runId}/`)).length, 1);
});

test('manual: killing a run that waits for a slot records it skipped with the reason; it never runs, under any leader', async () => {
  const { host, scheduler } = await slotTaken(36);
  const waiting = await host.settle(scheduler.runNow('job', { payload: 'p' }));
  assert.equal(waiting.status, 'waiting');
  const killed = await host.settle(scheduler.killRun(waiting.runId));
  assert.ok(killed.ok && killed.kind === 'run', JSON.stringify(killed));
  assert.equal(killed.run.status, 'skipped');
  assert.match(killed.run.reason ?? '', /killed by request while it waited/);
  assert.equal(host.table().owedManualCount, 0, 'no longer waiting');
  scheduler.stop();
  const second = newLeader(host, 2);
  await host.clock.advance(30 * SEC);
  assert.equal(host.started.filter((s) => s.startsWith(`${waiting.runId}/`)).length, 0, 'never started');
  assert.equal(host.table().getRun(waiting.runId)?.status, 'skipped');
  assert.equal(second.metricsNow().owedManualFires, 0);
});

test('manual: a recorded waiting run is recorded skipped queuedFireWaitMs after its request, judged alike by a new leader', async () => {
  const host = new FakeHost(35);
  const options = { queuedFireWaitMs: 10 * SEC };
  const scheduler = new Scheduler(host, options);
  host.scheduler = scheduler;
  host.addNode('b', { slots: 1 });
  host.behaviour = () => ({ durationMs: 60 * SEC, status: 'succeeded' });
  host.putJob('blocker', { schedule: '@manual' });
  host.putJob('job', { schedule: '@manual' });
  scheduler.start(1);
  await host.settle(scheduler.runNow('blocker'));
  const requestedAt = host.clock.nowMs;
  scheduler.runNow('job').catch(() => {});
  await host.clock.advance(1 * SEC);
  assert.equal(host.table().owedManualCount, 1);
  scheduler.stop();
  const second = new Scheduler(host, options);
  host.scheduler = second;
  second.start(2);
  await host.clock.advance(15 * SEC);
  const runs = host.records.filter((r) => r.jobId === 'job');
  assert.equal(runs.length, 1);
  assert.equal(runs[0]?.status, 'skipped');
  assert.match(runs[0]?.reason ?? '', /^no capacity/);
  assert.ok((runs[0]?.atMs ?? 0) - requestedAt >= 10 * SEC && (runs[0]?.atMs ?? 0) - requestedAt < 12 * SEC);
  assert.equal(host.table().owedManualCount, 0);
});

test('afterMode all: one upstream succeeds under one leader, the other under the next; the downstream runs once', async () => {
  const { host, scheduler } = setup(36);
  host.addNode('n1');
  host.behaviour = () => ({ durationMs: 50, status: 'succeeded' });
  host.putJob('up1', { schedule: '@manual' });
  host.putJob('up2', { schedule: '@manual' });
  host.putJob('down', { schedule: '@manual', after: ['up1', 'up2'], afterMode: 'all' });
  scheduler.start(1);
  await host.settle(scheduler.runNow('up1'));
  await host.settle(scheduler.runNow('up1'));
  await host.clock.advance(1 * SEC);
  assert.equal(host.records.filter((r) => r.jobId === 'down').length, 0, 'up2 has not succeeded');
  scheduler.stop();
  const second = newLeader(host, 2);
  const up2 = await host.settle(second.runNow('up2'));
  await host.clock.advance(1 * SEC);
  const down = host.records.filter((r) => r.jobId === 'down');
  assert.deepEqual(down.map((r) => [r.trigger, r.status]), [['after', 'run']]);
  assert.equal(host.table().getRun(down[0]?.runId ?? '')?.key, up2.runId, 'keyed by the success that completed the set');
  // Each upstream has to succeed again since that run.
  await host.settle(second.runNow('up2'));
  await host.clock.advance(1 * SEC);
  assert.equal(host.records.filter((r) => r.jobId === 'down').length, 1);
});
