import { test } from 'node:test';
import assert from 'node:assert/strict';
import { T0, spec } from '../../test/support/job-table.js';
import type { AuditRecord } from '../access/index.js';
import type { Command } from './commands.js';
import { decodeCommand, encodeCommand } from './codec.js';
import { WRITE_ID_TTL_MS } from './limits.js';
import { storedSpecOf } from './stored-spec.js';
import { JobTable } from './table.js';
import { WriteIds } from './write-ids.js';

/** `retrySince`: a re-send whose first try lies beyond that index. */
function audit(at: number, writeId?: string, retrySince?: number): AuditRecord {
  return { at, actor: 'ops', method: 'PUT', path: '/v1/jobs/a', target: 'a', ...(writeId === undefined ? {} : { writeId }), ...(retrySince === undefined ? {} : { retrySince }) };
}

type PutJob = Extract<Command, { type: 'putJob' }>;

function put(id: string, at: number, writeId?: string, retrySince?: number, description = 'x'): PutJob {
  return { type: 'putJob', id, stored: storedSpecOf(spec(id, { description })), at, audit: audit(at, writeId, retrySince) };
}

test('a write re-sent with the id of one that took effect changes nothing and answers like the first', () => {
  const t = JobTable.create();
  const first = t.apply(put('a', T0, 'n2.x.1'), 1);
  assert.ok(first.ok && first.kind === 'job' && first.created);
  const again = t.apply(put('a', T0 + 500, 'n2.x.1', 0), 2);
  assert.ok(again.ok && again.kind === 'job');
  assert.equal(again.created, true, 'the first outcome, not "configured"');
  assert.equal(again.job.revision, 1, 'no new revision');
  const audited = t.listAudit({});
  assert.ok(audited.ok && audited.items.length === 1, 'audited once');
  // Without the id, the same write is a new one.
  const other = t.apply(put('a', T0 + 600, 'n2.x.2', undefined, 'y'), 3);
  assert.ok(other.ok && other.kind === 'job' && !other.created);
  assert.equal(other.job.revision, 3);
});

test('a repeat of a write whose job was deleted since says so; a repeated delete deletes nothing more', () => {
  const t = JobTable.create();
  t.apply(put('a', T0, 'w1'), 1);
  const del: Command = { type: 'deleteJob', id: 'a', at: T0 + 1, audit: { ...audit(T0 + 1, 'w2'), method: 'DELETE' } };
  assert.ok(t.apply(del, 2).ok);
  const repeat = t.apply(put('a', T0 + 2, 'w1', 0), 3);
  assert.deepEqual(repeat.ok && repeat.kind === 'noop' ? repeat.code : repeat, 'WRITE_REPEATED');
  assert.equal(t.getJob('a'), null, 'the repeat did not bring the job back');
  t.apply(put('a', T0 + 3, 'w3'), 4);
  const delAgain = t.apply({ ...del, at: T0 + 4 }, 5);
  assert.ok(delAgain.ok && delAgain.kind === 'deleted');
  assert.ok(t.getJob('a') !== null, 'the job made after the first delete stays');
});

test('a refused write is not remembered: its re-send is judged afresh', () => {
  const t = JobTable.create();
  const refused = t.apply({ type: 'pauseJob', id: 'a', at: T0, audit: { ...audit(T0, 'w1'), method: 'POST' } }, 1);
  assert.equal(refused.ok, false);
  t.apply(put('a', T0 + 1, 'w2'), 2);
  const paused = t.apply({ type: 'pauseJob', id: 'a', at: T0 + 2, audit: { ...audit(T0 + 2, 'w1', 0), method: 'POST' } }, 3);
  assert.ok(paused.ok && paused.kind === 'job' && !paused.job.enabled);
});

