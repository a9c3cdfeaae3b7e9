import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { RawNode, type Entry } from '../raft/index.js';
import { DurableStorage, StorageError, type WriteStats } from './index.js';
import { encode } from './codec.js';
import { entryKey, KEY_FORMAT_VERSION, KEY_HARD_STATE } from './keys.js';

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

async function reopen(storage: DurableStorage, dir: string, chunkBytes = 1000): Promise<DurableStorage> {
  await storage.close();
  return DurableStorage.open(dir, { snapshotChunkBytes: chunkBytes });
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

test('entries replacing a suffix delete the stale tail in the same batch', async (t) => {
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
  let storage = await DurableStorage.open(dir, { snapshotChunkBytes: 1000 });
  await storage.save({ hardState: { term: 1, vote: null, commit: 8 }, entries: range(1, 10, 1), snapshot: null }, { sync: true });
  const big = Uint8Array.from({ length: 5500 }, (_, i) => (i * 7) % 256);
  await storage.createSnapshot(6, { voters: ['a', 'b'], learners: ['c'] }, big);
  await storage.compact(4);
  storage = await reopen(storage, dir);
  assert.equal(storage.firstIndex(), 5);
  assert.equal(storage.term(4), 1);
  assert.deepEqual(storage.snapshot(), { meta: { index: 6, term: 1, conf: { voters: ['a', 'b'], learners: ['c'] } }, data: big });
  assert.deepEqual(storage.initialState().confState, { voters: ['a', 'b'], learners: ['c'] });
  await storage.createSnapshot(8, { voters: ['a'], learners: [] }, new Uint8Array([1, 2, 3]));
  await storage.compact(8);
  storage = await reopen(storage, dir);
  assert.equal(storage.firstIndex(), 9);
  assert.deepEqual(storage.snapshot().data, new Uint8Array([1, 2, 3]));
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
  assert.deepEqual(storage.snapshot(), snapshot);
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
  await assert.rejects(storage.save({ hardState: null, entries: [entry(3, 1)], snapshot: null }, { sync: true }), (e: unknown) => e instanceof StorageError && e.code === 'QUEUE_FULL');
  await Promise.all([first, second]);
  assert.equal(storage.lastIndex(), 2);
  await storage.close();
  await assert.rejects(storage.save({ hardState: null, entries: [entry(3, 1)], snapshot: null }, { sync: true }), (e: unknown) => e instanceof StorageError && e.code === 'CLOSED');
});

test('an unknown format version refuses to open with a clear error', async (t) => {
  const dir = tempDir(t);
  await (await DurableStorage.open(dir)).close();
  await rawPut(dir, KEY_FORMAT_VERSION, encode(99));
  await assert.rejects(DurableStorage.open(dir), (e: unknown) => e instanceof StorageError && e.code === 'FORMAT_UNKNOWN' && /version 99/.test(e.message));
});

test('a gap in the log or a commit beyond it refuses to open', async (t) => {
  const dir = tempDir(t);
  const storage = await DurableStorage.open(dir);
  await storage.save({ hardState: { term: 1, vote: null, commit: 2 }, entries: range(1, 5, 1), snapshot: null }, { sync: true });
  await storage.close();
  await rawPut(dir, entryKey(3), null);
  await assert.rejects(DurableStorage.open(dir), (e: unknown) => e instanceof StorageError && e.code === 'CORRUPT' && /gap/.test(e.message));
  await rawPut(dir, entryKey(3), new Uint8Array([0xc1]));
  await assert.rejects(DurableStorage.open(dir), (e: unknown) => e instanceof StorageError && e.code === 'CORRUPT');
  const dir2 = tempDir(t);
  const other = await DurableStorage.open(dir2);
  await other.save({ hardState: { term: 1, vote: null, commit: 2 }, entries: range(1, 2, 1), snapshot: null }, { sync: true });
  await other.close();
  await rawPut(dir2, KEY_HARD_STATE, encode([1, null, 9]));
  await assert.rejects(DurableStorage.open(dir2), (e: unknown) => e instanceof StorageError && /commit 9 beyond/.test(e.message));
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
