import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateJobSpec, type Job } from '../statemachine/index.js';
import { retryDelayMs } from './backoff.js';
import { TimedHeap } from './heap.js';
import { applyConcurrency, planInstants, SKIP_REASONS } from './plan.js';
import { LoadView, place } from './placement.js';
import { runReportOf } from './reports.js';
import { T0 } from '../../test/support/scheduler-host.js';
import { seededFloat as prng } from '../../test/support/prng.js';
import type { ExecutorNode } from './types.js';

const SEC = 1000;
const MIN = 60 * SEC;

function job(fields: Record<string, unknown>, nextFireAt: number | null): Job {
  const checked = validateJobSpec('j', { executor: { type: 'shell', command: 'true' }, ...fields });
  assert.ok(checked.ok);
  return { ...checked.spec, createdAt: T0, updatedAt: T0, createRevision: 1, revision: 1, lastScheduledAt: null, nextFireAt };
}

const timing = (nowMs: number) => ({ nowMs, fireLeadMs: 100, catchUpMs: MIN });

test('plan: due instants within the lead fire as schedule; nothing before the lead', () => {
  const j = job({ schedule: '* * * * * *' }, T0 + SEC);
  assert.deepEqual(planInstants(j, timing(T0 + 800), 10), []);
  assert.deepEqual(planInstants(j, timing(T0 + 900), 10), [{ kind: 'run', scheduledAt: T0 + SEC, trigger: 'schedule' }]);
  // A 3 s gap: every instant, late, as schedule.
  assert.deepEqual(planInstants(j, timing(T0 + 3950), 10).map((r) => [r.kind, r.scheduledAt - T0, r.trigger]), [
    ['run', 1000, 'schedule'], ['run', 2000, 'schedule'], ['run', 3000, 'schedule'], ['run', 4000, 'schedule'],
  ]);
});

test('plan: an outage follows the misfire policy; bounded plans never claim the newest missed instant too early', () => {
  const now = T0 + 10 * MIN + 30 * SEC;
  const at = (fields: Record<string, unknown>, max = 100) => planInstants(job({ schedule: '* * * * *', ...fields }, T0 + MIN), timing(now), max);
  const once = at({ misfire: { policy: 'fire-once', windowMs: 5 * MIN } });
  assert.equal(once.length, 10);
  assert.deepEqual(once.filter((r) => r.kind === 'run').map((r) => [r.scheduledAt - T0, r.trigger]), [[10 * MIN, 'misfire']]);
  assert.deepEqual(once.filter((r) => r.kind === 'skip' && r.reason === SKIP_REASONS.outsideWindow).map((r) => r.scheduledAt - T0), [1, 2, 3, 4, 5].map((m) => m * MIN));
  const truncated = at({ misfire: { policy: 'fire-once', windowMs: 5 * MIN } }, 4);
  assert.ok(truncated.length === 4 && truncated.every((r) => r.kind === 'skip'), 'the newest missed instant is beyond this pass');
  const all = at({ misfire: { policy: 'fire-all', windowMs: 5 * MIN } });
  assert.deepEqual(all.filter((r) => r.kind === 'run').map((r) => r.scheduledAt - T0), [6, 7, 8, 9, 10].map((m) => m * MIN));
  assert.ok(at({ misfire: { policy: 'skip', windowMs: 5 * MIN } }).every((r) => r.kind === 'skip'));
});

test('concurrency: forbid with an active run skips; forbid/replace keep one run per pass; allow keeps all', () => {
  const plan = [
    { kind: 'skip', scheduledAt: 1, trigger: 'misfire', reason: 'x' },
    { kind: 'run', scheduledAt: 2, trigger: 'misfire' },
    { kind: 'run', scheduledAt: 3, trigger: 'schedule' },
  ] as const;
  assert.equal(applyConcurrency(plan, 'allow', true).length, 3);
  assert.deepEqual(applyConcurrency(plan, 'forbid', false).map((r) => r.scheduledAt), [1, 2]);
  assert.deepEqual(applyConcurrency(plan, 'replace', true).map((r) => r.scheduledAt), [1, 2]);
  assert.ok(applyConcurrency(plan, 'forbid', true).every((r) => r.kind === 'skip'));
});

function node(id: string, fields: Partial<ExecutorNode> = {}): ExecutorNode {
  return { id, tags: {}, slots: 2, runningCount: 0, alive: true, lastHeartbeatMs: T0, ...fields };
}

test('placement: slots count table load and heartbeats; waits when full; none when nothing matches', () => {
  const nodes = [node('a'), node('b', { runningCount: 1 }), node('c', { alive: false })];
  const view = new LoadView({ nodes, activeCountOf: (id) => (id === 'a' ? 1 : 0), selfId: 'a', young: false, random: prng(1) });
  assert.deepEqual(place({ mode: 'leader' }, view), { kind: 'nodes', nodes: ['a'] });
  assert.deepEqual(place({ mode: 'any' }, view), { kind: 'nodes', nodes: ['b'] }, 'a is now full (1 active + 1 assigned)');
  assert.equal(place({ mode: 'any' }, view).kind, 'wait');
  assert.equal(place({ mode: 'leader' }, view).kind, 'wait');
  assert.equal(place({ mode: 'tags', tags: { x: 'y' } }, view).kind, 'none');
  const fresh = new LoadView({ nodes, activeCountOf: () => 0, selfId: 'z', young: false, random: prng(2) });
  assert.equal(place({ mode: 'leader' }, fresh).kind, 'none');
  assert.deepEqual(place({ mode: 'all' }, fresh), { kind: 'nodes', nodes: ['a', 'b'] }, 'every alive node');
  const young = new LoadView({ nodes, activeCountOf: () => 0, selfId: 'a', young: true, random: prng(3) });
  assert.equal(place({ mode: 'all' }, young).kind, 'wait', 'a young leader waits for c to report');
  const empty = new LoadView({ nodes: [], activeCountOf: () => 0, selfId: 'a', young: false, random: prng(4) });
  assert.equal(place({ mode: 'any' }, empty).kind, 'none');
});

