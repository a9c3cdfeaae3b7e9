import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { RawNode, type Entry } from '../raft/index.js';
import { ChimeError } from '../errors/index.js';
import { DurableStorage, type WriteStats } from './index.js';
import { encode } from './codec.js';
import { KEY_FORMAT_VERSION } from './keys.js';
import { Wal } from './wal.js';
import { readFrame } from './wal-record.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'chime-storage-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function entry(index: number, term: number, text = `e${index}t${term}`): Entry {
  return { index, term, kind: 'normal', data: new TextEncoder().encode(text) };
}

function range(first: number, last: number, term: number): Entry[] {
  return Array.from({ length: last - first + 1 }, (_, i) => entry(first + i, term));
}

function allEntries(storage: DurableStorage): Entry[] {
  return storage.entries(storage.firstIndex(), storage.lastIndex() + 1, Number.POSITIVE_INFINITY);
}

async function reopen(storage: DurableStorage, dir: string): Promise<DurableStorage> {
  await storage.close();
  return DurableStorage.open(dir);
}

async function rawPut(dir: string, key: Uint8Array, value: Uint8Array | null): Promise<void> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  if (value === null) await db.del(key);
  else await db.put(key, value);
  await db.close();
}

test('a fresh store is empty and stays empty across a reopen', async (t) => {
  const dir = tempDir(t);
  let storage = await DurableStorage.open(dir);
  assert.equal(storage.firstIndex(), 1);
  assert.equal(storage.lastIndex(), 0);
  assert.deepEqual(storage.initialState().hardState, { term: 0, vote: null, commit: 0 });
  storage = await reopen(storage, dir);
  assert.equal(storage.lastIndex(), 0);
  await storage.close();
});

test('appended entries and hard state survive a reopen byte for byte', async (t) => {
  const dir = tempDir(t);
  let storage = await DurableStorage.open(dir);
  const entries = [...range(1, 5, 1), { index: 6, term: 2, kind: 'conf' as const, data: new Uint8Array([0, 255, 7]) }];
  await storage.save({ hardState: { term: 2, vote: 'n2', commit: 4 }, entries, snapshot: null }, { sync: true });
  storage = await reopen(storage, dir);
  assert.deepEqual(allEntries(storage), entries);
  assert.deepEqual(storage.hardState(), { term: 2, vote: 'n2', commit: 4 });
  assert.equal(storage.term(6), 2);
  await storage.close();
});

test('entries replacing a suffix replace the stale tail', async (t) => {
  const dir = tempDir(t);
  let storage = await DurableStorage.open(dir);
  await storage.save({ hardState: { term: 1, vote: null, commit: 3 }, entries: range(1, 10, 1), snapshot: null }, { sync: true });
  await storage.save({ hardState: { term: 2, vote: 'b', commit: 3 }, entries: range(6, 7, 2), snapshot: null }, { sync: true });
  assert.equal(storage.lastIndex(), 7);
  storage = await reopen(storage, dir);
  assert.deepEqual(allEntries(storage), [...range(1, 5, 1), ...range(6, 7, 2)]);
  await storage.close();
});

test('the cache changes only after the write has landed', async (t) => {
  const dir = tempDir(t);
  const storage = await DurableStorage.open(dir);
  const saving = storage.save({ hardState: null, entries: range(1, 3, 1), snapshot: null }, { sync: true });
  assert.equal(storage.lastIndex(), 0);
  await saving;
  assert.equal(storage.lastIndex(), 3);
  await storage.close();
});

