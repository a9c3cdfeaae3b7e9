import { MemoryStorage, type Entry, type HardState, type Snapshot } from '../raft/index.js';
import { decodeEntry, decodeFormatVersion, decodeHardState, decodeLogStart, decodeSnapshotMeta, encode, type LogStart, type StoredSnapshotMeta } from './codec.js';
import type { Db } from './db.js';
import { StorageError } from './errors.js';
import { chunkKey, ENTRY_RANGE, entryIndexOfKey, KEY_FORMAT_VERSION, KEY_HARD_STATE, KEY_LOG_START, KEY_SNAPSHOT_META } from './keys.js';

/** Bumped whenever the key layout or a value's encoding changes incompatibly. */
export const FORMAT_VERSION = 1;

export interface Recovered {
  readonly cache: MemoryStorage;
  readonly snapshotChunkCount: number;
}

const EMPTY_META: StoredSnapshotMeta = { index: 0, term: 0, conf: { voters: [], learners: [] }, dataBytes: 0, chunkCount: 0 };

function corrupt(detail: string): StorageError {
  return new StorageError('CORRUPT', detail);
}

/**
 * Reads everything back, checks that it forms one consistent Raft state, and rebuilds the
 * in-memory cache from it. A fresh directory is stamped with the format version.
 */
export async function recover(db: Db): Promise<Recovered> {
  await checkFormatVersion(db);
  const hardBytes = await db.get(KEY_HARD_STATE);
  const hard: HardState = hardBytes === undefined ? { term: 0, vote: null, commit: 0 } : decodeHardState(hardBytes);
  const metaBytes = await db.get(KEY_SNAPSHOT_META);
  const meta = metaBytes === undefined ? EMPTY_META : decodeSnapshotMeta(metaBytes);
  const startBytes = await db.get(KEY_LOG_START);
  const start: LogStart = startBytes === undefined ? { index: 0, term: 0 } : decodeLogStart(startBytes);
  const entries = await readEntries(db, start);
  const data = await readSnapshotData(db, meta);
  const cache = buildCache(start, entries, { meta: { index: meta.index, term: meta.term, conf: meta.conf }, data });
  const lastIndex = cache.lastIndex();
  if (hard.commit > lastIndex) throw corrupt(`hard state commit ${hard.commit} beyond the last index ${lastIndex}`);
  if (hard.commit < meta.index) throw corrupt(`hard state commit ${hard.commit} behind the snapshot ${meta.index}`);
  if (lastIndex > 0 && hard.term < cache.term(lastIndex)) throw corrupt(`hard state term ${hard.term} older than the last entry's term`);
  cache.setHardState(hard);
  return { cache, snapshotChunkCount: meta.chunkCount };
}

async function checkFormatVersion(db: Db): Promise<void> {
  const versionBytes = await db.get(KEY_FORMAT_VERSION);
  if (versionBytes === undefined) {
    const keys = await db.keys({ limit: 1 }).all();
    if (keys.length > 0) throw new StorageError('FORMAT_UNKNOWN', 'the directory holds data but no format version; it was not written by chime storage');
    await db.put(KEY_FORMAT_VERSION, encode(FORMAT_VERSION), { sync: true });
    return;
  }
  const version = decodeFormatVersion(versionBytes);
  if (version !== FORMAT_VERSION) {
    throw new StorageError('FORMAT_UNKNOWN', `storage format version ${String(version)} is not supported (this build reads version ${FORMAT_VERSION}); refusing to open`);
  }
}

/** Entries in key order; they must start right after the log start and have no gap. */
async function readEntries(db: Db, start: LogStart): Promise<Entry[]> {
  const entries: Entry[] = [];
  let expected = start.index + 1;
  let previousTerm = start.term;
  for await (const [key, value] of db.iterator(ENTRY_RANGE)) {
    if (key.length !== 9) throw corrupt('an entry key has the wrong length');
    const index = entryIndexOfKey(key);
    if (index !== expected) throw corrupt(`entry ${index} found where ${expected} was expected (gap or stale entry)`);
    const entry = decodeEntry(value, index);
    if (entry.term < previousTerm) throw corrupt(`entry ${index} has term ${entry.term} below its predecessor's ${previousTerm}`);
    entries.push(entry);
    previousTerm = entry.term;
    expected += 1;
  }
  return entries;
}

async function readSnapshotData(db: Db, meta: StoredSnapshotMeta): Promise<Uint8Array> {
  const data = new Uint8Array(meta.dataBytes);
  let offset = 0;
  for (let chunk = 0; chunk < meta.chunkCount; chunk++) {
    const bytes = await db.get(chunkKey(chunk));
    if (bytes === undefined) throw corrupt(`snapshot chunk ${chunk} of ${meta.chunkCount} is missing`);
    if (offset + bytes.length > data.length) throw corrupt('snapshot chunks exceed the recorded size');
    data.set(bytes, offset);
    offset += bytes.length;
  }
  if (offset !== data.length) throw corrupt(`snapshot chunks hold ${offset} bytes, the meta says ${data.length}`);
  return data;
}

/**
 * The cache holds the entries after the log start; the snapshot may stand later than the
 * log start when entries it covers were kept for slow followers.
 */
function buildCache(start: LogStart, entries: readonly Entry[], snapshot: Snapshot): MemoryStorage {
  const lastIndex = start.index + entries.length;
  const { index, term } = snapshot.meta;
  if (index < start.index || index > lastIndex) throw corrupt(`snapshot index ${index} outside the log [${start.index}, ${lastIndex}]`);
  const cache = new MemoryStorage(snapshot.meta.conf);
  if (index === start.index) {
    if (term !== start.term) throw corrupt(`snapshot term ${term} differs from the log start term ${start.term}`);
    cache.applySnapshot(snapshot);
    cache.append(entries);
    return cache;
  }
  cache.applySnapshot({ meta: { index: start.index, term: start.term, conf: snapshot.meta.conf }, data: new Uint8Array(0) });
  cache.append(entries);
  const made = cache.createSnapshot(index, snapshot.meta.conf, snapshot.data);
  if (made.meta.term !== term) throw corrupt(`snapshot term ${term} differs from entry ${index}'s term ${made.meta.term}`);
  return cache;
}
