import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCommand, encodeCommand } from './codec.js';
import { commandProblem, type ClaimReportCommand, type ClaimReportKind, type Fire } from './commands.js';
import type { ApplyResult } from './results.js';
import { JobTable } from './table.js';
import type { QueuePriority, RunRecord } from './types.js';
import { Driver, T0 } from '../../test/support/job-table.js';
import { validateJobSpec } from './validate.js';

const QUEUE = { schedule: '@manual', executor: { type: 'queue', function: 'resize', leaseMs: 5000 }, retry: { max: 1, backoffMs: 0 } };

function manual(jobId: string, runId: string, at: number, extra: Partial<Fire> = {}): Fire {
  return { jobId, runId, scheduledAt: at, trigger: 'manual', executors: [], outcome: 'run', ...extra };
}

function claimed(result: ApplyResult): readonly RunRecord[] {
  assert.ok(result.ok && result.kind === 'claimed', `not a claim result: ${JSON.stringify(result)}`);
  return result.runs;
}

function claim(d: Driver, worker: string, at: number, max = 1, functions = ['resize']): string[] {
  return claimed(d.apply({ type: 'claimRuns', worker, node: 'n1', functions, max, at })).map((r) => r.runId);
}

function report(kind: ClaimReportKind, runId: string, worker: string, at: number, extra: Partial<ClaimReportCommand> = {}): ClaimReportCommand {
  return { type: 'claimReport', kind, runId, attempt: 1, worker, at, progress: null, output: '', result: null, error: null, retry: true, ...extra };
}

function queueDriver(): Driver {
  const d = new Driver();
  assert.ok(d.put('q', T0, QUEUE).ok);
  return d;
}

test('a queue executor validates its function and lease, with a default lease', () => {
  const ok = validateJobSpec('q', { schedule: '@manual', executor: { type: 'queue', function: 'resize-image' } });
  assert.ok(ok.ok);
  assert.deepEqual(ok.spec.executor, { type: 'queue', function: 'resize-image', leaseMs: 30_000 });
  const bad = validateJobSpec('q', { schedule: '@manual', executor: { type: 'queue', function: 'a b', leaseMs: 10, command: 'x' } });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.errors.map((e) => e.path).sort(), ['executor.command', 'executor.function', 'executor.leaseMs']);
  const missing = validateJobSpec('q', { schedule: '@manual', executor: { type: 'queue' } });
  assert.ok(!missing.ok && missing.errors.some((e) => e.path === 'executor.function'));
});

test('claims take runs by priority, then oldest first; a run is held by one worker only', () => {
  const d = queueDriver();
  const subs: [string, QueuePriority][] = [['l1', 'low'], ['n1', 'normal'], ['h1', 'high'], ['n2', 'normal'], ['h2', 'high'], ['l2', 'low']];
  subs.forEach(([runId, priority], i) => d.fire(T0 + 10 + i, manual('q', runId, T0 + 10 + i, { priority })));
  assert.equal(d.table.getRun('h1')?.status, 'pending');
  assert.deepEqual(claim(d, 'w1', T0 + 100, 3), ['h1', 'h2', 'n1']);
  assert.deepEqual(claim(d, 'w2', T0 + 101, 64), ['n2', 'l1', 'l2']);
  assert.deepEqual(claim(d, 'w3', T0 + 102, 64), [], 'nothing is left to claim');
  const h1 = d.table.getRun('h1');
  assert.equal(h1?.status, 'running');
  assert.equal(h1?.queue?.worker, 'w1');
  assert.equal(h1?.queue?.leaseUntil, T0 + 100 + 5000);
  assert.deepEqual(h1?.executions.map((e) => [e.node, e.status]), [['w1', 'running']]);
  // Another worker's calls for w1's attempt are refused with a stable code.
  const late = d.apply(report('complete', 'h1', 'w2', T0 + 200));
  assert.ok(!late.ok && late.code === 'ATTEMPT_NOT_HELD');
  assert.deepEqual(d.table.listWorkers().map((w) => [w.worker, w.running]), [['w1', 3], ['w2', 3], ['w3', 0]]);
  d.table.assertIndexesConsistent();
});

