import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from './scheduler.js';
import { FakeHost } from '../../test/support/scheduler-host.js';
import { CLAIM_WAITERS_MAX } from './options.js';
import { ChimeError } from '../errors/index.js';
import type { ApplyResult, ClaimReportCommand, ClaimReportKind, RunRecord } from '../statemachine/index.js';

const SEC = 1000;

function setup(seed = 21, leaseMs = 5000): { host: FakeHost; scheduler: Scheduler } {
  const host = new FakeHost(seed);
  host.addNode('n1');
  const scheduler = new Scheduler(host, { retryJitter: 0 });
  host.scheduler = scheduler;
  host.putJob('q', { schedule: '@manual', executor: { type: 'queue', function: 'resize', leaseMs }, retry: { max: 2, backoffMs: 100 } });
  return { host, scheduler };
}

function claimOf(worker: string, waitMs = 0, max = 1) {
  return { worker, functions: ['resize'], max, waitMs, node: 'n1' };
}

function report(kind: ClaimReportKind, run: RunRecord, worker: string, at: number, extra: Partial<ClaimReportCommand> = {}): ClaimReportCommand {
  return { type: 'claimReport', kind, runId: run.runId, attempt: run.attempt, worker, at, progress: null, output: '', result: null, error: null, retry: true, ...extra };
}

function claimProposals(host: FakeHost): number {
  return host.proposed.filter((c) => c.type === 'claimRuns').length;
}

test('a queue run is on no node: nothing is sent to an executor, and a claim takes it', async () => {
  const { host, scheduler } = setup();
  scheduler.start(1);
  const { runId } = await host.settle(scheduler.runNow('q', { payload: 'img-1' }));
  assert.equal(host.executes.length, 0);
  const runs = await host.settle(scheduler.claim(claimOf('w1')));
  assert.deepEqual(runs.map((r) => [r.runId, r.attempt, r.payload, r.queue?.worker]), [[runId, 1, 'img-1', 'w1']]);
  assert.equal(host.executes.length, 0);
});

test('a long-poll parks until a submission arrives, and ends empty when the wait runs out', async () => {
  const { host, scheduler } = setup();
  scheduler.start(1);
  const empty = scheduler.claim(claimOf('w1', 3 * SEC));
  let emptyDone = false;
  void empty.then(() => void (emptyDone = true));
  await host.clock.advance(2 * SEC);
  assert.equal(emptyDone, false, 'still waiting');
  await host.clock.advance(1100);
  assert.deepEqual(await empty, []);
  const waiting = scheduler.claim(claimOf('w1', 30 * SEC));
  await host.clock.advance(5 * SEC);
  const submittedAt = host.clock.nowMs;
  const { runId } = await host.settle(scheduler.runNow('q'));
  const runs = await host.settle(waiting);
  assert.deepEqual(runs.map((r) => r.runId), [runId]);
  assert.ok(host.clock.nowMs - submittedAt < 100, `answered ${host.clock.nowMs - submittedAt} ms after the submission`);
});

test('priority then FIFO; a burst of idle workers costs a proposal per run, not per worker', async () => {
  const { host, scheduler } = setup(21, 60_000);
  scheduler.start(1);
  for (const [payload, priority] of [['l', 'low'], ['n1', 'normal'], ['h', 'high'], ['n2', 'normal']] as const) await host.settle(scheduler.runNow('q', { payload, priority }));
  const first = await host.settle(scheduler.claim(claimOf('w1', 0, 4)));
  assert.deepEqual(first.map((r) => r.payload), ['h', 'n1', 'n2', 'l']);
  const parked = Array.from({ length: 8 }, (_, i) => scheduler.claim(claimOf(`idle-${i}`, 20 * SEC)));
  await host.clock.advance(100);
  const before = claimProposals(host);
  await host.settle(scheduler.runNow('q', { payload: 'one' }));
  await host.clock.advance(200);
  assert.equal(claimProposals(host) - before, 1, 'one run woke one parked claim');
  assert.equal(scheduler.metricsNow().claimWaiters, 7);
  const answered = await host.settle(Promise.all(parked), 30 * SEC, 50);
  assert.deepEqual(answered.flat().map((r) => r.payload), ['one']);
});

test('concurrent workers: every run is claimed exactly once', async () => {
  const { host, scheduler } = setup();
  scheduler.start(1);
  const claims: Promise<readonly RunRecord[]>[] = [];
  for (let i = 0; i < 6; i++) claims.push(scheduler.claim(claimOf(`w${i}`, 10 * SEC, 3)));
  for (let i = 0; i < 20; i++) await host.settle(scheduler.runNow('q', { payload: `p${i}` }));
  const seen: string[] = [];
  const loops = [0, 1, 2, 3, 4, 5].map(async (i) => {
    for (let batch = await claims[i]!; ; batch = await scheduler.claim(claimOf(`w${i}`, 0, 3))) {
      if (batch.length === 0) return;
      for (const run of batch) {
        seen.push(run.runId);
        const done = await scheduler.claimReport(report('complete', run, `w${i}`, host.clock.nowMs));
        assert.ok(done.ok);
      }
    }
  });
  await host.settle(Promise.all(loops), 60 * SEC, 10);
  assert.equal(seen.length, 20);
  assert.equal(new Set(seen).size, 20, 'no run was claimed twice');
  assert.ok(host.runsOf('q').every((r) => r.status === 'succeeded' && r.attempt === 1));
});