test('a snapshot in chunks, then compaction, survive a reopen; a smaller snapshot drops old chunks', async (t) => {
  const dir = tempDir(t);
  let storage = await DurableStorage.open(dir);
  await storage.save({ hardState: { term: 1, vote: null, commit: 8 }, entries: range(1, 10, 1), snapshot: null }, { sync: true });
  const big = Uint8Array.from({ length: 5500 }, (_, i) => (i * 7) % 256);
  await storage.createSnapshot(6, { voters: ['a', 'b'], learners: ['c'] }, big);
  await storage.compact(4);
  storage = await reopen(storage, dir);
  assert.equal(storage.firstIndex(), 5);
  assert.equal(storage.term(4), 1);
  assert.deepEqual(await storage.loadSnapshot(), { meta: { index: 6, term: 1, conf: { voters: ['a', 'b'], learners: ['c'] } }, data: big });
  assert.deepEqual(storage.initialState().confState, { voters: ['a', 'b'], learners: ['c'] });
  await storage.createSnapshot(8, { voters: ['a'], learners: [] }, new Uint8Array([1, 2, 3]));
  await storage.compact(8);
  storage = await reopen(storage, dir);
  assert.equal(storage.firstIndex(), 9);
  assert.deepEqual((await storage.loadSnapshot()).data, new Uint8Array([1, 2, 3]));
  assert.deepEqual(allEntries(storage), range(9, 10, 1));
  await storage.close();
});

test('a snapshot from the leader replaces the whole log, with entries after it', async (t) => {
  const dir = tempDir(t);
  let storage = await DurableStorage.open(dir);
  await storage.save({ hardState: { term: 1, vote: null, commit: 2 }, entries: range(1, 5, 1), snapshot: null }, { sync: true });
  const snapshot = { meta: { index: 20, term: 3, conf: { voters: ['a'], learners: [] } }, data: new Uint8Array(2500).fill(9) };
  await storage.save({ hardState: { term: 3, vote: null, commit: 20 }, entries: range(21, 22, 3), snapshot }, { sync: true });
  storage = await reopen(storage, dir);
  assert.equal(storage.firstIndex(), 21);
  assert.equal(storage.term(20), 3);
  assert.deepEqual(await storage.loadSnapshot(), snapshot);
  assert.deepEqual(allEntries(storage), range(21, 22, 3));
  await storage.close();
});

test('concurrent saves are written one at a time in call order and report their duration', async (t) => {
  const dir = tempDir(t);
  const stats: WriteStats[] = [];
  const storage = await DurableStorage.open(dir, { onWrite: (s) => stats.push(s) });
  const order: number[] = [];
  const saves = [1, 2, 3, 4].map((n) => storage.save({ hardState: { term: 1, vote: null, commit: n - 1 }, entries: [entry(n, 1)], snapshot: null }, { sync: n % 2 === 0 }).then(() => order.push(n)));
  await Promise.all(saves);
  assert.deepEqual(order, [1, 2, 3, 4]);
  assert.equal(stats.length, 4);
  assert.deepEqual(stats.map((s) => s.sync), [false, true, false, true]);
  assert.ok(stats.every((s) => s.durationMs >= 0 && s.operations === 2 && s.bytes > 0));
  await storage.close();
});

test('the write queue refuses work beyond its limit', async (t) => {
  const dir = tempDir(t);
  const storage = await DurableStorage.open(dir, { writesPendingMax: 2 });
  const first = storage.save({ hardState: null, entries: [entry(1, 1)], snapshot: null }, { sync: true });
  const second = storage.save({ hardState: null, entries: [entry(2, 1)], snapshot: null }, { sync: true });
  await assert.rejects(storage.save({ hardState: null, entries: [entry(3, 1)], snapshot: null }, { sync: true }), (e: unknown) => e instanceof ChimeError && e.code === 'STORAGE_QUEUE_FULL');
  await Promise.all([first, second]);
  assert.equal(storage.lastIndex(), 2);
  await storage.close();
  await assert.rejects(storage.save({ hardState: null, entries: [entry(3, 1)], snapshot: null }, { sync: true }), (e: unknown) => e instanceof ChimeError && e.code === 'CLOSED');
});

test('an unknown format version refuses to open with a clear error', async (t) => {
  const dir = tempDir(t);
  await (await DurableStorage.open(dir)).close();
  await rawPut(dir, KEY_FORMAT_VERSION, encode(99));
  await assert.rejects(DurableStorage.open(dir), (e: unknown) => e instanceof ChimeError && e.code === 'FORMAT_UNKNOWN' && /version 99/.test(e.message));
});

function segmentPaths(dir: string): string[] {
  return readdirSync(join(dir, 'wal')).filter((name) => name.endsWith('.wal')).sort().map((name) => join(dir, 'wal', name));
}

