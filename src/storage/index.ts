// The storage folder's public surface.
export { DurableStorage } from './durable-storage.js';
export type { DurableStorageOptions, PersistUpdate, WriteKind, WriteStats } from './durable-storage.js';

export { WriteQueue } from './write-queue.js';
export { FORMAT_VERSION } from './recover.js';