test('a lease that runs out: lost, retried by the policy, claimed by another worker; the first worker gets ATTEMPT_NOT_HELD', async () => {
  const { host, scheduler } = setup();
  scheduler.start(1);
  const { runId } = await host.settle(scheduler.runNow('q'));
  const [held] = await host.settle(scheduler.claim(claimOf('w1')));
  assert.ok(held);
  // Heartbeats keep it: 3 beats over 12 s with a 5 s lease.
  for (let i = 0; i < 3; i++) {
    await host.clock.advance(4 * SEC);
    const beat = await host.settle(scheduler.claimReport(report('heartbeat', held, 'w1', host.clock.nowMs, { progress: { done: i, total: 3 } })));
    assert.ok(beat.ok);
  }
  assert.equal(host.table().getRun(runId)?.status, 'running');
  // Lease end + the maintenance step (1 s) + the retry backoff (100 ms).
  await host.clock.advance(7 * SEC);
  const lost = host.table().getRun(runId);
  assert.ok(lost?.status === 'pending' && lost.attempt === 2, `lost then queued again: ${lost?.status}/${lost?.attempt}`);
  assert.deepEqual(lost.executions.map((e) => [e.attempt, e.node, e.status]), [[1, 'w1', 'lost']]);
  assert.equal(scheduler.metricsNow().leaseExpiries, 1);
  const [again] = await host.settle(scheduler.claim(claimOf('w2')));
  assert.equal(again?.attempt, 2);
  const late: ApplyResult = await host.settle(scheduler.claimReport(report('complete', held, 'w1', host.clock.nowMs)));
  assert.ok(!late.ok && late.code === 'ATTEMPT_NOT_HELD');
  const done = await host.settle(scheduler.claimReport(report('complete', again!, 'w2', host.clock.nowMs, { result: 'r' })));
  assert.ok(done.ok && done.kind === 'run' && done.run.status === 'succeeded');
});

test('a foreground submission waits for the result', async () => {
  const { host, scheduler } = setup();
  scheduler.start(1);
  const { runId } = await host.settle(scheduler.runNow('q', { payload: '2+2' }));
  const waited = scheduler.awaitRun(runId, 30 * SEC);
  const [run] = await host.settle(scheduler.claim(claimOf('w1', 5 * SEC)));
  assert.ok(run);
  await host.settle(scheduler.claimReport(report('complete', run, 'w1', host.clock.nowMs, { result: '4' })));
  const out = await host.settle(waited);
  assert.ok(out.done);
  assert.equal(out.run?.queue?.result, '4');
});

test('leader change: queued runs and held attempts carry over; held leases restart at the new leader', async () => {
  const { host, scheduler } = setup();
  scheduler.start(1);
  for (let i = 0; i < 3; i++) await host.settle(scheduler.runNow('q', { payload: `p${i}` }));
  const [held] = await host.settle(scheduler.claim(claimOf('w1')));
  assert.ok(held);
  const parked = scheduler.claim({ ...claimOf('w9', 30 * SEC), functions: ['other'] });
  await host.clock.advance(100);
  scheduler.stop();
  await assert.rejects(parked, (e: unknown) => e instanceof ChimeError && e.code === 'NOT_LEADER');
  // The election takes longer than the lease: the held attempt must not be lost for that.
  await host.clock.advance(6 * SEC);
  const next = new Scheduler(host, { retryJitter: 0 });
  host.scheduler = next;
  next.start(2);
  await host.clock.advance(3 * SEC);
  assert.equal(host.table().getRun(held.runId)?.status, 'running', 'a full lease from the new leader\'s start');
  const beat = await host.settle(next.claimReport(report('heartbeat', held, 'w1', host.clock.nowMs)));
  assert.ok(beat.ok);
  const rest = await host.settle(next.claim(claimOf('w2', 0, 5)));
  assert.deepEqual(rest.map((r) => r.payload), ['p1', 'p2']);
  // Without heartbeats, the new leader expires it after its own lease.
  await host.clock.advance(7 * SEC);
  const lost = host.table().getRun(held.runId);
  assert.ok(lost?.attempt === 2 && lost.executions[0]?.status === 'lost');
});

test('waiting claims are bounded per node', async () => {
  const { host, scheduler } = setup();
  scheduler.start(1);
  const parked = Array.from({ length: CLAIM_WAITERS_MAX }, (_, i) => scheduler.claim(claimOf(`w${i}`, 10 * SEC)));
  await assert.rejects(scheduler.claim(claimOf('one-too-many', 10 * SEC)), (e: unknown) => e instanceof ChimeError && e.code === 'WAITERS_FULL');
  assert.equal(scheduler.metricsNow().claimsRefused, 1);
  await host.settle(Promise.all(parked), 20 * SEC, 100);
});

