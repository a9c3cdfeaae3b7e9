import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCommand, encodeCommand } from './codec.js';
import type { Command, FinishedReport, RunReport } from './commands.js';
import { ChimeError } from '../errors/index.js';
import { REPORTS_PER_BATCH_MAX } from './limits.js';
import type { ApplyResult } from './results.js';
import { assertRunIndexes } from './run-indexes.js';
import { JobTable } from './table.js';
import { Driver, T0, scheduled } from '../../test/support/job-table.js';

const MIN = 60_000;

function finished(runId: string, at: number, extra: Partial<FinishedReport> = {}): FinishedReport {
  return { kind: 'finished', runId, attempt: 1, node: 'n1', at, startedAt: null, status: 'succeeded', exitCode: 0, output: 'ok', outputTruncated: false, error: null, ...extra };
}
function started(runId: string, at: number, node = 'n1'): RunReport {
  return { kind: 'started', runId, attempt: 1, node, at };
}
function results(result: ApplyResult): readonly ApplyResult[] {
  assert.ok(result.ok && result.kind === 'reports', `not a reports result: ${JSON.stringify(result)}`);
  return result.results;
}
/** Two jobs, each with a pending run due at T0 + 5 min (r1 on n1, r2 on n1 and n2). */
function driverWithRuns(): Driver {
  const d = new Driver();
  d.put('a', T0);
  d.put('b', T0);
  d.fire(T0 + 5 * MIN, scheduled('a', 'r1', T0 + 5 * MIN), scheduled('b', 'r2', T0 + 5 * MIN, { executors: ['n1', 'n2'] }));
  return d;
}

test('runReports applies each report in order with runStarted/runFinished semantics', () => {
  const batched = driverWithRuns();
  const single = driverWithRuns();
  const reports: RunReport[] = [started('r1', T0 + 5 * MIN + 1), started('r2', T0 + 5 * MIN + 2, 'n2'), finished('r1', T0 + 5 * MIN + 9), finished('r2', T0 + 5 * MIN + 10, { node: 'n2', status: 'failed', exitCode: 2 })];
  const out = results(batched.apply({ type: 'runReports', at: T0 + 6 * MIN, reports }));
  assert.deepEqual(out.map((r) => (r.ok && r.kind === 'run' ? r.run.status : r.ok ? r.kind : r.code)), ['running', 'running', 'succeeded', 'running']);
  // The same records as one command per report.
  for (const r of reports) {
    if (r.kind === 'started') single.apply({ type: 'runStarted', runId: r.runId, attempt: r.attempt, node: r.node, at: r.at });
    else single.apply({ type: 'runFinished', runId: r.runId, attempt: r.attempt, node: r.node, at: r.at, status: r.status, exitCode: r.exitCode, output: r.output, outputTruncated: r.outputTruncated, error: r.error });
  }
  for (const id of ['r1', 'r2']) assert.deepEqual(batched.table.getRun(id), single.table.getRun(id));
  for (const id of ['a', 'b']) assert.deepEqual(batched.table.getJob(id), single.table.getJob(id));
  assertRunIndexes(batched.table['state']);
});

test('a finished report carrying startedAt records the start of a never-reported execution', () => {
  const d = driverWithRuns();
  const [result] = results(d.apply({ type: 'runReports', at: T0 + 6 * MIN, reports: [finished('r1', T0 + 5 * MIN + 20, { startedAt: T0 + 5 * MIN + 3 })] }));
  assert.ok(result?.ok && result.kind === 'run');
  const run = d.table.getRun('r1');
  assert.equal(run?.status, 'succeeded');
  assert.equal(run?.startedAt, T0 + 5 * MIN + 3);
  assert.equal(run?.finishedAt, T0 + 5 * MIN + 20);
  assert.equal(run?.executions[0]?.startedAt, T0 + 5 * MIN + 3);
  // A start reported earlier wins: startedAt in a later finished report does not move it.
  d.apply({ type: 'runReports', at: T0 + 6 * MIN, reports: [started('r2', T0 + 5 * MIN + 1)] });
  d.apply({ type: 'runReports', at: T0 + 6 * MIN, reports: [finished('r2', T0 + 5 * MIN + 30, { startedAt: T0 + 5 * MIN + 7 })] });
  assert.equal(d.table.getRun('r2')?.executions[0]?.startedAt, T0 + 5 * MIN + 1);
});

