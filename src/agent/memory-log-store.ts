import { MemoryStorage } from '../raft/index.js';
import type { ConfState, Entry, HardState, Snapshot, SnapshotMeta, Storage } from '../raft/index.js';
import type { LogStore } from './raft-host.js';

/** A LogStore that keeps everything in memory: for tests of the agent without a disk. */
export class MemoryLogStore implements LogStore {
  readonly memory = new MemoryStorage();

  initialState(): ReturnType<Storage['initialState']> {
    return this.memory.initialState();
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.memory.entries(lo, hi, maxBytes);
  }
  term(index: number): number {
    return this.memory.term(index);
  }
  firstIndex(): number {
    return this.memory.firstIndex();
  }
  lastIndex(): number {
    return this.memory.lastIndex();
  }
  snapshot(): Snapshot {
    return this.memory.snapshot();
  }
  snapshotInfo(): { meta: SnapshotMeta; bytes: number } {
    const { meta, data } = this.memory.snapshot();
    return { meta, bytes: data.length };
  }
  loadSnapshot(): Promise<Snapshot> {
    return Promise.resolve(this.memory.snapshot());
  }

  async save(batch: { hardState: HardState | null; entries: readonly Entry[]; snapshot: Snapshot | null }): Promise<void> {
    if (batch.snapshot !== null) this.memory.applySnapshot(batch.snapshot);
    this.memory.append(batch.entries);
    if (batch.hardState !== null) this.memory.setHardState(batch.hardState);
  }

  async createSnapshot(index: number, conf: ConfState, data: Uint8Array): Promise<void> {
    this.memory.createSnapshot(index, conf, data);
  }

  async compact(index: number): Promise<void> {
    this.memory.compact(index);
  }
}
