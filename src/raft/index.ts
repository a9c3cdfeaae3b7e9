// The Raft core's public surface. Everything outside src/raft imports from here.
export type * from './types.js';
export type { RaftConfig } from './config.js';
export { RawNode, isLeaderMessage } from './raw-node.js';
export { MemoryStorage, bootstrapStorage } from './memory-storage.js';
export { encodeConfChange, decodeConfChange, applyConfChange } from './confchange.js';