test('heartbeats renew the lease and show progress and output; complete stores the result', () => {
  const d = queueDriver();
  d.fire(T0, manual('q', 'r1', T0, { payload: 'in' }));
  claim(d, 'w1', T0 + 1);
  const hb = d.apply(report('heartbeat', 'r1', 'w1', T0 + 4000, { progress: { done: 2, total: 5 }, output: 'half\n' }));
  assert.ok(hb.ok && hb.kind === 'run');
  assert.equal(hb.run.queue?.leaseUntil, T0 + 9000);
  assert.deepEqual(hb.run.queue?.progress, { done: 2, total: 5 });
  // The lease was renewed: an expiry judged before its end is refused.
  const early = d.apply(report('expire', 'r1', 'w1', T0 + 6000));
  assert.ok(!early.ok && early.code === 'ATTEMPT_NOT_HELD');
  const done = d.apply(report('complete', 'r1', 'w1', T0 + 7000, { result: '{"ok":true}', output: 'done\n' }));
  assert.ok(done.ok && done.kind === 'run');
  assert.equal(done.run.status, 'succeeded');
  assert.equal(done.run.queue?.result, '{"ok":true}');
  assert.equal(done.run.executions[0]?.output, 'half\ndone\n');
  const again = d.apply(report('complete', 'r1', 'w1', T0 + 7001));
  assert.ok(!again.ok && again.code === 'ATTEMPT_NOT_HELD', 'a second complete is late');
  d.table.assertIndexesConsistent();
});

test('a lease that runs out makes the attempt lost; a retry queues it again for another worker', () => {
  const d = queueDriver();
  d.fire(T0, manual('q', 'r1', T0));
  claim(d, 'w1', T0 + 1);
  assert.deepEqual(d.table.expiredLeases(T0 + 5000, 10).map((r) => r.runId), []);
  assert.deepEqual(d.table.expiredLeases(T0 + 5001, 10).map((r) => r.runId), ['r1']);
  const lost = d.apply(report('expire', 'r1', 'w1', T0 + 5001));
  assert.ok(lost.ok && lost.kind === 'run' && lost.run.status === 'lost');
  assert.deepEqual(d.table.runsAwaitingRetry(10).map((r) => r.runId), ['r1'], 'the retry policy applies');
  const late = d.apply(report('complete', 'r1', 'w1', T0 + 5002));
  assert.ok(!late.ok && late.code === 'ATTEMPT_NOT_HELD', 'the silent worker comes back too late');
  const nodes = d.apply({ type: 'retryRun', runId: 'r1', attempt: 2, executors: ['n1'], notBefore: null, at: T0 + 5003 });
  assert.ok(!nodes.ok && nodes.code === 'INVALID_COMMAND', 'a queue run is not retried on a node');
  const retried = d.apply({ type: 'retryRun', runId: 'r1', attempt: 2, executors: [], notBefore: null, at: T0 + 5003 });
  assert.ok(retried.ok && retried.kind === 'run' && retried.run.status === 'pending' && retried.run.queue?.worker === null);
  assert.deepEqual(claim(d, 'w2', T0 + 5004), ['r1']);
  const stale = d.apply(report('heartbeat', 'r1', 'w1', T0 + 5005));
  assert.ok(!stale.ok && stale.code === 'ATTEMPT_NOT_HELD');
  const ok = d.apply(report('complete', 'r1', 'w2', T0 + 5006, { attempt: 2 }));
  assert.ok(ok.ok && ok.kind === 'run' && ok.run.status === 'succeeded' && ok.run.attempt === 2);
  assert.deepEqual(d.table.getRun('r1')?.executions.map((e) => [e.attempt, e.node, e.status]), [[1, 'w1', 'lost'], [2, 'w2', 'succeeded']]);
  d.table.assertIndexesConsistent();
});

test('fail with retry false is final; a retryable fail owes a retry', () => {
  const d = queueDriver();
  d.fire(T0, manual('q', 'a', T0), manual('q', 'b', T0 + 1));
  claim(d, 'w1', T0 + 2, 2);
  const finalFail = d.apply(report('fail', 'a', 'w1', T0 + 3, { error: 'bad input', retry: false }));
  assert.ok(finalFail.ok && finalFail.kind === 'run' && finalFail.run.status === 'failed');
  assert.equal(finalFail.run.executions[0]?.error, 'bad input');
  d.apply(report('fail', 'b', 'w1', T0 + 4, { error: 'busy' }));
  assert.deepEqual(d.table.runsAwaitingRetry(10).map((r) => r.runId), ['b']);
  d.table.assertIndexesConsistent();
});

