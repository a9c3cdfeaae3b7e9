import { MemoryStorage, type Entry, type Snapshot } from '../raft/index.js';
import { decodeFormatVersion, decodeLogStart, encode, type LogStart, type StoredSnapshotMeta } from './codec.js';
import type { Db } from './db.js';
import { ChimeError } from '../errors/index.js';
import { corrupt } from './errors.js';
import { KEY_FORMAT_VERSION, KEY_LOG_START, KEY_PENDING_SNAPSHOT } from './keys.js';
import { commitOps, loadMetas, type ImageFiles, type LoadedSnapshots } from './snapshot-store.js';
import { Wal, type WalOptions } from './wal.js';
import { walTerm, type WalLog } from './wal-replay.js';

/** Bumped whenever the key layout or a value's encoding changes incompatibly. */
export const FORMAT_VERSION = 3;

export interface Recovered {
  readonly cache: MemoryStorage;
  readonly snapshotMeta: StoredSnapshotMeta;
  /** The snapshot's image, read (and checked) during recovery. */
  readonly image: Uint8Array;
  readonly wal: Wal;
}


/**
 * Reads the snapshot from LevelDB and the log from the WAL, checks that they form one
 * consistent Raft state, and rebuilds the in-memory cache from them. A fresh directory is
 * stamped with the format version.
 */
export async function recover(db: Db, files: ImageFiles, walDir: string, walOptions: WalOptions): Promise<Recovered> {
  await checkFormatVersion(db);
  const metas = await loadMetas(db);
  const { wal, log, created } = Wal.open(walDir, { index: metas.current.index, term: metas.current.term }, walOptions);
  try {
    if (created && metas.current.index > 0) throw corrupt(`a snapshot at ${metas.current.index} but no log segments in ${walDir}`);
    const meta = await settlePending(db, files, metas, log);
    files.removeAllBut([meta.generation]);
    const image = meta.index === 0 ? new Uint8Array(0) : await files.read(meta);
    if (image === null) throw corrupt(`snapshot image ${meta.generation} is missing`);
    // The cache keeps the snapshot's place in the log only; the image lives in ImageCache.
    const snapshot: Snapshot = { meta: { index: meta.index, term: meta.term, conf: meta.conf }, data: new Uint8Array(0) };
    if (walTerm(log, meta.index) !== meta.term) throw corrupt(`the log does not hold the snapshot's entry ${meta.index} with term ${meta.term}`);
    let hard = log.hardState ?? { term: 0, vote: null, commit: 0 };
    // The snapshot holds committed state only.
    if (hard.commit < meta.index) hard = { ...hard, commit: meta.index };
    const cache = buildCache(log.start, log.entries, snapshot);
    // Compaction deletes whole segments only; forget the entries it had already dropped.
    const startBytes = await db.get(KEY_LOG_START);
    const compacted = startBytes === undefined ? 0 : decodeLogStart(startBytes);
    if (compacted > cache.firstIndex() - 1 && compacted <= meta.index) cache.compact(compacted);
    const lastIndex = cache.lastIndex();
    if (hard.commit > lastIndex) throw corrupt(`hard state commit ${hard.commit} beyond the last index ${lastIndex}`);
    if (lastIndex > 0 && hard.term < cache.term(lastIndex)) throw corrupt(`hard state term ${hard.term} older than the last entry's term`);
    cache.setHardState(hard);
    return { cache, snapshotMeta: meta, image, wal };
  } catch (error) {
    await wal.close();
    throw error;
  }
}

/**
 * A snapshot from the leader is staged in LevelDB, then put in force by the log's reset
 * record, then committed in LevelDB. A crash between those steps leaves a pending image:
 * in force if the log was reset to it (finish the commit), otherwise never used (drop it).
 */
async function settlePending(db: Db, files: ImageFiles, metas: LoadedSnapshots, log: WalLog): Promise<StoredSnapshotMeta> {
  const { current, pending } = metas;
  if (pending === null) return current;
  const reset = log.lastReset;
  if (reset !== null && reset.index === pending.index && reset.term === pending.term && pending.generation > current.generation) {
    await db.batch(commitOps(pending), { sync: true });
    files.remove(current.generation);
    return pending;
  }
  await db.del(KEY_PENDING_SNAPSHOT, { sync: true });
  files.remove(pending.generation);
  return current;
}

async function checkFormatVersion(db: Db): Promise<void> {
  const versionBytes = await db.get(KEY_FORMAT_VERSION);
  if (versionBytes === undefined) {
    const keys = await db.keys({ limit: 1 }).all();
    if (keys.length > 0) throw new ChimeError('FORMAT_UNKNOWN', 'the directory holds data but no format version; it was not written by chime storage');
    await db.put(KEY_FORMAT_VERSION, encode(FORMAT_VERSION), { sync: true });
    return;
  }
  const version = decodeFormatVersion(versionBytes);
  if (version !== FORMAT_VERSION) {
    throw new ChimeError('FORMAT_UNKNOWN', `storage format version ${String(version)} is not supported (this build reads version ${FORMAT_VERSION}); refusing to open (run the chime that wrote it, or remove the data directory to start this node over)`);
  }
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
