import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from './scheduler.js';
import { FakeHost, T0 } from '../../test/support/scheduler-host.js';
import { SKIP_REASONS } from './plan.js';
import { ChimeError } from '../errors/index.js';

const SEC = 1000;
const MIN = 60 * SEC;

function setup(nodes: string[] = ['n1', 'n2', 'n3'], seed = 11, options: ConstructorParameters<typeof Scheduler>[1] = {}): { host: FakeHost; scheduler: Scheduler } {
  const host = new FakeHost(seed);
  for (const id of nodes) host.addNode(id);
  const scheduler = new Scheduler(host, options);
  host.scheduler = scheduler;
  return { host, scheduler };
}

test('concurrency: forbid skips while a run is active, allow overlaps, replace kills the active run then runs', async () => {
  const { host, scheduler } = setup();
  host.behaviour = () => ({ durationMs: 25 * SEC, status: 'succeeded' });
  host.putJob('forbid', { schedule: '*/10 * * * * *' });
  host.putJob('allow', { schedule: '*/10 * * * * *', concurrency: 'allow' });
  host.putJob('replace', { schedule: '*/10 * * * * *', concurrency: 'replace' });
  scheduler.start(1);
  await host.clock.advance(60 * SEC + 500);
  const statuses = (id: string): string[] => host.records.filter((r) => r.jobId === id).map((r) => r.status);
  assert.deepEqual(statuses('forbid'), ['run', 'skipped', 'skipped', 'run', 'skipped', 'skipped']);
  assert.ok(host.records.filter((r) => r.jobId === 'forbid' && r.status === 'skipped').every((r) => r.reason === SKIP_REASONS.forbid));
  assert.deepEqual(statuses('allow'), ['run', 'run', 'run', 'run', 'run', 'run']);
  assert.deepEqual(statuses('replace'), ['run', 'run', 'run', 'run', 'run', 'run']);
  const replaceRuns = host.runsOf('replace');
  // Every replace run but the newest was killed for the next one, and the kill reached its node.
  for (const run of replaceRuns.slice(0, -1)) {
    assert.equal(run.status, 'killed', `${run.runId} replaced`);
    assert.equal(run.killRequested, 'replace');
    assert.ok(host.kills.some((k) => k.runId === run.runId && k.reason === 'replace' && k.node === run.executors[0]));
  }
  assert.equal(replaceRuns.at(-1)?.status, 'running');
  assert.equal(host.table().activeRunsOfJob('replace', 10).length, 1, 'never two replace runs for long');
  assert.ok(scheduler.metricsNow().replaceKills >= 5);
});

test('retries: failed runs retry after doubling backoff from finishedAt, continuing across a leader change', async () => {
  const { host, scheduler } = setup(['n1', 'n2'], 12, { retryJitter: 0 });
  host.behaviour = () => ({ durationMs: 100, status: 'failed' });
  host.putJob('flaky', { schedule: '@manual', retry: { max: 3, backoffMs: 2000, maxBackoffMs: 5000 } });
  scheduler.start(1);
  const { runId } = await host.settle(scheduler.runNow('flaky'));
  await host.clock.advance(2500); // attempt 1 fails at ~0.1 s; retry due at ~2.1 s
  const retried = host.table().getRun(runId);
  assert.equal(retried?.attempt, 2);
  scheduler.stop();
  await host.clock.advance(1500); // attempt 2 fails meanwhile; its report waits for a leader
  const second = new Scheduler(host, { retryJitter: 0 });
  host.scheduler = second;
  second.start(2);
  await host.clock.advance(30 * SEC);
  const run = host.table().getRun(runId);
  assert.ok(run);
  assert.equal(run.attempt, 4, 'three retries, then no more');
  assert.equal(run.status, 'failed');
  const attempts = [1, 2, 3, 4].map((a) => run.executions.find((e) => e.attempt === a));
  assert.ok(attempts.every((e) => e !== undefined));
  // Each retry's execute went out backoff·2^(n-1) (capped) after the previous attempt finished.
  const sentAt = (attempt: number): number => host.executes.find((e) => e.order.runId === runId && e.order.attempt === attempt)?.atMs ?? NaN;
  const finishedAt = (attempt: number): number => attempts[attempt - 1]?.finishedAt ?? NaN;
  assert.ok(sentAt(2) - finishedAt(1) >= 2000 && sentAt(2) - finishedAt(1) < 2100);
  assert.ok(sentAt(4) - finishedAt(3) >= 5000 && sentAt(4) - finishedAt(3) < 5100, 'capped at maxBackoffMs');
  // Attempt 3 was due 4 s after attempt 2 finished, although the leader changed in between.
  assert.ok(sentAt(3) - finishedAt(2) >= 4000 && sentAt(3) - finishedAt(2) < 4200, `${sentAt(3) - finishedAt(2)}`);
  assert.equal(host.table().runsAwaitingRetry(10).length, 0);
});

