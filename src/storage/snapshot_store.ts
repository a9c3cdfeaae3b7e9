import type { Snapshot, SnapshotMeta } from '../raft/index.js';
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

export async function readImage(db: Db, meta: StoredSnapshotMeta): Promise<Snapshot> {
  const data = new Uint8Array(meta.dataBytes);
  let offset = 0;
  for (let chunk = 0; chunk < meta.chunkCount; chunk++) {
    const bytes = await db.get(chunkKey(meta.generation, chunk));
    if (bytes === undefined) throw corrupt(`snapshot chunk ${chunk} of ${meta.chunkCount} is missing`);
    if (offset + bytes.length > data.length) throw corrupt('snapshot chunks exceed the recorded size');
    data.set(bytes, offset);
    offset += bytes.length;
  }
  if (offset !== data.length) throw corrupt(`snapshot chunks hold ${offset} bytes, the meta says ${data.length}`);
  return { meta: { index: meta.index, term: meta.term, conf: meta.conf }, data };
}
