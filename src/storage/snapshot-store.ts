import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { SnapshotMeta } from '../raft/index.js';
import { decodeSnapshotMeta, encodeSnapshotMeta, type StoredSnapshotMeta } from './codec.js';
import type { BatchOp, Db } from './db.js';
import { ChimeError } from '../errors/index.js';
import { corrupt, errnoCode } from './errors.js';
import { syncDir } from './sync-dir.js';
import { KEY_PENDING_SNAPSHOT, KEY_SNAPSHOT_META } from './keys.js';

export const EMPTY_META: StoredSnapshotMeta = { index: 0, term: 0, conf: { voters: [], learners: [] }, dataBytes: 0, checksum: 0, generation: 0 };


/** The meta of an image about to be written under a new generation. */
export function imageMeta(meta: SnapshotMeta, data: Uint8Array, generation: number): StoredSnapshotMeta {
  return { ...meta, dataBytes: data.length, checksum: crc32(data), generation };
}

/** Makes `next` the snapshot in force (its image file is already durable). */
export function commitOps(next: StoredSnapshotMeta): BatchOp[] {
  return [{ type: 'put', key: KEY_SNAPSHOT_META, value: encodeSnapshotMeta(next) }, { type: 'del', key: KEY_PENDING_SNAPSHOT }];
}

export function stageOps(next: StoredSnapshotMeta): BatchOp {
  return { type: 'put', key: KEY_PENDING_SNAPSHOT, value: encodeSnapshotMeta(next) };
}

/**
 * Snapshot images as plain files, `DIR/snap/<generation>.img`: read and written whole
 * through buffers the main thread allocates (LevelDB chunks were read on its worker threads,
 * whose malloc arenas kept an image's worth of memory resident after it was freed, and its
 * memory map of the table files added more).
 */
export class ImageFiles {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Written to a temporary file, synced, renamed: an image file is complete or absent. */
  async write(generation: number, data: Uint8Array): Promise<void> {
    const path = this.path(generation);
    const handle = await open(`${path}.tmp`, 'w');
    try {
      await handle.writeFile(data);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    renameSync(`${path}.tmp`, path);
    syncDir(this.dir);
  }

  remove(generation: number): void {
    rmSync(this.path(generation), { force: true });
  }

  /** Deletes image files (and leftovers of interrupted writes) other than `keep`. */
  removeAllBut(keep: readonly number[]): void {
    for (const name of readdirSync(this.dir)) {
      const generation = Number.parseInt(name, 10);
      if (name.endsWith('.img') && keep.includes(generation)) continue;
      rmSync(join(this.dir, name), { force: true });
    }
  }

  /** The image of `meta`, checked against its size and checksum; null if its file is gone. */
  async read(meta: StoredSnapshotMeta): Promise<Uint8Array | null> {
    let data: Buffer;
    try {
      data = await readFile(this.path(meta.generation));
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return null;
      throw error;
    }
    if (data.length !== meta.dataBytes) throw corrupt(`snapshot image ${meta.generation} holds ${data.length} bytes, the meta says ${meta.dataBytes}`);
    if (crc32(data) !== meta.checksum) throw corrupt(`snapshot image ${meta.generation} fails its checksum`);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  private path(generation: number): string {
    return join(this.dir, `${generation}.img`);
  }
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
 * The newest snapshot's image, in memory only while it is in use: a large table's image is
 * as big as the table, and it is needed only to restore on start and to send to a follower
 * that fell behind. Read from disk on demand; dropped once unused for `holdMs`.
 */
export class ImageCache {
  private image: { readonly generation: number; readonly data: Uint8Array } | null = null;
  private loading: { readonly generation: number; readonly done: Promise<Uint8Array | null> } | null = null;
  private dropTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly files: ImageFiles,
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
      const done = this.files.read(meta);
      this.loading = { generation: meta.generation, done };
      void done.then(
        (data) => {
          // forget() (a newer snapshot) while reading: hand it to this caller, keep nothing.
          if (this.loading?.done !== done) return;
          this.loading = null;
          if (data !== null) this.keep(meta.generation, data);
        },
        () => {
          if (this.loading?.done === done) this.loading = null;
        },
      );
    }
    const data = await this.loading.done;
    if (data === null) throw new ChimeError('FAILED', `snapshot image ${meta.generation} was replaced while being read`);
    return data;
  }

  /** Holds an image already in hand (just recovered). */
  keep(generation: number, data: Uint8Array): void {
    this.image = { generation, data };
    this.hold();
  }

  forget(): void {
    this.image = null;
    this.loading = null;
    if (this.dropTimer !== null) clearTimeout(this.dropTimer);
    this.dropTimer = null;
  }

  private hold(): void {
    if (this.dropTimer !== null) clearTimeout(this.dropTimer);
    this.dropTimer = setTimeout(() => this.forget(), this.holdMs);
    this.dropTimer.unref();
  }
}