test('awaitRun follows a run through its retries and answers only with its final status', async () => {
  const { host, scheduler } = setup(['n1'], 13, { retryJitter: 0 });
  let attempts = 0;
  host.behaviour = () => ({ durationMs: 100, status: ++attempts < 3 ? 'failed' : 'succeeded' });
  host.putJob('twice-flaky', { schedule: '@manual', retry: { max: 3, backoffMs: 1000, maxBackoffMs: 1000 } });
  scheduler.start(1);
  await host.clock.advance(10 * SEC); // past the young-leader wait
  const { runId } = await host.settle(scheduler.runNow('twice-flaky'));
  const waited = scheduler.awaitRun(runId, 60 * SEC);
  await host.clock.advance(1500); // attempt 1 failed, its retry not yet due: the wait goes on
  let settled = false;
  void waited.then(() => void (settled = true));
  await host.clock.advance(1);
  assert.equal(settled, false, 'a failed attempt that will be retried does not end the wait');
  await host.clock.advance(10 * SEC);
  const result = await host.settle(waited);
  assert.equal(result.done, true);
  assert.equal(result.run?.status, 'succeeded');
  assert.equal(result.run?.attempt, 3);
});

test('lost: a node silent past the lease loses its run, which is retried elsewhere as a new attempt', async () => {
  const { host, scheduler } = setup(['n1', 'n2'], 13, { leaseMs: 3000 });
  host.behaviour = () => ({ durationMs: 60 * SEC, status: 'succeeded' });
  host.putJob('job', { schedule: '@manual', retry: { max: 1, backoffMs: 500 } });
  scheduler.start(1);
  const { runId } = await host.settle(scheduler.runNow('job'));
  await host.clock.advance(1 * SEC);
  const first = host.table().getRun(runId);
  assert.equal(first?.status, 'running');
  const victim = first?.executors[0] ?? '';
  host.crash(victim);
  await host.clock.advance(2 * SEC);
  assert.equal(host.table().getRun(runId)?.status, 'running', 'not lost before the lease ends');
  await host.clock.advance(3 * SEC);
  const run = host.table().getRun(runId);
  assert.equal(run?.attempt, 2, 'retried after the loss');
  assert.equal(run?.executions[0]?.status, 'lost');
  assert.notDeepEqual(run?.executors, [victim], 'the retry avoids the dead node');
  assert.equal(scheduler.metricsNow().lostDeclared, 1);
});

test('timeout backstop: a run past startedAt + timeoutMs + grace is killed (timeout), then recorded lost if its executor never answers', async () => {
  const { host, scheduler } = setup(['n1'], 14, { timeoutGraceMs: 2000, killWaitMs: 5000 });
  host.behaviour = (order) => (order.payload === 'silent' ? { durationMs: 0, status: 'succeeded', report: false } : { durationMs: 10 * MIN, status: 'succeeded' });
  host.putJob('slow', { schedule: '@manual', timeoutMs: 5000, concurrency: 'allow' });
  scheduler.start(1);
  const slow = await host.settle(scheduler.runNow('slow'));
  await host.clock.advance(6 * SEC);
  assert.equal(host.table().getRun(slow.runId)?.status, 'running', 'the grace is respected');
  await host.clock.advance(2 * SEC);
  assert.deepEqual(host.kills.map((k) => [k.runId, k.reason]), [[slow.runId, 'timeout']]);
  await host.clock.advance(1 * SEC);
  assert.equal(host.table().getRun(slow.runId)?.status, 'timed_out');
  // An executor that swallows the kill: the run is recorded lost after the kill wait.
  const silent = await host.settle(scheduler.runNow('slow', { payload: 'silent' }));
  host.sendKill = () => {};
  await host.clock.advance(8 * SEC);
  assert.equal(host.table().getRun(silent.runId)?.killRequested, 'timeout');
  await host.clock.advance(6 * SEC);
  assert.equal(host.table().getRun(silent.runId)?.status, 'lost');
});

