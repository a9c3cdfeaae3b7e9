import { MemoryStorage, bootstrapStorage, type NodeId } from '../raft/index.js';
import { encodeMemberContext } from './member-directory.js';
import type { LogStore } from './ports.js';

/** Whether the store holds nothing yet: no entries and no snapshot. */
export function isEmptyStore(store: LogStore): boolean {
  return store.lastIndex() === 0 && store.snapshotInfo().meta.index === 0;
}

/**
 * Writes a new cluster's founding membership into an empty store. Every founding member must
 * write identical entries, so only what all of them know (the rpc addresses) goes in; HTTP
 * addresses are announced over rpc at run time.
 */
export function bootstrapLog(store: LogStore, voters: ReadonlyMap<NodeId, string>): Promise<void> {
  const founding = new MemoryStorage();
  bootstrapStorage(founding, [...voters].map(([id, rpc]) => ({ id, context: encodeMemberContext({ rpc, http: '' }) })));
  const batch = { hardState: founding.hardStateNow(), entries: founding.entries(1, founding.lastIndex() + 1, Number.MAX_SAFE_INTEGER), snapshot: founding.snapshot() };
  return new Promise((resolve, reject) => store.write(batch, true, (error) => (error === null ? resolve() : reject(error))));
}
