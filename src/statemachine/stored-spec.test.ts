import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Driver, T0, spec } from '../../test/support/job-table.js';
import { decodeCommand, encodeCommand } from './codec.js';
import { packSpec } from './packed-spec.js';
import { storedSpecOf } from './stored-spec.js';
import { utf8Bytes } from './defaults.js';
import { JobTable } from './table.js';

const FIELDS: Record<string, unknown>[] = [
  {},
  { schedule: '@every 30s', timezone: 'Europe/Paris', enabled: false, history: 7, retry: { max: 3, backoffMs: 1000, maxBackoffMs: 60_000 }, labels: { team: 'a' } },
  { schedule: '@manual', executor: { type: 'http', method: 'POST', url: 'http://127.0.0.1:9/x?at={{scheduledAt}}', body: '{"a":1}', headers: { 'x-a': 'b' } }, after: ['up'], afterMode: 'all' },
  { executor: { type: 'queue', function: 'resize', leaseMs: 5000 }, notify: [{ on: ['failed'], url: 'http://127.0.0.1:9/n' }], description: 'q' },
];

test('a stored spec (validated and packed by the proposer) stores the very job a raw spec does', () => {
  const stored = new Driver();
  const raw = new Driver();
  FIELDS.forEach((fields, i) => {
    const a = stored.put(`j${i}`, T0 + i, fields);
    const b = raw.putRaw(`j${i}`, T0 + i, fields);
    assert.ok(a.ok && b.ok, JSON.stringify([a, b]));
    assert.deepEqual(a, b);
    // Replacing with the next shape (schedule, history, retry and `after` all change).
    const next = FIELDS[(i + 1) % FIELDS.length] ?? {};
    assert.deepEqual(stored.put(`j${i}`, T0 + 100 + i, next), raw.putRaw(`j${i}`, T0 + 100 + i, next));
  });
  assert.deepEqual(Buffer.from(stored.table.snapshot()), Buffer.from(raw.table.snapshot()), 'both tables write the same snapshot bytes');
  stored.table.assertIndexesConsistent();
});

test('a stored spec survives the entry codec and applies from bytes', () => {
  const table = JobTable.create();
  const bytes = encodeCommand({ type: 'putJob', id: 'a', stored: storedSpecOf(spec('a', { labels: { x: 'y' } })), at: T0 });
  const result = table.applyEntry(bytes, 1);
  assert.ok(result.ok && result.kind === 'job');
  assert.deepEqual(result.job.labels, { x: 'y' });
});

test('a malformed stored spec is refused on every replica alike (INVALID_SPEC), the table unchanged', () => {
  const good = storedSpecOf(spec('a'));
  const { packed: httpPacked } = packSpec(spec('h', { executor: { type: 'http', url: 'http://127.0.0.1:9/', body: 'b' } }));
  const bad: unknown[] = [
    [],
    [...good, 'extra'],
    ['not a schedule', good[1], good[2], good[3], good[4]],
    [good[0], 'Mars/Olympus', good[2], good[3], good[4]],
    [good[0], good[1], 'yes', good[3], good[4]],
    [good[0], good[1], good[2], '{}', good[4]],
    [good[0], good[1], good[2], good[3], '[ 0]'],
    [good[0], good[1], good[2], good[3], '[0,null,null,null,null,null,5000]'],
    [good[0], good[1], good[2], httpPacked, good[4]],
    [good[0], good[1], good[2], JSON.stringify(['x'.repeat(70 * 1024)]), good[4]],
  ];
  for (const stored of bad) {
    const replicas = [JobTable.create(), JobTable.create()];
    const results = replicas.map((t) => t.apply({ type: 'putJob', id: 'a', stored: stored as never, at: T0 }, 1));
    for (const r of results) {
      assert.ok(!r.ok, JSON.stringify(stored));
      assert.equal(r.code, 'INVALID_SPEC');
    }
    assert.deepEqual(results[0], results[1]);
    assert.equal(replicas[0]?.jobCount, 0);
  }
});

test('a putJob entry carries exactly one of spec and stored', () => {
  const stored = storedSpecOf(spec('a'));
  assert.throws(() => decodeCommand(encodeCommand({ type: 'putJob', id: 'a', stored, spec: spec('a'), at: T0 } as never)), /one of spec and stored/);
  assert.throws(() => decodeCommand(encodeCommand({ type: 'putJob', id: 'a', at: T0 } as never)), /one of spec and stored/);
  assert.throws(() => decodeCommand(encodeCommand({ type: 'putJob', id: 'a', stored: 'x', at: T0 } as never)), /stored is a list/);
});

test('putJobs takes stored specs too: the same jobs as raw specs, and one malformed stored spec refuses the whole entry', () => {
  const stored = new Driver();
  const raw = new Driver();
  const ids = FIELDS.map((_, i) => `j${i}`);
  const a = stored.apply({ type: 'putJobs', jobs: FIELDS.map((fields, i) => ({ id: `j${i}`, stored: storedSpecOf(spec(`j${i}`, fields)) })), at: T0 });
  const b = raw.apply({ type: 'putJobs', jobs: FIELDS.map((fields, i) => ({ id: `j${i}`, spec: spec(`j${i}`, fields) })), at: T0 });
  assert.ok(a.ok && a.kind === 'jobs');
  assert.deepEqual(a, b);
  // The same stored specs again change nothing.
  const again = stored.apply({ type: 'putJobs', jobs: FIELDS.map((fields, i) => ({ id: `j${i}`, stored: storedSpecOf(spec(`j${i}`, fields)) })), at: T0 + 1 });
  assert.ok(again.ok && again.kind === 'jobs');
  assert.deepEqual(again.jobs.map((j) => j.outcome), ids.map(() => 'unchanged'));
  const bad = new Driver();
  const refused = bad.apply({ type: 'putJobs', jobs: [{ id: 'x', stored: storedSpecOf(spec('x')) }, { id: 'y', stored: ['nope', 'UTC', true, '[]', '[0]'] as never }], at: T0 });
  assert.ok(!refused.ok);
  assert.equal(refused.code, 'INVALID_SPEC');
  assert.equal(bad.table.jobCount, 0, 'all or nothing');
  assert.throws(() => decodeCommand(encodeCommand({ type: 'putJobs', jobs: [{ id: 'x', stored: storedSpecOf(spec('x')), spec: spec('x') }], at: T0 } as never)), /one of spec and stored/);
});

test('byte counts are those of the UTF-8 encoder, lone surrogates as U+FFFD (replicas of every release agree on size limits)', () => {
  // The character-by-character count earlier releases used, kept here as the reference.
  const reference = (text: string): number => {
    let bytes = 0;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code < 0x80) bytes += 1;
      else if (code < 0x800) bytes += 2;
      else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        bytes += 4;
        i++;
      } else bytes += 3;
    }
    return bytes;
  };
  const samples = ['', 'plain ascii', 'é', '€uro', 'a\u{1f600}b', '\ud800', '\udc00x', '\ud83d', 'x\ud83d\ud83d\ude00', '\u07ff\u0800\uffff', 'x'.repeat(70_000) + 'ü'];
  for (const text of samples) assert.equal(utf8Bytes(text), reference(text), JSON.stringify(text.slice(0, 20)));
  assert.equal(utf8Bytes('\ud800'), new TextEncoder().encode('\ud800').length);
});
