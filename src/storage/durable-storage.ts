import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { bootstrapStorage, MemoryStorage } from '../raft/index.js';
import type { ConfState, Entry, HardState, NodeId, Snapshot, SnapshotMeta, Storage } from '../raft/index.js';
import { encodeLogStart, type StoredSnapshotMeta } from './codec.js';
import { openDb, type Db } from './db.js';
import { ChimeError } from '../errors/index.js';
import { KEY_LOG_START } from './keys.js';
import { recover } from './recover.js';
import { commitOps, ImageCache, ImageFiles, imageMeta, stageOps } from './snapshot-store.js';
import type { Wal, WalOptions } from './wal.js';
import { WriteQueue } from './write-queue.js';

export interface DurableStorageOptions {
  /** Writes waiting behind the one in progress before new ones are refused (default 64). */
  readonly writesPendingMax?: number;
  /** Called after every batch reaches the disk, e.g. to feed an fsync latency histogram. */
  readonly onWrite?: (stats: WriteStats) => void;
  /** Segment and preallocation sizes of the log (see Wal). */
  readonly wal?: WalOptions;
  /** A snapshot image read from disk stays in memory this long after its last use (default 30 s). */
  readonly imageHoldMs?: number;
}

export type WriteKind = 'save' | 'snapshot' | 'compact';

export interface WriteStats {
  readonly kind: WriteKind;
  readonly sync: boolean;
  /** Wall time of the write alone (with sync, this is dominated by the fsync). */
  readonly durationMs: number;
  /** Entries, hard states and snapshot records written. */
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
  readonly operations: number;
  /** Performs the write; resolves with the bytes written once it is durable (if synced). */
  readonly write: () => Promise<number>;
  /** Mirrors the write into the cache; runs only after the write succeeded. */
  readonly apply: () => void;
}

const EMPTY_IMAGE = new Uint8Array(0);

const NOTHING: Plan = { operations: 0, write: () => Promise.resolve(0), apply: () => undefined };

/**
 * Raft's durable storage: entries and hard state in a write-ahead log (one record per
 * Ready, one fdatasync), snapshots in LevelDB. The core reads synchronously, so the live
 * log is kept in a MemoryStorage that mirrors the disk; every write goes to disk first and
 * into the cache only after it succeeded.
 */
export class DurableStorage implements Storage {
  private readonly queue: WriteQueue;
  private failure: Error | null = null;
  private closed = false;
  private readonly images: ImageCache;

  private constructor(
    private readonly db: Db,
    private readonly wal: Wal,
    private readonly files: ImageFiles,
    private readonly cache: MemoryStorage,
    private snapshotMeta: StoredSnapshotMeta,
    image: Uint8Array,
    private readonly options: DurableStorageOptions,
  ) {
    this.images = new ImageCache(files, options.imageHoldMs ?? 30_000);
    if (snapshotMeta.index > 0) this.images.keep(snapshotMeta.generation, image);
    this.queue = new WriteQueue(options.writesPendingMax ?? 64);
  }

