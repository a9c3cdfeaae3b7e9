import assert from 'node:assert/strict';
import { bootstrapStorage, MemoryStorage } from '../raft/index.js';
import type { ConfState, Entry, HardState, NodeId, Snapshot, SnapshotMeta, Storage } from '../raft/index.js';
import { encodeEntry, encodeHardState, encodeLogStart, encodeSnapshotMeta } from './codec.js';
import { openDb, type BatchOp, type Db } from './db.js';
import { StorageError } from './errors.js';
import { chunkKey, entryKey, KEY_HARD_STATE, KEY_LOG_START, KEY_SNAPSHOT_META } from './keys.js';
import { recover } from './recover.js';
import { WriteQueue } from './write_queue.js';

export interface DurableStorageOptions {
  /** Snapshot bytes are stored in chunks of at most this size (default 1 MiB). */
  readonly snapshotChunkBytes?: number;
  /** Writes waiting behind the one in progress before new ones are refused (default 64). */
  readonly writesPendingMax?: number;
  /** Called after every batch reaches the disk, e.g. to feed an fsync latency histogram. */
  readonly onWrite?: (stats: WriteStats) => void;
}

export type WriteKind = 'save' | 'snapshot' | 'compact';

export interface WriteStats {
  readonly kind: WriteKind;
  readonly sync: boolean;
  /** Wall time of the batch write alone (with sync, this is dominated by the fsync). */
  readonly durationMs: number;
  readonly operations: number;
  readonly bytes: number;
}

/** What one Ready asks to persist. */
export interface PersistUpdate {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
}

interface Plan {
  readonly ops: BatchOp[];
  /** Mirrors the write into the cache; runs only after the batch succeeded. */
  readonly apply: () => void;
}

/**
 * Raft's durable storage on LevelDB. The core reads synchronously, so the live log is kept
 * in a MemoryStorage that mirrors the disk; every write goes to disk first (one atomic
 * batch) and into the cache only after the batch succeeded.
 */
