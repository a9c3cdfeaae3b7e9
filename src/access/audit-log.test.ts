// The audit log: bounded ring, oldest dropped, newest first by cursor, deterministic snapshots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIT_ENTRIES_DEFAULT, AuditLog, type AuditRecord } from './index.js';
import { T0 } from '../../test/support/access-fixtures.js';

function record(i: number): AuditRecord {
  return { at: T0 + i, actor: i % 2 === 0 ? 'admin' : 'ci', method: 'PUT', path: `/v1/jobs/job-${i}`, target: `job-${i}` };
}

function filled(n: number, entriesMax: number = AUDIT_ENTRIES_DEFAULT): AuditLog {
  const log = AuditLog.create({ entriesMax });
  for (let i = 1; i <= n; i++) assert.ok(log.append(record(i)).ok);
  return log;
}

function walk(log: AuditLog, limit: number): number[] {
  const seqs: number[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const page = log.list({ limit, cursor });
    assert.ok(page.ok);
    seqs.push(...page.items.map((e) => e.seq));
    cursor = page.nextCursor;
    if (cursor === null) return seqs;
  }
  throw new Error('paging did not end');
}

test('the audit log holds 10,000 entries by default and drops the oldest beyond', () => {
  const log = filled(AUDIT_ENTRIES_DEFAULT + 5);
  assert.equal(log.size, AUDIT_ENTRIES_DEFAULT);
  const newest = log.list({ limit: 1 });
  assert.ok(newest.ok && newest.items[0]?.seq === AUDIT_ENTRIES_DEFAULT + 5 && newest.items[0]?.path === `/v1/jobs/job-${AUDIT_ENTRIES_DEFAULT + 5}`);
  const seqs = walk(log, 1000);
  assert.equal(seqs.length, AUDIT_ENTRIES_DEFAULT);
  assert.equal(seqs[seqs.length - 1], 6, 'entries 1..5 were dropped');
});

test('listing is newest first and pages by cursor without gaps or repeats', () => {
  const log = filled(23, 10);
  assert.deepEqual(walk(log, 3), [23, 22, 21, 20, 19, 18, 17, 16, 15, 14]);
  assert.deepEqual(walk(filled(4), 10), [4, 3, 2, 1]);
  assert.deepEqual(walk(AuditLog.create(), 10), []);
});

test('appends between pages shift nothing: the cursor names an entry, not a position', () => {
  const log = filled(6);
  const first = log.list({ limit: 2 });
  assert.ok(first.ok);
  log.append(record(7));
  const second = log.list({ limit: 2, cursor: first.nextCursor });
  assert.ok(second.ok);
  assert.deepEqual(second.items.map((e) => e.seq), [4, 3]);
});

test('a cursor past the oldest kept entry ends the listing; a malformed one is INVALID_CURSOR', () => {
  const log = filled(30, 10);
  const old = log.list({ cursor: 'a1.5' });
  assert.ok(old.ok && old.items.length === 0 && old.nextCursor === null);
  const bad = log.list({ cursor: 'r1.5' });
  assert.ok(!bad.ok && bad.code === 'INVALID_CURSOR');
});

test('a record carries at, actor, method, path and target; a malformed one is refused, not thrown', () => {
  const log = AuditLog.create();
  assert.ok(log.append(record(1)).ok);
  const page = log.list();
  assert.ok(page.ok);
  assert.deepEqual(page.items[0], { seq: 1, ...record(1) });
  const bad: unknown[] = [
    { ...record(1), at: -1 }, { ...record(1), actor: '' }, { ...record(1), method: 'BREW' }, { ...record(1), path: 'v1/jobs' },
    { ...record(1), path: `/${'x'.repeat(2000)}` }, { ...record(1), target: 5 },
  ];
  for (const value of bad) {
    const result = log.append(value as AuditRecord);
    assert.ok(!result.ok && result.code === 'INVALID_AUDIT_RECORD', JSON.stringify(value).slice(0, 80));
  }
  assert.equal(log.size, 1);
  assert.ok(log.append({ ...record(2), target: null }).ok);
});

test('the same appends give the same snapshot, plain arrays; restore continues the sequence', () => {
  const a = filled(15, 10);
  const b = filled(15, 10);
  assert.deepEqual(a.snapshot(), b.snapshot());
  const snapshot = JSON.parse(JSON.stringify(a.snapshot())) as unknown;
  assert.equal((snapshot as { rows: unknown[] }).rows.length, 10);
  const restored = AuditLog.restore(snapshot, { entriesMax: 10 });
  assert.ok(restored.ok);
  assert.deepEqual(restored.log.snapshot(), a.snapshot());
  assert.deepEqual(walk(restored.log, 4), walk(a, 4));
  a.append(record(16));
  restored.log.append(record(16));
  assert.deepEqual(restored.log.snapshot(), a.snapshot());
});

test('restore keeps the newest entries when the limit is smaller, and refuses a malformed snapshot', () => {
  const restored = AuditLog.restore(filled(15, 10).snapshot(), { entriesMax: 4 });
  assert.ok(restored.ok);
  assert.deepEqual(walk(restored.log, 10), [15, 14, 13, 12]);
  for (const value of [null, { v: 1, nextSeq: 1, rows: [[1, 'a', 'PUT', '/x', null]] }, { v: 1, nextSeq: 3, rows: [[1, 'a', 'PUT']] }, { v: 2, nextSeq: 1, rows: [] }]) {
    const result = AuditLog.restore(value);
    assert.ok(!result.ok && result.code === 'INVALID_SNAPSHOT', JSON.stringify(value));
  }
});
