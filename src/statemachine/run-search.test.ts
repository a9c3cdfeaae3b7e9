import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FinishedReport } from './commands.js';
import { RUN_SEARCH_SCAN_MAX } from './run-search.js';
import { SortedSet } from './sorted-set.js';
import { JobTable } from './table.js';
import type { RunRecord, RunStatus, Trigger } from './types.js';
import { Driver, T0, scheduled } from '../../test/support/job-table.js';
import { seededFloat } from '../../test/support/prng.js';

const MIN = 60_000;
const NODES = ['n1', 'n2', 'n3'];
const FINALS: RunStatus[] = ['succeeded', 'failed', 'timed_out', 'killed', 'lost'];

function finished(runId: string, attempt: number, node: string, at: number, status: RunStatus): FinishedReport {
  if (status === 'pending' || status === 'running' || status === 'skipped') throw new Error('not a final status');
  return { kind: 'finished', runId, attempt, node, at, startedAt: at - 5, status, exitCode: 0, output: '', outputTruncated: false, error: null };
}

type Query = { jobId?: string; status?: RunStatus; trigger?: Trigger; node?: string; sinceMs?: number; untilMs?: number };

function allPages(table: JobTable, q: Query, limit: number): RunRecord[] {
  const out: RunRecord[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = table.searchRuns(q, { limit, cursor });
    assert.ok(page.ok);
    out.push(...page.items);
    cursor = page.nextCursor;
    if (cursor === null) return out;
  }
  assert.fail('paging did not end');
}

function brute(table: JobTable, runs: readonly string[], q: Query): string[] {
  return runs.map((id) => table.getRun(id)).filter((r): r is RunRecord => r !== null)
    .filter((r) => (q.jobId === undefined || r.jobId === q.jobId) && (q.status === undefined || r.status === q.status)
      && (q.trigger === undefined || r.trigger === q.trigger) && (q.node === undefined || r.executions.some((e) => e.node === q.node))
      && (q.sinceMs === undefined || r.scheduledAt >= q.sinceMs) && (q.untilMs === undefined || r.scheduledAt < q.untilMs))
    .sort((a, b) => b.seq - a.seq).map((r) => r.runId);
}

test('valuesBefore walks a sorted set backwards from any key', () => {
  const set = new SortedSet<number>((a, b) => a - b);
  set.fill(Array.from({ length: 2000 }, (_, i) => i * 2), true);
  assert.deepEqual([...set.valuesBefore(7)], [6, 4, 2, 0]);
  assert.deepEqual([...set.valuesBefore(6)].slice(0, 2), [4, 2]);
  assert.deepEqual([...set.valuesBefore()].slice(0, 2), [3998, 3996]);
  assert.deepEqual([...set.valuesBefore(1024)].slice(0, 2), [1022, 1020]);
  assert.equal([...set.valuesBefore(99_999)].length, 2000);
  assert.deepEqual([...set.valuesBefore(0)], []);
});

test('search across jobs equals a filter over every run, for random histories, filters and page sizes', () => {
  const random = seededFloat(20261206);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] ?? assert.fail('empty');
  const d = new Driver();
  const jobs = ['a', 'b', 'c', 'd'];
  for (const id of jobs) d.put(id, T0, { concurrency: 'allow', history: 40, retry: { max: 1, backoffMs: 1000 } });
  const runs: string[] = [];
  let at = T0;
  for (let i = 0; i < 400; i++) {
    at += 5 * MIN;
    const jobId = pick(jobs);
    const runId = `r${i}`;
    const trigger: Trigger = random() < 0.7 ? 'schedule' : 'manual';
    const node = pick(NODES);
    d.fire(at, { ...scheduled(jobId, runId, trigger === 'schedule' ? at : at - 3 * MIN, { executors: [node] }), trigger, ...(trigger === 'manual' ? { key: runId } : {}) });
    runs.push(runId);
    const fate = random();
    if (fate < 0.1) continue; // stays pending
    if (fate < 0.2) d.apply({ type: 'runStarted', runId, attempt: 1, node, at: at + 1 });
    else {
      const status = pick(FINALS);
      d.apply({ type: 'runReports', at: at + 10, reports: [finished(runId, 1, node, at + 10, status)] });
      if ((status === 'failed' || status === 'lost') && random() < 0.5) {
        const other = pick(NODES);
        d.apply({ type: 'retryRun', runId, attempt: 2, executors: [other], notBefore: null, at: at + 20 });
        if (random() < 0.7) d.apply({ type: 'runReports', at: at + 30, reports: [finished(runId, 2, other, at + 30, pick(FINALS))] });
      }
    }
  }
  d.table.assertIndexesConsistent();
  const restored = JobTable.restore(d.table.snapshot());
  restored.assertIndexesConsistent();
  for (let k = 0; k < 150; k++) {
    const q: Query = {};
    if (random() < 0.3) q.jobId = pick(jobs);
    if (random() < 0.4) q.status = pick<RunStatus>(['pending', 'running', ...FINALS]);
    if (random() < 0.3) q.trigger = pick<Trigger>(['schedule', 'manual']);
    if (random() < 0.3) q.node = pick([...NODES, 'n9']);
    if (random() < 0.3) q.sinceMs = T0 + Math.floor(random() * 400) * 5 * MIN;
    if (random() < 0.2) q.untilMs = T0 + Math.floor(random() * 400) * 5 * MIN;
    const limit = 1 + Math.floor(random() * 30);
    const expected = brute(d.table, runs, q);
    assert.deepEqual(allPages(d.table, q, limit).map((r) => r.runId), expected, JSON.stringify({ q, limit }));
    assert.deepEqual(allPages(restored, q, limit).map((r) => r.runId), expected, 'a restored table answers the same');
  }
});

test('a rare status among many runs is found through its index, not by scanning every run', () => {
  const d = new Driver();
  const total = RUN_SEARCH_SCAN_MAX + 5000;
  const jobs = Math.ceil(total / 1000);
  for (let j = 0; j < jobs; j++) d.put(`j${j}`, T0, { concurrency: 'allow', history: 1000 });
  let at = T0;
  for (let i = 0; i < total; i++) {
    at += 1000;
    const runId = `r${i}`;
    d.fire(at, { ...scheduled(`j${i % jobs}`, runId, at), trigger: 'manual', key: runId });
    d.apply({ type: 'runReports', at, reports: [finished(runId, 1, 'n1', at, i === 7 ? 'timed_out' : 'succeeded')] });
  }
  assert.equal(d.table.runCount, total);
  const page = d.table.searchRuns({ status: 'timed_out' }, { limit: 10 });
  assert.ok(page.ok);
  assert.deepEqual(page.items.map((r) => r.runId), ['r7']);
  assert.equal(page.nextCursor, null, 'found in one page: the walk did not pass the scan bound');
  // A filter with no index of its own (trigger) over the same runs ends a page at the scan bound, with a cursor.
  const scan = d.table.searchRuns({ trigger: 'schedule' }, { limit: 10 });
  assert.ok(scan.ok);
  assert.equal(scan.items.length, 0);
  assert.notEqual(scan.nextCursor, null);
  // `since` stops the walk once fire times are well before it.
  const recent = d.table.searchRuns({ sinceMs: at - 30_000, trigger: 'schedule' }, { limit: 10 });
  assert.ok(recent.ok);
  assert.equal(recent.nextCursor, null);
});