export class DurableStorage implements Storage {
  private readonly queue: WriteQueue;
  private readonly chunkBytes: number;
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    private readonly db: Db,
    private readonly cache: MemoryStorage,
    private snapshotChunkCount: number,
    private readonly options: DurableStorageOptions,
  ) {
    this.queue = new WriteQueue(options.writesPendingMax ?? 64);
    this.chunkBytes = options.snapshotChunkBytes ?? 1 << 20;
    assert.ok(Number.isInteger(this.chunkBytes) && this.chunkBytes >= 1, 'snapshotChunkBytes must be a positive integer');
  }

  /** Opens (or creates) the store in `dir`, recovers it and checks its consistency. */
  static async open(dir: string, options: DurableStorageOptions = {}): Promise<DurableStorage> {
    const db = openDb(dir);
    await db.open();
    try {
      const { cache, snapshotChunkCount } = await recover(db);
      return new DurableStorage(db, cache, snapshotChunkCount, options);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.cache.initialState();
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.cache.entries(lo, hi, maxBytes);
  }

  term(index: number): number {
    return this.cache.term(index);
  }

  firstIndex(): number {
    return this.cache.firstIndex();
  }

  lastIndex(): number {
    return this.cache.lastIndex();
  }

  snapshot(): Snapshot {
    return this.cache.snapshot();
  }

  hardState(): HardState {
    return this.cache.hardStateNow();
  }

  /**
   * Persists one Ready in one atomic batch, synced unless `sync` is false (allowed only
   * when just the commit index changed). Resolves after the write; the cache follows then.
   */
  save(update: PersistUpdate, options: { sync: boolean }): Promise<WriteStats> {
    return this.enqueue('save', options.sync, () => this.planSave(update));
  }

  /** Records the state machine's image at `index` (applied, so committed) with its membership. */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Promise<Snapshot> {
    return this.enqueue('snapshot', true, () => this.planCreateSnapshot(index, conf, data)).then(() => this.cache.snapshot());
  }

  /** Drops entries up to and including `index`, which the newest snapshot must cover. */
  compact(index: number): Promise<WriteStats> {
    return this.enqueue('compact', true, () => this.planCompact(index));
  }

  /** Writes the founding state of a new cluster (see `bootstrapStorage` in the core). */
  async bootstrap(voters: readonly { id: NodeId; context: string }[]): Promise<void> {
    const scratch = new MemoryStorage();
    bootstrapStorage(scratch, voters);
    const entries = scratch.entries(scratch.firstIndex(), scratch.lastIndex() + 1, Number.POSITIVE_INFINITY);
    await this.queue.drain();
    assert.ok(this.cache.lastIndex() === 0 && this.cache.hardStateNow().term === 0, 'bootstrap needs an empty storage');
    await this.save({ snapshot: scratch.snapshot(), entries, hardState: scratch.hardStateNow() }, { sync: true });
  }

  /** Waits for queued writes, then closes the database. Later writes are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.drain();
    await this.db.close();
  }

  private enqueue(kind: WriteKind, sync: boolean, plan: () => Plan): Promise<WriteStats> {
    if (this.closed) return Promise.reject(new StorageError('CLOSED', 'the storage is closed'));
    return this.queue.run(async () => {
      if (this.failure !== null) throw new StorageError('FAILED', 'an earlier write failed; restart to recover from disk', { cause: this.failure });
      const { ops, apply } = plan();
      const startedMs = performance.now();
      try {
        if (ops.length > 0) await this.db.batch(ops, { sync });
      } catch (error) {
        this.failure = error instanceof Error ? error : new Error(String(error));
        throw new StorageError('FAILED', `${kind} batch failed`, { cause: error });
      }
      const stats: WriteStats = { kind, sync, durationMs: performance.now() - startedMs, operations: ops.length, bytes: opsBytes(ops) };
      apply();
      this.options.onWrite?.(stats);
      return stats;
    });
  }

  private planSave(update: PersistUpdate): Plan {
    const ops: BatchOp[] = [];
    const cache = this.cache;
    let sentinel = { index: cache.firstIndex() - 1, term: cache.term(cache.firstIndex() - 1) };
    let lastIndex = cache.lastIndex();
    let chunkCount = this.snapshotChunkCount;
    const snapshot = update.snapshot;
    if (snapshot !== null) {
      assert.ok(snapshot.meta.index >= cache.snapshot().meta.index, 'a snapshot never replaces a newer one');
      pushDeletes(ops, sentinel.index + 1, lastIndex);
      chunkCount = this.pushSnapshot(ops, snapshot.meta, snapshot.data);
      sentinel = { index: snapshot.meta.index, term: snapshot.meta.term };
      ops.push({ type: 'put', key: KEY_LOG_START, value: encodeLogStart(sentinel) });
      lastIndex = sentinel.index;
    }
    const usable = update.entries.filter((entry) => entry.index > sentinel.index);
    const first = usable[0];
    if (first !== undefined) {
      assert.ok(first.index <= lastIndex + 1, `append at ${first.index} leaves a gap after ${lastIndex}`);
      const previousTerm = first.index - 1 === sentinel.index ? sentinel.term : cache.term(first.index - 1);
      assert.ok(first.term >= previousTerm, `entry ${first.index} has a term below its predecessor's`);
      if (first.index <= lastIndex) assert.ok(first.index > cache.hardStateNow().commit, `append at ${first.index} would truncate committed entries`);
      usable.forEach((entry, i) => {
        assert.equal(entry.index, first.index + i, 'entries to persist are contiguous');
        ops.push({ type: 'put', key: entryKey(entry.index), value: encodeEntry(entry) });
      });
      const newLast = first.index + usable.length - 1;
      pushDeletes(ops, newLast + 1, lastIndex);
      lastIndex = newLast;
    }
    const hard = update.hardState;
    if (hard !== null) {
      assert.ok(hard.commit <= lastIndex, `commit ${hard.commit} beyond the last index ${lastIndex}`);
      assert.ok(hard.term >= cache.hardStateNow().term, 'the persisted term never decreases');
      ops.push({ type: 'put', key: KEY_HARD_STATE, value: encodeHardState(hard) });
    }
    return {
      ops,
      apply: () => {
        if (snapshot !== null) cache.applySnapshot(snapshot);
        this.snapshotChunkCount = chunkCount;
        cache.append(usable);
        if (hard !== null) cache.setHardState(hard);
        assert.equal(cache.lastIndex(), lastIndex, 'the cache mirrors the planned log');
      },
    };
  }

  private planCreateSnapshot(index: number, conf: ConfState, data: Uint8Array): Plan {
    const cache = this.cache;
    assert.ok(index >= cache.snapshot().meta.index, 'a snapshot never goes back in the log');
    assert.ok(index >= cache.firstIndex() - 1 && index <= cache.lastIndex(), `snapshot index ${index} outside the log`);
    assert.ok(index <= cache.hardStateNow().commit, `snapshot index ${index} is not committed`);
    const ops: BatchOp[] = [];
    const chunkCount = this.pushSnapshot(ops, { index, term: cache.term(index), conf }, data);
    return {
      ops,
      apply: () => {
        cache.createSnapshot(index, conf, data);
        this.snapshotChunkCount = chunkCount;
      },
    };
  }

  private planCompact(index: number): Plan {
    const cache = this.cache;
    const sentinelIndex = cache.firstIndex() - 1;
    if (index <= sentinelIndex) return { ops: [], apply: () => undefined };
    assert.ok(index <= cache.snapshot().meta.index, `compact(${index}) beyond the snapshot ${cache.snapshot().meta.index}`);
    const ops: BatchOp[] = [];
    pushDeletes(ops, sentinelIndex + 1, index);
    ops.push({ type: 'put', key: KEY_LOG_START, value: encodeLogStart({ index, term: cache.term(index) }) });
    return { ops, apply: () => cache.compact(index) };
  }

  /** Meta and chunks of a new snapshot, and deletes for the old one's surplus chunks. */
  private pushSnapshot(ops: BatchOp[], meta: SnapshotMeta, data: Uint8Array): number {
    const chunkCount = Math.ceil(data.length / this.chunkBytes);
    for (let chunk = 0; chunk < chunkCount; chunk++) {
      const value = data.subarray(chunk * this.chunkBytes, (chunk + 1) * this.chunkBytes);
      ops.push({ type: 'put', key: chunkKey(chunk), value });
    }
    for (let chunk = chunkCount; chunk < this.snapshotChunkCount; chunk++) ops.push({ type: 'del', key: chunkKey(chunk) });
    ops.push({ type: 'put', key: KEY_SNAPSHOT_META, value: encodeSnapshotMeta({ ...meta, dataBytes: data.length, chunkCount }) });
    return chunkCount;
  }
}

function pushDeletes(ops: BatchOp[], from: number, to: number): void {
  for (let index = from; index <= to; index++) ops.push({ type: 'del', key: entryKey(index) });
}

function opsBytes(ops: readonly BatchOp[]): number {
  let bytes = 0;
  for (const op of ops) bytes += op.key.length + (op.type === 'put' ? op.value.length : 0);
  return bytes;
}
