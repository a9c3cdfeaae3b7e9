import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { JobState } from './job-record.js';
import { packSpec, sharedExecutorType, packedProblem, sharedTraits, unpackSpec } from './packed-spec.js';
import { withEnabled } from './traits.js';
import { SortedSet } from './sorted-set.js';
import { JobTable } from './table.js';
import { SNAPSHOT_FORMAT } from './snapshot.js';
import { Driver, T0, spec } from '../../test/support/job-table.js';
import type { JobSpec } from './types.js';

const VARIANTS: Record<string, unknown>[] = [
  {},
  { timezone: 'Europe/Berlin', enabled: false, description: 'nightly ✓ 𝄞', labels: { team: 'x', 'a.b/c': 'd' }, history: 7, priority: 0 },
  { executor: { type: 'shell', command: 'echo "$X"', env: { X: '1', Y_Z: 'two' }, cwd: '/tmp' }, concurrency: 'allow', timeoutMs: 5000 },
  { executor: { type: 'http', url: 'https://example.com/hook?a=1' } },
  { executor: { type: 'queue', function: 'resize-image' }, description: 'queued' },
  { executor: { type: 'queue', function: 'f.x_1', leaseMs: 5000 }, retry: { max: 3 } },
  {
    executor: { type: 'http', method: 'POST', url: 'http://h/x', headers: { 'content-type': 'application/json' }, body: '{"a":1}', expectStatus: [200, 204] },
    target: { mode: 'tags', tags: { zone: 'eu' }, count: 2 }, misfire: { policy: 'skip', windowMs: 0 }, retry: { max: 10, backoffMs: 5, maxBackoffMs: 70_000 },
    after: ['up-1', 'up.2'], concurrency: 'replace', history: 1000,
  },
  { target: { mode: 'leader' } },
  { target: { mode: 'all' }, misfire: { policy: 'fire-all' } },
  { target: { mode: 'tags', tags: { gpu: 'yes' } }, retry: { max: 2 } },
];

function roundTrip(s: JobSpec): JobSpec {
  const { packed, shared } = packSpec(s);
  return unpackSpec(s.id, s.schedule, s.timezone, s.enabled, packed, shared);
}

test('packed specs round-trip every field, defaults as the shared objects', () => {
  for (const [i, fields] of VARIANTS.entries()) {
    const original = spec(`job-${i}`, fields);
    const copy = roundTrip(original);
    assert.deepEqual(copy, original, `variant ${i}`);
    for (const key of ['target', 'misfire', 'retry', 'labels', 'after'] as const) {
      if (original[key] === spec('d')[key]) assert.equal(copy[key], original[key], `variant ${i}: ${key} is the shared default`);
    }
    const job = JobState.of(original, T0, 1);
    assert.equal(job.enabled, original.enabled);
    assert.equal(job.concurrency, original.concurrency);
    assert.equal(job.history, original.history);
    assert.equal(job.retryMax, original.retry.max);
    assert.deepEqual(job.after, original.after);
    const traits = sharedTraits(job.shared);
    assert.equal(typeof traits, 'number');
    assert.equal(withEnabled(traits as number, original.enabled), job.traits, `variant ${i}: traits from a snapshot equal traits from the spec`);
    assert.equal(packedProblem(job.packed, sharedExecutorType(job.shared)), null);
  }
  const plain = packSpec(spec('d'));
  assert.ok(plain.packed.length + plain.shared.length < 20, 'a default spec packs to a few bytes');
  assert.equal(packSpec(spec('e', { labels: { team: 'x' } })).shared, packSpec(spec('f', { labels: { team: 'x' } })).shared);
  assert.equal(JobState.of(spec('g', { labels: { team: 'y' } }), T0, 1).shared, JobState.of(spec('h', { labels: { team: 'y' } }), T0, 2).shared, 'shared parts are one interned string');
});

test('malformed packed specs are named, not thrown', () => {
  for (const bad of ['', 'x', '{}', '[]', '[3]', '[2,"cwd"]', '[2,null,{"a":"b"}]', '[0,1]', '[0,null,null,null,null,null,5000]', '[0,null,null,null,null,null,null,[99,1,1]]', '[1,"GETT"]', '[0,null,{"a":"b"}]']) {
    assert.equal(typeof sharedTraits(bad), 'string', bad);
  }
  for (const [bad, type] of [['', 'shell'], ['[1]', 'shell'], ['["c",null,"body"]', 'shell'], ['["u",null,null,{}]', 'http'], ['["c",7]', 'shell'], ['["f",null,"body"]', 'queue'], ['[3]', 'queue']] as const) {
    assert.equal(typeof packedProblem(bad, type), 'string', bad);
  }
});

test('enabled lives in the traits: pause and resume keep the packed spec', () => {
  const d = new Driver();
  d.put('a', T0, { history: 3 });
  d.apply({ type: 'pauseJob', id: 'a', at: T0 + 1 });
  assert.equal(d.table.getJob('a')?.enabled, false);
  assert.equal(d.table.getJob('a')?.history, 3);
  d.apply({ type: 'resumeJob', id: 'a', at: T0 + 2 });
  assert.equal(d.table.getJob('a')?.enabled, true);
});

test('sorted set: fill, findBy, in-order appends fill whole chunks', () => {
  const cmp = (a: number, b: number) => a - b;
  const set = new SortedSet<number>(cmp);
  for (let i = 0; i < 2000; i++) set.add(i * 2);
  assert.equal(set.size, 2000);
  assert.equal(set.findBy(1000, cmp), 1000);
  assert.equal(set.findBy(1001, cmp), undefined);
  assert.deepEqual([...set.valuesAfter(3995)], [3996, 3998]);
  set.add(1);
  assert.equal(set.first(), 0);
  assert.deepEqual([...set.valuesAfter()].slice(0, 3), [0, 1, 2]);
  const filled = new SortedSet<number>(cmp);
  filled.fill([1, 5, 9]);
  assert.deepEqual([...filled.valuesAfter()], [1, 5, 9]);
  assert.throws(() => filled.fill([2, 1]));
});

test('a version-1 snapshot (written by an older build) still restores', () => {
  const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false });
  const jobRow = [{ id: 'old', schedule: '@hourly', timezone: 'Europe/Berlin', labels: { a: 'b' }, executor: { type: 'shell', command: 'true' } }, T0, T0 + 5, 3, 4, null, T0 + 3_600_000];
  const bytes = packr.pack({ format: SNAPSHOT_FORMAT, version: 1, body: { limits: [10, 10, 10, 10, 10], appliedIndex: 4, runSeq: 0, jobs: [jobRow], runs: [], keys: [] } });
  const table = JobTable.restore(bytes);
  const job = table.getJob('old');
  assert.ok(job);
  assert.equal(job.timezone, 'Europe/Berlin');
  assert.deepEqual(job.labels, { a: 'b' });
  assert.equal(job.updatedAt, T0 + 5);
  assert.equal(job.revision, 4);
  assert.equal(table.earliestNextFireAt(), T0 + 3_600_000);
  const again = JobTable.restore(table.snapshot());
  assert.deepEqual(again.getJob('old'), job, 'rewritten as the current version, it reads back the same');
});

test('a framed snapshot is the frame followed by the same bytes', () => {
  const d = new Driver();
  d.put('a', T0, { labels: { team: 'x' } });
  const plain = d.table.snapshot();
  const framed = d.table.snapshot((n) => Uint8Array.from([1, 2, n & 0xff]));
  assert.deepEqual([...framed.subarray(0, 3)], [1, 2, plain.length & 0xff]);
  assert.equal(Buffer.compare(framed.subarray(3), plain), 0);
});