test('ids are forgotten by time and count; a re-send whose first try may be among them is refused, never applied twice', () => {
  const ids = new WriteIds(2);
  ids.remember('a', { index: 1, atMs: T0, created: true, outcomes: '' });
  ids.remember('b', { index: 2, atMs: T0 + 1, created: true, outcomes: '' });
  assert.equal(ids.unsure(0), false, 'nothing forgotten yet');
  ids.remember('c', { index: 3, atMs: T0 + 2, created: true, outcomes: '' });
  assert.equal(ids.get('a'), undefined, 'the count limit pushed the oldest out');
  assert.equal(ids.unsure(0), true, 'a first try sent when nothing was applied may have been index 1');
  assert.equal(ids.unsure(1), false, 'a first try beyond index 1 is still remembered if it took effect');
  ids.remember('d', { index: 4, atMs: T0 + WRITE_ID_TTL_MS + 2, created: true, outcomes: '' });
  assert.deepEqual(['a', 'b', 'c', 'd'].map((id) => ids.get(id) !== undefined), [false, false, false, true], 'ids whose time was up are forgotten');
  assert.equal(ids.unsure(2), true);
  assert.equal(ids.unsure(3), false);

  const t = JobTable.create();
  t.apply(put('a', T0, 'w1'), 1);
  t.apply(put('b', T0 + WRITE_ID_TTL_MS, 'w2'), 2);
  const late = t.apply(put('a', T0 + WRITE_ID_TTL_MS + 1, 'w1', 0, 'later'), 3);
  assert.deepEqual(late.ok ? late : late.code, 'OUTCOME_UNKNOWN', 'w1 was forgotten: the re-send is not applied');
  assert.equal(t.getJob('a')?.revision, 1);
  const fresh = t.apply(put('a', T0 + WRITE_ID_TTL_MS + 2, 'w3', 2, 'later'), 4);
  assert.ok(fresh.ok && fresh.kind === 'job' && fresh.job.revision === 4, 'a re-send whose first try lies beyond every forgotten id is judged by what is remembered');
});

test('write ids survive a snapshot: the restored table makes the same decision', () => {
  const t = JobTable.create();
  t.apply(put('a', T0, 'w1'), 1);
  t.apply({ type: 'putJobs', jobs: [{ id: 'b', stored: storedSpecOf(spec('b')) }, { id: 'a', stored: storedSpecOf(spec('a', { description: 'x' })) }], at: T0 + 1, audit: { ...audit(T0 + 1, 'w2'), method: 'POST', path: '/v1/apply' } }, 2);
  const restored = JobTable.restore(t.snapshot());
  assert.equal(Buffer.compare(restored.snapshot(), t.snapshot()), 0);
  const repeat = restored.apply({ type: 'putJobs', jobs: [{ id: 'b', stored: storedSpecOf(spec('b')) }, { id: 'a', stored: storedSpecOf(spec('a', { description: 'x' })) }], at: T0 + 2, audit: { ...audit(T0 + 2, 'w2', 0), method: 'POST', path: '/v1/apply' } }, 3);
  assert.ok(repeat.ok && repeat.kind === 'jobs');
  assert.deepEqual(repeat.jobs.map((j) => j.outcome), ['created', 'unchanged']);
  const once = restored.apply(put('a', T0 + 3, 'w1', 0), 4);
  assert.ok(once.ok && once.kind === 'job' && once.created && once.job.revision === 1);
});

test('a write id travels in the entry and is checked like every field', () => {
  const command = put('a', T0, 'n1.abc.7', 12);
  assert.deepEqual(decodeCommand(encodeCommand(command)), command);
  assert.throws(() => decodeCommand(encodeCommand({ ...put('a', T0), audit: { ...audit(T0), writeId: 'bad id with spaces' } })), /writeId/);
  assert.throws(() => decodeCommand(encodeCommand({ ...put('a', T0), audit: { ...audit(T0), retrySince: 3 } })), /retrySince/);
  assert.throws(() => decodeCommand(encodeCommand({ ...put('a', T0), audit: { ...audit(T0, 'w'), retrySince: -1 } })), /retrySince/);
});