  /** Opens (or creates) the store in `dir`, recovers it and checks its consistency. */
  static async open(dir: string, options: DurableStorageOptions = {}): Promise<DurableStorage> {
    const db = openDb(dir);
    await db.open().catch((error: unknown) => {
      // LevelDB's lock: another process (most likely another agent) has this directory open.
      const cause: unknown = error instanceof Error ? error.cause : undefined;
      const locked = cause instanceof Error && Reflect.get(cause, 'code') === 'LEVEL_LOCKED';
      if (locked) throw new ChimeError('DATA_DIR_LOCKED', `the data directory ${dirname(dir)} is in use by another process (is another chime agent running on it?)`, { cause: error });
      throw error;
    });
    try {
      const files = new ImageFiles(join(dir, 'snap'));
      const { cache, snapshotMeta, image, wal } = await recover(db, files, join(dir, 'wal'), options.wal ?? {});
      return new DurableStorage(db, wal, files, cache, snapshotMeta, image, options);
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

  /** The image comes from ImageCache: null (for the core: try later) while it is being read. */
  snapshot(): Snapshot | null {
    const { meta } = this.cache.snapshot();
    if (meta.index === 0) return this.cache.snapshot();
    const data = this.images.peek(this.snapshotMeta);
    return data === null ? null : { meta, data };
  }

  snapshotInfo(): { meta: SnapshotMeta; bytes: number } {
    return { meta: this.cache.snapshot().meta, bytes: this.snapshotMeta.dataBytes };
  }

  async loadSnapshot(): Promise<Snapshot> {
    const { meta } = this.cache.snapshot();
    if (meta.index === 0) return this.cache.snapshot();
    return { meta, data: await this.images.load(this.snapshotMeta) };
  }

  hardState(): HardState {
    return this.cache.hardStateNow();
  }

  /**
   * Persists one Ready in one atomic batch, synced unless `sync` is false (allowed only
   * when just the commit index changed). Resolves after the write; the cache follows then.
   */
  save(update: PersistUpdate, options: { sync: boolean }): Promise<WriteStats> {
    return this.enqueue('save', options.sync, () => this.planSave(update, options.sync));
  }

  /** Records the state machine's image at `index` (applied, so committed) with its membership. */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Promise<SnapshotMeta> {
    return this.enqueue('snapshot', true, () => this.planCreateSnapshot(index, conf, data)).then(() => this.cache.snapshot().meta);
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
    this.images.forget();
    await this.wal.close();
    await this.db.close();
  }

  private enqueue(kind: WriteKind, sync: boolean, plan: () => Plan): Promise<WriteStats> {
    if (this.closed) return Promise.reject(new ChimeError('CLOSED', 'the storage is closed'));
    return this.queue.run(async () => {
      if (this.failure !== null) throw new ChimeError('FAILED', 'an earlier write failed; restart to recover from disk', { cause: this.failure });
      const { operations, write, apply } = plan();
      const startedMs = performance.now();
      let bytes: number;
      try {
        bytes = await write();
      } catch (error) {
        this.failure = error instanceof Error ? error : new Error(String(error));
        throw new ChimeError('FAILED', `${kind} write failed`, { cause: error });
      }
      const stats: WriteStats = { kind, sync, durationMs: performance.now() - startedMs, operations, bytes };
      apply();
      this.options.onWrite?.(stats);
      return stats;
    });
  }

  private planSave(update: PersistUpdate, sync: boolean): Plan {
    const cache = this.cache;
    let sentinel = { index: cache.firstIndex() - 1, term: cache.term(cache.firstIndex() - 1) };
    let lastIndex = cache.lastIndex();
    const snapshot = update.snapshot;
    const stored = snapshot === null ? null : imageMeta(snapshot.meta, snapshot.data, this.snapshotMeta.generation + 1);
    if (snapshot !== null) {
      assert.ok(snapshot.meta.index >= cache.snapshot().meta.index, 'a snapshot never replaces a newer one');
      sentinel = { index: snapshot.meta.index, term: snapshot.meta.term };
      lastIndex = sentinel.index;
    }
    const usable = update.entries.filter((entry) => entry.index > sentinel.index);
    const first = usable[0];
    if (first !== undefined) {
      if (first.index > lastIndex + 1) assert.fail(`append at ${first.index} leaves a gap after ${lastIndex}`);
      const previousTerm = first.index - 1 === sentinel.index ? sentinel.term : cache.term(first.index - 1);
      if (first.term < previousTerm) assert.fail(`entry ${first.index} has a term below its predecessor's`);
      if (first.index <= lastIndex && first.index <= cache.hardStateNow().commit) assert.fail(`append at ${first.index} would truncate committed entries`);
      usable.forEach((entry, i) => assert.equal(entry.index, first.index + i, 'entries to persist are contiguous'));
      lastIndex = first.index + usable.length - 1;
    }
    const hard = update.hardState;
    if (hard !== null) {
      if (hard.commit > lastIndex) assert.fail(`commit ${hard.commit} beyond the last index ${lastIndex}`);
      assert.ok(hard.term >= cache.hardStateNow().term, 'the persisted term never decreases');
    }
    const record = { ...(hard === null ? {} : { hardState: hard }), ...(usable.length === 0 ? {} : { entries: usable }) };
    const previous = this.snapshotMeta;
    const write = async (): Promise<number> => {
      if (snapshot === null || stored === null) return usable.length > 0 || hard !== null ? this.wal.append(record, sync) : 0;
      // Staged image, then the log's reset record puts it in force (atomically, with this
      // Ready's entries and hard state), then the commit; recovery finishes an interrupted one.
      await this.files.write(stored.generation, snapshot.data);
      await this.db.batch([stageOps(stored)], { sync: true });
      const bytes = await this.wal.reset(sentinel, hard ?? cache.hardStateNow(), usable);
      await this.db.batch(commitOps(stored), { sync: true });
      this.files.remove(previous.generation);
      return bytes + stored.dataBytes;
    };
    return {
      operations: usable.length + (hard === null ? 0 : 1) + (snapshot === null ? 0 : 1),
      write,
      apply: () => {
        if (snapshot !== null && stored !== null) {
          cache.applySnapshot({ meta: snapshot.meta, data: EMPTY_IMAGE });
          this.snapshotMeta = stored;
          this.images.forget();
        }
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
    const stored = imageMeta({ index, term: cache.term(index), conf }, data, this.snapshotMeta.generation + 1);
    const previous = this.snapshotMeta;
    return {
      operations: 1,
      write: async () => {
        await this.files.write(stored.generation, data);
        await this.db.batch(commitOps(stored), { sync: true });
        this.files.remove(previous.generation);
        return data.length;
      },
      apply: () => {
        cache.createSnapshot(index, conf, EMPTY_IMAGE);
        this.snapshotMeta = stored;
        this.images.forget();
      },
    };
  }

  private planCompact(index: number): Plan {
    const cache = this.cache;
    if (index <= cache.firstIndex() - 1) return NOTHING;
    assert.ok(index <= cache.snapshot().meta.index, `compact(${index}) beyond the snapshot ${cache.snapshot().meta.index}`);
    return {
      operations: 0,
      write: async () => {
        await this.db.put(KEY_LOG_START, encodeLogStart(index));
        this.wal.release(index);
        return 0;
      },
      apply: () => cache.compact(index),
    };
  }
}