test('after: a successful run triggers each enabled dependent once; a failed one does not', async () => {
  const { host, scheduler } = setup();
  host.behaviour = (order) => ({ durationMs: 50, status: order.payload === 'fail' ? 'failed' : 'succeeded' });
  host.putJob('up', { schedule: '@manual' });
  host.putJob('down1', { schedule: '@manual', after: ['up'] });
  host.putJob('down2', { schedule: '@manual', after: ['up'] });
  host.putJob('paused', { schedule: '@manual', after: ['up'], enabled: false });
  scheduler.start(1);
  const ok = await host.settle(scheduler.runNow('up'));
  await host.clock.advance(1 * SEC);
  await host.settle(scheduler.runNow('up', { payload: 'fail' }));
  await host.clock.advance(1 * SEC);
  const afterRecords = host.records.filter((r) => r.trigger === 'after');
  assert.deepEqual(afterRecords.map((r) => r.jobId).sort(), ['down1', 'down2']);
  for (const r of afterRecords) assert.equal(host.table().getRun(r.runId)?.key, ok.runId);
  // The recorded fires settled what the table owed: a new leader has nothing to propose.
  assert.equal(host.table().owedAfterCount, 0);
  scheduler.stop();
  const second = new Scheduler(host);
  host.scheduler = second;
  second.start(2);
  await host.clock.advance(1 * SEC);
  assert.equal(host.records.filter((r) => r.trigger === 'after').length, 2);
  assert.equal(second.metricsNow().owedAfterFires, 0);
});

test('manual: the same key returns the same run, awaitRun resolves when the run ends or times out', async () => {
  const { host, scheduler } = setup();
  host.behaviour = () => ({ durationMs: 3 * SEC, status: 'succeeded' });
  host.putJob('m', { schedule: '@manual', concurrency: 'allow' });
  scheduler.start(1);
  const first = await host.settle(scheduler.runNow('m', { key: 'k1', payload: 'p' }));
  const again = await host.settle(scheduler.runNow('m', { key: 'k1' }));
  const other = await host.settle(scheduler.runNow('m', { key: 'k2' }));
  assert.deepEqual([first.duplicate, first.status], [false, 'run']);
  assert.deepEqual(again, { runId: first.runId, duplicate: true, status: 'duplicate' });
  assert.notEqual(other.runId, first.runId);
  assert.equal(host.executes.filter((e) => e.order.runId === first.runId).length, 1);
  assert.equal(host.executes.find((e) => e.order.runId === first.runId)?.order.payload, 'p');
  const early = scheduler.awaitRun(first.runId, 1000);
  const late = scheduler.awaitRun(first.runId, 10_000);
  await host.clock.advance(1500);
  const timedOut = await early;
  assert.equal(timedOut.done, false);
  assert.equal(timedOut.run?.status, 'running');
  await host.clock.advance(3 * SEC);
  const done = await late;
  assert.equal(done.done, true);
  assert.equal(done.run?.status, 'succeeded');
  assert.deepEqual(await scheduler.awaitRun('nope', 10), { done: false, run: null });
  await assert.rejects(scheduler.runNow('missing'), (e: unknown) => e instanceof ChimeError && e.code === 'JOB_NOT_FOUND');
  scheduler.stop();
  await assert.rejects(scheduler.runNow('m'), (e: unknown) => e instanceof ChimeError && e.code === 'NOT_LEADER');
});

test('kill on request: recorded first, then sent; the run ends killed and is not retried', async () => {
  const { host, scheduler } = setup();
  host.behaviour = () => ({ durationMs: 10 * MIN, status: 'succeeded' });
  host.putJob('k', { schedule: '@manual', retry: { max: 3 } });
  scheduler.start(1);
  const { runId } = await host.settle(scheduler.runNow('k'));
  await host.clock.advance(1 * SEC);
  const result = await host.settle(scheduler.killRun(runId));
  assert.ok(result.ok);
  assert.equal(host.kills.length, 1, 'sent after the killRun applied');
  await host.clock.advance(5 * SEC);
  const run = host.table().getRun(runId);
  assert.equal(run?.status, 'killed');
  assert.equal(run?.attempt, 1);
  const again = await host.settle(scheduler.killRun(runId));
  assert.ok(!again.ok && again.code === 'RUN_NOT_ACTIVE');
});

