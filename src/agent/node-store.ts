import { DurableStorage } from '../storage/index.js';
import type { LogStore } from './raft-host.js';

/** The node's Raft log on disk: DurableStorage is the host's LogStore as it is. */
export type NodeStore = LogStore & { close(): Promise<void> };

export async function openNodeStore(dir: string): Promise<NodeStore> {
  return DurableStorage.open(dir);
}
