import { MemoryStorage, bootstrapStorage, type NodeId } from '../raft/index.js';
import { MemberDirectory, encodeMemberContext } from './member-directory.js';
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

/**
 * Writes a new cluster's founding state from a backup: a snapshot at `index` (at least the
 * applied index the backup was taken at, so the restored state machine never sees an entry
 * it has already applied) holding the application's image in the member-directory frame with
 * the founding voters' addresses. Every founding member must get the same backup and voters.
 */
export function bootstrapFromImage(store: LogStore, voters: ReadonlyMap<NodeId, string>, image: Uint8Array, index: number): Promise<void> {
  const directory = new MemberDirectory<never, undefined>({
    encode: () => new Uint8Array(0),
    apply: () => undefined,
    snapshot: () => image,
    restore: () => {},
  });
  for (const [id, rpc] of voters) directory.applyConfChange({ type: 'addVoter', node: id, context: encodeMemberContext({ rpc, http: '' }) });
  const conf = { voters: [...voters.keys()], learners: [] };
  const batch = { hardState: { term: 1, vote: null, commit: index }, entries: [], snapshot: { meta: { index, term: 1, conf }, data: directory.snapshot() } };
  return new Promise((resolve, reject) => store.write(batch, true, (error) => (error === null ? resolve() : reject(error))));
}