test('a timed-out queue run is ended by the deadline backstop from its claim, not from its wait in the queue', async () => {
  const host = new FakeHost(5);
  host.addNode('n1');
  const scheduler = new Scheduler(host, { retryJitter: 0, timeoutGraceMs: 1000 });
  host.scheduler = scheduler;
  host.putJob('slow', { schedule: '@manual', timeoutMs: 2000, executor: { type: 'queue', function: 'resize', leaseMs: 60_000 } });
  scheduler.start(1);
  const { runId } = await host.settle(scheduler.runNow('slow'));
  await host.clock.advance(10 * SEC);
  assert.equal(host.table().getRun(runId)?.status, 'pending', 'waiting in the queue is not running');
  await host.settle(scheduler.claim(claimOf('w1')));
  await host.clock.advance(4 * SEC);
  assert.equal(host.table().getRun(runId)?.status, 'timed_out');
});

test('a claim whose worker hung up ends at once and takes nothing', async () => {
  const { host, scheduler } = setup();
  scheduler.start(1);
  const hungUp = new AbortController();
  const parked = scheduler.claim({ ...claimOf('gone', 30 * SEC), signal: hungUp.signal });
  const live = scheduler.claim(claimOf('live', 30 * SEC));
  await host.clock.advance(100);
  hungUp.abort();
  assert.deepEqual(await host.settle(parked), []);
  await host.settle(scheduler.runNow('q', { payload: 'x' }));
  const runs = await host.settle(live);
  assert.deepEqual(runs.map((r) => [r.payload, r.queue?.worker]), [['x', 'live']], 'the run went to the worker still there');
  assert.equal(scheduler.metricsNow().claimsAbandoned, 1);
});

test('limits: a submission to a full function queue is refused FUNCTION_QUEUE_FULL, a claim by a worker at its limit WORKER_CLAIMS_FULL; each counted; lease expiries counted per function', async () => {
  const { FUNCTION_QUEUED_MAX, WORKER_HELD_MAX, CLAIM_ITEMS_MAX } = await import('../statemachine/index.js');
  const { host, scheduler } = setup(22, 1000);
  for (let j = 1; j < FUNCTION_QUEUED_MAX / 1000; j++) host.putJob(`q${j}`, { schedule: '@manual', executor: { type: 'queue', function: 'resize', leaseMs: 1000 } });
  scheduler.start(1);
  // Filled directly (setup), 1000 per job: the per-job active-run limit.
  let n = 0;
  for (const jobId of ['q', ...Array.from({ length: FUNCTION_QUEUED_MAX / 1000 - 1 }, (_, j) => `q${j + 1}`)]) {
    host.apply({ type: 'fire', at: host.clock.nowMs, fires: Array.from({ length: 1000 }, () => ({ jobId, runId: `f${++n}`, scheduledAt: host.clock.nowMs, trigger: 'manual' as const, executors: [], outcome: 'run' as const })) });
  }
  assert.equal(host.table().queuedCount('resize'), FUNCTION_QUEUED_MAX);
  await assert.rejects(scheduler.runNow('q'), (e: unknown) => e instanceof ChimeError && e.code === 'FUNCTION_QUEUE_FULL');
  assert.equal(scheduler.metricsNow().functionQueueRefused, 1);

  for (let i = 0; i * CLAIM_ITEMS_MAX < WORKER_HELD_MAX; i++) {
    host.apply({ type: 'claimRuns', worker: 'w', node: 'n1', functions: ['resize'], max: CLAIM_ITEMS_MAX, at: host.clock.nowMs });
  }
  assert.equal(host.table().heldBy('w'), WORKER_HELD_MAX);
  await assert.rejects(scheduler.claim(claimOf('w', 0, 1)), (e: unknown) => e instanceof ChimeError && e.code === 'WORKER_CLAIMS_FULL');
  assert.equal(scheduler.metricsNow().claimsRefusedHeld, 1);
  // The held leases (1 s) run out: each is an expiry of the function, and the worker may claim again.
  await host.clock.advance(3 * SEC);
  assert.equal(scheduler.metricsNow().leaseExpiriesByFunction.get('resize'), WORKER_HELD_MAX);
  assert.equal(host.table().heldBy('w'), 0);
  assert.equal((await host.settle(scheduler.claim(claimOf('w', 0, 1)))).length, 1);
});

test('claim latency is recorded per function: from the submission to the claim', async () => {
  const { host, scheduler } = setup(23);
  scheduler.start(1);
  await host.settle(scheduler.runNow('q'));
  await host.clock.advance(2 * SEC);
  const [run] = await host.settle(scheduler.claim(claimOf('w1')));
  assert.ok(run);
  const h = scheduler.metricsNow().claimLatencyByFunction.get('resize');
  assert.ok(h);
  assert.equal(h.count, 1);
  assert.ok(h.sumMs >= 2 * SEC && h.sumMs < 2 * SEC + 100, `waited ${h.sumMs} ms`);
  // 2 s falls in the (1 s, 5 s] bucket.
  assert.deepEqual(h.buckets, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
});