/** Offsets of the records in a segment (header first), read back through the frame reader. */
function recordOffsets(bytes: Uint8Array): number[] {
  const offsets: number[] = [];
  for (let offset = 0; ; ) {
    const frame = readFrame(bytes, offset, 'test');
    if (frame.kind !== 'record') return offsets;
    offsets.push(offset);
    offset = frame.next;
  }
}

function rejectsCorrupt(pattern: RegExp) {
  return (e: unknown): boolean => e instanceof ChimeError && e.code === 'CORRUPT' && pattern.test(e.message);
}

test('a torn last record is cut off; damage with records after it refuses to open', async (t) => {
  const dir = tempDir(t);
  let storage = await DurableStorage.open(dir);
  for (let i = 1; i <= 4; i++) await storage.save({ hardState: { term: 1, vote: null, commit: i - 1 }, entries: [entry(i, 1)], snapshot: null }, { sync: true });
  await storage.close();
  const [path] = segmentPaths(dir);
  assert.ok(path !== undefined);
  const bytes = readFileSync(path);
  const offsets = recordOffsets(bytes);
  assert.equal(offsets.length, 5, 'a header and four records');
  // A write cut short: the last record's payload only partly reached the disk.
  const torn = Buffer.from(bytes);
  const lastStart = offsets[4] as number;
  const lastEnd = (readFrame(bytes, lastStart, 'test') as { next: number }).next;
  torn.fill(0, lastEnd - 3, lastEnd);
  writeFileSync(path, torn);
  storage = await DurableStorage.open(dir);
  assert.equal(storage.lastIndex(), 3, 'the torn record is gone, the rest is intact');
  await storage.save({ hardState: { term: 1, vote: null, commit: 3 }, entries: [entry(4, 1, 'again')], snapshot: null }, { sync: true });
  storage = await reopen(storage, dir);
  assert.deepEqual(allEntries(storage).at(-1), entry(4, 1, 'again'), 'appends continue where the torn record was');
  await storage.close();
  // A flipped byte in an early record, with acknowledged records after it: refuse.
  const damaged = readFileSync(path);
  const second = recordOffsets(damaged)[1] as number;
  damaged[second + 10] = (damaged[second + 10] as number) ^ 0xff;
  writeFileSync(path, damaged);
  await assert.rejects(DurableStorage.open(dir), rejectsCorrupt(/checksum mismatch/));
});

