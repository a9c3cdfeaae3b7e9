import { DurableStorage } from '../storage/index.js';
import type { ConfState, Entry, HardState, Snapshot, Storage } from '../raft/index.js';
import type { LogStore } from './raft_host.js';

/** The node's Raft log on disk, as the host uses it. */
export interface NodeStore extends LogStore {
  close(): Promise<void>;
}

class DurableNodeStore implements NodeStore {
  constructor(private readonly durable: DurableStorage) {}
  initialState(): ReturnType<Storage['initialState']> {
    return this.durable.initialState();
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.durable.entries(lo, hi, maxBytes);
  }
  term(index: number): number {
    return this.durable.term(index);
  }
  firstIndex(): number {
    return this.durable.firstIndex();
  }
  lastIndex(): number {
    return this.durable.lastIndex();
  }
  snapshot(): Snapshot {
    return this.durable.snapshot();
  }
  async save(batch: { hardState: HardState | null; entries: readonly Entry[]; snapshot: Snapshot | null }, sync: boolean): Promise<void> {
    await this.durable.save(batch, { sync });
  }
  async createSnapshot(index: number, conf: ConfState, data: Uint8Array): Promise<void> {
    await this.durable.createSnapshot(index, conf, data);
  }
  async compact(index: number): Promise<void> {
    await this.durable.compact(index);
  }
  close(): Promise<void> {
    return this.durable.close();
  }
}

export async function openNodeStore(dir: string): Promise<NodeStore> {
  return new DurableNodeStore(await DurableStorage.open(dir));
}