test('placement: a young leader that has not heard from a node waits for its tags instead of skipping', () => {
  const nodes = [node('a', { tags: { zone: 'a' } }), node('b', { tags: {}, alive: false, lastHeartbeatMs: null })];
  const young = new LoadView({ nodes, activeCountOf: () => 0, selfId: 'a', young: true, random: prng(5) });
  assert.equal(place({ mode: 'tags', tags: { zone: 'b' } }, young).kind, 'wait', 'b may carry zone=b');
  assert.equal(place({ mode: 'tags', tags: { zone: 'b' }, count: 1 }, young).kind, 'wait');
  assert.deepEqual(place({ mode: 'tags', tags: { zone: 'a' }, count: 1 }, young), { kind: 'nodes', nodes: ['a'] }, 'enough known matches');
  const old = new LoadView({ nodes, activeCountOf: () => 0, selfId: 'a', young: false, random: prng(6) });
  assert.equal(place({ mode: 'tags', tags: { zone: 'b' } }, old).kind, 'none', 'after a lease, a silent node is not waited for');
});

test('backoff doubles, caps and jitters within bounds', () => {
  const retry = { max: 5, backoffMs: 1000, maxBackoffMs: 5000 };
  assert.deepEqual([1, 2, 3, 4].map((a) => retryDelayMs(retry, a, 0, () => 0.5)), [1000, 2000, 4000, 5000]);
  const next = prng(9);
  for (let i = 0; i < 100; i++) {
    const d = retryDelayMs(retry, 2, 0.1, next);
    assert.ok(d >= 1800 && d <= 2200);
  }
});

test('heap: pops in due order, refuses beyond capacity', () => {
  const heap = new TimedHeap<{ dueMs: number }>(3);
  for (const dueMs of [5, 1, 3]) assert.ok(heap.push({ dueMs }));
  assert.equal(heap.push({ dueMs: 0 }), false);
  assert.equal(heap.popDue(0), undefined);
  assert.deepEqual([heap.popDue(9)?.dueMs, heap.popDue(9)?.dueMs, heap.popDue(9)?.dueMs, heap.popDue(9)], [1, 3, 5, undefined]);
});

test('reports: malformed ones are refused with null; lost keeps the executor error; output is bounded', () => {
  assert.equal(runReportOf({ kind: 'started', runId: 5, attempt: 1, node: 'n1', atMs: 1 } as never, T0), null);
  assert.equal(runReportOf({ kind: 'weird' } as never, T0), null);
  const lost = runReportOf({ kind: 'lost', runId: 'r', attempt: 1, node: 'n1', atMs: -5, error: 'executor restarted' }, T0);
  assert.deepEqual(lost, { kind: 'finished', runId: 'r', attempt: 1, node: 'n1', at: T0, startedAt: null, status: 'lost', exitCode: null, output: '', outputTruncated: false, error: 'executor restarted' });
  const big = runReportOf({ kind: 'finished', runId: 'r', attempt: 1, node: 'n1', atMs: T0, status: 'failed', exitCode: 2, output: 'x'.repeat(70_000), outputTruncated: false, error: null }, T0);
  assert.ok(big !== null && big.kind === 'finished' && big.output.length === 65_536 && big.outputTruncated && big.startedAt === null);
  // The start rides along with the end; a start after the end (a clock step) is dropped.
  const short = runReportOf({ kind: 'finished', runId: 'r', attempt: 1, node: 'n1', atMs: T0, startedAtMs: T0 - 3, status: 'succeeded', exitCode: 0, output: '', outputTruncated: false, error: null }, T0);
  assert.equal(short?.kind === 'finished' ? short.startedAt : 'no', T0 - 3);
  const skewed = runReportOf({ kind: 'finished', runId: 'r', attempt: 1, node: 'n1', atMs: T0, startedAtMs: T0 + 3, status: 'succeeded', exitCode: 0, output: '', outputTruncated: false, error: null }, T0);
  assert.equal(skewed?.kind === 'finished' ? skewed.startedAt : 'no', null);
});

test('heap retain keeps only accepted entries, still in due order', () => {
  const heap = new TimedHeap<{ dueMs: number }>(5);
  for (const dueMs of [9, 2, 7, 4, 5]) heap.push({ dueMs });
  heap.retain((e) => e.dueMs % 2 === 1);
  assert.equal(heap.size, 3);
  assert.deepEqual([heap.popDue(99)?.dueMs, heap.popDue(99)?.dueMs, heap.popDue(99)?.dueMs], [5, 7, 9]);
});