test('records that leave a gap, a commit beyond the log or a missing segment refuse to open', async (t) => {
  const dir = tempDir(t);
  const storage = await DurableStorage.open(dir);
  await storage.save({ hardState: { term: 1, vote: null, commit: 2 }, entries: range(1, 2, 1), snapshot: null }, { sync: true });
  await storage.close();
  const appendRaw = async (record: Parameters<Wal['append']>[0]): Promise<void> => {
    const { wal } = Wal.open(join(dir, 'wal'), { index: 0, term: 0 });
    await wal.append(record, true);
    await wal.close();
  };
  const copy = join(dir, '..', `${dir.split('/').at(-1) ?? 'x'}-copy`);
  t.after(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(dir, copy, { recursive: true });
  await appendRaw({ entries: [entry(5, 1)] });
  await assert.rejects(DurableStorage.open(dir), rejectsCorrupt(/entry 5 does not attach/));
  rmSync(dir, { recursive: true });
  cpSync(copy, dir, { recursive: true });
  await appendRaw({ hardState: { term: 1, vote: null, commit: 9 } });
  await assert.rejects(DurableStorage.open(dir), rejectsCorrupt(/commit 9 beyond/));

  const many = tempDir(t);
  const small = await DurableStorage.open(many, { wal: { segmentBytes: 4096, preallocateBytes: 4096 } });
  for (let i = 1; i <= 40; i++) await small.save({ hardState: { term: 1, vote: null, commit: i - 1 }, entries: [entry(i, 1, 'x'.repeat(300))], snapshot: null }, { sync: true });
  await small.close();
  const segments = segmentPaths(many);
  assert.ok(segments.length >= 3, `${segments.length} segments`);
  const reopened = await DurableStorage.open(many, { wal: { segmentBytes: 4096, preallocateBytes: 4096 } });
  assert.deepEqual(allEntries(reopened), Array.from({ length: 40 }, (_, i) => entry(i + 1, 1, 'x'.repeat(300))));
  await reopened.close();
  rmSync(segments[1] as string);
  await assert.rejects(DurableStorage.open(many), rejectsCorrupt(/a segment is missing/));
});

test('snapshot images are files: a damaged one refuses to open, replaced ones are deleted', async (t) => {
  const dir = tempDir(t);
  let storage = await DurableStorage.open(dir);
  await storage.save({ hardState: { term: 1, vote: null, commit: 6 }, entries: range(1, 6, 1), snapshot: null }, { sync: true });
  await storage.createSnapshot(3, { voters: ['a'], learners: [] }, new Uint8Array(5000).fill(3));
  await storage.createSnapshot(5, { voters: ['a'], learners: [] }, new Uint8Array(7000).fill(5));
  const images = () => readdirSync(join(dir, 'snap'));
  assert.deepEqual(images(), ['2.img'], 'only the image in force is kept');
  storage = await reopen(storage, dir);
  assert.deepEqual((await storage.loadSnapshot()).data, new Uint8Array(7000).fill(5));
  await storage.close();
  const path = join(dir, 'snap', '2.img');
  const bytes = readFileSync(path);
  bytes[100] = 9;
  writeFileSync(path, bytes);
  await assert.rejects(DurableStorage.open(dir), rejectsCorrupt(/checksum/));
  rmSync(path);
  await assert.rejects(DurableStorage.open(dir), rejectsCorrupt(/image 2 is missing/));
});

test('compaction deletes whole segments once a snapshot covers them', async (t) => {
  const dir = tempDir(t);
  const options = { wal: { segmentBytes: 4096, preallocateBytes: 4096 } };
  let storage = await DurableStorage.open(dir, options);
  for (let i = 1; i <= 60; i++) await storage.save({ hardState: { term: 1, vote: null, commit: i }, entries: [entry(i, 1, 'y'.repeat(200))], snapshot: null }, { sync: i % 3 === 0 });
  const before = segmentPaths(dir).length;
  await storage.createSnapshot(50, { voters: ['a'], learners: [] }, new Uint8Array([5]));
  await storage.compact(45);
  const after = segmentPaths(dir).length;
  assert.ok(after < before && after >= 1, `${before} → ${after} segments`);
  storage = await reopen(storage, dir);
  assert.equal(storage.firstIndex(), 46);
  assert.equal(storage.lastIndex(), 60);
  assert.deepEqual((await storage.loadSnapshot()).data, new Uint8Array([5]));
  await storage.close();
});

test('a single-node RawNode runs its Ready loop on it and restarts from disk', async (t) => {
  const dir = tempDir(t);
  let storage = await DurableStorage.open(dir);
  await storage.bootstrap([{ id: 'a', context: 'a:1' }]);
  const config = { id: 'a', heartbeatTicks: 1, electionTicks: 10, randomInt: () => 0 };
  const node = new RawNode({ ...config, storage });
  const drain = async (): Promise<void> => {
    for (let round = 0; round < 20 && node.hasReady(); round++) {
      const ready = node.ready();
      await storage.save(ready, { sync: ready.mustSync });
      node.advance();
    }
  };
  await drain(); // applies the bootstrap membership entries; the core will not campaign before
  node.campaign();
  await drain();
  const proposed = node.propose([new TextEncoder().encode('job put x')]);
  assert.ok(proposed.ok, JSON.stringify(proposed));
  await drain();
  const commit = storage.hardState().commit;
  assert.equal(commit, storage.lastIndex());
  storage = await reopen(storage, dir);
  const restarted = new RawNode({ ...config, storage, applied: commit });
  assert.equal(restarted.status().hardState.commit, commit);
  assert.deepEqual(storage.entries(commit, commit + 1, 1 << 20)[0]?.data, new TextEncoder().encode('job put x'));
  assert.deepEqual(restarted.status().conf.voters, ['a']);
  await storage.close();
});