test('a kill ends a queued or held queue run at once', () => {
  const d = queueDriver();
  d.fire(T0, manual('q', 'a', T0), manual('q', 'b', T0 + 1));
  claim(d, 'w1', T0 + 2);
  const heldKill = d.apply({ type: 'killRun', runId: 'a', reason: 'request', at: T0 + 3 });
  assert.ok(heldKill.ok && heldKill.kind === 'run' && heldKill.run.status === 'killed');
  const queuedKill = d.apply({ type: 'killRun', runId: 'b', reason: 'timeout', at: T0 + 4 });
  assert.ok(queuedKill.ok && queuedKill.kind === 'run' && queuedKill.run.status === 'timed_out');
  assert.deepEqual(claim(d, 'w2', T0 + 5), []);
  const late = d.apply(report('heartbeat', 'a', 'w1', T0 + 6));
  assert.ok(!late.ok && late.code === 'ATTEMPT_NOT_HELD');
  d.table.assertIndexesConsistent();
});

test('node reports never touch a queue run, and a non-queue run fire needs executors', () => {
  const d = queueDriver();
  d.fire(T0, manual('q', 'a', T0));
  claim(d, 'w1', T0 + 1);
  const lost = d.apply({ type: 'runLost', runId: 'a', attempt: 1, node: 'w1', at: T0 + 2 });
  assert.ok(lost.ok && lost.kind === 'noop');
  assert.equal(d.table.getRun('a')?.status, 'running');
  d.put('s', T0);
  const bad = d.fire(T0 + 3, manual('s', 'x', T0 + 3));
  assert.ok(bad.ok && bad.kind === 'fire' && bad.fires[0]?.status === 'rejected');
});

test('same key coalesces submissions; a scheduled run is not claimed before its instant', () => {
  const d = queueDriver();
  d.fire(T0, manual('q', 'a', T0, { key: 'k' }));
  const dup = d.fire(T0 + 1, manual('q', 'b', T0 + 1, { key: 'k' }));
  assert.ok(dup.ok && dup.kind === 'fire' && dup.fires[0]?.status === 'duplicate' && dup.fires[0].runId === 'a');
  d.put('cron', T0, { ...QUEUE, schedule: '*/5 * * * *' });
  const at = T0 + 5 * 60_000;
  d.fire(at - 300, { jobId: 'cron', runId: 'c1', scheduledAt: at, trigger: 'schedule', executors: [], notBefore: at, outcome: 'run' });
  assert.deepEqual(claim(d, 'w1', at - 200, 5), ['a']);
  assert.deepEqual(d.table.queueHead(['resize'], at - 100), { claimable: false, nextDueAt: at });
  assert.deepEqual(claim(d, 'w1', at, 5), ['c1']);
});

test('functions and workers summaries', () => {
  const d = queueDriver();
  d.put('q2', T0, { ...QUEUE, executor: { type: 'queue', function: 'thumb' } });
  d.fire(T0, manual('q', 'a', T0, { priority: 'high' }), manual('q', 'b', T0), manual('q', 'c', T0, { priority: 'low' }), manual('q2', 'd', T0));
  claim(d, 'w1', T0 + 1, 1);
  claim(d, 'w2', T0 + 2, 1, ['thumb', 'resize']);
  assert.deepEqual(d.table.functionSummaries(T0), [
    { name: 'resize', queued: 1, queuedByPriority: { high: 0, normal: 0, low: 1 }, running: 2, workers: 2 },
    { name: 'thumb', queued: 1, queuedByPriority: { high: 0, normal: 1, low: 0 }, running: 0, workers: 1 },
  ]);
  assert.deepEqual(d.table.functionSummaries(T0 + 2).map((f) => f.workers), [1, 1], 'w1 was last seen before');
  const workers = d.table.listWorkers();
  assert.deepEqual(workers.map((w) => [w.worker, w.functions, w.node, w.lastSeenAt, w.runIds]), [
    ['w1', ['resize'], 'n1', T0 + 1, ['a']], ['w2', ['thumb', 'resize'], 'n1', T0 + 2, ['b']],
  ]);
});