test('placement: leader, any (least loaded), all, tags with and without count; no eligible node records a skip with a reason', async () => {
  const { host, scheduler } = setup([]);
  host.addNode('n1', { tags: { zone: 'a' } });
  host.addNode('n2', { tags: { zone: 'b', gpu: 'yes' } });
  host.addNode('n3', { tags: { zone: 'b' } });
  host.behaviour = () => ({ durationMs: 10 * MIN, status: 'succeeded' });
  host.putJob('lead', { schedule: '@manual', target: { mode: 'leader' }, concurrency: 'allow' });
  host.putJob('any', { schedule: '@manual', concurrency: 'allow' });
  host.putJob('all', { schedule: '@manual', target: { mode: 'all' } });
  host.putJob('zoneb', { schedule: '@manual', target: { mode: 'tags', tags: { zone: 'b' } } });
  host.putJob('one-b', { schedule: '@manual', target: { mode: 'tags', tags: { zone: 'b' }, count: 1 } });
  host.putJob('gpu-c', { schedule: '@manual', target: { mode: 'tags', tags: { gpu: 'no' } } });
  scheduler.start(1);
  await host.clock.advance(10 * SEC); // past the young-leader wait
  const executorsOf = async (job: string): Promise<readonly string[]> => {
    const { runId } = await host.settle(scheduler.runNow(job));
    return host.table().getRun(runId)?.executors ?? [];
  };
  assert.deepEqual(await executorsOf('lead'), ['n1']);
  assert.deepEqual(await executorsOf('all'), ['n1', 'n2', 'n3']);
  assert.deepEqual(await executorsOf('zoneb'), ['n2', 'n3']);
  assert.equal((await executorsOf('one-b')).length, 1);
  // n1 holds 2, n2 2 or 3, n3 2 or 3: each `any` goes to a least loaded node, so three of
  // them leave every node within one run of the others, whichever way ties fall.
  const loadOf = (node: string) => host.table().activeRunsOnNode(node, 1000).length;
  for (let i = 0; i < 3; i++) {
    const before = new Map(['n1', 'n2', 'n3'].map((n) => [n, loadOf(n)]));
    const [chosen] = await executorsOf('any');
    assert.equal(before.get(chosen ?? ''), Math.min(...before.values()), `any went to a least loaded node (${chosen} of ${JSON.stringify([...before])})`);
  }
  const loads = ['n1', 'n2', 'n3'].map(loadOf);
  assert.ok(Math.max(...loads) - Math.min(...loads) <= 1, `balanced: ${loads.join(',')}`);
  const skipped = await host.settle(scheduler.runNow('gpu-c'));
  assert.equal(skipped.status, 'skipped');
  assert.match(host.table().getRun(skipped.runId)?.reason ?? '', /no eligible executor: no node has tags/);
});

test('slots and priority: when slots are short the higher priority runs first; the others wait, then run as slots free up', async () => {
  const { host, scheduler } = setup(['n1'], 15);
  host.nodes.get('n1')!.slots = 2;
  host.behaviour = () => ({ durationMs: 5 * SEC, status: 'succeeded' });
  for (const [id, priority] of [['low1', 1], ['low2', 1], ['high', 9], ['mid', 5]] as const) {
    host.putJob(id, { schedule: '0 * * * * *', priority, concurrency: 'allow' });
  }
  scheduler.start(1);
  await host.clock.advance(MIN - 2 * SEC); // nothing due yet; executors have reported
  await host.clock.advance(3 * SEC);
  const first = host.records.filter((r) => r.status === 'run').map((r) => r.jobId).sort();
  assert.deepEqual(first, ['high', 'mid']);
  assert.equal(scheduler.metricsNow().waitingForCapacity, 2);
  await host.clock.advance(5 * SEC);
  assert.deepEqual(host.records.filter((r) => r.status === 'run').map((r) => r.jobId).slice(2).sort(), ['low1', 'low2']);
  // The waiting ones started late but in order, and each instant has exactly one record.
  assert.equal(new Set(host.records.map((r) => `${r.jobId}@${r.scheduledAt}`)).size, host.records.length);
  assert.ok(host.records.every((r) => r.status === 'run'));
});

test('a young leader waits for silent nodes before placing `all` runs, then places them on every node', async () => {
  const { host, scheduler } = setup(['n1', 'n2'], 16, { leaseMs: 3000 });
  host.nodes.get('n2')!.alive = false;
  host.putJob('everywhere', { schedule: '@every 1s', target: { mode: 'all' }, concurrency: 'allow', misfire: { policy: 'fire-all', windowMs: MIN } });
  scheduler.start(1);
  await host.clock.advance(1500);
  assert.equal(host.records.length, 0, 'waits: n2 may just not have reported yet');
  host.nodes.get('n2')!.alive = true;
  await host.clock.advance(1000);
  assert.ok(host.records.length >= 2);
  assert.ok(host.records.every((r) => host.table().getRun(r.runId)?.executors.length === 2));
});

