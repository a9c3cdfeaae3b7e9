import type { SnapshotMeta } from '../raft/index.js';
import { decodeSnapshotMeta, encodeSnapshotMeta, type StoredSnapshotMeta } from './codec.js';
import type { BatchOp, Db } from './db.js';
import { StorageError } from './errors.js';
import { chunkKey, KEY_PENDING_SNAPSHOT, KEY_SNAPSHOT_META } from './keys.js';

export const EMPTY_META: StoredSnapshotMeta = { index: 0, term: 0, conf: { voters: [], learners: [] }, dataBytes: 0, chunkCount: 0, generation: 0 };

function corrupt(detail: string): StorageError {
  return new StorageError('CORRUPT', detail);
}

/** Writes of one image: its chunks under a new generation, and the meta naming them. */
export function imageOps(meta: SnapshotMeta, data: Uint8Array, generation: number, chunkBytes: number): { ops: BatchOp[]; stored: StoredSnapshotMeta } {
  const chunkCount = Math.ceil(data.length / chunkBytes);
  const ops: BatchOp[] = [];
  for (let chunk = 0; chunk < chunkCount; chunk++) {
    ops.push({ type: 'put', key: chunkKey(generation, chunk), value: data.subarray(chunk * chunkBytes, (chunk + 1) * chunkBytes) });
  }
  return { ops, stored: { ...meta, dataBytes: data.length, chunkCount, generation } };
}

export function deleteImageOps(meta: StoredSnapshotMeta): BatchOp[] {
  return Array.from({ length: meta.chunkCount }, (_, chunk) => ({ type: 'del' as const, key: chunkKey(meta.generation, chunk) }));
}

/** Makes `next` the snapshot in force and drops the image it replaces. */
export function commitOps(next: StoredSnapshotMeta, previous: StoredSnapshotMeta): BatchOp[] {
  return [{ type: 'put', key: KEY_SNAPSHOT_META, value: encodeSnapshotMeta(next) }, { type: 'del', key: KEY_PENDING_SNAPSHOT }, ...deleteImageOps(previous)];
}

export function stageOps(next: StoredSnapshotMeta): BatchOp {
  return { type: 'put', key: KEY_PENDING_SNAPSHOT, value: encodeSnapshotMeta(next) };
}

export interface LoadedSnapshots {
  readonly current: StoredSnapshotMeta;
  readonly pending: StoredSnapshotMeta | null;
}

export async function loadMetas(db: Db): Promise<LoadedSnapshots> {
  const currentBytes = await db.get(KEY_SNAPSHOT_META);
  const pendingBytes = await db.get(KEY_PENDING_SNAPSHOT);
  return {
    current: currentBytes === undefined ? EMPTY_META : decodeSnapshotMeta(currentBytes),
    pending: pendingBytes === undefined ? null : decodeSnapshotMeta(pendingBytes),
  };
}

/**
 * Reads one image from a consistent view of the database (an iterator), so a newer
 * snapshot's commit deleting these chunks meanwhile cannot tear it. `null`: the image is no
 * longer there (superseded while we read).
 */
export async function readImage(db: Db, meta: StoredSnapshotMeta): Promise<Uint8Array | null> {
  const data = new Uint8Array(meta.dataBytes);
  let offset = 0;
  let chunks = 0;
  for await (const bytes of db.values({ gte: chunkKey(meta.generation, 0), lt: chunkKey(meta.generation + 1, 0) })) {
    if (offset + bytes.length > data.length) throw corrupt('snapshot chunks exceed the recorded size');
    data.set(bytes, offset);
    offset += bytes.length;
    chunks += 1;
  }
  if (chunks === 0 && meta.chunkCount > 0) return null;
  if (chunks !== meta.chunkCount) throw corrupt(`snapshot has ${chunks} of ${meta.chunkCount} chunks`);
  if (offset !== data.length) throw corrupt(`snapshot chunks hold ${offset} bytes, the meta says ${data.length}`);
  return data;
}

/**
 * The newest snapshot's image, in memory only while it is in use: a large table's image is
 * as big as the table, and it is needed only to restore on start and to send to a follower
 * that fell behind. Read from disk on demand; dropped once unused for `holdMs`.
 */
export class ImageCache {
  private image: { readonly generation: number; readonly data: Uint8Array } | null = null;
  private loading: { readonly generation: number; readonly done: Promise<Uint8Array | null> } | null = null;
  private dropTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly db: Db,
    private readonly holdMs: number,
  ) {}

  /** The image if it is in memory; otherwise starts reading it and answers null. */
  peek(meta: StoredSnapshotMeta): Uint8Array | null {
    if (this.image !== null && this.image.generation === meta.generation) {
      this.hold();
      return this.image.data;
    }
    void this.load(meta).catch(() => undefined);
    return null;
  }

  async load(meta: StoredSnapshotMeta): Promise<Uint8Array> {
    if (this.image !== null && this.image.generation === meta.generation) return this.image.data;
    if (this.loading === null || this.loading.generation !== meta.generation) {
      const done = readImage(this.db, meta);
      this.loading = { generation: meta.generation, done };
      void done.then(
        (data) => {
          if (this.loading?.done === done) this.loading = null;
          if (data !== null) this.keep(meta.generation, data);
        },
        () => {
          if (this.loading?.done === done) this.loading = null;
        },
      );
    }
    const data = await this.loading.done;
    if (data === null) throw new StorageError('FAILED', `snapshot image ${meta.generation} was replaced while being read`);
    return data;
  }

  /** Holds an image already in hand (just recovered). */
  keep(generation: number, data: Uint8Array): void {
    this.image = { generation, data };
    this.hold();
  }

  forget(): void {
    this.image = null;
    if (this.dropTimer !== null) clearTimeout(this.dropTimer);
    this.dropTimer = null;
  }

  private hold(): void {
    if (this.dropTimer !== null) clearTimeout(this.dropTimer);
    this.dropTimer = setTimeout(() => this.forget(), this.holdMs);
    this.dropTimer.unref();
  }
}