test('queue state and workers survive a snapshot, byte for byte', () => {
  const d = queueDriver();
  d.fire(T0, manual('q', 'a', T0, { priority: 'low' }), manual('q', 'b', T0, { priority: 'high' }), manual('q', 'c', T0));
  claim(d, 'w1', T0 + 1);
  d.apply(report('heartbeat', 'b', 'w1', T0 + 2, { progress: { done: 1, total: 3 } }));
  const restored = new Driver(JobTable.restore(d.table.snapshot()));
  restored.index = d.index;
  restored.table.assertIndexesConsistent();
  assert.deepEqual(restored.table.getRun('b'), d.table.getRun('b'));
  assert.deepEqual(restored.table.listWorkers(), d.table.listWorkers());
  assert.deepEqual(Buffer.from(restored.table.snapshot()), Buffer.from(d.table.snapshot()), 'byte-identical snapshots');
  assert.deepEqual(claim(restored, 'w2', T0 + 3, 5), ['c', 'a'], 'the queue order survives');
  assert.deepEqual(claim(d, 'w2', T0 + 3, 5), ['c', 'a']);
});

test('claim commands are checked and round-trip the codec', () => {
  const cmd = { type: 'claimRuns', worker: 'host-1:42', node: 'n1', functions: ['resize'], max: 4, at: T0 } as const;
  assert.equal(commandProblem(cmd), null);
  assert.deepEqual(decodeCommand(encodeCommand(cmd)), cmd);
  const rep = report('heartbeat', 'r1', 'w', T0, { progress: { done: 1, total: 2 }, output: 'x' });
  assert.equal(commandProblem(rep), null);
  assert.deepEqual(decodeCommand(encodeCommand(rep)), rep);
  assert.match(commandProblem({ ...cmd, max: 0 }) ?? '', /max/);
  assert.match(commandProblem({ ...cmd, functions: [] }) ?? '', /function/);
  assert.match(commandProblem({ ...cmd, worker: 'a b' }) ?? '', /worker/);
  assert.match(commandProblem({ ...rep, kind: 'nope' }) ?? '', /kind/);
  assert.match(commandProblem({ ...rep, progress: { done: -1, total: 2 } }) ?? '', /progress/);
  const badPriority: unknown = { type: 'fire', at: T0, fires: [{ ...manual('q', 'a', T0), priority: 'urgent' }] };
  assert.match(commandProblem(badPriority) ?? '', /priority/);
});

test('limits: a full function queue records further fires skipped; a worker holds at most WORKER_HELD_MAX attempts', async () => {
  const { FUNCTION_QUEUED_MAX, WORKER_HELD_MAX, CLAIM_ITEMS_MAX } = await import('./limits.js');
  const d = new Driver();
  const perJob = 1000;
  const jobs = Math.ceil(FUNCTION_QUEUED_MAX / perJob) + 1;
  for (let j = 0; j < jobs; j++) assert.ok(d.put(`q${j}`, T0, QUEUE).ok);
  let n = 0;
  for (let j = 0; j < jobs - 1; j++) {
    const fires = Array.from({ length: perJob }, () => manual(`q${j}`, `r${++n}`, T0 + n));
    d.apply({ type: 'fire', at: T0 + 1, fires });
  }
  assert.equal(d.table.queuedCount('resize'), FUNCTION_QUEUED_MAX);
  const over = d.apply({ type: 'fire', at: T0 + 2, fires: [manual(`q${jobs - 1}`, 'over', T0 + 2)] });
  assert.ok(over.ok && over.kind === 'fire' && over.fires[0]?.status === 'skipped');
  assert.match(d.table.getRun('over')?.reason ?? '', /function resize has 10000 queued runs, its limit/);

  const held: string[] = [];
  for (let i = 0; i * CLAIM_ITEMS_MAX < WORKER_HELD_MAX; i++) held.push(...claim(d, 'w', T0 + 3, CLAIM_ITEMS_MAX));
  assert.equal(held.length, WORKER_HELD_MAX);
  assert.equal(d.table.heldBy('w'), WORKER_HELD_MAX);
  assert.deepEqual(claim(d, 'w', T0 + 4, CLAIM_ITEMS_MAX), [], 'no more while it holds its limit');
  assert.equal(claim(d, 'other', T0 + 4, 2).length, 2, 'another worker still claims');
  d.apply(report('complete', held[0] ?? '', 'w', T0 + 5));
  assert.equal(d.table.heldBy('w'), WORKER_HELD_MAX - 1);
  assert.equal(claim(d, 'w', T0 + 6, CLAIM_ITEMS_MAX).length, 1, 'room for the one it let go');
  d.table.assertIndexesConsistent();
  const copy = JobTable.restore(d.table.snapshot());
  assert.equal(copy.heldBy('w'), WORKER_HELD_MAX);
  copy.assertIndexesConsistent();
});