test('duplicates, stale and unknown reports inside a batch are no-ops and do not stop the rest', () => {
  const d = driverWithRuns();
  const out = results(d.apply({
    type: 'runReports', at: T0 + 6 * MIN, reports: [
      finished('r1', T0 + 5 * MIN + 9, { startedAt: T0 + 5 * MIN }),
      finished('r1', T0 + 5 * MIN + 9, { startedAt: T0 + 5 * MIN, status: 'failed' }), // resent copy
      started('r1', T0 + 5 * MIN + 1), // late started after the end
      started('nope', T0),
      { ...started('r2', T0), attempt: 2 },
      started('r2', T0 + 5 * MIN + 4, 'n9'),
      started('r2', T0 + 5 * MIN + 4, 'n2'),
    ],
  }));
  assert.deepEqual(out.map((r) => (r.ok && r.kind === 'noop' ? r.code : r.ok && r.kind === 'run' ? r.run.status : '?')),
    ['succeeded', 'DUPLICATE_REPORT', 'DUPLICATE_REPORT', 'RUN_NOT_FOUND', 'STALE_ATTEMPT', 'NOT_AN_EXECUTOR', 'running']);
  assert.equal(d.table.getRun('r1')?.status, 'succeeded', 'the resent failed copy changed nothing');
  // The same batch again (a retried proposal that committed twice): all no-ops, nothing changes.
  const batch: Command = { type: 'runReports', at: T0 + 7 * MIN, reports: [finished('r1', T0 + 5 * MIN + 9), started('r2', T0 + 5 * MIN + 4, 'n2')] };
  const before = [d.table.getRun('r1'), d.table.getRun('r2')];
  assert.deepEqual(results(d.apply(batch)).map((r) => (r.ok && r.kind === 'noop' ? r.code : '?')), ['DUPLICATE_REPORT', 'DUPLICATE_REPORT']);
  assert.deepEqual([d.table.getRun('r1'), d.table.getRun('r2')], before);
});

test('runReports survives encode/decode and snapshot/restore; restored tables apply the rest identically', () => {
  const d = driverWithRuns();
  const first: Command = { type: 'runReports', at: T0 + 6 * MIN, reports: [started('r2', T0 + 5 * MIN + 1, 'n2'), finished('r1', T0 + 5 * MIN + 9, { startedAt: T0 + 5 * MIN + 2 })] };
  const decoded = decodeCommand(encodeCommand(first));
  assert.deepEqual(decoded, first);
  d.apply(decoded);
  const restored = new Driver(JobTable.restore(d.table.snapshot()));
  restored.index = d.index;
  assert.deepEqual(Buffer.from(restored.table.snapshot()), Buffer.from(d.table.snapshot()));
  const rest: Command = { type: 'runReports', at: T0 + 7 * MIN, reports: [finished('r2', T0 + 5 * MIN + 30, { node: 'n2' }), started('r2', T0 + 5 * MIN + 31)] };
  d.apply(rest);
  restored.apply(rest);
  assert.deepEqual(Buffer.from(restored.table.snapshot()), Buffer.from(d.table.snapshot()));
  assert.equal(d.table.getRun('r2')?.status, 'running', 'n1 still runs r2');
  assertRunIndexes(restored.table['state']);
});

test('malformed runReports are refused with a clear error', () => {
  const bad = (value: unknown): string => {
    try {
      decodeCommand(encodeCommand(value as Command));
    } catch (error) {
      assert.ok(error instanceof ChimeError);
      return error.message;
    }
    assert.fail('accepted a malformed command');
  };
  assert.match(bad({ type: 'runReports', at: T0, reports: [] }), /1 to 1000 reports/);
  assert.match(bad({ type: 'runReports', at: T0, reports: Array.from({ length: REPORTS_PER_BATCH_MAX + 1 }, () => started('r1', T0)) }), /1 to 1000 reports/);
  assert.match(bad({ type: 'runReports', at: T0, reports: [{ ...started('r1', T0), kind: 'lost' }] }), /reports\[0\]: kind/);
  assert.match(bad({ type: 'runReports', at: T0, reports: [started('r1', T0), { ...started('r1', T0), startedAt: T0 }] }), /reports\[1\]: a started report has unknown fields/);
  assert.match(bad({ type: 'runReports', at: T0, reports: [finished('r1', T0, { startedAt: -1 })] }), /startedAt is invalid/);
  assert.match(bad({ type: 'runReports', at: T0, reports: [{ ...finished('r1', T0), status: 'running' }] }), /status is invalid/);
  assert.match(bad({ type: 'runReports', at: T0, reports: [{ ...finished('r1', T0), extra: 1 }] }), /unknown fields/);
  assert.match(bad({ type: 'runReports', at: T0, reports: [started('r1', T0)], more: 1 }), /unknown fields/);
});
