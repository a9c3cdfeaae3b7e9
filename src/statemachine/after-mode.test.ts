// afterMode `all`: the table owes the downstream one fire once every upstream has succeeded
// since the downstream's last run; `any` owes one per upstream success.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Driver, T0, spec } from '../../test/support/job-table.js';
import { JobTable } from './table.js';
import { packSpec, unpackSpec } from './packed-spec.js';

let seq = 0;
function succeed(d: Driver, jobId: string, status: 'succeeded' | 'failed' = 'succeeded'): string {
  const runId = `r${++seq}`;
  const at = T0 + seq;
  d.fire(at, { jobId, runId, scheduledAt: at, trigger: 'manual', executors: ['n1'], outcome: 'run' });
  d.apply({ type: 'runFinished', runId, attempt: 1, node: 'n1', at, status, exitCode: status === 'succeeded' ? 0 : 1, output: '', outputTruncated: false, error: null });
  return runId;
}
const owed = (t: JobTable): string[][] => t.owedAfterFires(100).map((o) => [o.jobId, o.upstreamRunId]);

test('all: owed once every upstream succeeded since the last run; a run of the downstream starts the count again', () => {
  const d = new Driver();
  d.put('up1', T0);
  d.put('up2', T0);
  d.put('down', T0, { schedule: '@manual', after: ['up1', 'up2'], afterMode: 'all' });
  d.put('each', T0, { schedule: '@manual', after: ['up1', 'up2'] });
  assert.equal(d.table.getJob('down')?.afterMode, 'all');
  const a1 = succeed(d, 'up1');
  const a2 = succeed(d, 'up1');
  succeed(d, 'up2', 'failed');
  assert.deepEqual(owed(d.table).filter(([j]) => j === 'down'), [], 'up2 has not succeeded yet');
  const b1 = succeed(d, 'up2');
  assert.deepEqual(owed(d.table), [['each', a1], ['each', a2], ['down', b1], ['each', b1]]);
  // The owed fire is recorded: a run of down; each upstream has to succeed again.
  d.fire(T0 + 100, { jobId: 'down', runId: 'd1', scheduledAt: T0 + 100, trigger: 'after', executors: ['n1'], outcome: 'run', key: b1 });
  succeed(d, 'up1');
  // A manual run of down counts as its last run too.
  d.fire(T0 + 200, { jobId: 'down', runId: 'd2', scheduledAt: T0 + 200, trigger: 'manual', executors: ['n1'], outcome: 'run' });
  succeed(d, 'up2');
  assert.deepEqual(owed(d.table).filter(([j]) => j === 'down'), [], 'up1 succeeded before the manual run, not since');
  // The progress survives a snapshot.
  const copy = JobTable.restore(d.table.snapshot());
  const driver = new Driver(copy);
  driver.index = d.index;
  const c1 = succeed(driver, 'up1');
  assert.deepEqual(owed(copy).filter(([j]) => j === 'down'), [['down', c1]]);
});

test('afterMode packs as an optional trailing field: older shared rows read as any', () => {
  const any = packSpec(spec('j', { after: ['up'] }));
  const parsed: unknown = JSON.parse(any.shared);
  assert.ok(Array.isArray(parsed) && parsed.length === 13, 'an any job packs as before (no 14th field)');
  assert.equal(unpackSpec('j', '*/5 * * * *', 'UTC', true, any.packed, any.shared).afterMode, 'any');
  const all = packSpec(spec('j', { after: ['up'], afterMode: 'all' }));
  const allRow: unknown = JSON.parse(all.shared);
  assert.ok(Array.isArray(allRow) && allRow[13] === 'all');
  assert.equal(unpackSpec('j', '*/5 * * * *', 'UTC', true, all.packed, all.shared).afterMode, 'all');
});