test('an executor refusal fails the execution (then the retry policy decides); deleting a job kills its active runs', async () => {
  const { host, scheduler } = setup(['n1'], 17);
  host.behaviour = () => ({ durationMs: 10 * MIN, status: 'succeeded' });
  host.putJob('r', { schedule: '@manual', retry: { max: 1, backoffMs: 100 } });
  scheduler.start(1);
  const { runId } = await host.settle(scheduler.runNow('r'));
  scheduler.onExecuteRefused('n1', runId, 1, 'no_slot');
  await host.clock.advance(1 * SEC);
  const run = host.table().getRun(runId);
  assert.equal(run?.executions[0]?.status, 'failed');
  assert.match(run?.executions[0]?.error ?? '', /refused the run: no_slot/);
  assert.equal(run?.attempt, 2, 'retried');
  host.apply({ type: 'deleteJob', id: 'r', at: host.clock.nowMs });
  assert.deepEqual(host.kills.map((k) => [k.runId, k.attempt, k.reason]), [[runId, 2, 'request']]);
});

test('manual runs with large payloads are split so every fire command stays under the 2 MiB limit', async () => {
  const { host, scheduler } = setup(['n1'], 18);
  host.nodes.get('n1')!.slots = 100;
  host.putJob('big', { schedule: '@manual', concurrency: 'allow' });
  scheduler.start(1);
  const payload = 'é'.repeat(30_000); // 60,000 UTF-8 bytes
  const results = await host.settle(Promise.all(Array.from({ length: 40 }, () => scheduler.runNow('big', { payload }))));
  assert.equal(new Set(results.map((r) => r.runId)).size, 40);
  assert.ok(results.every((r) => r.status === 'run'));
  const fireCommands = host.proposed.filter((c) => c.type === 'fire');
  assert.ok(fireCommands.length >= 3, `split into ${fireCommands.length} commands`);
});

test('reports: a resent copy of a report in flight joins its proposal instead of proposing again', async () => {
  const { host, scheduler } = setup();
  scheduler.start(1);
  host.applyDelayMs = 2 * SEC; // commits slower than the executors' one-second resend
  const report = { kind: 'started', runId: 'r-1', attempt: 1, node: 'n2', atMs: T0 } as const;
  const first = scheduler.onReport(report);
  const second = scheduler.onReport(report);
  await host.clock.advance(3 * SEC);
  assert.deepEqual(await Promise.all([first, second]), [true, true]);
  const proposedReports = () => host.proposed.flatMap((c) => (c.type === 'runReports' ? c.reports : []));
  assert.equal(proposedReports().length, 1);
  const third = scheduler.onReport(report);
  await host.clock.advance(3 * SEC);
  assert.equal(await third, true);
  assert.equal(proposedReports().length, 2, 'once settled, a new copy is proposed again');
});

test('reports: those arriving within the batch window share one runReports entry, in arrival order', async () => {
  const { host, scheduler } = setup();
  scheduler.start(1);
  const reports = Array.from({ length: 5 }, (_, i) => ({ kind: 'started', runId: `r-${i}`, attempt: 1, node: 'n2', atMs: T0 + i }) as const);
  const recorded = reports.map((r) => scheduler.onReport(r));
  const finished = scheduler.onReport({ kind: 'finished', runId: 'r-0', attempt: 1, node: 'n2', atMs: T0 + 9, startedAtMs: T0, status: 'succeeded', exitCode: 0, output: '', outputTruncated: false, error: null });
  await host.clock.advance(SEC);
  assert.deepEqual(await Promise.all([...recorded, finished]), [true, true, true, true, true, true]);
  const batches = host.proposed.filter((c) => c.type === 'runReports');
  assert.equal(batches.length, 1);
  assert.deepEqual(batches[0]?.type === 'runReports' ? batches[0].reports.map((r) => `${r.kind}:${r.runId}`) : [], [...reports.map((r) => `started:${r.runId}`), 'finished:r-0']);
  // A refused execute becomes a failed report in the same kind of entry.
  scheduler.onExecuteRefused('n2', 'r-7', 1, 'no_slot');
  await host.clock.advance(SEC);
  const last = host.proposed.at(-1);
  assert.ok(last?.type === 'runReports' && last.reports[0]?.kind === 'finished' && last.reports[0].status === 'failed');
});

test('reports: waiting reports are left unrecorded when leadership ends, so the executor resends them', async () => {
  const { host, scheduler } = setup();
  scheduler.start(1);
  const pending = scheduler.onReport({ kind: 'started', runId: 'r-1', attempt: 1, node: 'n2', atMs: T0 });
  scheduler.stop();
  assert.equal(await pending, false);
  await host.clock.advance(SEC);
  assert.equal(host.proposed.filter((c) => c.type === 'runReports').length, 0);
});
